"""The web UI's aiohttp application and its lifetime beside (or without) a performance.

It runs on the caller's event loop: ``impsy run`` shares the engine's loop,
so handlers read the engine directly. Everything a handler might do slowly
(file listings, model loading, config checks with a model, training) goes
to a thread or a subprocess, and a failing handler answers 500 without
touching the engine.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from aiohttp import web

from impsy.errors import ImpsyError
from impsy.web import config_api, control, files, jobs, logview, patterns, static
from impsy.web.context import CTX, JOBS, JSON_LIMIT, LIVE
from impsy.web.live import LiveFeed
from impsy.web.responses import error_middleware, quiet_malformed_requests, reply
from impsy.web.security import check_bind, security_middleware
from impsy.web.status import status_body

if TYPE_CHECKING:
    from impsy.web.context import WebContext

log = logging.getLogger("impsy")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}


async def get_status(request: web.Request) -> web.Response:
    return reply(status_body(request.app[CTX]))


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def _on_shutdown(app: web.Application) -> None:
    await app[LIVE].close()
    await app[JOBS].close()


def build_app(ctx: WebContext) -> web.Application:
    """The whole web UI for ``ctx`` (see API.md)."""
    app = web.Application(
        middlewares=[error_middleware, security_middleware(ctx.host, ctx.token)],
        client_max_size=JSON_LIMIT,
    )
    app[CTX] = ctx
    app[LIVE] = LiveFeed(ctx)
    app[JOBS] = jobs.JobManager(ctx)
    app.router.add_get("/api/status", get_status)
    app.router.add_get("/api/live", app[LIVE].handle)
    control.add_routes(app)
    patterns.add_routes(app)
    files.add_routes(app)
    config_api.add_routes(app)
    jobs.add_routes(app)
    logview.add_routes(app)
    static.add_routes(app)
    app.on_response_prepare.append(_add_headers)
    app.on_shutdown.append(_on_shutdown)
    return app


class WebServer:
    """Start and stop the web UI on the running loop."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on ``ctx.host:ctx.port``; ImpsyError (one line) if that is not possible."""
        ctx = self.ctx
        check_bind(ctx.host, ctx.token)
        quiet_malformed_requests()
        self.app = build_app(ctx)
        runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await runner.setup()
        site = web.TCPSite(runner, ctx.host, ctx.port)
        try:
            await site.start()
        except OSError as err:
            await runner.cleanup()
            reason = os.strerror(err.errno) if err.errno else str(err)
            raise ImpsyError(
                f"[webui] cannot listen on {ctx.host}:{ctx.port}: {reason}; set [webui] port "
                "to a free port (or stop whatever uses it), or remove [webui] to run without it"
            ) from None
        self._runner = runner
        if ctx.port == 0:  # a free port was asked for (tests): report the real one
            ctx.port = runner.addresses[0][1]

    @property
    def url(self) -> str:
        return self.ctx.url

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            try:
                await runner.cleanup()
            except Exception:  # stopping must go on: the log still has to close
                log.exception("web UI: error while stopping")
