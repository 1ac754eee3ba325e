"""Seeing the pattern model: read-only views for the "Your patterns" card.

Everything that changes something is a ``learn/...`` row of the command
table (``POST /api/command``); these endpoints only read:

- ``GET /api/patterns``: the status, where the knobs are on the latent map
  and the bar they decode to (probabilities), small enough to poll; a
  decode takes tens of microseconds, so it runs on the loop.
- ``GET /api/patterns/map``: every training bar's place on the map
  (thousands of points: worked out and encoded on a worker thread).
- ``GET /api/patterns/loops`` and ``GET /api/patterns/loops/{name}``: the
  audio loops in the patterns folder, and one loop's waveform, onsets and
  step grid (read and analysed on a worker thread).
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any

from aiohttp import web

from impsy.errors import CommandError
from impsy.web.context import CTX
from impsy.web.control import require_engine
from impsy.web.responses import BadRequest, dumps, reply

if TYPE_CHECKING:
    from impsy.sequencer.learn.live import PatternLearning
    from impsy.web.context import WebContext

MIN_TEMPO, MAX_TEMPO = 20.0, 400.0
"""A loop's tempo, as ``impsy patterns train --tempo`` takes it."""


def _learning(ctx: WebContext) -> PatternLearning:
    require_engine(ctx)
    if ctx.learning is None:
        raise BadRequest("no sequencer in this run", 404)
    return ctx.learning


def _json(value: Any) -> web.Response:
    """An answer already encoded (on a worker thread: a big body must not hold the loop)."""
    return web.Response(text=value, content_type="application/json")


async def get_patterns(request: web.Request) -> web.Response:
    return reply(_learning(request.app[CTX]).view())


async def get_map(request: web.Request) -> web.Response:
    from impsy.sequencer.learn.view import map_view

    learning = _learning(request.app[CTX])
    if learning.knobs is None:
        raise BadRequest(
            "no pattern model yet: train one (the Train button, learn/train or "
            "impsy patterns train)",
            404,
        )
    # The model and its number taken together here, on the loop (a new one may come in at
    # any bar line); the thousands of points are worked out and encoded on a thread.
    model, generation = learning.knobs.model, learning.generation
    text = await asyncio.to_thread(lambda: dumps({"generation": generation, **map_view(model)}))
    return _json(text)


async def get_loops(request: web.Request) -> web.Response:
    learning = _learning(request.app[CTX])
    folder = learning.path.parent
    names = await asyncio.to_thread(learning.loops)
    return reply({"folder": str(folder), "loops": names})


def _tempo(raw: str | None) -> float:
    if raw is None:
        return 120.0
    try:
        tempo = float(raw)
    except ValueError:
        tempo = math.nan
    if not MIN_TEMPO <= tempo <= MAX_TEMPO:  # NaN fails too
        raise BadRequest(f"tempo must be {MIN_TEMPO:g}-{MAX_TEMPO:g} BPM, got {raw!r}")
    return tempo


async def get_loop(request: web.Request) -> web.Response:
    """One loop of the patterns folder as the card draws it; ``?tempo=`` (default 120)."""
    from impsy.sequencer.files.pattern_files import named_file
    from impsy.sequencer.learn.audio import AUDIO_SUFFIXES
    from impsy.sequencer.learn.corpus import CorpusError
    from impsy.sequencer.learn.view import loop_view

    learning = _learning(request.app[CTX])
    tempo = _tempo(request.query.get("tempo"))
    name = request.match_info["name"]
    try:
        path = named_file(learning.path.parent, name, AUDIO_SUFFIXES)
    except CommandError as err:
        raise BadRequest(str(err)) from None
    if not path.is_file():
        raise BadRequest(f"no loop named {name} in {learning.path.parent}/", 404)
    try:
        text = await asyncio.to_thread(lambda: dumps(loop_view(path, tempo)))
    except CorpusError as err:
        raise BadRequest(str(err)) from None
    return _json(text)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/patterns", get_patterns)
    app.router.add_get("/api/patterns/map", get_map)
    app.router.add_get("/api/patterns/loops", get_loops)
    app.router.add_get("/api/patterns/loops/{name}", get_loop)
