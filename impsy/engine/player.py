"""The model playing on its own outputs (callresponse's answer, battle), on absolute deadlines.

Each prediction ``[dt, x_1..x_n]`` is due at the *previous deadline* plus
``dt * timescale``, never at "now" plus the wait: inference time and late
wake-ups are then never added up, so a thousand events later the music is
exactly where the model's own timing puts it.

The model runs *ahead* of the music, and only where it cannot make anything
late. Each prediction depends only on the one before, so the player keeps a
short queue of planned events: the first is armed on the clock, the others
wait their turn. Once an event has gone out (``AFTER_SEND_S`` later, so
that a receiver on the same core runs first), the queue is topped up, one
prediction at a time, while the next thing due on the loop (this player's
next event, or any other deadline armed on impsy's loop: a sequencer
tick, a polyphony answer; not background work such as a web UI frame) is
far enough away: ``GUARD_S`` for the next event, ``TOP_UP_ROOM_S`` for
those beyond it. An event whose wait is shorter than one
inference therefore never has an inference in front of it, and the
predictions come in runs, back to back, while the processor is awake:
the first step after the loop has slept costs about ten times a warm
one (~350 µs against ~35 µs for the bundled model in a running server on
the 2-core development VM), and the next few cost less and less (a VM's
virtual CPU that went idle comes back slowly; a cold cache alone costs little
here), which is why inference in a server that predicted one event per
wake-up took 2.5-3 times as long as the same model timed alone. The queue
holds at least ``MIN_AHEAD`` events and at most ``HORIZON_S`` of music
(``MAX_AHEAD`` events): at timescale 1 that is the next event or two, as
before; at a fast timescale, enough to cover a run of notes too close
together to predict in between. Only when the
queue runs dry is a prediction made however close the next deadline is.

Sampling happens when an event is predicted, so what was predicted ahead
must be predicted again when a sampling setting changes (a temperature;
steering): ``replan`` keeps the armed event, puts the model back to the
LSTM state after it (each planned event keeps a copy of the state its
successor is predicted from, ``Model.state``/``set_state``) and predicts the
rest anew, so the change is heard from the next event on, whatever the
horizon. ``stop`` also puts the model back, so the LSTM has seen exactly the
events that were played (and the one being played, if playing it stopped
the player), none predicted and dropped. The timescale is applied when an
event is armed, so it takes effect with the next event.

Two ways out of trouble, both counted:

- a deadline missed by more than ``RESYNC_AFTER_S`` when it fires (a
  stalled machine, a suspended laptop) restarts the timeline from now
  instead of bursting out the backlog (``resyncs``);
- a failed prediction (the predictor already reported and reset the model)
  rests ``FIRST_DT`` after the last event before it and starts again from
  that event.

Outputs that send ahead (OSC time tags, ``impsy.io.osc_timetag``) get each
event through ``plan`` as soon as it is armed, its deadline fixed: so an
event is known at least its own dt before it is due, and what was handed
over is withdrawn with it if the player stops first. ``replan`` keeps the
armed event, so it keeps what was handed over too.

Time comes from an injected ``Clock``: the loop's when performing, a manual
clock in tests, which then check every deadline exactly without sleeping.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

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
GUARD_S = 0.001
"""The next event (``MIN_AHEAD``) is predicted only while the next deadline on the loop is at
least this far: a warm step of the bundled model takes 15-40 µs, the first after the loop slept
up to ~0.5 ms."""
TOP_UP_ROOM_S = 0.004
"""Events beyond ``MIN_AHEAD`` are predicted only while the next deadline is at least this far:
a run of predictions can be interrupted by the machine for a scheduler slice (1.4 ms here, up to
a 4 ms tick), and must not hold a deadline up when it is."""
MIN_AHEAD = 2
"""Events kept planned (the armed one and the next) whatever their length, room permitting."""
HORIZON_S = 0.3
"""Beyond ``MIN_AHEAD``, events are planned ahead up to this much music (at the timescale).
Longer runs cost nothing in responsiveness: a change of course predicts again (``replan``)."""
REFILL_BELOW = 0.5
"""Beyond ``MIN_AHEAD``, the queue is topped up (to ``HORIZON_S``) once less than this share
of ``HORIZON_S`` is left: predictions come in runs, most of them with warm caches."""
MAX_AHEAD = 64
"""The most events planned ahead, however short."""
FILL_BUDGET_S = 0.0005
"""The longest the player predicts in one go before it lets the loop run (then carries on):
with the step that crosses it, well under the 1 ms that nothing may hold the loop."""
AFTER_SEND_S = 0.0001
"""With the next event planned, predicting on starts this long after an event is sent, not at
once: the datagram wakes its receiver (a synth, often on the same core, where the kernel puts
it to run as soon as impsy sleeps), and work right after the send would hold the note there."""

Play = Callable[[np.ndarray, float], None]
"""Sends one event's values; gets the deadline it was due at (for lateness)."""
Plan = Callable[[np.ndarray, float], list[Handle]]
"""Hands an armed event (values, deadline) to the outputs that send ahead; returns what
withdraws it."""


class Planned(NamedTuple):
    """One predicted event waiting to be played; ``values`` None is a rest after a failure."""

    dt: float
    """The clamped dt, unscaled (the timescale is applied when the event is armed)."""
    values: np.ndarray | None
    next_input: np.ndarray | None = None
    """What the model is fed for the event after this one."""
    before: list[np.ndarray] | None = None
    """The LSTM state the event after this one is predicted from, up to its ``next_input``:
    the state that has seen every event before this one (None: the model cannot say)."""


_REST = Planned(FIRST_DT, None)


class Player:
    """One run of the model's own playing at a time: ``start(prime)``, ``stop()``."""

    def __init__(
        self,
        clock: Clock,
        predictor: Predictor,
        timescale: Callable[[], float],
        play: Play,
        counters: Counters,
        *,
        work_clock: Callable[[], float] = time.perf_counter,
        plan: Plan | None = None,
    ) -> None:
        self.clock = clock
        self._plan = plan
        self._handed: list[Handle] = []  # the armed event, as handed to outputs that send ahead
        self._work_clock = work_clock  # real time spent predicting (FILL_BUDGET_S), not music
        self.predictor = predictor
        self._timescale = timescale
        self._play = play
        self.counters = counters
        self.running = False
        self.guard = GUARD_S
        """Room, in seconds, predicting the next event needs before the next deadline."""
        self.top_up_room = TOP_UP_ROOM_S
        """Room, in seconds, predicting beyond ``MIN_AHEAD`` needs before the next deadline."""
        self._run = 0  # bumped by stop(): callbacks of an older run do nothing
        self._timer: Handle | None = None
        self._deadline = 0.0  # of the armed event, else of the last one played
        self._queue: deque[Planned] = deque()  # planned events; the first is armed
        self._ahead_dt = 0.0  # sum of the unscaled dt of the queued events after the armed one
        self._next_input: np.ndarray | None = None  # the model's input for the next prediction
        self._asking = False  # a prediction is on its way (worker thread)
        self._resting = False  # a failed prediction is queued: predict no more until it rests
        self._topping_up = False  # between REFILL_BELOW and HORIZON_S: filling up
        self._filling: Handle | None = None  # a fill waiting for its turn (AFTER_SEND_S, budget)
        self._other_timers = clock.next_due  # any deadline on the clock, this player's too
        self._sounding = False  # the armed event is being played (``_fire``)

    # ------------------------------------------------------------------ control
    def start(self, prime: np.ndarray) -> None:
        """Play from now on, the first event predicted from ``prime``."""
        self.stop()
        self.running = True
        self._deadline = self.clock.now()
        self._next_input = prime.copy()
        self._fill(self._run, top_up=False)  # the first events now; more once they play

    def stop(self) -> None:
        """Nothing more is played: the armed deadline and everything planned are dropped.

        The model goes back to the state that has seen exactly the events played (where it
        can): what it predicted ahead and never played leaves no trace in it.
        """
        self._go_back()
        self._drop(keep=None)
        self.running = False

    def replan(self, restore: bool = True) -> None:
        """Predict again everything after the armed event (a temperature, a steering changed).

        The armed event still plays at its deadline; the model goes back to the state after
        it (``restore``; False when the caller has just reset the state itself) and the events
        after it are predicted anew, so a change is heard from the next event on.
        """
        head = self._head()
        if head is None or not self._stepped_beyond():
            return  # nothing planned beyond the armed event, or resting after a failure
        if restore:
            if head.before is None:
                return  # a model that cannot go back: what was planned plays
            self.predictor.set_state(head.before)
        self._drop(keep=head)
        self._next_input = head.next_input
        self._timer = self.clock.call_at(self._deadline, self._fire, self._run)
        self._fill(self._run)

    def _head(self) -> Planned | None:
        """The armed event, unless nothing is planned or it is a rest after a failure."""
        if not self.running or not self._queue or self._queue[0].values is None:
            return None
        return self._queue[0]

    def _stepped_beyond(self) -> bool:
        """Whether the model has stepped past the armed event (planned or asked for more)."""
        return len(self._queue) > 1 or self._asking

    def _drop(self, keep: Planned | None) -> None:
        """Forget everything planned but ``keep``: its timer, any waiting fill, a rest (a
        dropped rest ends the resting); callbacks of what came before now do nothing."""
        self._run += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if keep is None:  # the armed event goes: so does what was sent ahead of it
            for handle in self._handed:
                handle.cancel()
            self._handed = []
        if self._filling is not None:
            self._filling.cancel()
            self._filling = None
        self._queue = deque([] if keep is None else [keep])
        self._ahead_dt = 0.0
        self._asking = False
        self._resting = False
        self._topping_up = False

    def _go_back(self) -> None:
        """The model back to the state that has seen exactly the events played so far."""
        head = self._head()
        if head is None or head.before is None:
            return  # nothing planned, a rest, or a model that cannot go back
        if self._stepped_beyond():
            self.predictor.set_state(head.before)
        if self._sounding:  # the armed event is being played: the model hears it
            self.predictor.condition(head.next_input)

    @property
    def planned(self) -> int:
        """Events predicted and not yet played (the armed one included)."""
        return len(self._queue)

    @property
    def next_deadline(self) -> float | None:
        """When the armed event is due, or None when nothing is armed."""
        return self._deadline if self._timer is not None else None

    # ---------------------------------------------------------------- predicting
    def _fill(self, run: int, top_up: bool = True, most: int | None = None) -> None:
        """Predict ahead while there is room before the next deadline (see the module doc).

        Without ``top_up``, only up to ``MIN_AHEAD`` events; with ``most``, at most that many.
        """
        began = self._work_clock()
        other = self._other_timers()  # nothing else arms a timer while this runs
        asked = 0
        while run == self._run and self._wants_more(top_up, other):
            if most is not None and asked >= most:
                return
            asked += 1
            if self._queue and self._work_clock() - began > FILL_BUDGET_S:
                self._fill_later(0.0, run)  # let the loop breathe
                return
            self._asking = True
            assert self._next_input is not None
            self.predictor.predict_ahead(self._next_input, lambda y, s: self._arrived(run, y, s))

    def _fill_later(self, delay: float, run: int) -> None:
        """``_fill`` in ``delay`` seconds, unless one is already waiting."""
        if self._filling is None:
            self._filling = self.clock.call_at(self.clock.now() + delay, self._fill_now, run)

    def _fill_now(self, run: int) -> None:
        self._filling = None
        self._fill(run)

    def _wants_more(self, top_up: bool, other: float | None) -> bool:
        """Whether to predict another event now; ``other`` is when the loop's next timer (the
        player's own or anything else's) is due, None when unknown or none."""
        if not self.running or self._asking or self._resting:
            return False
        queued = len(self._queue)
        if queued == 0:
            return True  # nothing to play next: predict now, however close anything is
        if queued >= MAX_AHEAD:
            self._topping_up = False
            return False
        if queued >= MIN_AHEAD:
            if not top_up:
                return False
            ahead = self._ahead_dt * self._timescale()
            if ahead >= HORIZON_S:
                self._topping_up = False
                return False
            if ahead < HORIZON_S * REFILL_BELOW:
                self._topping_up = True
            if not self._topping_up:
                return False
        now = self.clock.now()
        due = self._deadline if self._timer is not None else math.inf
        if other is not None:
            due = min(due, other)
        return due - now >= (self.guard if queued < MIN_AHEAD else self.top_up_room)

    def _arrived(
        self, run: int, prediction: np.ndarray | None, before: list[np.ndarray] | None
    ) -> None:
        """A prediction: queue it (and arm it if nothing is), then predict on if there is room.

        ``before`` is the state after the step that made it: what the event after it will be
        predicted from.
        """
        if run != self._run:
            return
        self._asking = False
        if prediction is None:
            self._resting = True
            self._enqueue(_REST)
        else:
            plan = plan_playback(prediction, self._timescale())
            self._next_input = plan.next_model_input
            dt = float(plan.next_model_input[0])
            self._enqueue(Planned(dt, plan.values, plan.next_model_input, before))
        if not self.predictor.threaded:
            return  # inline: the caller's _fill loop carries on
        self._fill(run)

    def _enqueue(self, event: Planned) -> None:
        self._queue.append(event)
        if self._timer is None:
            self._arm(self._run)
        else:
            self._ahead_dt += event.dt

    # ------------------------------------------------------------------ playing
    def _arm(self, run: int) -> None:
        """Put the first planned event on the clock."""
        head = self._queue[0]
        if head.values is None:  # a rest after a failure, from the last event on
            self._deadline = max(self._deadline, self.clock.now()) + FIRST_DT
            self._timer = self.clock.call_at(self._deadline, self._rested, run)
        else:
            self._deadline += head.dt * self._timescale()
            self._timer = self.clock.call_at(self._deadline, self._fire, run)
            if self._plan is not None:
                self._handed = self._plan(head.values, self._deadline)

    def _advance(self, run: int) -> None:
        """The armed event is done: arm the next, if one is planned."""
        self._queue.popleft()
        if self._queue:
            self._ahead_dt -= self._queue[0].dt
            if len(self._queue) == 1:
                self._ahead_dt = 0.0  # no rounding left behind
            self._arm(run)

    def _fire(self, run: int) -> None:
        if run != self._run:
            return
        self._timer = None
        self._handed = []  # it has left (or leaves now)
        values = self._queue[0].values
        assert values is not None
        self._sounding = True
        try:
            self._play(values, self._deadline)
        finally:
            self._sounding = False
        if run != self._run:  # playing it stopped the player (the floor was handed back)
            return
        now = self.clock.now()
        if now - self._deadline > RESYNC_AFTER_S:
            self.counters.resyncs += 1
            self._deadline = now
        self._advance(run)
        if not self._queue:  # nothing planned: the next event now, however close it is
            self._fill(run, most=1)
        self._fill_later(AFTER_SEND_S, run)  # the rest once the receiver has had the core

    def _rested(self, run: int) -> None:
        """After a failed prediction: try again from the last event played."""
        if run != self._run:
            return
        self._timer = None
        self._resting = False
        self._advance(run)
        self._fill(run)
