"""The pages: ``/`` and ``/static/...``, straight from the installed package.

Only files below ``impsy/web/static`` are served, by name, with an explicit
content type; there is no directory listing and no way out of the folder.
"""

from __future__ import annotations

import mimetypes
from importlib.resources import files
from pathlib import Path

from aiohttp import web

from impsy.web.responses import BadRequest

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}


def static_root() -> Path:
    return Path(str(files("impsy.web") / "static"))


def static_file(relative: str) -> Path:
    """The packaged file at ``relative``, or BadRequest(404) for anything else."""
    parts = relative.split("/")
    if not relative or any(not p or p.startswith(".") or "\\" in p or "\0" in p for p in parts):
        raise BadRequest("no such page", 404)
    root = static_root().resolve()
    path = root.joinpath(*parts)
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise BadRequest("no such page", 404) from None
    if root not in resolved.parents or not resolved.is_file():
        raise BadRequest("no such page", 404)
    return resolved


def _file(path: Path) -> web.FileResponse:
    content_type = CONTENT_TYPES.get(path.suffix.lower()) or (
        mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    return web.FileResponse(
        path, headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
    )


async def index(request: web.Request) -> web.FileResponse:
    return _file(static_file("index.html"))


async def asset(request: web.Request) -> web.FileResponse:
    return _file(static_file(request.match_info["path"]))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/static/{path:.*}", asset)
