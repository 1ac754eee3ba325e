"""Steering the performance: engine settings, the sequencer, and model hot-swap."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from impsy.engine.core import CommandError
from impsy.web.context import CTX
from impsy.web.files import resolve_name
from impsy.web.responses import BadRequest, read_json, reply
from impsy.web.status import find_sequencer, status_body

if TYPE_CHECKING:
    from impsy.engine.core import Engine
    from impsy.web.context import WebContext

CONTROL_KEYS = ("mode", "paused", "reset", "pitemp", "sigmatemp", "timescale", "threshold")
SEQUENCER_ACTIONS = frozenset(
    (
        "start stop continue tempo swing pattern track toggle step note velocity gate "
        "probability mute solo mode record key accept reject undo song save load"
    ).split()
)
"""What the web UI may ask of the sequencer (``seq/<action>`` commands)."""
NO_ENGINE = "no performance is running (this is `impsy webui`); start `impsy run` to play"


def require_engine(ctx: WebContext) -> Engine:
    if ctx.engine is None:
        raise BadRequest(NO_ENGINE, 409)
    return ctx.engine


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{key} must be a number, got {value!r}")
    return float(value)


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"{key} must be true or false, got {value!r}")
    return value


def apply_control(engine: Engine, body: dict[str, Any]) -> None:
    """Apply the settings in ``body`` in a fixed order; raises BadRequest on the first bad one."""
    unknown = sorted(set(body) - set(CONTROL_KEYS))
    if unknown:
        raise BadRequest(f"unknown setting {unknown[0]!r}; expected {', '.join(CONTROL_KEYS)}")
    try:
        if "mode" in body:
            if not isinstance(body["mode"], str):
                raise BadRequest(f"mode must be a string, got {body['mode']!r}")
            engine.set_mode(body["mode"])
        if "paused" in body:
            engine.set_paused(_bool("paused", body["paused"]))
        if "reset" in body and _bool("reset", body["reset"]):
            engine.reset()
        setters = {
            "pitemp": engine.set_pitemp,
            "sigmatemp": engine.set_sigmatemp,
            "timescale": engine.set_timescale,
            "threshold": engine.set_threshold,
        }
        for key, setter in setters.items():
            if key in body:
                setter(_number(key, body[key]))
    except CommandError as err:
        raise BadRequest(str(err)) from None


async def post_control(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    engine = require_engine(ctx)
    apply_control(engine, await read_json(request))
    return reply(status_body(ctx))


def _sequencer(ctx: WebContext) -> Any:
    sequencer = find_sequencer(require_engine(ctx))
    if sequencer is None:
        raise BadRequest("no sequencer in this run", 404)
    return sequencer


async def get_sequencer(request: web.Request) -> web.Response:
    return reply(_sequencer(request.app[CTX]).snapshot())


async def post_sequencer(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    sequencer = _sequencer(ctx)
    body = await read_json(request)
    action, args = body.get("action"), body.get("args", [])
    if not isinstance(action, str) or not action or "/" in action:
        raise BadRequest(f'expected an action name such as "start", got {action!r}')
    if not isinstance(args, list):
        raise BadRequest(f"args must be a list, got {args!r}")
    if action not in SEQUENCER_ACTIONS:
        raise BadRequest(
            f"unknown sequencer action {action!r}; expected one of "
            f"{', '.join(sorted(SEQUENCER_ACTIONS))}"
        )
    if action in ("save", "load") and args:
        # A path from a browser could name any file: only the configured patterns file.
        raise BadRequest(f"{action} takes no path here: it uses [sequencer] patterns")
    try:
        result = ctx.engine.command(f"seq/{action}", args)
    except (CommandError, ValueError, TypeError, IndexError) as err:
        raise BadRequest(str(err)) from None
    if isinstance(result, Path):
        result = str(result)
    elif not isinstance(result, str | int | float | bool | dict | list | type(None)):
        result = None
    return reply({"result": result, "snapshot": sequencer.snapshot()})


def _load_and_warm(path: Path, ctx: WebContext) -> Any:
    """Load a model and run one step, off the loop, so its first note is not slow."""
    import numpy as np

    from impsy.model import load_model

    model_config = ctx.config.model
    model = load_model(
        path, engine=model_config.engine, gate=model_config.gate, seed=model_config.seed
    )
    model.step(np.zeros(model.dimension, dtype=np.float32))
    model.reset()
    return model


def model_file(ctx: WebContext, given: Any) -> Path:
    """A model named by the UI: a name inside models/, or ``models/<name>``."""
    if not isinstance(given, str) or not given:
        raise BadRequest(f"file must be a model file name, got {given!r}")
    name = given.removeprefix("models/")
    path = resolve_name(ctx, "models", name)
    if path.suffix.lower() not in (".tflite", ".keras", ".h5"):
        raise BadRequest(f"{name} is not a model (.tflite, .keras or .h5)")
    return path


async def post_model_use(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    engine = require_engine(ctx)
    body = await read_json(request)
    path = model_file(ctx, body.get("file"))
    if not path.is_file():
        raise BadRequest(f"no model named {path.name} in models/", 404)
    from impsy.model.errors import ModelError

    try:
        model = await asyncio.to_thread(_load_and_warm, path, ctx)
    except (ModelError, OSError, ValueError) as err:
        raise BadRequest(f"{path.name}: cannot load: {err}") from None
    try:
        engine.swap_model(model)
    except CommandError as err:
        raise BadRequest(str(err)) from None
    return reply(status_body(ctx))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/control", post_control)
    app.router.add_get("/api/sequencer", get_sequencer)
    app.router.add_post("/api/sequencer", post_sequencer)
    app.router.add_post("/api/model/use", post_model_use)
