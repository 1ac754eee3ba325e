"""``/api/config``: read, validate, save, and a wizard that writes configs that run.

Validation is the config loader itself (``load_config_text``), so the page
accepts exactly what ``impsy run`` accepts; its one-line messages name a
section and key, which are mapped back to a line of the text so the editor
can show the error beside it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from impsy.config import ConfigError, check_model_dimension, default_config_text, load_config_text
from impsy.config.modes import canonical_mode
from impsy.engine.core import MODEL_MODES
from impsy.errors import ImpsyError
from impsy.web.context import CTX
from impsy.web.responses import BadRequest, read_json, reply

if TYPE_CHECKING:
    from impsy.web.context import WebContext

_LINE = re.compile(r": line (\d+)(?:, column \d+)?(?: \(end of file\))?: ")
_KEY = re.compile(r": (\[[A-Za-z_]+\])(?: ([A-Za-z_]+)(?:\.(\"[^\"]*\"|[A-Za-z_]+))?)?: ")
_TOP_KEY = re.compile(r": ([a-z_]+): ")
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]\[]+?)\s*\]\]?\s*(#.*)?$")
MAX_CONFIG_CHARS = 256 * 1024


def _key_line(text: str, section: str | None, key: str | None) -> int | None:
    """The 1-based line where ``[section]`` (or its ``key``) is written, if it can be found."""
    current: str | None = None
    section_line = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            current = header[1].split(".")[0].strip()
            if current == section and section_line is None:
                section_line = number
            continue
        if current != section or key is None:
            continue
        stripped = line.lstrip()
        if re.match(rf"{re.escape(key)}\s*[=.]", stripped) or re.match(
            rf"\"?{re.escape(key)}\"?\s*=", stripped
        ):
            return number
    return section_line


def locate(text: str, message: str) -> dict[str, Any]:
    """``{"line", "key", "message"}`` for one loader message (error or warning)."""
    found = _LINE.search(message)
    if found:
        return {"line": int(found[1]), "key": None, "message": message}
    found = _KEY.search(message)
    if found:
        section = found[1].strip("[]")
        key = found[2]
        line = _key_line(text, section, key)
        shown = f"[{section}] {key}" if key else f"[{section}]"
        return {"line": line, "key": shown, "message": message}
    found = _TOP_KEY.search(message)
    if found:
        return {"line": _key_line(text, None, found[1]), "key": found[1], "message": message}
    return {"line": None, "key": None, "message": message}


def validate(text: str, label: str, root: Path | None = None) -> dict[str, Any]:
    """The loader's verdict on ``text``; with ``root``, a model file it names is checked too."""
    from impsy.sequencer.controllers.profiles import check_profiles

    try:
        config = load_config_text(text, label)
        check_profiles(config)  # what impsy run checks at start-up too
    except ConfigError as err:
        return {"ok": False, "errors": [locate(text, str(err))], "warnings": []}
    errors = []
    if root is not None and not config.model.file and config.interaction.mode in MODEL_MODES:
        errors.append(
            locate(
                text,
                f"{label}: [model] file: {config.interaction.mode} mode needs a model; "
                'name a model file, or use mode "useronly" to log without one',
            )
        )
    if root is not None and config.model.file:
        problem = _model_problem(config, root)
        if problem:
            errors.append(locate(text, f"{label}: [model] file: {problem}"))
    warnings = [locate(text, w) for w in config.warnings]
    return {"ok": not errors, "errors": errors, "warnings": warnings}


def _model_problem(config: Any, root: Path) -> str | None:
    """Why the model named in the config would stop ``impsy run``, or None."""
    path = Path(config.model.file).expanduser()
    if not path.is_absolute():
        path = root / path
    if not path.is_file():
        if config.interaction.mode == "useronly":
            return None
        return f"{config.model.file} does not exist (relative paths start in {root})"
    from impsy.model import load_model

    try:
        model = load_model(path, engine=config.model.engine, gate=config.model.gate)
        check_model_dimension(config, model.dimension, path)
    except (ImpsyError, ValueError, OSError) as err:
        return str(err)
    return None


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


async def _text(request: web.Request) -> str:
    body = await read_json(request)
    text = body.get("text")
    if not isinstance(text, str):
        raise BadRequest('expected {"text": "<the config file>"}')
    if len(text) > MAX_CONFIG_CHARS:
        raise BadRequest("config text too large", 413)
    return text


async def get_config(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    path = ctx.config_path
    exists = path.is_file()
    text = path.read_text(encoding="utf-8") if exists else default_config_text()
    return reply({"path": str(path), "text": text, "exists": exists})


async def post_validate(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    text = await _text(request)
    return reply(await asyncio.to_thread(validate, text, ctx.config_path.name, ctx.root))


async def put_config(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    text = await _text(request)
    verdict = await asyncio.to_thread(validate, text, ctx.config_path.name, ctx.root)
    if not verdict["ok"]:
        first = verdict["errors"][0]["message"]
        return reply({"ok": False, "error": first, "errors": verdict["errors"]}, status=400)
    await asyncio.to_thread(atomic_write, ctx.config_path, text)
    return reply({"ok": True, "path": str(ctx.config_path), "warnings": verdict["warnings"]})


# ------------------------------------------------------------------ wizard
def _port(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise BadRequest(f"{key} must be a port number 1-65535, got {value!r}")
    return value


def _q(value: str) -> str:
    return json.dumps(value)  # a TOML basic string is a JSON string for printable text


def wizard_text(body: dict[str, Any], webui: tuple[str, int, str | None]) -> str:
    """A config from the wizard's few answers; BadRequest on a bad answer.

    ``webui`` is the running web UI's host, port and token: the new config
    keeps them (``webui_port`` in the answers may move the port), so the
    browser that wrote it can still reach impsy after the restart.
    """
    mode = body.get("mode", "callresponse")
    if not isinstance(mode, str) or canonical_mode(mode) is None:
        raise BadRequest(f"unknown mode {mode!r}")
    dimension = body.get("dimension", 9)
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 2:
        raise BadRequest(f"dimension must be an integer >= 2, got {dimension!r}")
    model = body.get("model") or ""
    if not isinstance(model, str):
        raise BadRequest(f"model must be a file name, got {model!r}")
    lines = [
        "# Written by the impsy web UI's config wizard.",
        'title = "impsy web UI setup"',
        "log_input = true",
        "",
        "[interaction]",
        f"mode = {_q(canonical_mode(mode))}",
        "threshold = 0.1",
        "",
        "[model]",
        f"dimension = {dimension}",
    ]
    if model:
        lines.append(f"file = {_q(model)}")
    osc = body.get("osc")
    if osc is not None:
        if not isinstance(osc, dict):
            raise BadRequest("osc must be an object with server_port and client_port")
        lines += [
            "",
            "[osc]",
            'server_ip = "127.0.0.1"',
            f"server_port = {_port(osc, 'server_port', 6000)}",
            'client_ip = "127.0.0.1"',
            f"client_port = {_port(osc, 'client_port', 6001)}",
        ]
    midi = body.get("midi")
    if midi is not None:
        lines += _wizard_midi(midi, dimension)
    host, port, token = webui
    lines += ["", "[webui]", f"host = {_q(host)}", f"port = {_port(body, 'webui_port', port)}"]
    if token:
        lines.append(f"token = {_q(token)}")
    return "\n".join(lines + [""])


def _wizard_midi(midi: Any, dimension: int) -> list[str]:
    """MIDI ports with consecutive CCs on channel 1, one per value."""
    if not isinstance(midi, dict):
        raise BadRequest("midi must be an object with in_device and out_device")
    first = midi.get("first_cc", 1)
    if isinstance(first, bool) or not isinstance(first, int) or not 0 <= first <= 128 - dimension:
        raise BadRequest(f"first_cc must be 0-{128 - dimension} for dimension {dimension}")
    mapping = (
        "[" + ", ".join(f'["control_change", 1, {first + i}]' for i in range(dimension - 1)) + "]"
    )
    lines = ["", "[midi]"]
    for key, table in (("in_device", "input"), ("out_device", "output")):
        name = midi.get(key) or ""
        if not isinstance(name, str):
            raise BadRequest(f"{key} must be a port name")
        lines.append(f"{key} = [{_q(name)}]" if name else f"{key} = []")
        if name:
            lines.append(f"{table}.{_q(name)} = {mapping}")
    return lines


async def post_wizard(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    body = await read_json(request)
    text = wizard_text(body, (ctx.host, ctx.port, ctx.token))
    verdict = await asyncio.to_thread(validate, text, ctx.config_path.name, ctx.root)
    if not verdict["ok"]:
        raise BadRequest(verdict["errors"][0]["message"])
    saved = body.get("save") is True
    if saved:
        await asyncio.to_thread(atomic_write, ctx.config_path, text)
    return reply({"ok": True, "text": text, "saved": saved, "path": str(ctx.config_path)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/config", get_config)
    app.router.add_post("/api/config/validate", post_validate)
    app.router.add_put("/api/config", put_config)
    app.router.add_post("/api/config/wizard", post_wizard)
