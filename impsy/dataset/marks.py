"""Feedback on a performance: spans marked good or bad, kept beside the log, never in it.

A performer listens back and marks what they want more of and what they
never want again. The marks of ``NAME.log`` are ``NAME.log.marks.json``
beside it, so IMPSY's log format (and every tool that reads it) is
untouched::

    {"spans": [{"start": 12.5, "end": 30.0, "mark": "bad"},
               {"start": 40.0, "end": 55.0, "mark": "good"}]}

Times are seconds since the log's first row (the start of the recording,
the time axis the log view plots): a row's time is the sum of the dt up to
it. ``impsy dataset`` then drops the rows a bad span covers (the performance
is cut in two around it) or keeps them with a lower weight, and gives rows
of good spans a higher one; the weights travel in the dataset file (key
``weights``) and training draws windows in proportion to them. A row in both
kinds of span counts as bad.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from impsy.errors import ImpsyError

MARKS = ("good", "bad")
SUFFIX = ".marks.json"
MIN_PIECE = 2
"""Rows a piece cut out of a performance needs to be kept (one row has no dt to learn)."""


@dataclass(frozen=True)
class Span:
    start: float
    end: float
    mark: str


def marks_path(log: Path) -> Path:
    """Where ``log``'s marks live: ``NAME.log.marks.json`` beside it."""
    return log.with_name(log.name + SUFFIX)


def parse_marks(data: Any, label: str) -> list[Span]:
    """Spans from a marks document; ImpsyError naming ``label`` and the entry when wrong."""
    spans = data.get("spans") if isinstance(data, dict) else None
    if not isinstance(spans, list):
        raise ImpsyError(f'{label}: expected {{"spans": [{{"start", "end", "mark"}}, ...]}}')
    out = []
    for index, entry in enumerate(spans):
        where = f"{label}: spans[{index}]"
        if not isinstance(entry, dict) or set(entry) - {"start", "end", "mark", "note"}:
            raise ImpsyError(f"{where}: expected start, end, mark (and an optional note)")
        start, end, mark = entry.get("start"), entry.get("end"), entry.get("mark")
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
            for v in (start, end)
        )
        if not numbers or start < 0 or end <= start:
            raise ImpsyError(f"{where}: start and end must be seconds, 0 <= start < end")
        if mark not in MARKS:
            raise ImpsyError(f"{where}: mark must be one of {', '.join(MARKS)}, got {mark!r}")
        out.append(Span(float(start), float(end), mark))
    return out


def read_marks(log: Path) -> list[Span]:
    """The marks beside ``log`` (none when there is no marks file)."""
    path = marks_path(log)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ImpsyError(f"{path}: not a marks file: {err}") from None
    return parse_marks(data, str(path))


def write_marks(log: Path, spans: list[Span]) -> Path:
    """Save ``spans`` beside ``log`` (written whole, then renamed into place)."""
    path = marks_path(log)
    document = {"spans": [{"start": s.start, "end": s.end, "mark": s.mark} for s in spans]}
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    part.replace(path)
    return path


def row_times(rows: np.ndarray) -> np.ndarray:
    """Each row's time in seconds since the log's first row (which gave only the start)."""
    return np.cumsum(np.asarray(rows[:, 0], dtype=np.float64))


def masks(rows: np.ndarray, spans: list[Span]) -> tuple[np.ndarray, np.ndarray]:
    """``(good, bad)`` boolean masks of the rows the spans cover (ends included)."""
    times = row_times(rows)
    good = np.zeros(len(rows), dtype=bool)
    bad = np.zeros(len(rows), dtype=bool)
    for span in spans:
        inside = (times >= span.start) & (times <= span.end)
        (good if span.mark == "good" else bad)[inside] = True
    return good & ~bad, bad


def apply_marks(
    rows: np.ndarray,
    spans: list[Span],
    bad_weight: float = 0.0,
    good_weight: float = 1.0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The performance as ``(rows, weights)`` pieces.

    ``bad_weight`` 0 drops the rows of bad spans: the rows between them become
    pieces of their own (each at least :data:`MIN_PIECE` rows). Otherwise every
    row stays, weighted ``bad_weight`` in bad spans, ``good_weight`` in good
    ones and 1 elsewhere.
    """
    good, bad = masks(rows, spans)
    weights = np.ones(len(rows), dtype=np.float32)
    weights[good] = good_weight
    if bad_weight > 0:
        weights[bad] = bad_weight
        return [(rows, weights)]
    pieces = []
    start = None
    for index, dropped in enumerate([*bad.tolist(), True]):
        if not dropped and start is None:
            start = index
        elif dropped and start is not None:
            if index - start >= MIN_PIECE:
                pieces.append((rows[start:index], weights[start:index]))
            start = None
    return pieces
