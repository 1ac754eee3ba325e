"""The sparse input pipeline: message updates in, dense model inputs out.

MIDI and WebSocket messages each change only a few dimensions, but the model
wants the whole vector ``[dt, x_1..x_n]`` for every interaction. ``InputState``
keeps the last value of each dimension and the time of the last interaction.
Time is passed in by the caller instead of read from a clock, so the same
code runs under the asyncio engine and under exact tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["InputState", "Interaction"]


class Interaction(NamedTuple):
    """One interaction: what to feed the model and what to log."""

    model_input: np.ndarray
    """``[dt, x_1..x_n]`` as float64; dt in seconds since the previous interaction."""
    values: np.ndarray
    """``x_1..x_n`` for the ``interface`` log row (a copy, safe to keep)."""


class InputState:
    """The current input vector and the time of the last interaction.

    ``start_time`` stands in for the previous interaction until the first
    one, as IMPSY measures the first dt from start-up. Only messages that
    change something count as interactions: ignored ones neither produce a
    model input nor restart dt, so a stream of clock or note-off messages
    cannot shrink the timing the model sees.
    """

    def __init__(self, dimension: int, initial_values: Sequence[float], start_time: float) -> None:
        if dimension < 2:
            raise ValueError(f"dimension must be at least 2 (dt and one value), got {dimension}")
        values = np.array(initial_values, dtype=np.float64)
        if values.shape != (dimension - 1,):
            raise ValueError(
                f"expected {dimension - 1} initial values for dimension {dimension}, "
                f"got shape {values.shape}"
            )
        self.dimension = dimension
        self._values = values
        self._last_time = float(start_time)

    @property
    def values(self) -> np.ndarray:
        """A copy of the current x_1..x_n."""
        return self._values.copy()

    @property
    def last_time(self) -> float:
        """When the last interaction happened (or the start time before any)."""
        return self._last_time

    def apply(self, updates: Iterable[tuple[int, float]] | None, time: float) -> Interaction | None:
        """Apply one message's updates at ``time``; None (and no dt reset) if there are none.

        All updates of one message form a single interaction, even when a
        message sets several dimensions (a note and its velocity, or a CC
        mapped twice).
        """
        if not updates:
            return None
        for index, value in updates:
            self._values[index] = value
        return self._interaction(time)

    def apply_dense(self, values: Sequence[float], time: float) -> Interaction:
        """Replace the whole vector at ``time`` (OSC and serial send every value at once)."""
        new = np.asarray(values, dtype=np.float64)
        if new.shape != self._values.shape:
            raise ValueError(f"expected {self._values.size} values, got shape {new.shape}")
        self._values[:] = new
        return self._interaction(time)

    def _interaction(self, time: float) -> Interaction:
        dt = time - self._last_time
        self._last_time = time
        model_input = np.empty(self.dimension, dtype=np.float64)
        model_input[0] = dt
        model_input[1:] = self._values
        return Interaction(model_input, self._values.copy())
