"""Log files to performances, with the counts a user needs to trust the result.

IMPSY lists the log folder in directory order (arbitrary, so the same logs
could give differently ordered datasets), reports only totals, and drops a
whole file on any error. Here files are taken in sorted name order (log
names start with their timestamp, so that is recording order), malformed
rows are skipped and counted by reason, and a file that yields no rows is
counted instead of silently vanishing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from impsy.dataset.logs import read_log_file


def log_suffix(dimension: int) -> str:
    """The ending IMPSY gives ``dimension``'s logs: ``-{D}d-mdrnn.log``."""
    return f"-{dimension}d-mdrnn.log"


def find_logs(source: str | Path, dimension: int) -> list[Path]:
    """The dimension's log files in ``source``, sorted by name (= by start time)."""
    suffix = log_suffix(dimension)
    return sorted(p for p in Path(source).iterdir() if p.name.endswith(suffix) and p.is_file())


@dataclass
class Collected:
    """Performances and what happened on the way, for the end-of-run summary."""

    performances: list[np.ndarray] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)
    """Each performance's row weights (1 where nothing was marked)."""
    marked: Counter[str] = field(default_factory=Counter)
    """Rows in good spans, rows weighted down or dropped as bad, files with marks."""
    sources: list[str] = field(default_factory=list)
    """Where each performance came from (file name), in dataset order."""
    files: int = 0
    empty_files: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    unusable: list[tuple[str, str]] = field(default_factory=list)
    """(file name, why) of files that could not be read at all: listed, then passed over,
    so one bad file among many never costs the good ones."""

    @property
    def events(self) -> int:
        return sum(len(p) for p in self.performances)

    @property
    def seconds(self) -> float:
        return float(sum(float(np.sum(p[:, 0], dtype=np.float64)) for p in self.performances))

    def add(
        self,
        name: str,
        rows: np.ndarray,
        skipped: dict[str, int] | None = None,
        weights: np.ndarray | None = None,
    ) -> None:
        """One file's rows (dropped, but counted, when there are none)."""
        self.files += 1
        self.skipped.update(skipped or {})
        if len(rows):
            self._keep(name, rows, weights)
        else:
            self.empty_files.append(name)

    def _keep(self, name: str, rows: np.ndarray, weights: np.ndarray | None) -> None:
        self.performances.append(np.asarray(rows, dtype=np.float32))
        self.weights.append(
            np.ones(len(rows), np.float32) if weights is None else np.asarray(weights, np.float32)
        )
        self.sources.append(name)

    def add_marked(
        self, name: str, rows: np.ndarray, skipped: dict[str, int], spans: list, **weights: float
    ) -> None:
        """One file's rows with its marked spans applied (:func:`impsy.dataset.marks.apply_marks`:
        bad spans dropped or weighted down, good ones weighted up)."""
        from impsy.dataset.marks import apply_marks, masks

        self.files += 1
        self.skipped.update(skipped or {})
        if not len(rows):
            self.empty_files.append(name)
            return
        good, bad = masks(rows, spans)
        self.marked["files"] += 1
        self.marked["good rows"] += int(good.sum())
        dropping = weights.get("bad_weight", 0.0) <= 0
        self.marked["bad rows dropped" if dropping else "bad rows weighted down"] += int(bad.sum())
        pieces = apply_marks(rows, spans, **weights)
        for number, (piece, weight) in enumerate(pieces):
            self._keep(name if len(pieces) == 1 else f"{name} [{number + 1}]", piece, weight)
        if not pieces:
            self.empty_files.append(name)

    def refuse(self, name: str, why: str) -> None:
        """A file that could not be read: counted and listed, the others go on."""
        self.files += 1
        self.unusable.append((name, why))


def collect_logs(
    paths: Iterable[Path],
    dimension: int,
    collected: Collected | None = None,
    progress: Callable[[Iterable[Path]], Iterable[Path]] | None = None,
    marks: dict[str, float] | None = None,
) -> Collected:
    """Read each log into ``collected`` (a new one if None); ``progress`` may wrap the loop.

    With ``marks`` (``bad_weight``, ``good_weight``), a log's marks file beside it
    (:mod:`impsy.dataset.marks`) is applied to its rows.
    """
    from impsy.dataset.marks import read_marks

    collected = collected if collected is not None else Collected()
    paths = list(paths)
    for path in progress(paths) if progress else paths:
        parsed = read_log_file(path, dimension)
        spans = read_marks(path) if marks is not None else []
        if spans:
            collected.add_marked(path.name, parsed.rows, parsed.skipped, spans, **marks)
        else:
            collected.add(path.name, parsed.rows, parsed.skipped)
    return collected


def summary_lines(collected: Collected, destination: Path | None = None) -> list[str]:
    """The end-of-run table: files, performances, events, time, skipped rows by reason."""
    lines = [
        f"{'files read':<26}{collected.files:>12}",
        f"{'performances':<26}{len(collected.performances):>12}",
        f"{'events (rows)':<26}{collected.events:>12}",
        f"{'total time':<26}{_duration(collected.seconds):>12}",
        f"{'empty files (dropped)':<26}{len(collected.empty_files):>12}",
        f"{'unusable files (skipped)':<26}{len(collected.unusable):>12}",
        f"{'skipped rows':<26}{sum(collected.skipped.values()):>12}",
    ]
    for reason, count in sorted(collected.skipped.items()):
        lines.append(f"  {reason:<24}{count:>12}")
    if collected.marked:
        lines.append(f"{'marked logs':<26}{collected.marked['files']:>12}")
        for what in ("good rows", "bad rows dropped", "bad rows weighted down"):
            if what in collected.marked:
                lines.append(f"  {what:<24}{collected.marked[what]:>12}")
    for name in collected.empty_files:
        lines.append(f"  empty: {name} (no two interactions the mapping reads)")
    for name, why in collected.unusable:
        lines.append(f"  unusable: {name}: {why}")
    if destination is not None:
        lines.append(f"{'written to':<26}{destination}")
    return lines


def _duration(seconds: float) -> str:
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
