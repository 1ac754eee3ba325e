"""OSC over UDP: gestures in on ``/interface``, predictions out, runtime commands.

IMPSY's addresses: ``/interface f…`` (dimension-1 floats) in, predictions out
on ``/impsy f…`` (configurable, since IMPSY's README says ``/prediction``),
and ``/impsy/mode s``, ``/impsy/pause i``, ``/impsy/reset``,
``/impsy/sigmatemp f``, ``/impsy/pitemp f``, ``/impsy/timescale f``. impsy
adds ``/impsy/threshold f`` and ``/impsy/status``, which replies to the
sender with ``/impsy/status`` and alternating name/value arguments.

Datagrams are parsed with python-osc; outgoing float vectors are packed
directly (a fixed layout, so one ``struct.pack`` instead of a builder). The
receive buffer is raised so a burst from a controller is queued by the
kernel rather than dropped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import struct
from typing import TYPE_CHECKING, Any

import numpy as np
from pythonosc.osc_packet import OscPacket, ParseError

from impsy.engine.core import CommandError
from impsy.io.base import Adapter

if TYPE_CHECKING:
    from impsy.config import OscConfig
    from impsy.engine.core import Engine

log = logging.getLogger("impsy")

RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
WILDCARDS = ("0.0.0.0", "::", "")


def _osc_string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def encode_message(address: str, args: list[Any]) -> bytes:
    """An OSC message with float, int, string and bool arguments."""
    tags, payload = ",", b""
    for arg in args:
        if isinstance(arg, bool):
            tags += "T" if arg else "F"
        elif isinstance(arg, int | np.integer):
            tags += "i"
            payload += struct.pack(">i", int(arg))
        elif isinstance(arg, float | np.floating):
            tags += "f"
            payload += struct.pack(">f", float(arg))
        else:
            tags += "s"
            payload += _osc_string(str(arg))
    return _osc_string(address) + _osc_string(tags) + payload


class FloatMessageEncoder:
    """Packs ``address f f … f`` for a fixed count of floats, fast."""

    def __init__(self, address: str, count: int) -> None:
        self._head = _osc_string(address) + _osc_string("," + "f" * count)
        self._struct = struct.Struct(f">{count}f")

    def encode(self, values: np.ndarray) -> bytes:
        return self._head + self._struct.pack(*values.tolist())


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, adapter: OSCAdapter) -> None:
        self.adapter = adapter

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.adapter.datagram_received(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP "port unreachable" after sending to a client that isn't listening
        # yet: normal while a synth starts, never fatal.
        self.adapter.engine_bad("send", "send failed", str(exc))


def _resolve(host: str, port: int) -> tuple[str, int]:
    if host in WILDCARDS:
        log.warning("OSC client_ip %r is not a destination; sending to 127.0.0.1", host)
        host = "127.0.0.1"
    infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    return infos[0][4][0], port


class OSCAdapter(Adapter):
    """The ``[osc]`` section: one UDP socket for input, output and command replies."""

    name = "osc"

    def __init__(self, config: OscConfig, dimension: int) -> None:
        self.config = config
        self.dimension = dimension
        self.engine: Engine | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.listen_address: tuple[str, int] | None = None
        self.client: tuple[str, int] | None = None
        self.receive_buffer = 0
        self._encoder = FloatMessageEncoder(config.output_address, dimension - 1)

    async def start(self, engine: Engine) -> None:
        self.engine = engine
        loop = asyncio.get_running_loop()
        try:
            self.client = _resolve(self.config.client_ip, self.config.client_port)
        except OSError as err:
            from impsy.errors import ImpsyError

            raise ImpsyError(
                f"[osc] client_ip {self.config.client_ip!r}: cannot resolve it ({err})"
            ) from None
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
            self.receive_buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            sock.bind((self.config.server_ip, self.config.server_port))
        except OSError as err:
            sock.close()
            from impsy.errors import ImpsyError

            raise ImpsyError(
                f"[osc] cannot listen on {self.config.server_ip}:{self.config.server_port}: "
                f"{err.strerror or err}"
            ) from None
        sock.setblocking(False)
        self.transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        self.listen_address = sock.getsockname()[:2]

    async def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def describe(self) -> str:
        host, port = self.listen_address or (self.config.server_ip, self.config.server_port)
        client = self.client or (self.config.client_ip, self.config.client_port)
        return (
            f"OSC in udp://{host}:{port} (/interface, /impsy/*), "
            f"out udp://{client[0]}:{client[1]} {self.config.output_address}"
        )

    def send(self, values: np.ndarray) -> None:
        if self.transport is not None and self.client is not None:
            self.transport.sendto(self._encoder.encode(values), self.client)

    # -------------------------------------------------------------- input
    def engine_bad(self, what: str, reason: str, detail: str = "") -> None:
        if self.engine is not None:
            self.engine.bad_input(f"osc {what}", reason, detail)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            packet = OscPacket(data)
        except (ParseError, ValueError, RecursionError) as err:
            # python-osc also raises UnicodeDecodeError (a ValueError) on bad
            # strings and RecursionError on absurdly nested bundles.
            self.engine_bad("datagram", "not OSC", f"({type(err).__name__})")
            return
        for timed in packet.messages:
            message = timed.message
            self.handle_message(message.address, message.params, addr)

    def handle_message(self, address: str, args: list[Any], sender: tuple[str, int]) -> None:
        engine = self.engine
        assert engine is not None
        if address == "/interface":
            expected = self.dimension - 1
            if len(args) != expected:
                self.engine_bad(
                    address,
                    f"wrong argument count, expected {expected} numbers",
                    f"(got {len(args)})",
                )
            elif not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args):
                self.engine_bad(address, "non-numeric argument", repr(args)[:200])
            elif not all(math.isfinite(a) for a in args):
                self.engine_bad(address, "NaN or infinity", repr(args)[:200])
            else:
                engine.user_values(args, "osc")
            return
        if address.startswith("/impsy/"):
            self.handle_command(address[len("/impsy/") :], args, sender)
            return
        self.engine_bad("address", "unknown address", address[:200])

    def handle_command(self, command: str, args: list[Any], sender: tuple[str, int]) -> None:
        engine = self.engine
        assert engine is not None
        try:
            if command == "status":
                self._reply_status(sender)
            elif command == "reset":
                engine.reset()
            elif command in engine.command_handlers:
                engine.command(command, list(args))
            elif not args:
                raise CommandError(f"/impsy/{command} needs an argument")
            elif command == "mode":
                engine.set_mode(str(args[0]))
            elif command == "pause":
                engine.set_paused(bool(_number(args[0])))
            elif command == "sigmatemp":
                engine.set_sigmatemp(_number(args[0]))
            elif command == "pitemp":
                engine.set_pitemp(_number(args[0]))
            elif command == "timescale":
                engine.set_timescale(_number(args[0]))
            elif command == "threshold":
                engine.set_threshold(_number(args[0]))
            else:
                raise CommandError(f"unknown command /impsy/{command}")
        except CommandError as err:
            self.engine_bad(f"/impsy/{command[:40]}", "bad command", str(err)[:200])

    def _reply_status(self, sender: tuple[str, int]) -> None:
        assert self.engine is not None and self.transport is not None
        args: list[Any] = []
        for key, value in self.engine.status().items():
            args += [key, value]
        self.transport.sendto(encode_message("/impsy/status", args), sender)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandError(f"expected a number, got {value!r}")
    return float(value)
