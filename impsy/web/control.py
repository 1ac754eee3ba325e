"""Steering the performance: every runtime command, the sequencer, and model hot-swap.

The endpoints here only translate JSON into calls of the run's command table
(``impsy.engine.table``): the table converts and checks every argument, so a
value refused over OSC is refused here with the same message, and a command
a feature adds is reachable without a line of code in this module.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from impsy.engine.reference import describe_table
from impsy.engine.table import Pending
from impsy.errors import CommandError, ImpsyError
from impsy.web.context import CTX
from impsy.web.files import resolve_name
from impsy.web.responses import BadRequest, read_json, reply
from impsy.web.status import status_body

if TYPE_CHECKING:
    from impsy.engine.core import Engine
    from impsy.engine.table import CommandTable
    from impsy.web.context import WebContext

NO_ENGINE = "no performance is running (this is `impsy webui`); start `impsy run` to play"


def require_engine(ctx: WebContext) -> Engine:
    if ctx.engine is None:
        raise BadRequest(NO_ENGINE, 409)
    return ctx.engine


def require_commands(ctx: WebContext) -> CommandTable:
    require_engine(ctx)
    assert ctx.commands is not None  # a running performance always has its table
    return ctx.commands


def _values(name: str, value: Any, takes_arguments: bool) -> list[Any] | dict[str, Any] | None:
    """A JSON value as a command's arguments; None for ``false`` on a command without any."""
    if not takes_arguments:
        if not isinstance(value, bool):
            raise BadRequest(f"{name} takes no arguments: send true to run it, got {value!r}")
        return [] if value else None
    return value if isinstance(value, list | dict) else [value]


def apply_control(commands: CommandTable, body: dict[str, Any]) -> None:
    """Run the commands named in ``body`` in the table's order; 400 on the first bad one.

    ``{"mode": "battle", "pitemp": 1.2, "reset": true}``: each key is a
    command (or an older spelling such as ``paused``), each value its
    argument, a list of arguments, or arguments by name.
    """
    unknown = sorted(key for key in body if key not in commands)
    if unknown:
        raise BadRequest(f"unknown command {unknown[0]!r}; GET /api/commands lists them")
    rows = {commands.find(key).name: key for key in body}
    for command in commands:
        key = rows.get(command.name)
        if key is None:
            continue
        values = _values(key, body[key], bool(command.args))
        if values is None:
            continue
        try:
            commands.call(key, values)
        except CommandError as err:
            raise BadRequest(str(err)) from None


async def run_command(commands: CommandTable, name: str, args: Any) -> Any:
    """One command's result; for work that finishes later, its outcome (waited for)."""
    try:
        result = commands.call(name, args)
        if isinstance(result, Pending):
            result = await result.wait()
    except CommandError as err:
        raise BadRequest(str(err)) from None
    return result


def _result(value: Any) -> Any:
    """A command's return value as JSON (a path as text; anything else unknown as null)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str | int | float | bool | dict | list | type(None)):
        return value
    return None


async def post_control(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    commands = require_commands(ctx)
    apply_control(commands, await read_json(request))
    return reply(status_body(ctx))


async def get_commands(request: web.Request) -> web.Response:
    """The command table: what OSC, this API and controller rules can run."""
    ctx: WebContext = request.app[CTX]
    return reply({"commands": describe_table(ctx.commands or ())})


async def post_command(request: web.Request) -> web.Response:
    """``{"name": "seq/tempo", "args": [120]}`` (or args by name) runs one command."""
    ctx: WebContext = request.app[CTX]
    commands = require_commands(ctx)
    body = await read_json(request)
    name, args = body.get("name"), body.get("args", [])
    if not isinstance(name, str) or not name:
        raise BadRequest(f'expected a command name such as "mode", got {name!r}')
    return reply(
        {"result": _result(await run_command(commands, name, args)), "status": status_body(ctx)}
    )


def _sequencer(ctx: WebContext) -> Any:
    require_engine(ctx)
    if ctx.sequencer is None:
        raise BadRequest("no sequencer in this run", 404)
    return ctx.sequencer


async def get_sequencer(request: web.Request) -> web.Response:
    return reply(_sequencer(request.app[CTX]).snapshot())


async def post_sequencer(request: web.Request) -> web.Response:
    """``{"action": "toggle", "args": [0, 3]}`` runs ``seq/toggle``; answers with the snapshot."""
    ctx: WebContext = request.app[CTX]
    sequencer = _sequencer(ctx)
    body = await read_json(request)
    action, args = body.get("action"), body.get("args", [])
    if not isinstance(action, str) or not action or "/" in action:
        raise BadRequest(f'expected an action name such as "start", got {action!r}')
    result = await run_command(require_commands(ctx), f"seq/{action}", args)
    return reply({"result": _result(result), "snapshot": sequencer.snapshot()})


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
    # loaded as the model/use row loads: checked in a limited child process, then here
    from impsy.studio.live import prepare_model, swap_in

    try:
        model, profile = await asyncio.to_thread(
            prepare_model, path, ctx.config.model, engine.dimension
        )
        swap_in(engine, model, profile, path)
    except (CommandError, ImpsyError) as err:
        raise BadRequest(str(err)) from None
    return reply(status_body(ctx))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/control", post_control)
    app.router.add_get("/api/commands", get_commands)
    app.router.add_post("/api/command", post_command)
    app.router.add_get("/api/sequencer", get_sequencer)
    app.router.add_post("/api/sequencer", post_sequencer)
    app.router.add_post("/api/model/use", post_model_use)
