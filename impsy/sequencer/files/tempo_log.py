"""The tempo map of a run: ``timestamp,bpm`` rows in a file beside the performance log.

The log (``impsy.engine.eventlog``) has the notes but not the tempo they
were played at. While the sequencer plays, every tempo in effect goes into
``<log name without .log>.tempo.csv``: the tempo when it starts, and each
change, from a command, a controller or follow mode's estimate of a master
clock. ``impsy export-session`` reads it to write a real tempo map.

A following clock's estimate moves a little on every tick, so rows are
coalesced: an estimate is written only when it moved more than
``MIN_CHANGE_BPM`` from the last row, and rows are at least
``MIN_INTERVAL_S`` apart (a change that arrives sooner waits, and only the
latest one is written, with the time it took effect). Like the log, the
file is created with its first row and flushed row by row; its name does not
end in ``.log``, so ``impsy dataset`` never reads it.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

log = logging.getLogger("impsy")

SUFFIX = ".tempo.csv"
MIN_CHANGE_BPM = 0.5
"""A clock estimate closer than this to the last row is not written."""
MIN_INTERVAL_S = 0.5
"""Rows are at least this far apart; sooner changes are coalesced into one."""


def tempo_path(log_path: str | Path) -> Path:
    """``logs/run.log`` -> ``logs/run.tempo.csv``."""
    log_path = Path(log_path)
    name = log_path.name
    stem = name[: -len(".log")] if name.endswith(".log") else name
    return log_path.with_name(stem + SUFFIX)


def format_tempo_line(timestamp: dt.datetime, bpm: float) -> str:
    """One row, without the newline; the timestamp is written as the log's are."""
    return f"{timestamp.isoformat()},{round(float(bpm), 3)!r}"


def read_tempo_file(path: str | Path) -> tuple[list[tuple[dt.datetime, float]], int]:
    """(timestamp, bpm) rows of a tempo file in file order, and how many rows were malformed."""
    rows: list[tuple[dt.datetime, float]] = []
    skipped = 0
    with open(path, encoding="utf-8", errors="replace", newline="") as file:
        for line in file:
            try:
                fields = next(csv.reader((line,)), [])
            except csv.Error:
                skipped += 1
                continue
            if not fields or fields == [""]:
                continue
            try:
                stamp = dt.datetime.fromisoformat(fields[0].strip())
                bpm = float(fields[1])
            except (ValueError, IndexError):
                skipped += 1
                continue
            if len(fields) != 2 or not math.isfinite(bpm) or not 1.0 <= bpm <= 1000.0:
                skipped += 1
                continue
            rows.append((stamp, bpm))
    return rows, skipped


class TempoLog:
    """Writes the tempo rows of one run (see the module docstring)."""

    def __init__(
        self,
        path: str | Path,
        now: Callable[[], dt.datetime] = dt.datetime.now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.rows = 0
        self.failed = False
        self._now = now
        self._monotonic = monotonic
        self._file: TextIO | None = None  # created with the first row
        self._last_bpm: float | None = None
        self._last_written = -math.inf  # monotonic time of the last row
        self._pending: tuple[dt.datetime, float] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def observe(self, bpm: float, exact: bool = False) -> None:
        """The tempo in effect now. ``exact``: a set tempo (any change is written),
        not a clock estimate (changes under ``MIN_CHANGE_BPM`` are not)."""
        if self.failed:
            return
        bpm = float(bpm)
        threshold = 1e-6 if exact else MIN_CHANGE_BPM
        if self._last_bpm is not None and abs(bpm - self._last_bpm) <= threshold:
            self._pending = None  # back where the last row says: nothing to add
            return
        stamp = self._now()
        wait = self._last_written + MIN_INTERVAL_S - self._monotonic()
        if wait <= 0:
            self._cancel_timer()
            self._pending = None
            self._write(stamp, bpm)
            return
        self._pending = (stamp, bpm)
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (a script): written by the next observe or by close()
            self._timer = loop.call_later(wait, self._flush_pending)

    def _flush_pending(self) -> None:
        self._timer = None
        pending, self._pending = self._pending, None
        if pending is not None:
            self._write(*pending)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _write(self, stamp: dt.datetime, bpm: float) -> None:
        if self.failed:
            return
        try:
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - close()
            self._file.write(format_tempo_line(stamp, bpm) + "\n")
            self._file.flush()
        except OSError as err:
            self.failed = True
            log.error(
                "tempo log %s: cannot write (%s); the tempo is no longer recorded",
                self.path,
                err.strerror or err,
            )
            return
        self._last_bpm = bpm
        self._last_written = self._monotonic()
        self.rows += 1

    def close(self) -> None:
        """Write a change still waiting out ``MIN_INTERVAL_S``, then close the file."""
        self._cancel_timer()
        self._flush_pending()
        if self._file is not None and not self._file.closed:
            try:
                self._file.close()
            except OSError:
                pass  # already reported by _write()
