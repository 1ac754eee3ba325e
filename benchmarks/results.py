"""One JSON line per headline number, so ``benchmarks/report.py`` can build one table.

Every benchmark script prints its own numbers for a person to read. The few that
go in the report's table are also handed to :func:`record`, which appends them to
the file named by ``IMPSY_BENCH_RESULTS`` (set by ``report.py``) and does nothing
otherwise, so running a script by hand behaves exactly as before.

A goal is written so that the report can check it:

- ``"<= 200"`` / ``">= 10000"``: impsy's value against a bound, in the row's unit;
- ``"|x| <= 0.1"``: impsy's absolute value against a bound (drift);
- ``"ratio >= 5"``: how many times better impsy is than IMPSY 1.2.1 (the reference
  divided by impsy when lower is better, impsy divided by the reference when higher
  is better);
- ``"<= 1 or 1.2x floor"``: impsy's value against the larger of a bound and a multiple
  of the ``floor`` measured in the same run (``"<= 1.5x floor"``: the multiple alone).

A ``floor`` is what the same measurement gives with impsy taken out, on the same
machine in the same run: a bare event loop firing the same timers (``floor.py``),
a bare UDP echo, the model timed in a tight loop. On a shared machine it tells
impsy's own cost from the host's; the report shows it and impsy's value over it.

Also here: where IMPSY 1.2.1 lives, for every script that compares with it.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Literal

ENV = "IMPSY_BENCH_RESULTS"
ROOT = Path(__file__).resolve().parents[1]
REFERENCE_PYTHONS = (ROOT / ".bench-venv" / "bin" / "python", Path("/tmp/impsy-ref/bin/python"))
REFERENCE_HINT = "IMPSY not installed: make bench-reference"


def reference_python() -> Path | None:
    """The interpreter that has IMPSY 1.2.1: ``.bench-venv`` first, then /tmp/impsy-ref.

    A venv counts once its ``impsy`` command is there (a failed install leaves none).
    """
    return next((path for path in REFERENCE_PYTHONS if (path.parent / "impsy").exists()), None)


def _number(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def record(
    measure: str,
    impsy: float | None,
    unit: str,
    *,
    reference: float | None = None,
    goal: str = "",
    better: Literal["lower", "higher"] = "lower",
    note: str = "",
    floor: float | None = None,
) -> None:
    """Append one result to ``$IMPSY_BENCH_RESULTS``; a no-op when it is not set.

    ``impsy`` and ``reference`` (IMPSY 1.2.1's value, if measured) are in ``unit``;
    None or NaN means "not measured". ``note`` is a few words shown beside the row.
    ``floor`` (in ``unit``) is the host's floor for this number, measured in the same run.
    """
    path = os.environ.get(ENV)
    if not path:
        return
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")
    row = {
        "measure": measure,
        "impsy": _number(impsy),
        "reference": _number(reference),
        "unit": unit,
        "goal": goal,
        "better": better,
        "note": note,
        "floor": _number(floor),
        "script": Path(sys.argv[0]).stem,
    }
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
