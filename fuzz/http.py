"""Raw bytes at the web UI's front door: the HTTP server ``impsy run`` serves beside the music.

Each input is sent as it is over a real TCP connection on 127.0.0.1 to a real
web UI (``impsy.web.server``, no performance: ``impsy webui``'s setup), the
way a hostile or broken client on the network would. The first byte picks a
prefix so the fuzzer reaches the handlers quickly: the input as it is, or a
request line and headers the server accepts (with the ``X-Impsy`` header,
so changes get past the same-site check) followed by the input as the rest
of the headers and body.

Invariants: the server answers (a status line), closes, or waits for the
rest of a request it was promised, never answering with a 5xx; nothing it
logs carries a traceback (aiohttp's parser errors become one rate-limited
line, ``impsy.web.responses``); and it still answers ``GET /api/status``
afterwards.
"""

from __future__ import annotations

import asyncio
import logging

from fuzz.harness import FAILURES, quiet
from impsy.engine import loop as impsy_loop

PREFIXES: tuple[bytes, ...] = (
    b"",
    b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    b"POST /api/files/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Impsy: 1\r\n",
    b"POST /api/config/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Impsy: 1\r\n",
    b"GET /static/",
    b"GET /api/files/logs/",
)
ANSWER_S = 1.0
"""How long an answer may take; a request waiting for more bytes is closed after it."""


class _Traceback(logging.Handler):
    """Any record anywhere with an exception attached: the front door must log none."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.records.append(record)


class _Target:
    def __init__(self) -> None:
        from impsy.config import load_config_text
        from impsy.web.context import WebContext
        from impsy.web.server import WebServer

        quiet()
        self.loop = impsy_loop.new_event_loop()
        self.ctx = WebContext.create(load_config_text("", "fuzz-webui.toml"), None, port=0)
        self.server = WebServer(self.ctx)
        self.loop.run_until_complete(self.server.start())
        self.tracebacks = _Traceback()
        for name in ("aiohttp.server", "aiohttp.access", "aiohttp.web", "asyncio"):
            logging.getLogger(name).addHandler(self.tracebacks)

    async def send(self, data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.ctx.port)
        try:
            writer.write(data)
            await writer.drain()
            try:  # a request still waiting for the body it announced times out: that is fine
                return await asyncio.wait_for(reader.read(65536), ANSWER_S)
            except (ConnectionError, TimeoutError):
                return b""
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    def exchange(self, data: bytes) -> bytes:
        return self.loop.run_until_complete(self.send(data))


_target: _Target | None = None


def request_of(data: bytes) -> bytes:
    """The bytes an input stands for: its first byte picks a prefix for the rest."""
    if not data:
        return b""
    return PREFIXES[data[0] % len(PREFIXES)] + data[1:]


def one_input(data: bytes) -> None:
    global _target
    if _target is None:
        _target = _Target()
    answer = _target.exchange(request_of(data))
    if answer.startswith(b"HTTP/"):
        status = answer.split(b" ", 2)[1]
        assert not status.startswith(b"5"), f"the server answered {answer[:200]!r}"
    assert not _target.tracebacks.records, _target.tracebacks.records[0].getMessage()
    assert not FAILURES.errors, repr(FAILURES.errors[0])
    alive = _target.exchange(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert alive.startswith(b"HTTP/1.1 200"), f"the server stopped answering: {alive[:200]!r}"
