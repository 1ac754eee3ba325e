"""Performance logs into the dataset step (``impsy dataset``), one file per input.

The first byte picks the dimension (2-17); the rest is written as a log file
of that dimension and read by ``collect_logs``, as ``impsy dataset`` reads a
log folder.

Invariants: nothing raises; every performance is a finite float32 array of
shape (N, dimension); every malformed ``interface`` row is counted under a
reason; the summary table renders.
"""

from __future__ import annotations

import numpy as np

from fuzz.harness import quiet, scratch_dir
from impsy.dataset.collect import collect_logs, summary_lines

_dir = None


def one_input(data: bytes) -> None:
    global _dir
    if _dir is None:
        quiet()
        _dir = scratch_dir()
    dimension = 2 + (data[0] % 16 if data else 7)
    path = _dir / f"2024-01-01T00-00-00-{dimension}d-mdrnn.log"
    path.write_bytes(data[1:])
    collected = collect_logs([path], dimension)
    assert collected.files == 1
    for rows in collected.performances:
        assert rows.dtype == np.float32 and rows.ndim == 2 and rows.shape[1] == dimension
        assert np.all(np.isfinite(rows)), "non-finite values reached the dataset"
    assert all(count > 0 for count in collected.skipped.values())
    assert summary_lines(collected)
