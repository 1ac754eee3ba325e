"""IMPSY's performance log lines: ``timestamp,source,x_1,...,x_n``.

Writing and reading live side by side so a log impsy writes is, by test,
exactly what the dataset step reads back, and both match IMPSY 1.2.1: the
timestamp is ``datetime.isoformat()`` (local time; microseconds are printed
unless they are exactly zero) and each value is Python's/numpy's shortest
round-tripping ``str``.

For training, only ``interface`` rows (the performer) are kept; ``rnn`` rows
are the model's own output. Each row becomes ``[dt, x_1..x_n]`` with dt the
seconds since the previous kept row, so the first kept row of a file only
provides the starting time. Broken rows (a crash mid-write, a hand edit, a
log from another dimension) are skipped and counted by reason, so one bad
line never costs a whole performance and the user can see what was dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

INTERFACE = "interface"
"""The source of performer rows, the only ones training uses."""
RNN = "rnn"
"""The source of the model's own output rows."""

TOO_FEW = "too few values"
TOO_MANY = "too many values"
BAD_NUMBER = "unparseable number"
BAD_TIMESTAMP = "unparseable timestamp"
UNREADABLE = "unreadable row"


class ParsedLog(NamedTuple):
    """Training rows from one log and how many malformed rows were skipped, by reason."""

    rows: np.ndarray
    """``(N, dimension)`` rows ``[dt, x_1..x_n]``."""
    skipped: dict[str, int]
    """Reason -> count of malformed ``interface`` rows; empty when none were."""


def _format_value(value: object) -> str:
    # numpy scalars print their own shortest form (a float32 stays short); others go via float.
    if isinstance(value, np.floating):
        return str(value)
    return repr(float(value))  # type: ignore[arg-type]


def format_log_line(timestamp: dt.datetime, source: str, values: Iterable[float]) -> str:
    """One log line, without the newline, exactly as IMPSY writes it."""
    return ",".join([timestamp.isoformat(), source, *map(_format_value, values)])


def parse_log_lines(
    lines: Iterable[str], dimension: int, dtype: type | np.dtype = np.float32
) -> ParsedLog:
    """Rows ``[dt, x_1..x_n]`` from one log's lines; ``dimension`` counts dt.

    ``dtype`` is float32 for training; the conformance check asks for
    float64 to compare with IMPSY's values at full precision.
    """
    if dimension < 2:
        raise ValueError(f"dimension must be at least 2 (dt and one value), got {dimension}")
    count = dimension - 1
    largest = float(np.finfo(dtype).max)  # 1e39 is finite as a Python float, inf as float32
    rows: list[list[float]] = []
    skipped: Counter[str] = Counter()
    previous: dt.datetime | None = None
    for fields in _split_rows(lines):
        if fields is None:
            skipped[UNREADABLE] += 1
            continue
        if not fields or fields == [""]:
            continue  # blank line
        if len(fields) < 2:
            skipped[TOO_FEW] += 1
            continue
        if fields[1].strip() != INTERFACE:
            continue
        row, reason = _parse_row(fields, count, largest)
        if reason is not None:
            skipped[reason] += 1
            continue
        timestamp, values = row
        if previous is not None:
            try:
                delta = (timestamp - previous).total_seconds()
            except TypeError:  # a time zone on one timestamp but not the other
                skipped[BAD_TIMESTAMP] += 1
                continue
            rows.append([delta, *values])
        previous = timestamp
    array = np.array(rows, dtype=dtype).reshape(len(rows), dimension)
    return ParsedLog(array, dict(skipped))


def _split_rows(lines: Iterable[str]) -> Iterable[list[str] | None]:
    """Each line's fields, or None for a line the csv module refuses.

    Every line is split on its own: one reader over the whole file would let
    a stray ``"`` join all the lines after it into one field, and raise (so
    the whole file failed) once that field passed the csv module's limit.
    """
    for line in lines:
        try:
            yield from csv.reader((line,))
        except csv.Error:  # a field over csv's size limit
            yield None


def _parse_row(
    fields: Sequence[str], count: int, largest: float = float(np.finfo(np.float64).max)
) -> tuple[tuple[dt.datetime, list[float]], None] | tuple[None, str]:
    values = fields[2:]
    if len(values) < count:
        return None, TOO_FEW
    if len(values) > count:
        return None, TOO_MANY
    try:
        timestamp = dt.datetime.fromisoformat(fields[0].strip())
    except ValueError:
        return None, BAD_TIMESTAMP
    try:
        numbers = [float(value) for value in values]
    except ValueError:
        return None, BAD_NUMBER
    if not all(abs(number) <= largest for number in numbers):
        return None, BAD_NUMBER  # nan/inf (or too big for dtype) parse, but would poison training
    return (timestamp, numbers), None


def read_log_file(
    path: str | Path, dimension: int, dtype: type | np.dtype = np.float32
) -> ParsedLog:
    """``parse_log_lines`` over a file; undecodable bytes only spoil their own row."""
    with open(path, encoding="utf-8", errors="replace", newline="") as file:
        return parse_log_lines(file, dimension, dtype)
