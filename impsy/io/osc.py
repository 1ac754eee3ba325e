"""OSC over UDP: gestures in on ``/interface``, predictions out, runtime commands.

IMPSY's addresses: ``/interface f…`` (dimension-1 floats) in, predictions out
on ``/impsy f…`` (configurable, since IMPSY's README says ``/prediction``).
``/impsy/<name> args…`` runs the command ``<name>`` of the command table
(``impsy.engine.table``) with the message's arguments in order: IMPSY's
``/impsy/mode s``, ``/impsy/pause i``, ``/impsy/reset`` and the rest, and
every command the run's features add (``/impsy/seq/tempo f``). This adapter
never checks an argument itself. A command that answers (``/impsy/status``)
replies to the sender with ``/impsy/<name>`` and alternating name/value
arguments; one that finishes later (``/impsy/seq/import_midi``) replies
``/impsy/<name> done <what>`` or ``/impsy/<name> failed <why>`` when it has.

Datagrams are parsed with python-osc; outgoing float vectors are packed
directly (a fixed layout, so one ``struct.pack`` instead of a builder). The
receive buffer is raised so a burst from a controller is queued by the
kernel rather than dropped; what it drops all the same is counted
(``dropped_by_kernel`` in the status) and reported.

With ``timetag_ahead_ms`` (off by default), the model's playing leaves that
long before it is due, in a bundle stamped with when it is due
(``impsy.io.osc_timetag``): the engine hands each event over as soon as its
deadline is fixed (``send_ahead``), and the sequencer its OSC tracks' notes
likewise (``send_message_at``, with the sequencer's own look-ahead).
Immediate answers (``accompany``, ``input_thru`` echoes, replies) still
leave at once as plain messages.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import struct
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
from pythonosc.osc_packet import OscPacket, ParseError

from impsy.clock import Clock, Handle, LoopClock
from impsy.engine.loop import call_background
from impsy.engine.ports import Adapter
from impsy.engine.table import Pending
from impsy.errors import CommandError
from impsy.io.osc_guard import BUNDLE_PREFIX, LIBRARY_WARNINGS, bundle_problem
from impsy.io.osc_timetag import TimedSender, WallClock
from impsy.ratelimit import RateLimitedWarning

if TYPE_CHECKING:
    from impsy.config import OscConfig
    from impsy.engine.core import Engine
    from impsy.engine.table import CommandTable

log = logging.getLogger("impsy")

RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
FLOAT32_MAX = 3.4028234663852886e38
WILDCARDS = ("0.0.0.0", "::", "")
# Linux's getsockopt(SO_MEMINFO) fills 9 counters: the 1st is the bytes waiting in
# the receive queue, the 9th the datagrams the kernel dropped because it was full.
# Drops are read once a second (one syscall), so a burst larger than the buffer is
# counted and reported, not silent; the queue every BACKLOG_CHECK_EVERY datagrams,
# so a flood the loop cannot keep up with sheds predictions instead of input.
SO_MEMINFO = 55
MEMINFO_FIELDS = 9
MEMINFO_QUEUED = 0
MEMINFO_DROPS = 8
DROP_CHECK_S = 1.0
BACKLOG_CHECK_EVERY = 32
BACKLOG_ON = 1 / 8  # of the receive buffer: backlogged from here...
BACKLOG_OFF = 1 / 32  # ...until the queue is back under this


def kernel_meminfo(sock: socket.socket) -> tuple[int, ...] | None:
    """The kernel's memory counters for ``sock``; None where the OS doesn't give them."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, 4 * MEMINFO_FIELDS)
    except OSError:
        return None
    if len(raw) < 4 * MEMINFO_FIELDS:
        return None
    return struct.unpack_from(f"={MEMINFO_FIELDS}I", raw)


def kernel_drops(sock: socket.socket) -> int | None:
    """Datagrams dropped by the kernel on ``sock`` so far; None where the OS doesn't say."""
    info = kernel_meminfo(sock)
    return None if info is None else info[MEMINFO_DROPS]


def _osc_string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return raw + b"\0" * (-len(raw) % 4)


SURPRISE_ADDRESS = "/impsy/surprise"
"""Where the surprise meter's values go (to the client, beside the model's output)."""


def encode_message(address: str, args: list[Any]) -> bytes:
    """An OSC message with float, int, string and bool arguments."""
    tags, payload = ",", b""
    for arg in args:
        if isinstance(arg, bool):
            tags += "T" if arg else "F"
        elif isinstance(arg, int | np.integer):
            tags += "i"
            payload += struct.pack(">i", int(arg))
        elif isinstance(arg, float | np.floating) and not FLOAT32_MAX < abs(arg) < math.inf:
            tags += "f"
            payload += struct.pack(">f", float(arg))
        elif isinstance(arg, float | np.floating):  # too big for 32 bits (a timescale of 1e300)
            tags += "d"
            payload += struct.pack(">d", float(arg))
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
    """The ``[osc]`` section: one UDP socket for input, output and command replies.

    ``commands`` is the run's command table; without one, ``/impsy/...``
    messages are counted as bad input. ``clock`` is the one the engine's
    deadlines are on (the loop's).
    """

    name = "osc"

    def __init__(
        self,
        config: OscConfig,
        dimension: int,
        commands: CommandTable | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.ahead_s = config.timetag_ahead_ms / 1000
        """The look-ahead of the model's playing (``[osc] timetag_ahead_ms``); 0: off."""
        clock = clock or LoopClock()
        self.wall = WallClock(clock.now)
        """The loop clock as wall-clock (NTP) time, for the time tags."""
        self._timed = TimedSender(clock, self.wall, self._send_datagram)
        self.dimension = dimension
        self.commands = commands
        self.engine: Engine | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.listen_address: tuple[str, int] | None = None
        self.client: tuple[str, int] | None = None
        self.receive_buffer = 0
        self._encoder = FloatMessageEncoder(config.output_address, dimension - 1)
        self._socket: socket.socket | None = None
        self._drops_seen = 0
        self._until_backlog_check = BACKLOG_CHECK_EVERY
        # "/interface f…" with exactly dimension-1 floats, the common case, is read
        # with one struct instead of python-osc (a third of the cost of a gesture).
        self._interface_head = _osc_string("/interface") + _osc_string("," + "f" * (dimension - 1))
        self._interface_floats = struct.Struct(f">{dimension - 1}f")
        self._interface_size = len(self._interface_head) + self._interface_floats.size
        self._drop_check: asyncio.TimerHandle | None = None
        self._warn = RateLimitedWarning()

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
        self._socket = sock
        drops = kernel_drops(sock)
        self._drops_seen = drops or 0
        if drops is not None:  # Linux: counted once a second
            # no deadline: work that waits for room before the next one looks past it
            self._drop_check = call_background(loop, DROP_CHECK_S, self._check_drops_periodically)

    def check_drops(self) -> None:
        """Add what the kernel dropped since the last check to ``dropped_by_kernel``."""
        drops = kernel_drops(self._socket) if self._socket is not None else None
        if drops is None or self.engine is None or drops == self._drops_seen:
            return
        new, self._drops_seen = (drops - self._drops_seen) % 2**32, drops
        self.engine.counters.dropped_by_kernel += new
        self._warn.warn(
            "kernel drops",
            f"OSC: the system dropped {new} incoming messages (a burst larger than the "
            f"{self.receive_buffer} byte receive buffer); "
            f"{self.engine.counters.dropped_by_kernel} so far",
        )

    def _check_backlog(self) -> None:
        """Tell the engine whether a backlog of input is waiting (see ``BACKLOG_ON``)."""
        self._until_backlog_check = BACKLOG_CHECK_EVERY
        info = kernel_meminfo(self._socket) if self._socket is not None else None
        if info is None or self.engine is None:
            return
        queued = info[MEMINFO_QUEUED]
        if not self.engine.input_backlogged and queued > self.receive_buffer * BACKLOG_ON:
            self.engine.input_backlogged = True
            self._warn.warn(
                "backlog",
                "OSC: input is arriving faster than impsy can answer it; every gesture is "
                "logged, predictions are skipped until it catches up",
            )
        elif self.engine.input_backlogged and queued < self.receive_buffer * BACKLOG_OFF:
            self.engine.input_backlogged = False

    def _check_drops_periodically(self) -> None:
        self.check_drops()
        self._check_backlog()  # also ends a backlog after the last datagram of a flood
        if self.transport is not None:
            loop = asyncio.get_running_loop()
            # no deadline: work that waits for room before the next one looks past it
            self._drop_check = call_background(loop, DROP_CHECK_S, self._check_drops_periodically)

    async def stop(self) -> None:
        if self._drop_check is not None:
            self._drop_check.cancel()
            self._drop_check = None
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def describe(self) -> str:
        host, port = self.listen_address or (self.config.server_ip, self.config.server_port)
        client = self.client or (self.config.client_ip, self.config.client_port)
        ahead = f", time-tagged {self.ahead_s * 1000:g} ms ahead" if self.ahead_s > 0 else ""
        return (
            f"OSC in udp://{host}:{port} (/interface, /impsy/*), "
            f"out udp://{client[0]}:{client[1]} {self.config.output_address}{ahead}"
        )

    def send(self, values: np.ndarray) -> None:
        if self.transport is not None and self.client is not None:
            self.transport.sendto(self._encoder.encode(values), self.client)

    def send_ahead(self, values: np.ndarray, due: float) -> Handle | None:
        """An event of the model's playing due at ``due`` (loop clock): sent ``ahead_s``
        before, stamped with ``due``; the handle withdraws it while it waits."""
        return self._timed.send(self._encoder.encode(values), due, self.ahead_s)

    def send_message_at(
        self, address: str, args: list[Any], due: float, ahead_s: float
    ) -> Handle | None:
        """Any OSC message due at ``due`` (loop clock), sent ``ahead_s`` before, stamped
        with ``due``; one already due goes at once, plain (the sequencer's OSC notes)."""
        return self._timed.send(encode_message(address, args), due, ahead_s)

    def _send_datagram(self, data: bytes) -> None:
        if self.transport is not None and self.client is not None:
            self.transport.sendto(data, self.client)

    def send_surprise(self, value: float) -> None:
        """``/impsy/surprise f`` to the client: the surprise meter, as a value a patch can use."""
        self.send_message(SURPRISE_ADDRESS, [float(value)])

    def send_message(self, address: str, args: list[Any]) -> None:
        """Send any OSC message to the client address (e.g. the sequencer's notes)."""
        if self.transport is not None and self.client is not None:
            self.transport.sendto(encode_message(address, args), self.client)

    # -------------------------------------------------------------- input
    def engine_bad(self, what: str, reason: str, detail: str = "") -> None:
        if self.engine is not None:
            self.engine.bad_input(f"osc {what}", reason, detail)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._until_backlog_check -= 1
        if not self._until_backlog_check:
            self._check_backlog()
        if len(data) == self._interface_size and data.startswith(self._interface_head):
            values = self._interface_floats.unpack_from(data, len(self._interface_head))
            if all(map(math.isfinite, values)):
                self.engine.user_values(values, "osc")
            else:
                self.engine_bad("/interface", "NaN or infinity", repr(list(values))[:200])
            return
        if data.startswith(BUNDLE_PREFIX):  # python-osc can loop forever on a bad bundle
            problem = bundle_problem(data)
            if problem is not None:
                self.engine_bad("datagram", "not OSC", f"({problem})")
                return
        warned = LIBRARY_WARNINGS.seen
        try:
            packet = OscPacket(data)
        except (ParseError, ValueError, RecursionError) as err:
            # python-osc also raises UnicodeDecodeError (a ValueError) on bad
            # strings and RecursionError on absurdly nested bundles.
            self.engine_bad("datagram", "not OSC", f"({type(err).__name__})")
            return
        if LIBRARY_WARNINGS.seen != warned:  # python-osc skipped something it cannot read
            self.engine_bad("datagram", "unsupported OSC type tag or bundle element")
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

    def handle_command(self, name: str, args: list[Any], sender: tuple[str, int]) -> None:
        """``/impsy/<name> args...``: one row of the command table, its reply to the sender."""
        table = self.commands
        command = table.find(name) if table is not None else None
        try:
            if table is None or command is None:
                raise CommandError(f"unknown command /impsy/{name}")
            if command.reply:
                self.check_drops()  # a status query shows the drops up to now
            result = table.call(name, list(args))
        except CommandError as err:
            # Warnings are rate-limited per source: an unknown name must not make a new one
            # (a flood of made-up commands would print, and be remembered, one by one).
            source = f"/impsy/{command.name}" if command is not None else "/impsy/*"
            self.engine_bad(source, "bad command", str(err)[:200])
            return
        if command.reply and isinstance(result, dict) and self.transport is not None:
            self.transport.sendto(encode_message(f"/impsy/{command.name}", pairs(result)), sender)
        elif isinstance(result, Pending):
            # Work that finishes later (a MIDI file read): the sender hears how it ended.
            address = f"/impsy/{command.name}"
            result.then(lambda value, error: self._answer(sender, address, value, error))

    def _answer(
        self, sender: tuple[str, int], address: str, value: object, error: Exception | None
    ) -> None:
        """``address done <value>`` or ``address failed <why>`` to whoever asked."""
        if self.transport is None:
            return
        args = ["failed", str(error)] if error is not None else ["done", str(value)]
        self.transport.sendto(encode_message(address, args), sender)


def pairs(values: dict[str, Any]) -> list[Any]:
    """A reply's values as alternating name, value arguments.

    Booleans go as 0/1: vanilla Pd's [oscparse] knows no T/F type tags.
    """
    args: list[Any] = []
    for key, value in values.items():
        args += [key, int(value) if isinstance(value, bool) else value]
    return args
