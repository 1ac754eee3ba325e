"""The surprise meter: how unexpected each of the performer's gestures was to the model.

A gesture's surprise is its negative log-likelihood (nats, model space: the
units of ``impsy evaluate`` and of IMPSY's training loss) under the
prediction the model made just before it. "The model" here is a listener:
the same network with an LSTM state of its own, fed only the performer's
gestures from the start of the run, exactly what a dataset built from this
run's log holds (``impsy dataset`` keeps only the performer's rows). So the
meter's values are the per-step NLLs ``impsy evaluate`` reports for that log,
equal to float rounding (the listener steps the same float32 rows, with dt
taken from the log's own timestamps; without a log, from the loop's clock).
The model's own playing, resets and steering never touch the listener.

The listener's step runs where the model runs (``Predictor.call``), after
the model's queued work, one extra LSTM step per gesture; the meter is off
unless the config or the ``surprise`` command turns it on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np

from impsy.engine.predictor import Predictor
from impsy.model.steering import surprise as negative_log_likelihood


class Listener:
    """A second LSTM state on the model's network that hears only the performer."""

    def __init__(self, predictor: Predictor, dimension: int, mixtures: int) -> None:
        self.predictor = predictor
        self.dimension = dimension
        self.mixtures = mixtures
        self._state: list[np.ndarray] | None = None  # touched only where the model runs
        self._raw: np.ndarray | None = None
        self._previous: dt.datetime | float | None = None  # on the loop

    def hear(
        self,
        values: np.ndarray,
        stamp: dt.datetime | float,
        done: Callable[[float | None], None],
    ) -> None:
        """One gesture (``x1..xn`` as logged, stamped as the log stamped it, or the clock's time).

        ``done`` gets the gesture's surprise on the loop, or None for the
        run's first gesture (it only starts the clock, as in a dataset) and
        when the model failed.
        """
        previous, self._previous = self._previous, stamp
        if previous is None:
            return
        if isinstance(stamp, dt.datetime) and isinstance(previous, dt.datetime):
            delta = (stamp - previous).total_seconds()
        elif isinstance(stamp, float) and isinstance(previous, float):
            delta = stamp - previous
        else:  # the log failed mid-run: start again rather than mix two clocks
            self.predictor.call(self._forget, lambda _: None)
            return
        event = np.empty(self.dimension, dtype=np.float32)
        event[0] = delta
        event[1:] = values
        self.predictor.call(lambda: self._step(event), done)

    def _forget(self) -> None:
        """Where the model runs: the last prediction was for a gesture now skipped."""
        self._raw = None

    def _step(self, event: np.ndarray) -> float | None:
        """Where the model runs: score ``event`` under the last mixture, then feed it."""
        model = self.predictor.model
        raw = self._raw
        try:
            self._raw, self._state = model.step_aside(self._state, event)
        except Exception:  # reported by the model's own next call; the meter just stops
            self._raw = self._state = None
            return None
        if raw is None:
            return None
        return negative_log_likelihood(raw, event, self.dimension, self.mixtures)
