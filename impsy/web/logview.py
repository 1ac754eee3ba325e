"""``/api/logs/{name}/...``: a logged performance as a plot over time, and its marks.

The log view draws the performer's rows of one log against time (seconds
since the log's first row, :func:`impsy.dataset.marks.row_times`) and lets
the performer mark spans good or bad. The marks are written beside the log
(``NAME.log.marks.json``), never into it; ``impsy dataset`` applies them.
Reading a log is done on a worker thread: a long log never holds the loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import numpy as np
from aiohttp import web

from impsy.dataset.marks import Span, parse_marks, read_marks, row_times, write_marks
from impsy.errors import ImpsyError
from impsy.web.context import CTX
from impsy.web.files import dimension_of, existing_file
from impsy.web.responses import BadRequest, read_json, reply

if TYPE_CHECKING:
    from pathlib import Path

MAX_POINTS = 2000
"""The most rows a plot is sent (evenly picked): a screen has no more pixels than that."""


def _spans(spans: list[Span]) -> list[dict[str, Any]]:
    return [{"start": s.start, "end": s.end, "mark": s.mark} for s in spans]


def performance_view(path: Path) -> dict[str, Any]:
    """The log's rows as times and values (at most ``MAX_POINTS``), and its marks."""
    from impsy.dataset.logs import read_log_file

    dimension = dimension_of(path.name)
    if dimension is None:
        raise BadRequest(f"{path.name}: not a performance log (no -<D>d- in its name)")
    rows = read_log_file(path, dimension).rows
    times = row_times(rows) if len(rows) else np.zeros(0)
    keep = np.unique(np.linspace(0, len(rows) - 1, min(len(rows), MAX_POINTS)).astype(int))
    try:
        marks = read_marks(path)
    except ImpsyError as err:
        raise BadRequest(str(err)) from None
    return {
        "name": path.name,
        "dimension": dimension,
        "rows": len(rows),
        "seconds": float(times[-1]) if len(times) else 0.0,
        "times": [round(float(t), 4) for t in times[keep]] if len(rows) else [],
        "values": rows[keep, 1:].astype(np.float64).round(4).tolist() if len(rows) else [],
        "marks": _spans(marks),
    }


async def get_performance(request: web.Request) -> web.Response:
    path = existing_file(request.app[CTX], "logs", request.match_info["name"])
    return reply(await asyncio.to_thread(performance_view, path))


async def get_marks(request: web.Request) -> web.Response:
    path = existing_file(request.app[CTX], "logs", request.match_info["name"])
    try:
        return reply({"spans": _spans(read_marks(path))})
    except ImpsyError as err:
        raise BadRequest(str(err)) from None


async def put_marks(request: web.Request) -> web.Response:
    """``{"spans": [{"start": 2.0, "end": 4.5, "mark": "bad"}, ...]}`` replaces the marks."""
    path = existing_file(request.app[CTX], "logs", request.match_info["name"])
    try:
        spans = parse_marks(await read_json(request), "marks")
    except ImpsyError as err:
        raise BadRequest(str(err)) from None
    await asyncio.to_thread(write_marks, path, spans)
    return reply({"spans": _spans(spans)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/logs/{name}/performance", get_performance)
    app.router.add_get("/api/logs/{name}/marks", get_marks)
    app.router.add_put("/api/logs/{name}/marks", put_marks)
