"""OSCQuery's WebSocket: LISTEN and IGNORE, value updates out, OSC packets in.

A client sends ``{"COMMAND": "LISTEN", "DATA": "/impsy/pitemp"}`` (text)
and from then on hears that address as binary OSC packets, the proposal's
streaming format, until it sends IGNORE or leaves. Two kinds of address
are heard:

- a command with a readable value (``pitemp``, ``seq/tempo``): whoever
  changed it (an OSC sender, the web UI, a controller rule, this socket),
  the new value is sent as ``/impsy/pitemp f``. Values are compared every
  ``POLL_S`` on a background timer, and only while someone listens: a row
  of the command table knows how to change a value, not whom to tell, and
  reading eight settings costs microseconds.
- what impsy plays (``[osc] output_address``) and the surprise meter: each
  one as it happens, from the engine's observer hook, attached only while
  someone listens to one of them (as the web UI's live feed does).
- what the sequencer sends over OSC (``/impsy/seq/play``, ``/impsy/seq/cc``,
  ``/impsy/seq/status`` and ``/impsy/seq/histogram``): each message as it
  is handed to the ``[osc]`` client, from the sequencer adapter's
  ``osc_observer``, set only while someone listens to one of them. A note
  handed over ahead (``osc_timetag_ahead_ms``) comes as the client gets it:
  a bundle stamped with when it is due.

A hook only encodes and puts the packet in each listener's mailbox, after
the note has gone: the timed output never waits for a client.

Each client has a bounded mailbox and its own sender task: a client that
cannot keep up loses its oldest packets (counted), and nothing waits on it.

Binary messages from a client are OSC packets run as if they had come over
UDP: ``/interface`` is a gesture, ``/impsy/<name>`` runs that row of the
command table, a reply goes back on the same socket. Malformed input is
counted and reported as the engine's bad input, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
from aiohttp import WSMsgType, web
from pythonosc.osc_packet import OscPacket, ParseError

from impsy.engine.loop import call_background
from impsy.engine.table import Pending
from impsy.errors import CommandError
from impsy.io.osc import FloatMessageEncoder, encode_message, pairs
from impsy.io.osc_guard import BUNDLE_PREFIX, LIBRARY_WARNINGS, bundle_problem
from impsy.io.osc_timetag import WallClock, encode_bundle
from impsy.web.oscquery.namespace import COMMAND_PREFIX, INTERFACE, WRITE, Namespace

if TYPE_CHECKING:
    from impsy.engine.core import Engine
    from impsy.engine.table import CommandTable

log = logging.getLogger("impsy")

POLL_S = 0.05
"""How often listened-to command values are compared (20 Hz: a fader's pace)."""
MAILBOX = 256
"""Packets waiting per client; past this its oldest are dropped."""
MAX_MESSAGE_BYTES = 64 * 1024
SOURCE = "oscquery"


class Listener:
    """One WebSocket client: what it listens to, and the packets waiting for it."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.paths: set[str] = set()
        self.mailbox: deque[bytes] = deque()
        self.ready = asyncio.Event()
        self.sent = 0
        self.dropped = 0

    def offer(self, packet: bytes) -> None:
        if len(self.mailbox) >= MAILBOX:
            self.mailbox.popleft()
            self.dropped += 1
        self.mailbox.append(packet)
        self.ready.set()

    async def run(self) -> None:
        while not self.ws.closed:
            await self.ready.wait()
            self.ready.clear()
            while self.mailbox and not self.ws.closed:
                await self.ws.send_bytes(self.mailbox.popleft())
                self.sent += 1


class Streams:
    """Who listens to which address, and the values and outputs sent to them."""

    def __init__(
        self,
        namespace: Namespace,
        engine: Engine,
        commands: CommandTable,
        output_address: str,
        surprise_address: str,
        sequencer: Any = None,
    ) -> None:
        self.namespace = namespace
        self.engine = engine
        self.commands = commands
        self.sequencer = sequencer
        """The ``SequencerAdapter`` (None without one): its ``osc_observer`` is set here."""
        self.clients: set[Listener] = set()
        self.last_output: list[float] | None = None
        """The model's last output seen while someone listened to it (VALUE of that node)."""
        self.last_sent: dict[str, list[Any]] = {}
        """The sequencer's last message per address seen while someone listened to it."""
        self._output_address = output_address
        self._surprise_address = surprise_address
        self._engine_paths = {output_address, surprise_address} & namespace.streamed
        self._sequencer_paths = namespace.streamed - self._engine_paths
        self._encoder = FloatMessageEncoder(output_address, engine.dimension - 1)
        self._known: dict[str, list[Any] | None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._observing = False
        self._wall: WallClock | None = None

    # ------------------------------------------------------------ LISTEN
    def listen(self, client: Listener, path: str) -> bool:
        """Start sending ``path`` to ``client``; False for an address not in the namespace.

        A node without a value (``/impsy/reset``) is accepted and stays silent:
        a client may LISTEN to every node it found.
        """
        node = self.namespace.find(path)
        if node is None:
            return False
        path = node.path
        client.paths.add(path)
        if node.access & WRITE and node.read is not None and path not in self._known:
            self._known[path] = node.read()  # changes from now on are sent
        self._update()
        return True

    def ignore(self, client: Listener, path: str) -> None:
        node = self.namespace.find(path)
        if node is not None:
            client.paths.discard(node.path)
        self._update()

    def remove(self, client: Listener) -> None:
        self.clients.discard(client)
        client.paths.clear()
        self._update()

    def listened(self) -> set[str]:
        return set().union(*(client.paths for client in self.clients))

    def _update(self) -> None:
        """Arm or stop the poll timer and the engine observer for what is listened to now."""
        listened = self.listened()
        for path in list(self._known):
            if path not in listened:
                del self._known[path]
        if self._known and self._timer is None:
            self._timer = call_background(asyncio.get_running_loop(), POLL_S, self._poll)
        elif not self._known and self._timer is not None:
            self._timer.cancel()
            self._timer = None
        wants_outputs = bool(listened & self._engine_paths)
        if wants_outputs and not self._observing:
            self.engine.add_observer(self._observe)
            self._observing = True
        elif not wants_outputs and self._observing:
            self.engine.remove_observer(self._observe)
            self._observing = False
            self.last_output = None
        if self.sequencer is not None:
            self._hook_sequencer(bool(listened & self._sequencer_paths))

    def _hook_sequencer(self, wanted: bool) -> None:
        hooked = self.sequencer.osc_observer == self._observe_sequencer
        if wanted and not hooked:
            self._wall = WallClock(self.sequencer.sequencer.clock.now)
            self.sequencer.osc_observer = self._observe_sequencer
        elif not wanted and hooked:
            self.sequencer.osc_observer = None
            self.last_sent.clear()

    def _send(self, path: str, packet: bytes) -> None:
        for client in self.clients:
            if path in client.paths:
                client.offer(packet)

    # ------------------------------------------------------ value changes
    def _poll(self) -> None:
        self._timer = None
        for path, before in list(self._known.items()):
            node = self.namespace.find(path)
            if node is None or node.read is None:
                continue
            now = node.read()
            if now != before:
                self._known[path] = now
                if now is not None:
                    self._send(path, encode_message(path, list(now)))
        if self._known:
            self._timer = call_background(asyncio.get_running_loop(), POLL_S, self._poll)

    def _observe(self, kind: str, values: np.ndarray, when: float) -> None:
        """Engine observer: runs inside the engine, so it only encodes and hands over."""
        if kind == "rnn":
            self.last_output = values.tolist()
            self._send(self._output_address, self._encoder.encode(values))
        elif kind == "surprise":
            self._send(self._surprise_address, encode_message(self._surprise_address, [values[0]]))

    def _observe_sequencer(self, address: str, args: list[Any], due: float | None) -> None:
        """The sequencer's OSC hook: called after the message has gone, so it only encodes
        and hands over; ``due``: stamped with that instant, as the ``[osc]`` client got it."""
        if not any(address in client.paths for client in self.clients):
            return  # listened to, but not this address
        self.last_sent[address] = args
        packet = encode_message(address, args)
        wall = self._wall
        if due is not None and wall is not None and due > self.sequencer.sequencer.clock.now():
            packet = encode_bundle(wall.timetag(due), packet)
        self._send(address, packet)

    # ---------------------------------------------------------- the socket
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_MESSAGE_BYTES)
        await ws.prepare(request)
        client = Listener(ws)
        self.clients.add(client)
        sender = asyncio.ensure_future(client.run())
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.command(client, message.data)
                elif message.type == WSMsgType.BINARY:
                    self.packet(client, message.data)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            self.remove(client)
        return ws

    def command(self, client: Listener, text: str) -> None:
        """A JSON command: LISTEN or IGNORE a path; anything else is bad input."""
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("DATA"), str):
            self._bad("not a JSON command", text)
            return
        name, path = message.get("COMMAND"), message["DATA"]
        if name == "LISTEN":
            if not self.listen(client, path):
                self._bad("LISTEN to an unknown address", path)
        elif name == "IGNORE":
            self.ignore(client, path)
        else:
            self._bad("unknown command", str(name))

    def packet(self, client: Listener, data: bytes) -> None:
        """An OSC packet from the client, run as one arriving over UDP would be."""
        if data.startswith(BUNDLE_PREFIX):  # python-osc can loop forever on a bad bundle
            problem = bundle_problem(data)
            if problem is not None:
                self._bad("not OSC", problem)
                return
        warned = LIBRARY_WARNINGS.seen
        try:
            parsed = OscPacket(data)
        except (ParseError, ValueError, RecursionError) as err:
            self._bad("not OSC", type(err).__name__)
            return
        if LIBRARY_WARNINGS.seen != warned:
            self._bad("unsupported OSC type tag or bundle element")
            return
        for timed in parsed.messages:
            self.message(client, timed.message.address, list(timed.message.params))

    def message(self, client: Listener, address: str, args: list[Any]) -> None:
        if address == INTERFACE:
            count = self.engine.dimension - 1
            numbers = all(isinstance(a, int | float) and not isinstance(a, bool) for a in args)
            if len(args) != count or not numbers or not all(map(math.isfinite, args)):
                self._bad(f"{INTERFACE} needs {count} finite numbers", repr(args)[:200])
            else:
                self.engine.user_values(args, SOURCE)
            return
        if not address.startswith(COMMAND_PREFIX):
            self._bad("unknown address", address[:200])
            return
        name = address[len(COMMAND_PREFIX) :]
        command = self.commands.find(name)
        try:
            if command is None:
                raise CommandError(f"unknown command {address}")
            result = self.commands.call(name, args)
        except CommandError as err:
            self._bad("bad command", str(err))
            return
        reply_to = f"{COMMAND_PREFIX}{command.name}"
        if command.reply and isinstance(result, dict):
            client.offer(encode_message(reply_to, pairs(result)))
        elif isinstance(result, Pending):

            def answer(value: object, error: Exception | None) -> None:
                said = ["failed", str(error)] if error is not None else ["done", str(value)]
                client.offer(encode_message(reply_to, said))

            result.then(answer)

    def _bad(self, reason: str, detail: str = "") -> None:
        self.engine.bad_input(f"{SOURCE} websocket", reason, detail[:200])

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._observing:
            self.engine.remove_observer(self._observe)
            self._observing = False
        if self.sequencer is not None:
            self._hook_sequencer(False)
        for client in list(self.clients):
            with contextlib.suppress(Exception):
                await client.ws.close()
