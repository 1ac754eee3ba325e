"""The model playing on its own outputs (callresponse's answer, battle), on absolute deadlines.

Each prediction ``[dt, x_1..x_n]`` is due at the *previous deadline* plus
``dt * timescale``, never at "now" plus the wait: inference time and late
wake-ups are then never added up, so a thousand events later the music is
exactly where the model's own timing puts it. As soon as one event is
planned, the next prediction is asked for, so it is ready (inline) or on
its way (on the worker thread) when the deadline comes.

Two ways out of trouble, both counted:

- a deadline missed by more than ``RESYNC_AFTER_S`` when it fires (a
  stalled machine, a suspended laptop) restarts the timeline from now
  instead of bursting out the backlog (``resyncs``);
- a failed prediction (the predictor already reported and reset the model)
  rests ``FIRST_DT`` and starts again from the last thing played.

Time comes from an injected ``Clock``: the loop's when performing, a manual
clock in tests, which then check every deadline exactly without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from impsy.clock import Clock, Handle
from impsy.engine.playback import plan_playback
from impsy.engine.predictor import Predictor
from impsy.engine.stats import Counters

# A deadline missed by more than this restarts the timeline from now.
RESYNC_AFTER_S = 0.05
# How long the model rests after a failed prediction, and the dt of its first
# input when it starts on its own (battle mode).
FIRST_DT = 0.1

Play = Callable[[np.ndarray, float], None]
"""Sends one event's values; gets the deadline it was due at (for lateness)."""


class Player:
    """One run of the model's own playing at a time: ``start(prime)``, ``stop()``."""

    def __init__(
        self,
        clock: Clock,
        predictor: Predictor,
        timescale: Callable[[], float],
        play: Play,
        counters: Counters,
    ) -> None:
        self.clock = clock
        self.predictor = predictor
        self._timescale = timescale
        self._play = play
        self.counters = counters
        self.running = False
        self._run = 0  # bumped by stop(): callbacks of an older run do nothing
        self._timer: Handle | None = None
        self._deadline = 0.0
        self._last_input: np.ndarray | None = None
        self._due: np.ndarray | None = None
        self._upcoming: tuple[np.ndarray | None] | None = None
        self._fired = False

    def start(self, prime: np.ndarray) -> None:
        """Play from now on, the first event predicted from ``prime``."""
        self.stop()
        self.running = True
        run = self._run
        self._deadline = self.clock.now()
        self._last_input = prime.copy()
        self.predictor.predict(self._last_input, lambda y: self._next(run, y))

    def stop(self) -> None:
        """Nothing more is played: the armed deadline and any prediction on its way are dropped."""
        self._run += 1
        self.running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._upcoming = None
        self._fired = False

    def _next(self, run: int, prediction: np.ndarray | None) -> None:
        """The prediction for the next event: plan it, arm its deadline, ask for the one after."""
        if run != self._run:
            return
        if prediction is None:
            self._deadline = max(self._deadline, self.clock.now()) + FIRST_DT
            self._timer = self.clock.call_at(self._deadline, self._retry, run)
            return
        plan = plan_playback(prediction, self._timescale())
        self._deadline += plan.wait
        self._last_input = plan.next_model_input
        self._due = plan.values
        self._upcoming = None
        self._fired = False
        self._timer = self.clock.call_at(self._deadline, self._fire, run)
        self.predictor.predict(plan.next_model_input, lambda y: self._arrived(run, y))

    def _retry(self, run: int) -> None:
        if run != self._run:
            return
        self._timer = None
        assert self._last_input is not None
        self.predictor.predict(self._last_input, lambda y: self._next(run, y))

    def _arrived(self, run: int, prediction: np.ndarray | None) -> None:
        """The prediction after the armed event: kept until it is due, or planned at once."""
        if run != self._run:
            return
        if self._fired:  # the deadline came first (a slow model): plan it now
            self._next(run, prediction)
        else:
            self._upcoming = (prediction,)

    def _fire(self, run: int) -> None:
        if run != self._run:
            return
        self._timer = None
        assert self._due is not None
        self._play(self._due, self._deadline)
        if run != self._run:  # playing it stopped the player (the floor was handed back)
            return
        now = self.clock.now()
        if now - self._deadline > RESYNC_AFTER_S:
            self.counters.resyncs += 1
            self._deadline = now
        if self._upcoming is None:
            self._fired = True
            return
        (prediction,) = self._upcoming
        self._upcoming = None
        self._next(run, prediction)
