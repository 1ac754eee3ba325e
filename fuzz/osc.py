"""OSC datagrams into a started ``OSCAdapter`` on a real engine with a real model.

Each input is one UDP datagram, handed to ``datagram_received`` on the loop
exactly as asyncio's datagram protocol does, from a sender address that is a
real socket (so ``/impsy/status`` replies really go out). The engine has the
bundled model, so ``/impsy/mode`` and friends reach a playing engine.

Invariants: nothing raises; a datagram that is not OSC, and every message in
it that is not a command (``/interface`` or an unknown address), changes
``events_in`` or ``bad_input``; python-osc prints nothing of its own (its
warnings are unthrottled); predictions sent stay finite (the harness's
observer).
"""

from __future__ import annotations

import logging
import socket

from pythonosc.osc_packet import OscPacket

from fuzz.harness import CORPUS, DIMENSION, LiveEngine
from impsy.config import OscConfig
from impsy.engine.table import CommandTable
from impsy.io.osc import OSCAdapter
from impsy.io.osc_guard import BUNDLE_PREFIX, bundle_problem

ROOT_CORPUS = CORPUS / "osc"


class _Target:
    def __init__(self) -> None:
        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sink.bind(("127.0.0.1", 0))
        self.sink.setblocking(False)
        sink_port = self.sink.getsockname()[1]
        config = OscConfig(
            server_ip="127.0.0.1", server_port=0, client_ip="127.0.0.1", client_port=sink_port
        )
        commands = CommandTable()
        self.adapter = OSCAdapter(config, DIMENSION, commands)
        self.live = LiveEngine([self.adapter], mode="useronly", with_model=True, commands=commands)
        self.sender = ("127.0.0.1", sink_port)

    def drain(self) -> None:
        """Empty the sink so replies and predictions never back up."""
        try:
            while True:
                self.sink.recv(65536)
        except BlockingIOError:
            pass


class _LibraryLog(logging.Handler):
    """What python-osc logs that would reach the terminal (it logs on the root logger)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "pythonosc" in record.pathname:
            self.records.append(record)


_library_log = _LibraryLog()
_target: _Target | None = None


def _expects_count(data: bytes) -> bool:
    """Whether this datagram must move a counter: not OSC, or carrying a non-command."""
    if data.startswith(BUNDLE_PREFIX) and bundle_problem(data) is not None:
        return True  # python-osc itself may never return on these
    try:
        packet = OscPacket(data)
    except Exception:  # whatever python-osc refuses, the adapter must count
        return True
    return any(not timed.message.address.startswith("/impsy/") for timed in packet.messages)


def one_input(data: bytes) -> None:
    global _target
    if _target is None:
        _target = _Target()
        logging.getLogger().addHandler(_library_log)
    target = _target
    before = sum(target.live.counts())
    target.live.feed(target.adapter.datagram_received, data, target.sender)
    target.drain()
    if _library_log.records:  # unthrottled, once per datagram: a flood waiting to happen
        message = _library_log.records[0].getMessage()
        _library_log.records.clear()
        raise AssertionError(f"python-osc printed {message!r} for {data!r}")
    if _expects_count(data):
        assert sum(target.live.counts()) > before, f"datagram neither used nor counted: {data!r}"
