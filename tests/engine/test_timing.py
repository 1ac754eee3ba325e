"""Every mode's timing, exactly, on a manual clock: nothing here sleeps.

The engine runs the real bundled model (NumPy, seeded) on a ``ManualClock``
(``impsy.clock``), and a recording adapter notes the clock time of each thing
sent. The expected times are computed here, independently of the engine,
from what the model predicted (each prediction's dt, clamped to ``MIN_DT``,
times the timescale): the schedule is ``start + sum(dt x timescale)``. The
manual clock can also run each callback late (``delay``), as a busy machine
does: the schedule must not move by it.

Real-UDP end-to-end runs of the same modes are in ``test_modes_osc.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from impsy.clock import ManualClock
from impsy.engine.core import MAX_PENDING, Engine, Settings
from impsy.engine.playback import MIN_DT
from impsy.engine.player import FIRST_DT, RESYNC_AFTER_S
from impsy.engine.ports import Adapter
from impsy.model import load_model
from tests.paths import MODELS

MODEL = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
GESTURE = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
START = 100.0


class Recorded:
    """The real model, with each prediction it made written down (and failures on demand).

    ``fail_on`` holds the numbers (1-based) of ``predict`` calls that raise,
    as a broken model file would mid-performance.
    """

    def __init__(self, seed: int = 7) -> None:
        self.model = load_model(MODEL, seed=seed)
        self.dimension = self.model.dimension
        self.path = self.model.path
        self.inputs: list[np.ndarray] = []
        self.outputs: list[np.ndarray] = []
        self.temps: list[float] = []  # pi_temp of each prediction
        self.steps: list[np.ndarray] = []
        self.fail_on: set[int] = set()
        self.calls = 0

    pi_temp = property(lambda s: s.model.pi_temp, lambda s, v: setattr(s.model, "pi_temp", v))
    sigma_temp = property(
        lambda s: s.model.sigma_temp, lambda s, v: setattr(s.model, "sigma_temp", v)
    )

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.inputs.append(np.array(x))
        self.calls += 1
        if self.calls in self.fail_on:
            raise RuntimeError("the model broke")
        y = self.model.predict(x)
        self.outputs.append(y.copy())
        self.temps.append(self.model.pi_temp)
        return y

    def step(self, x: np.ndarray):  # noqa: ANN201 - the model's MixtureParams
        self.steps.append(np.array(x))
        return self.model.step(x)

    def reset(self) -> None:
        self.model.reset()

    def state(self) -> list[np.ndarray]:
        return self.model.state()

    def set_state(self, state: list[np.ndarray]) -> None:
        self.model.set_state(state)

    def describe(self) -> str:
        return self.model.describe()


class Recorder(Adapter):
    """An output that notes when each vector arrived, on the engine's clock."""

    name = "recorder"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, np.ndarray]] = []
        self.releases: list[float] = []

    async def start(self, engine) -> None:  # noqa: ANN001
        pass

    async def stop(self) -> None:
        pass

    def send(self, values: np.ndarray) -> None:
        self.sent.append((self.clock.now(), values.copy()))

    def release(self) -> None:
        self.releases.append(self.clock.now())

    def describe(self) -> str:
        return "records what it is sent"

    @property
    def times(self) -> list[float]:
        return [when for when, _ in self.sent]


def rig(mode: str, timescale: float = 1.0, threshold: float = 0.5, input_thru: bool = False):  # noqa: ANN201
    """(engine, its clock, the recording output, the recorded model), the clock at START."""
    clock = ManualClock(START)
    model = Recorded()
    settings = Settings(mode, threshold, timescale, input_thru, False, False)
    engine = Engine(9, settings, model, clock=clock, threaded_model=False)
    out = Recorder(clock)
    engine.adapters.append(out)
    engine.begin()
    return engine, clock, out, model


def waits(outputs: list[np.ndarray], timescale: float) -> np.ndarray:
    """What each prediction asks to wait: its dt clamped to MIN_DT, times the timescale."""
    return np.array([max(float(y[0]), MIN_DT) for y in outputs]) * timescale


def values(y: np.ndarray) -> np.ndarray:
    return np.clip(y[1:], 0.0, 1.0)


# ----------------------------------------------------------------------- battle


@pytest.mark.parametrize("late", [0.0, 0.0013])
def test_battle_plays_on_the_schedule_its_own_predictions_imply(late):
    """Event k sounds at start + the sum of the first k waits, however late each wake-up.

    A player that waited from "now" instead of from the previous deadline
    would drift by one late wake-up per event: 200 x 1.3 ms here.
    """
    engine, clock, out, model = rig("battle", timescale=0.05)
    clock.delay = late
    while len(out.sent) < 200:
        clock.advance(0.01)
    played = len(out.sent)
    expected = START + np.cumsum(waits(model.outputs[:played], 0.05)) + late
    assert np.allclose(out.times, expected, rtol=0, atol=1e-9)
    for (_, sent), y in zip(out.sent, model.outputs, strict=False):
        assert np.allclose(sent, values(y))
    lateness = engine.counters.lateness
    assert len(lateness) == played and engine.counters.resyncs == 0
    assert lateness.max() == pytest.approx(late), "late by the wake-up alone, never more"


def test_battle_feeds_back_what_it_played():
    engine, clock, out, model = rig("battle", timescale=0.05)
    clock.advance(1.0)
    for played, fed in zip(model.outputs, model.inputs[1:], strict=False):
        assert fed[0] == pytest.approx(max(played[0], MIN_DT))
        assert np.allclose(fed[1:], values(played))


def test_a_stall_longer_than_the_resync_limit_restarts_the_timeline_from_then():
    engine, clock, out, model = rig("battle", timescale=0.05)
    while len(out.sent) < 5:
        clock.advance(0.001)
    stall_from = len(out.sent)
    clock.delay = RESYNC_AFTER_S + 0.2  # the machine froze: the next wake-up is 250 ms late
    while len(out.sent) == stall_from:
        clock.advance(0.001)
    clock.delay = 0.0
    stalled_at = out.times[-1]
    while len(out.sent) < stall_from + 10:
        clock.advance(0.001)
    assert engine.counters.resyncs == 1
    # after it: each event its own wait after the previous one, from the late one on,
    # instead of a burst of the backlog
    after = waits(model.outputs[stall_from + 1 : stall_from + 10], 0.05)
    assert np.allclose(out.times[stall_from + 1 :], stalled_at + np.cumsum(after), atol=1e-9)


def test_a_failing_model_rests_then_plays_on_from_the_last_event():
    engine, clock, out, model = rig("battle", timescale=0.05)
    model.fail_on = {6}  # the 6th prediction: asked for when event 4 is planned
    while len(out.sent) < 8:
        clock.advance(0.001)
    assert engine.counters.model_errors == 1
    # 5 predictions succeeded before the failure: events 1-5 on schedule
    w = waits(model.outputs, 0.05)
    assert np.allclose(out.times[:5], START + np.cumsum(w[:5]), atol=1e-9)
    # then a rest of FIRST_DT after event 5's deadline, and the next prediction's wait
    assert out.times[5] == pytest.approx(out.times[4] + FIRST_DT + w[5], abs=1e-9)
    assert np.allclose(np.diff(out.times[5:8]), w[6:8], atol=1e-9)


def test_pause_silences_battle_and_resume_starts_it_from_then():
    engine, clock, out, model = rig("battle", timescale=0.05)
    while len(out.sent) < 3:
        clock.advance(0.001)
    engine.set_paused(True)
    paused_at, count = clock.now(), len(out.sent)
    assert out.releases == [paused_at]
    clock.advance(5.0)
    assert len(out.sent) == count, "nothing while paused"
    predicted = len(model.outputs)  # the last of these was never played
    engine.set_paused(False)
    resumed_at = clock.now()
    while len(out.sent) < count + 3:
        clock.advance(0.001)
    w = waits(model.outputs, 0.05)
    assert out.times[count] == pytest.approx(resumed_at + w[predicted], abs=1e-9)


# ------------------------------------------------------------------ call-response


def test_callresponse_answers_exactly_threshold_after_the_last_gesture():
    engine, clock, out, model = rig("callresponse", timescale=0.05, threshold=0.5)
    clock.advance(1.0)
    engine.user_values(GESTURE)
    clock.advance(0.2)
    engine.user_values(GESTURE)  # the call goes on: the hand-over moves
    last = clock.now()
    clock.run_until(last + 0.5 - 1e-6)
    assert out.sent == [] and not engine.responding, "quiet until the threshold"
    clock.run_until(last + 0.5)
    assert engine.responding, "the model takes the floor at the threshold, not later"
    clock.advance(1.0)
    w = waits(model.outputs, 0.05)
    assert out.times[0] == pytest.approx(last + 0.5 + w[0], abs=1e-9)
    played = len(out.sent)
    assert np.allclose(out.times, last + 0.5 + np.cumsum(w[:played]), atol=1e-9)
    assert len(model.steps) == 2, "the user's gestures conditioned the LSTM"
    # the model's first input is the user's last vector (its dt the gap between gestures)
    assert model.inputs[0][0] == pytest.approx(0.2)
    assert np.allclose(model.inputs[0][1:], GESTURE)


def test_callresponse_user_takes_over_at_once_and_the_model_waits_for_the_next_pause():
    engine, clock, out, model = rig("callresponse", timescale=0.05, threshold=0.5)
    engine.user_values(GESTURE)
    clock.advance(0.8)
    assert engine.responding and out.sent
    count = len(out.sent)
    engine.user_values(GESTURE)
    interrupted = clock.now()
    assert not engine.responding and out.releases == [interrupted]
    clock.run_until(interrupted + 0.5 - 1e-6)
    assert len(out.sent) == count, "nothing the model had queued is played"
    clock.run_until(interrupted + 0.5)
    assert engine.responding, "the next answer comes a threshold after the interruption"


def test_a_new_threshold_moves_a_waiting_hand_over():
    engine, clock, out, model = rig("callresponse", threshold=2.0)
    engine.user_values(GESTURE)
    clock.advance(0.1)
    engine.set_threshold(0.3)
    clock.run_until(START + 0.3 - 1e-6)
    assert not engine.responding
    clock.run_until(START + 0.3)
    assert engine.responding


def test_callresponse_needs_a_call():
    engine, clock, out, model = rig("callresponse", threshold=0.1)
    clock.advance(10.0)
    assert out.sent == [] and model.outputs == [], "no gesture, no answer"


def test_end_response_hands_back_and_waits_for_the_next_call():
    engine, clock, out, model = rig("callresponse", timescale=0.05, threshold=0.5)
    engine.user_values(GESTURE)
    clock.advance(0.7)
    assert engine.responding
    engine.end_response()
    count, ended = len(out.sent), clock.now()
    assert not engine.responding and out.releases == [ended]
    clock.advance(10.0)
    assert len(out.sent) == count, "no answer without a new call"
    engine.user_values(GESTURE)
    called = clock.now()
    clock.run_until(called + 0.5)
    assert engine.responding


# ---------------------------------------------------------------------- polyphony


def test_polyphony_answers_each_gesture_its_dt_after_that_gesture():
    engine, clock, out, model = rig("polyphony", timescale=0.5)
    gesture_times = []
    for gap in (0.0, 0.013, 0.2, 0.05):
        clock.advance(gap)
        engine.user_values(GESTURE)
        gesture_times.append(clock.now())
    clock.advance(5.0)
    w = waits(model.outputs, 0.5)
    expected = sorted(t + wait for t, wait in zip(gesture_times, w, strict=True))
    assert np.allclose(out.times, expected, atol=1e-9), "each answer once, at its own time"
    assert len(model.inputs) == 4, "the model is fed the gestures, never its own output"


def test_polyphony_answers_out_of_order_are_all_silenced_by_pause():
    engine, clock, out, model = rig("polyphony")
    engine._schedule_answer(np.array([0.3, *GESTURE]), clock.now())  # due in 300 ms
    engine._schedule_answer(np.array([0.02, *GESTURE]), clock.now())  # due in 20 ms
    clock.advance(0.1)
    assert out.times == [pytest.approx(START + 0.02)]
    engine.set_paused(True)
    clock.advance(1.0)
    assert len(out.sent) == 1, "the earlier, later-due answer is silenced too"


def test_polyphony_drops_the_oldest_beyond_the_pending_limit_and_stale_answers():
    engine, clock, out, model = rig("polyphony")
    for _ in range(MAX_PENDING + 3):
        engine._schedule_answer(np.array([1.0, *GESTURE]), clock.now())
    assert engine.counters.dropped_predictions == 3
    engine._schedule_answer(np.array([0.01, *GESTURE]), clock.now() - 1.0)  # a gesture long past
    assert engine.counters.dropped_predictions == 4
    clock.advance(2.0)
    assert len(out.sent) == MAX_PENDING


def test_polyphony_in_a_backlog_logs_gestures_but_does_not_answer():
    engine, clock, out, model = rig("polyphony")
    engine.input_backlogged = True
    for _ in range(5):
        engine.user_values(GESTURE)
    clock.advance(5.0)
    assert out.sent == [] and engine.counters.shed_predictions == 5
    assert engine.counters.events_in == 5


# -------------------------------------------------------------------- the modes


def test_switching_to_battle_plays_from_the_switch_and_useronly_silences():
    engine, clock, out, model = rig("useronly", timescale=0.05)
    clock.advance(3.0)
    engine.set_mode("battle")
    switched = clock.now()
    clock.advance(0.5)
    w = waits(model.outputs, 0.05)
    assert out.times[0] == pytest.approx(switched + w[0], abs=1e-9)
    engine.set_mode("useronly")
    count = len(out.sent)
    clock.advance(2.0)
    assert len(out.sent) == count and out.releases[-1] == switched + 0.5


def test_observers_get_each_gesture_and_prediction_at_its_clock_time():
    engine, clock, out, model = rig("polyphony", timescale=0.1)
    seen: list[tuple[str, float]] = []
    engine.add_observer(lambda kind, values, when: seen.append((kind, when)))
    clock.advance(0.25)
    engine.user_values(GESTURE)
    clock.advance(5.0)
    w = waits(model.outputs, 0.1)
    assert seen == [("interface", START + 0.25), ("rnn", pytest.approx(START + 0.25 + w[0]))]


def test_input_thru_echoes_before_the_model_and_in_every_mode():
    engine, clock, out, model = rig("useronly", input_thru=True)
    clock.advance(0.5)
    engine.user_values(GESTURE)
    assert out.times == [START + 0.5]
    assert np.allclose(out.sent[0][1], GESTURE)
