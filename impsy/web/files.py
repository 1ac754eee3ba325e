"""``/api/files``: logs, datasets and models: list, download, delete, upload.

A file is only ever named by (kind, name): the kind picks one folder, and
the name must be a single plain component with one of the kind's
extensions, resolving to a regular file (not a symlink) inside that folder.
So no request can reach anything else on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from impsy.web.context import CTX
from impsy.web.responses import BadRequest, reply

if TYPE_CHECKING:
    from impsy.web.context import WebContext

EXTENSIONS: dict[str, tuple[str, ...]] = {
    "logs": (".log",),
    "datasets": (".npz",),
    "models": (".tflite", ".keras", ".h5", ".json", ".png"),
}
MODEL_EXTENSIONS = (".tflite", ".keras", ".h5")
UPLOAD_EXTENSIONS = MODEL_EXTENSIONS
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+=@ -]{0,200}$")
_DIMENSION = (
    re.compile(r"-(\d+)d-mdrnn\.log$"),
    re.compile(r"-(\d+)d(?:-[^/]*)?\.npz$"),
    re.compile(r"dim(\d+)"),
)


def folder(ctx: WebContext, kind: str) -> Path:
    if kind not in EXTENSIONS:
        raise BadRequest(f"unknown kind {kind!r}; expected logs, datasets or models", 404)
    return ctx.folders[kind]


def check_name(kind: str, name: str) -> str:
    """The name if it is one plain file name with an allowed extension; else BadRequest."""
    allowed = EXTENSIONS[kind]
    if (
        not _NAME.match(name)
        or ".." in name
        or name != os.path.basename(name)
        or not name.lower().endswith(allowed)
    ):
        raise BadRequest(
            f"bad file name {name!r}: expected a plain name ending in {', '.join(allowed)}"
        )
    return name


def resolve_name(ctx: WebContext, kind: str, name: str) -> Path:
    """The path of ``name`` in the kind's folder, refusing anything that could escape it."""
    base = folder(ctx, kind)
    path = base / check_name(kind, name)
    if path.is_symlink():
        raise BadRequest(f"{name} is a symbolic link; impsy only serves plain files")
    if path.exists() and path.resolve().parent != base.resolve():
        raise BadRequest(f"{name} is not inside {kind}/")
    return path


def existing_file(ctx: WebContext, kind: str, name: str) -> Path:
    path = resolve_name(ctx, kind, name)
    if not path.is_file():
        raise BadRequest(f"no file named {name} in {kind}/", 404)
    return path


def dimension_of(name: str) -> int | None:
    for pattern in _DIMENSION:
        found = pattern.search(name)
        if found:
            return int(found[1])
    return None


def list_kind(ctx: WebContext, kind: str) -> list[dict[str, Any]]:
    base = folder(ctx, kind)
    found = []
    if not base.is_dir():
        return found
    for entry in os.scandir(base):
        if not entry.is_file(follow_symlinks=False):
            continue
        if not entry.name.lower().endswith(EXTENSIONS[kind]) or not _NAME.match(entry.name):
            continue
        info = entry.stat(follow_symlinks=False)
        found.append(
            {
                "name": entry.name,
                "size": info.st_size,
                "mtime": info.st_mtime,
                "dimension": dimension_of(entry.name),
                "loadable": entry.name.lower().endswith(MODEL_EXTENSIONS),
            }
        )
    found.sort(key=lambda item: (-item["mtime"], item["name"]))
    return found


async def get_files(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    listing = await asyncio.to_thread(lambda: {kind: list_kind(ctx, kind) for kind in EXTENSIONS})
    return reply({**listing, "upload_limit": ctx.upload_limit})


async def download(request: web.Request) -> web.FileResponse:
    ctx: WebContext = request.app[CTX]
    path = existing_file(ctx, request.match_info["kind"], request.match_info["name"])
    return web.FileResponse(
        path, headers={"Content-Disposition": f'attachment; filename="{path.name}"'}
    )


def in_use(ctx: WebContext) -> set[Path]:
    """The model the engine plays and the log it writes: not to be deleted under it."""
    engine = ctx.engine
    if engine is None:
        return set()
    paths = set()
    if engine.model is not None:
        paths.add(Path(engine.model.path).resolve())
    if engine.event_log is not None:
        paths.add(Path(engine.event_log.path).resolve())
    return paths


async def delete(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    path = existing_file(ctx, request.match_info["kind"], request.match_info["name"])
    if path.resolve() in in_use(ctx):
        raise BadRequest(f"{path.name} is in use by the running performance", 409)
    path.unlink()
    return reply({"deleted": path.name})


def _check_model(path: Path, name: str) -> int:
    """Load the uploaded file as a model, in a limited child process; its dimension.

    Never in the performing process: a hostile file (a zip bomb, a crafted
    HDF5 or LiteRT file) could take its memory or stall it mid-performance.
    Blocking (a worker thread waits on the child). The temporary file's path
    in a refusal is replaced by the name the file was uploaded as.
    """
    from impsy.model.errors import ModelError
    from impsy.model.loader import check_model_file

    try:
        return check_model_file(path)
    except ModelError as err:
        raise ModelError(str(err).replace(str(path), name)) from None


_FORM_ERRORS = (ValueError, AssertionError, aiohttp.ClientPayloadError)
"""What aiohttp raises for a damaged multipart body: the client's mistake (400), not a 500."""


async def _file_part(request: web.Request) -> Any:
    """The upload's part named ``file``, or a 400 naming what is wrong with the form.

    aiohttp raises ``ValueError`` (or ``AssertionError``) for a multipart body
    without a boundary, with a boundary it never finds, or with damaged part
    headers: the client's mistake, answered as one, not a 500.
    """
    try:
        reader = await request.multipart()
        part = await reader.next()
        while part is not None and getattr(part, "name", None) != "file":
            part = await reader.next()
    except _FORM_ERRORS as err:
        raise BadRequest(f"the upload is not a readable multipart form: {err}") from None
    if part is None or not getattr(part, "filename", None):
        raise BadRequest("no file in the upload (expected a field named file)")
    return part


async def _read_chunk(part: Any) -> bytes:
    """The next piece of the uploaded file; a body cut short is the client's mistake (400)."""
    try:
        return await part.read_chunk(256 * 1024)
    except _FORM_ERRORS as err:
        raise BadRequest(f"the upload ended before its file did: {err}") from None


async def upload_model(request: web.Request) -> web.Response:
    """Stream one multipart file into models/, refusing it past the size cap or if it won't load."""
    ctx: WebContext = request.app[CTX]
    limit = ctx.upload_limit
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise BadRequest(f"upload too large: the limit is {limit // (1024 * 1024)} MB", 413)
    if not request.content_type.startswith("multipart/"):
        raise BadRequest("upload a model as multipart/form-data with a field named file")
    part = await _file_part(request)
    name = os.path.basename(part.filename.replace("\\", "/"))
    if not name.lower().endswith(UPLOAD_EXTENSIONS):
        raise BadRequest(f"bad file name {name!r}: models are .tflite, .keras or .h5")
    target = resolve_name(ctx, "models", name)
    if target.exists():
        raise BadRequest(f"models/{name} already exists; delete it first", 409)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=".upload-", suffix=target.suffix, dir=target.parent)
    temp = Path(temp_name)
    try:
        size = 0
        with os.fdopen(handle, "wb") as out:
            while chunk := await _read_chunk(part):
                size += len(chunk)
                if size > limit:
                    raise BadRequest(
                        f"upload too large: the limit is {limit // (1024 * 1024)} MB", 413
                    )
                await asyncio.to_thread(out.write, chunk)
        try:
            dimension = await asyncio.to_thread(_check_model, temp, name)
        except Exception as err:  # any failure to load means: not a usable model
            raise BadRequest(f"{name} is not a model impsy can load: {err}") from None
        if target.exists():
            raise BadRequest(f"models/{name} already exists; delete it first", 409)
        os.replace(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return reply({"saved": name, "dimension": dimension, "size": size}, status=201)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/files", get_files)
    app.router.add_post("/api/files/models", upload_model)
    app.router.add_get("/api/files/{kind}/{name}", download)
    app.router.add_delete("/api/files/{kind}/{name}", delete)
