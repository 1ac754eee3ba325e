"""The player's predicting ahead, exactly, on a manual clock: when the model runs, not only when
notes leave (``test_timing.py`` checks those).

The player predicts right after an event goes out, and ahead only while the
next deadline is at least ``GUARD_S`` away (``TOP_UP_ROOM_S`` beyond the next
event); it keeps at least ``MIN_AHEAD``
events planned and at most ``HORIZON_S`` of music; it predicts for at most
``FILL_BUDGET_S`` of real time in one go, then lets the loop run and goes on
at the same instant. Each test notes, on the manual clock, when each thing
happened and what the player had planned then.
"""

from __future__ import annotations

import numpy as np
import pytest

from impsy.clock import ManualClock
from impsy.engine.playback import plan_playback
from impsy.engine.player import (
    AFTER_SEND_S,
    FILL_BUDGET_S,
    GUARD_S,
    HORIZON_S,
    MAX_AHEAD,
    MIN_AHEAD,
    TOP_UP_ROOM_S,
    Player,
)
from impsy.engine.predictor import Predictor
from impsy.engine.stats import Counters
from impsy.model import load_model
from tests.engine.test_timing import MODEL, START, Recorded, values, waits
from tests.engine.test_timing import rig as engine_rig

PRIME = np.array([0.1] + [0.5] * 8)


def state_after(inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The LSTM state of a fresh copy of the model fed ``inputs``, nothing else."""
    model = load_model(MODEL, seed=0)
    for x in inputs:
        model.step(x)
    return model.state()


def same_state(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.allclose(x, y, atol=1e-6) for x, y in zip(a, b, strict=True))


class Rig:
    """A player on a manual clock with the real model; every send and prediction in order."""

    def __init__(self, timescale: float, work_step: float = 0.0) -> None:
        self.clock = ManualClock(START)
        self.model = Recorded()
        self.timescale = timescale
        self.log: list[tuple[str, float, int]] = []  # (what, clock time, events planned)
        self.sent: list[tuple[float, np.ndarray]] = []
        self.work = 0.0
        self.work_step = work_step  # real seconds each read of the work clock moves on
        predict = self.model.predict

        def predicting(x: np.ndarray) -> np.ndarray:
            self.states.append(self.model.state())
            self.log.append(("predict", self.clock.now(), self.player.planned))
            self.deadlines.append(self.player.next_deadline)
            return predict(x)

        self.model.predict = predicting
        self.deadlines: list[float | None] = []  # the armed deadline at each prediction
        self.states: list[list[np.ndarray]] = []  # the LSTM state before each prediction
        self.player = Player(
            self.clock,
            Predictor(self.model, Counters(), threaded=False),
            lambda: self.timescale,
            self.play,
            Counters(),
            work_clock=self.work_clock,
        )

    def work_clock(self) -> float:
        self.work += self.work_step
        return self.work

    def play(self, vector: np.ndarray, deadline: float) -> None:
        self.log.append(("send", self.clock.now(), self.player.planned))
        self.sent.append((self.clock.now(), vector.copy()))

    def play_until(self, count: int) -> None:
        while len(self.sent) < count:
            self.clock.advance(0.001)


def test_start_predicts_the_first_events_at_once_and_nothing_more():
    rig = Rig(timescale=1.0)
    rig.player.start(np.array([0.1] + [0.5] * 8))
    assert [what for what, _, _ in rig.log] == ["predict"] * MIN_AHEAD
    assert rig.player.planned == MIN_AHEAD
    assert rig.player.next_deadline == pytest.approx(START + waits(rig.model.outputs[:1], 1.0)[0])


@pytest.mark.parametrize("timescale", [1.0, 0.05, 0.02])
def test_each_event_leaves_before_the_model_runs_at_its_instant(timescale):
    """In the callback of a deadline, the send comes first; predicting follows it."""
    rig = Rig(timescale)
    rig.player.start(np.array([0.1] + [0.5] * 8))
    start_predictions = MIN_AHEAD
    rig.play_until(300)
    after_start = rig.log[start_predictions:]
    for (what, when, _), (next_what, next_when, _) in zip(
        after_start, after_start[1:], strict=False
    ):
        if next_what == "send" and what == "predict":
            # a prediction right before a send must belong to an earlier instant
            assert when < next_when, f"the model ran at {when} before the note due then left"


@pytest.mark.parametrize("timescale", [1.0, 0.05, 0.02])
def test_nothing_is_predicted_ahead_within_the_guard_of_the_next_deadline(timescale):
    """Predicting the next event needs GUARD_S of room, beyond it TOP_UP_ROOM_S; only an empty
    queue predicts whatever the room."""
    rig = Rig(timescale)
    rig.player.start(np.array([0.1] + [0.5] * 8))
    rig.play_until(300)
    checked = 0
    for (what, when, planned), deadline in zip(
        (entry for entry in rig.log if entry[0] == "predict"), rig.deadlines, strict=True
    ):
        if planned == 0 or deadline is None:
            continue  # nothing left to play: the next event is predicted now
        room = GUARD_S if planned < MIN_AHEAD else TOP_UP_ROOM_S
        assert deadline - when >= room - 1e-12, (what, when, planned, deadline)
        checked += planned >= MIN_AHEAD
    assert checked > 50


def test_at_a_fast_timescale_predictions_come_in_runs_and_the_queue_stays_bounded():
    """At timescale 0.02 the player plans ahead up to HORIZON_S of music, in runs."""
    rig = Rig(timescale=0.02)
    rig.player.start(np.array([0.1] + [0.5] * 8))
    most = 0
    while len(rig.sent) < 500:
        rig.clock.advance(0.0005)
        most = max(most, rig.player.planned)
        queued = list(rig.player._queue)[1:]
        ahead = sum(event.dt for event in queued) * rig.timescale
        if queued:  # topped up to the horizon, by at most the last event's length
            assert ahead - queued[-1].dt * rig.timescale < HORIZON_S
    assert MIN_AHEAD < most <= MAX_AHEAD
    # runs: several predictions at one instant (after a send), most of them
    instants = [when for what, when, _ in rig.log if what == "predict"]
    _, counts = np.unique(instants, return_counts=True)
    assert counts.max() >= 5
    assert counts[counts > 1].sum() > len(instants) / 2


def test_a_fill_longer_than_its_budget_goes_on_later_at_the_same_instant_on_schedule():
    """Each read of the work clock costs 0.3 ms here: a fill stops after FILL_BUDGET_S and
    carries on at the same clock time; the notes leave exactly on the same schedule."""
    slow = Rig(timescale=0.02, work_step=0.0003)
    fast = Rig(timescale=0.02)
    for rig in (slow, fast):
        rig.player.start(np.array([0.1] + [0.5] * 8))
        rig.play_until(200)
    count = min(len(slow.sent), len(fast.sent))
    slow_times = [when for when, _ in slow.sent[:count]]
    fast_times = [when for when, _ in fast.sent[:count]]
    assert slow_times == fast_times
    for (_, a), (_, b) in zip(slow.sent[:count], fast.sent[:count], strict=True):
        assert np.array_equal(a, b)
    assert FILL_BUDGET_S < 2 * 0.0003 + 1e-12  # so the budget stops every fill after two steps
    instants = [when for what, when, _ in slow.log if what == "predict"]
    _, counts = np.unique(instants, return_counts=True)
    assert counts.max() > 2, "a fill carried on at the same instant after its budget"
    expected = START + np.cumsum(waits(slow.model.outputs[:count], 0.02))
    assert np.allclose(slow_times, expected, rtol=0, atol=1e-9)


def test_a_new_timescale_applies_from_the_next_event_armed_even_if_predicted_before():
    rig = Rig(timescale=0.02)
    rig.player.start(np.array([0.1] + [0.5] * 8))
    rig.play_until(50)
    while rig.player.planned <= 2:  # events were planned at the old timescale
        rig.clock.advance(0.0005)
    played = len(rig.sent)
    rig.timescale = 0.05
    rig.play_until(played + 20)
    w_old = waits(rig.model.outputs[:played], 0.02)
    w_new = waits(rig.model.outputs[played + 1 : played + 20], 0.05)
    times = np.array([when for when, _ in rig.sent])
    # the armed event keeps its deadline; every event armed after the change uses 0.05
    assert np.allclose(times[:played], START + np.cumsum(w_old), atol=1e-9)
    assert np.allclose(np.diff(times[played : played + 20]), w_new, atol=1e-9)
    for (_, sent), y in zip(rig.sent, rig.model.outputs, strict=False):
        assert np.allclose(sent, values(y))


def test_stop_drops_what_was_planned_and_nothing_more_plays():
    rig = Rig(timescale=0.02)
    rig.player.start(np.array([0.1] + [0.5] * 8))
    rig.play_until(30)
    while rig.player.planned <= 2:
        rig.clock.advance(0.0005)
    rig.player.stop()
    count, predicted = len(rig.sent), len(rig.model.outputs)
    rig.clock.advance(5.0)
    assert (len(rig.sent), len(rig.model.outputs)) == (count, predicted)
    assert rig.player.planned == 0 and rig.player.next_deadline is None


def test_with_the_next_event_planned_predicting_waits_after_the_send():
    """The receiver of a datagram (a synth on the same core) runs first: after a send, no
    prediction at that instant while another event is planned; the first one AFTER_SEND_S
    later. With nothing planned, the next event is predicted at once."""
    rig = Rig(timescale=0.02)
    rig.player.start(np.array([0.1] + [0.5] * 8))
    rig.play_until(300)
    sends = {when for what, when, _ in rig.log if what == "send"}
    waited = 0
    for what, when, planned in rig.log[MIN_AHEAD:]:
        if what != "predict":
            continue
        if planned == 0:
            continue  # nothing left to play: predicted at once
        assert when not in sends, f"predicted at {when}, the instant a note was sent"
        waited += any(abs(when - AFTER_SEND_S - sent) < 1e-12 for sent in sends)
    assert waited > 20


def test_stop_leaves_the_model_having_seen_exactly_the_events_played():
    """Predicted ahead but never played, an event leaves no trace: after ``stop`` the LSTM
    state is that of a fresh model fed the prime and the played events, nothing more."""
    rig = Rig(timescale=0.02)
    rig.player.start(PRIME)
    rig.play_until(40)
    while rig.player.planned <= 3:
        rig.clock.advance(0.0005)
    played = len(rig.sent)
    assert len(rig.model.inputs) > played + 2, "the model had stepped beyond the played events"
    rig.player.stop()
    # inputs[0] is the prime; inputs[k] the k-th event played, fed to predict the next
    assert same_state(rig.model.state(), state_after(rig.model.inputs[: played + 1]))


def test_stop_while_an_event_is_played_leaves_the_model_having_heard_it():
    """A player stopped by what it plays (callresponse hands the floor back on a send)."""
    rig = Rig(timescale=0.02)
    play = rig.play

    def play_then_stop(vector: np.ndarray, deadline: float) -> None:
        play(vector, deadline)
        if len(rig.sent) == 25:
            rig.player.stop()

    rig.player._play = play_then_stop
    rig.player.start(PRIME)
    rig.clock.advance(5.0)
    assert len(rig.sent) == 25
    sent = [v for _, v in rig.sent]
    assert all(np.array_equal(values(y), v) for y, v in zip(rig.model.outputs, sent, strict=False))
    fed = [plan_playback(y, 0.02).next_model_input for y in rig.model.outputs[:25]]
    assert same_state(rig.model.state(), state_after([PRIME, *fed]))


def test_replan_predicts_again_after_the_armed_event_from_the_state_of_the_music():
    """After ``replan`` the armed event still plays, at its deadline and as planned; the next
    prediction steps on it from the state that has seen the prime and the played events."""
    rig = Rig(timescale=0.02)
    rig.player.start(PRIME)
    rig.play_until(40)
    while rig.player.planned <= 4:
        rig.clock.advance(0.0005)
    armed, played, asked = rig.player.next_deadline, len(rig.sent), len(rig.model.inputs)
    armed_values = values(rig.model.outputs[played])  # the (played + 1)-th prediction
    rig.player.replan()
    assert rig.player.next_deadline == armed
    assert len(rig.model.inputs) > asked, "the events after the armed one were predicted again"
    assert np.array_equal(rig.model.inputs[asked], rig.model.inputs[played + 1])
    assert same_state(rig.states[asked], state_after(rig.model.inputs[: played + 1]))
    rig.clock.advance(armed - rig.clock.now())
    assert len(rig.sent) == played + 1 and np.array_equal(rig.sent[-1][1], armed_values)
    assert rig.sent[-1][0] == armed


def test_a_new_temperature_is_heard_from_the_event_after_the_one_about_to_play():
    engine, clock, out, model = engine_rig("battle", timescale=0.02)
    while len(out.sent) < 40 or engine.player.planned <= 4:
        clock.advance(0.0005)
    engine.set_pitemp(0.5)
    changed_at, first_after = clock.now(), len(out.sent) + 1
    while len(out.sent) < first_after + 30:
        clock.advance(0.001)
    temps = {values(y).tobytes(): t for y, t in zip(model.outputs, model.temps, strict=True)}
    heard = [temps[sent.tobytes()] for _, sent in out.sent[first_after:]]
    assert heard == [0.5] * len(heard)
    assert out.sent[first_after][0] > changed_at


def test_replan_while_a_failure_rests_plays_on():
    """A prediction ahead failed (a rest is queued behind the armed event) and then a
    temperature changed: dropping the rest ends the resting, and the model plays on."""
    rig = Rig(timescale=0.02)
    rig.model.fail_on = {72}  # a prediction made ahead, with events planned before it
    rig.player.start(PRIME)
    while not rig.player._resting:
        rig.clock.advance(0.0005)
    assert rig.player.planned > 1, "the rest waits behind the armed event"
    rig.player.replan()
    played = len(rig.sent)
    rig.clock.advance(2.0)
    assert len(rig.sent) > played + 20
