"""The performance log: IMPSY's CSV, one file per run, durable line by line.

Each row is written and flushed to the kernel before the engine handles the
next event, so a crash or ``kill -9`` loses nothing already acknowledged. A
write is a few microseconds of copying into the page cache; no fsync, which
would stall the loop for milliseconds and protects only against power loss.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

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

    def __init__(self, directory: str | Path, dimension: int) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / log_file_name(dimension)
        suffix = 1
        while path.exists():  # two runs in one second must not share a file
            path = directory / log_file_name(dimension).replace(".log", f"-{suffix}.log")
            suffix += 1
        self.path = path
        self.rows = 0
        self.failed = False
        self._file: TextIO | None = None  # created with the first row: no empty logs

    def write(self, source: str, values: Sequence[float]) -> None:
        if self.failed:
            return
        try:
            if self._file is None:
                self._file = open(self.path, "x", encoding="utf-8")  # noqa: SIM115 - close()
            self._file.write(format_log_line(dt.datetime.now(), source, values) + "\n")
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
        self.rows += 1

    def close(self) -> None:
        if self._file is not None and not self._file.closed:
            try:
                self._file.close()
            except OSError:
                pass  # already reported by write()
