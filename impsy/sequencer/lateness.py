"""How late every scheduled event really happened: counters, percentiles, a histogram.

Each step, note-off and clock tick records ``actual - deadline``. The last
``WINDOW`` values give p50/p99 (recent behaviour is what a musician cares
about); the count, the maximum and the histogram cover the whole run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WINDOW = 4096
# Lower bucket edges in ms; the last bucket is open-ended.
EDGES_MS: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)


class LatenessStats:
    """Lateness of scheduled events, in seconds in, milliseconds out."""

    def __init__(self, window: int = WINDOW) -> None:
        self._recent = np.zeros(window)
        self._next = 0
        self.count = 0
        self.max_s = 0.0
        self.counts = [0] * len(EDGES_MS)
        self._edges_s = tuple(edge / 1000 for edge in EDGES_MS)

    def add(self, lateness_s: float) -> None:
        late = lateness_s if lateness_s > 0.0 else 0.0
        self._recent[self._next] = late
        self._next = (self._next + 1) % len(self._recent)
        self.count += 1
        if late > self.max_s:
            self.max_s = late
        bucket = len(self._edges_s) - 1
        while late < self._edges_s[bucket]:
            bucket -= 1
        self.counts[bucket] += 1

    def percentile_ms(self, q: float) -> float:
        filled = min(self.count, len(self._recent))
        if filled == 0:
            return 0.0
        return float(np.percentile(self._recent[:filled], q)) * 1000

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "p50_ms": round(self.percentile_ms(50), 4),
            "p99_ms": round(self.percentile_ms(99), 4),
            "max_ms": round(self.max_s * 1000, 4),
            "histogram": {"edges_ms": list(EDGES_MS), "counts": list(self.counts)},
        }
