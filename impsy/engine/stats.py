"""Counters and timing statistics the engine publishes (status query, web UI).

Lateness samples live in a fixed-size ring so a long performance costs no
memory; percentiles are computed only when someone asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class Ring:
    """The last ``size`` float samples, for percentiles over recent history."""

    def __init__(self, size: int = 10_000) -> None:
        self._data = np.zeros(size)
        self._next = 0
        self._count = 0

    def add(self, value: float) -> None:
        self._data[self._next] = value
        self._next = (self._next + 1) % len(self._data)
        self._count = min(self._count + 1, len(self._data))

    def __len__(self) -> int:
        return self._count

    def percentiles(self, *qs: float) -> list[float]:
        if not self._count:
            return [float("nan")] * len(qs)
        return [float(v) for v in np.percentile(self._data[: self._count], qs)]

    def max(self) -> float:
        return float(self._data[: self._count].max()) if self._count else float("nan")


@dataclass
class Counters:
    """What happened since start-up; every field is a plain count."""

    events_in: int = 0
    bad_input: int = 0
    predictions: int = 0
    outputs: int = 0
    dropped_predictions: int = 0
    resyncs: int = 0
    model_errors: int = 0
    log_rows: int = 0
    dropped_by_kernel: int = 0
    """Input datagrams the OS dropped because impsy's receive buffer was full."""
    shed_predictions: int = 0
    """Polyphony gestures logged but not answered while input was backlogged (a flood)."""
    clipped_input: int = 0
    """Gestures with a value outside [0, 1], clipped into it before the log and the model."""
    lateness: Ring = field(default_factory=Ring)
    inference: Ring = field(default_factory=Ring)

    def as_dict(self) -> dict[str, float]:
        late50, late99 = self.lateness.percentiles(50, 99)
        inf50, inf99 = self.inference.percentiles(50, 99)
        return {
            "events_in": self.events_in,
            "bad_input": self.bad_input,
            "predictions": self.predictions,
            "outputs": self.outputs,
            "dropped_predictions": self.dropped_predictions,
            "resyncs": self.resyncs,
            "model_errors": self.model_errors,
            "log_rows": self.log_rows,
            "dropped_by_kernel": self.dropped_by_kernel,
            "shed_predictions": self.shed_predictions,
            "clipped_input": self.clipped_input,
            "lateness_p50_ms": late50 * 1e3,
            "lateness_p99_ms": late99 * 1e3,
            "lateness_max_ms": self.lateness.max() * 1e3,
            "inference_p50_us": inf50 * 1e6,
            "inference_p99_us": inf99 * 1e6,
        }
