"""The performance log: IMPSY's CSV, one file per run, durable line by line.

Each gesture's row is written and flushed to the kernel before the engine
handles the next event, so a crash or ``kill -9`` loses nothing already
acknowledged. A write is a few microseconds of copying into the page cache
(tens on a cold core); no fsync, which would stall the loop for
milliseconds and protects only against power loss.

The model's own rows (``log_predictions``) are not answers to anyone, and
they come in runs of notes a fraction of a millisecond apart: the engine
keeps them (``write_later``, stamped when played) and writes them in one go
between deadlines (``flush``). A gesture's row flushes them first, so the
file stays in time order; ``close`` flushes too.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from impsy.dataset.logs import format_log_line

log = logging.getLogger("impsy")


def log_file_name(dimension: int, now: dt.datetime | None = None) -> str:
    """IMPSY's name: ``{YYYY-MM-DDTHH-MM-SS}-{D}d-mdrnn.log``."""
    stamp = (now or dt.datetime.now()).isoformat(timespec="seconds").replace(":", "-")
    return f"{stamp}-{dimension}d-mdrnn.log"


class EventLog:
    """Appends ``timestamp,source,v1..vn`` rows to a new file in ``directory``.

    The file is created on the first row, as IMPSY does, so runs without a
    single gesture leave nothing behind for ``impsy dataset`` to skip.
    """

    def __init__(self, directory: str | Path, dimension: int, path: Path | None = None) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if path is None:
            path = directory / log_file_name(dimension)
            suffix = 1
            while path.exists():  # two runs in one second must not share a file
                path = directory / log_file_name(dimension).replace(".log", f"-{suffix}.log")
                suffix += 1
        self.path = path
        self.rows = 0
        self.failed = False
        self._file: TextIO | None = None  # created with the first row: no empty logs
        self._kept: list[tuple[dt.datetime, str, np.ndarray]] = []  # write_later's rows

    @property
    def pending(self) -> int:
        """Rows kept by ``write_later`` and not written yet."""
        return len(self._kept)

    def write(self, source: str, values: Sequence[float]) -> None:
        """Write one row now (after any kept ones) and flush it to the kernel."""
        if self.failed:
            return
        lines = self._kept_lines()
        lines.append(format_log_line(dt.datetime.now(), source, values))
        self._append(lines)

    def beside(self, suffix: str) -> EventLog:
        """Another file next to this log, ``<log name><suffix>``, in the same row format: the
        run's telemetry, kept out of IMPSY's log so ``impsy dataset`` never reads it."""
        return EventLog(self.path.parent, 0, self.path.with_name(self.path.stem + suffix))

    def write_later(self, source: str, values: Sequence[float]) -> dt.datetime | None:
        """Keep one row, stamped now, for the next ``flush`` or ``write``; returns its stamp
        (None once the log has failed)."""
        if self.failed:
            return None
        stamp = dt.datetime.now()
        self._kept.append((stamp, source, np.array(values, dtype=float)))
        return stamp

    def flush(self, most: int | None = None) -> None:
        """Write the kept rows (the ``most`` oldest of them) in one go."""
        if self._kept and not self.failed:
            self._append(self._kept_lines(most))

    def _kept_lines(self, most: int | None = None) -> list[str]:
        count = len(self._kept) if most is None else most
        kept, self._kept = self._kept[:count], self._kept[count:]
        return [format_log_line(when, source, values) for when, source, values in kept]

    def _append(self, lines: list[str]) -> None:
        try:
            if self._file is None:
                self._file = open(self.path, "x", encoding="utf-8")  # noqa: SIM115 - close()
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()
        except OSError as err:
            # A full SD card must not stop the music: say so once, keep playing.
            self.failed = True
            log.error(
                "log %s: cannot write (%s); logging stops, the performance goes on",
                self.path,
                err.strerror or err,
            )
            return
        self.rows += len(lines)

    def close(self) -> None:
        self.flush()
        if self._file is not None and not self._file.closed:
            try:
                self._file.close()
            except OSError:
                pass  # already reported by write()
