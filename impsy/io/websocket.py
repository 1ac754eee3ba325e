"""A WebSocket server (``[websocket]``) speaking IMPSY's MIDI-as-text format with browsers.

Every client may play and every client hears the model. Text frames carry
one MIDI message each, channels 1-16: ``/channel/{ch}/noteon/{note}/{vel}``,
``/channel/{ch}/noteoff/{note}/{vel}``, ``/channel/{ch}/cc/{ctrl}/{value}``
and ``/channel/{ch}/pitchbend/{0-16383}``. An incoming message the
``[websocket] input`` mapping knows is one gesture; a well-formed one it
does not know (a note-off, another channel) is ignored, as IMPSY ignores
it. A malformed text or a binary frame is counted with ``engine.bad_input``
and the connection stays open (IMPSY's handler raises and drops the client).

Outputs, encoded by the MIDI codec with the ``output`` mapping, are
broadcast to every open connection with ``websockets``' ``broadcast``,
which writes into each connection's buffer without waiting, so the engine
never waits for a client. ``broadcast`` has no backpressure, so a client
that stops reading (a backgrounded tab, a stalled phone) is skipped while
more than 256 KiB are waiting for it, rather than growing without bound;
the keepalive ping then closes it if it never recovers. ``release``
broadcasts note-offs for whatever the model left sounding.

A browser lets any web page open a WebSocket to localhost, so a page the
performer happens to visit could play into impsy. Browsers always say where
a page comes from (the ``Origin`` header), so the handshake is refused with
403 unless that origin is local (``localhost``, ``127.0.0.1``, ``[::1]``, any
port) or listed in ``[websocket] origins`` (``"*"`` allows any). The origin
``null`` is refused unless listed: browsers send it for pages opened from a
file, but also from sandboxed iframes, ``data:`` URLs and some redirects,
which any web page can make. Clients that are not browsers (Python, Pd,
phone apps) send no ``Origin`` and are unaffected. Clients connecting and
leaving are reported at most once per 5 s per kind, so a crowd of them (or
an attack) cannot flood the terminal.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from impsy.engine.ports import Adapter
from impsy.errors import ImpsyError
from impsy.mapping.midi import MidiDecoder
from impsy.mapping.websocket import WebSocketEncoder, text_to_midi
from impsy.ratelimit import RateLimitedWarning

if TYPE_CHECKING:
    from impsy.config import WebSocketConfig
    from impsy.engine.core import Engine

log = logging.getLogger("impsy")
# websockets' own messages ("server listening", "server closing", one per
# handshake) repeat what the start-up summary says; only its problems matter.
library_log = logging.getLogger("impsy.websocket")
library_log.setLevel(logging.WARNING)

MAX_BACKLOG_BYTES = 256 * 1024
PING_INTERVAL_S = 10.0
PING_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 1.0  # shutdown waits at most this long for a client that does not answer
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def origin_allowed(origin: str | None, allowed: tuple[str, ...] = ()) -> bool:
    """Whether a handshake's ``Origin`` may connect: none, local, or listed (``null`` too)."""
    if origin is None or "*" in allowed or origin in allowed:
        return True
    if origin == "null":
        return False
    try:
        host = urlsplit(origin).hostname
    except ValueError:
        return False
    return host in LOCAL_HOSTS


class WebSocketAdapter(Adapter):
    """The ``[websocket]`` section: one server, any number of clients, all playing and hearing."""

    name = "websocket"

    def __init__(
        self, config: WebSocketConfig, dimension: int, max_backlog: int = MAX_BACKLOG_BYTES
    ) -> None:
        self.config = config
        self.dimension = dimension
        self.max_backlog = max_backlog
        self.engine: Engine | None = None
        self.server: Server | None = None
        self.clients: set[ServerConnection] = set()
        self.listen_address: tuple[str, int] | None = None
        self.skipped = 0
        """Output messages not sent to a client because too much was already waiting for it."""
        self._decoder = MidiDecoder(config.input)
        self._encoder = WebSocketEncoder(config.output)
        self._warn = RateLimitedWarning()
        self._news = RateLimitedWarning(level=logging.INFO)  # clients coming and going

    async def start(self, engine: Engine) -> None:
        self.engine = engine
        host, port = self.config.server_ip, self.config.server_port
        try:
            self.server = await serve(
                self._serve_client,
                host,
                port,
                ping_interval=PING_INTERVAL_S,
                ping_timeout=PING_TIMEOUT_S,
                close_timeout=CLOSE_TIMEOUT_S,
                compression=None,  # 20-byte messages: deflate would only add latency
                logger=library_log,
                process_request=self._check_origin,
            )
        except OSError as err:
            raise ImpsyError(
                f"[websocket] cannot listen on {host}:{port}: {err.strerror or err}"
            ) from None
        self.listen_address = self.server.sockets[0].getsockname()[:2]

    def _check_origin(self, connection: ServerConnection, request: Request) -> Response | None:
        origin = request.headers.get("Origin")
        if origin_allowed(origin, self.config.origins):
            return None
        if self.engine is not None:
            self.engine.bad_input("websocket", "web page origin not allowed", origin[:200])
        return connection.respond(
            HTTPStatus.FORBIDDEN, "origin not allowed: add it to [websocket] origins\n"
        )

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.close()  # closes every connection after what is already queued
            await server.wait_closed()

    def health(self) -> dict[str, object]:
        """Open while listening, with how many clients are connected."""
        state = "open" if self.server is not None else "error"
        return {**super().health(), "state": state, "clients": len(self.clients)}

    def describe(self) -> str:
        host, port = self.listen_address or (self.config.server_ip, self.config.server_port)
        return f"WebSocket ws://{host}:{port} (MIDI messages as /channel/... text, in and out)"

    # -------------------------------------------------------------- output
    def send(self, values: np.ndarray) -> None:
        self._broadcast(self._encoder.encode(values))

    def release(self) -> None:
        self._broadcast(self._encoder.all_notes_off())

    def _broadcast(self, texts: list[str]) -> None:
        if not texts or not self.clients:
            return
        ready = []
        for client in self.clients:
            if client.transport.get_write_buffer_size() <= self.max_backlog:
                ready.append(client)
            elif client.state is State.OPEN:
                self.skipped += len(texts)
                self._warn.warn(
                    "slow",
                    f"websocket: a client at {_peer(client)} is not reading; skipping its "
                    f"output ({self.skipped} messages so far)",
                )
        for text in texts:
            broadcast(ready, text)

    # --------------------------------------------------------------- input
    async def _serve_client(self, connection: ServerConnection) -> None:
        self.clients.add(connection)
        self._news.warn("connected", f"websocket: client {_peer(connection)} connected")
        try:
            async for message in connection:
                try:
                    self._received(message)
                except Exception as err:  # one odd message must not cost the client its connection
                    self.engine.bad_input("websocket", "unreadable message", repr(err)[:200])
        except ConnectionClosed:
            pass  # a client going away is normal
        finally:
            self.clients.discard(connection)
            self._news.warn("disconnected", f"websocket: client {_peer(connection)} disconnected")

    def _received(self, message: str | bytes) -> None:
        engine = self.engine
        assert engine is not None
        if not isinstance(message, str):
            engine.bad_input(
                "websocket", "a binary frame; expected text like /channel/1/noteon/60/100"
            )
            return
        midi = text_to_midi(message)
        if midi is None:
            engine.bad_input("websocket", "a message not in the /channel/{ch}/... format")
            return
        updates = self._decoder.decode(midi)
        if updates:
            engine.user_input(updates, "websocket")


def _peer(connection: ServerConnection) -> str:
    address = connection.remote_address
    return f"{address[0]}:{address[1]}" if address else "?"
