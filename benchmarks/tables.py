"""How the benchmark scripts summarise timings and print them: percentiles, Markdown tables.

Every script prints its numbers as a Markdown table for a person to read (and
``report.py`` pastes its own into ``REPORT.md`` and ``README.md``), so they share
one renderer: the same header, separator and cell layout everywhere, with the
alignment chosen per column. The percentile is numpy's, NaN where nothing was
measured (a step that timed nothing reports "n/a" instead of failing).

Run as scripts (``python benchmarks/engine.py``), the benchmarks find this module
the way they find ``results.py``: ``benchmarks/`` is first on ``sys.path``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

_SEPARATORS = {"l": "---", "r": "---:"}


def percentile(values: Sequence[float] | np.ndarray, q: float, method: str = "linear") -> float:
    """The ``q``-th percentile of ``values`` (numpy's ``method``); NaN when there are none.

    ``method="higher"`` is the nearest sample at or above the interpolated position,
    which for q = 50 and 99 is ``sorted(values)[int(q / 100 * len(values))]``.
    """
    return float(np.percentile(values, q, method=method)) if len(values) else float("nan")


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], align: str = ""
) -> list[str]:
    """The lines of a Markdown table: the header, the separator, then one line a row.

    ``align`` has a letter a column, ``l`` (left) or ``r`` (right); columns past its
    end are left-aligned. Cells are written with ``str``; every row must have as
    many cells as the header.
    """
    if len(align) > len(header) or set(align) - set(_SEPARATORS):
        raise ValueError(f"align {align!r}: one of {'/'.join(_SEPARATORS)} a column at most")
    separators = [_SEPARATORS[a] for a in align.ljust(len(header), "l")]
    lines = [_line(header), _line(separators)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"{len(row)} cells in a table of {len(header)} columns: {row!r}")
        lines.append(_line(row))
    return lines


def _line(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"
