"""Outputs that send ahead (OSC time tags): what the engine hands them, when, on a manual clock.

An output with ``ahead_s`` gets each scheduled event of the model (the
player's, polyphony's answers) as soon as its deadline is fixed, through
``send_ahead``, and not again through ``send`` when it is due; what cannot be
known ahead (an accompaniment, an ``input_thru`` echo) reaches it through
``send`` at once, as before. The output here sends through the real
``TimedSender`` and notes each datagram with the clock time it left; the
expected schedule is computed from the model's own predictions, as in
``test_timing.py``, beside an ordinary output that plays each event when due.
"""

from __future__ import annotations

import numpy as np
import pytest

from impsy.clock import Handle, ManualClock
from impsy.engine.core import Engine, Settings
from impsy.engine.ports import Adapter
from impsy.io.osc import FloatMessageEncoder
from impsy.io.osc_timetag import TimedSender, WallClock
from impsy.model import load_model
from tests.engine.test_timing import GESTURE, MODEL, START, Recorded, Recorder, values, waits

AHEAD_S = 0.02


class AheadOutput(Adapter):
    """Sends what it is handed ``AHEAD_S`` early through a real ``TimedSender``."""

    name = "ahead"
    ahead_s = AHEAD_S

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.encoder = FloatMessageEncoder("/impsy", 8)
        self.sender = TimedSender(clock, WallClock(clock.now), self.left)
        self.handed: list[tuple[float, float, np.ndarray]] = []  # (when, due, values)
        self.sent: list[tuple[float, np.ndarray]] = []  # what ``send`` got: (when, values)
        self.datagrams: list[tuple[float, bytes]] = []  # what left: (when, datagram)

    async def start(self, engine) -> None:  # noqa: ANN001
        pass

    async def stop(self) -> None:
        pass

    def send(self, values: np.ndarray) -> None:
        self.sent.append((self.clock.now(), values.copy()))
        self.sender.send(self.encoder.encode(values), self.clock.now(), 0.0)

    def send_ahead(self, values: np.ndarray, due: float) -> Handle | None:
        self.handed.append((self.clock.now(), due, values.copy()))
        return self.sender.send(self.encoder.encode(values), due, self.ahead_s)

    def left(self, datagram: bytes) -> None:
        self.datagrams.append((self.clock.now(), datagram))

    def describe(self) -> str:
        return "sends ahead"

    def bundles(self) -> list[float]:
        return [when for when, data in self.datagrams if data.startswith(b"#bundle")]

    def plain(self) -> list[float]:
        return [when for when, data in self.datagrams if data.startswith(b"/")]


def ahead_rig(mode: str, timescale: float = 1.0, threshold: float = 0.5, input_thru=False):  # noqa: ANN001, ANN201
    """(engine, clock, an ordinary output, the recorded model, the ahead output), as
    ``test_timing.rig`` but with both outputs there before the engine begins. accompany
    needs the model's mixtures, so it gets the bare model (its predictions unrecorded)."""
    clock = ManualClock(START)
    model = load_model(MODEL, seed=7) if mode == "accompany" else Recorded()
    settings = Settings(mode, threshold, timescale, input_thru, False, False)
    engine = Engine(9, settings, model, clock=clock, threaded_model=False)
    out, ahead = Recorder(clock), AheadOutput(clock)
    engine.adapters += [out, ahead]
    engine.begin()
    return engine, clock, out, model, ahead


def test_battle_hands_each_event_over_when_armed_and_it_leaves_ahead_of_its_deadline():
    """Event k is handed over at event k-1's deadline (when it is armed), with its own
    deadline; it leaves AHEAD_S before it, or at once when its wait is shorter; the
    ordinary output gets it when due, the ahead one never through ``send``."""
    engine, clock, out, model, ahead = ahead_rig("battle", timescale=1.0)
    start = clock.now()
    clock.advance(3.0)
    played = len(out.sent)
    assert played > 10
    w = waits(model.outputs, 1.0)
    due = start + np.cumsum(w[:played])
    assert np.allclose(out.times, due, atol=1e-9)
    handed = ahead.handed[:played]
    assert np.allclose([d for _, d, _ in handed], due, atol=1e-9)
    armed = np.concatenate(([start], due[:-1]))
    assert np.allclose([when for when, _, _ in handed], armed, atol=1e-9)
    for (_, _, got), y in zip(handed, model.outputs, strict=False):
        assert np.array_equal(got, values(y))
    assert ahead.sent == []
    left = ahead.bundles()[:played]
    assert np.allclose(left, np.maximum(due - AHEAD_S, armed), atol=1e-9)
    assert any(w[:played] > AHEAD_S) and any(w[:played] < AHEAD_S)  # both cases happened


def test_the_user_taking_over_withdraws_what_has_not_left():
    """callresponse: the model's armed event, handed over but not yet sent, is withdrawn
    when the user plays; one already sent (inside the look-ahead) has left."""
    engine, clock, out, model, ahead = ahead_rig("callresponse", timescale=1.0, threshold=0.5)
    engine.user_values(GESTURE)
    clock.run_until(clock.now() + 0.5)  # the model takes the floor: its first event is armed
    assert engine.responding and len(ahead.handed) == 1
    (when, due, _) = ahead.handed[0]
    assert due - when > AHEAD_S, "(the model's first wait is longer than the look-ahead)"
    clock.run_until(due - AHEAD_S - 1e-6)
    engine.user_values(GESTURE)  # the user takes over before it leaves
    clock.run_until(due + 0.1)
    assert ahead.datagrams == [] and out.sent == []


def test_polyphony_hands_each_answer_over_at_once_and_drops_withdraw_it():
    engine, clock, out, model, ahead = ahead_rig("polyphony", timescale=1.0)
    gesture_at = clock.now()
    engine.user_values(GESTURE)
    (answer,) = ahead.handed
    due = gesture_at + waits(model.outputs, 1.0)[0]
    assert answer[:2] == (gesture_at, pytest.approx(due, abs=1e-9))
    assert due - gesture_at > AHEAD_S, "(the answer's wait is longer than the look-ahead)"
    engine.set_paused(True)  # silences what is pending: withdrawn, it has not left yet
    clock.run_until(due + 0.1)
    assert out.sent == [] and ahead.datagrams == []


def test_a_polyphony_answer_leaves_ahead_of_its_deadline():
    engine, clock, out, model, ahead = ahead_rig("polyphony", timescale=1.0)
    gesture_at = clock.now()
    engine.user_values(GESTURE)
    due = gesture_at + waits(model.outputs, 1.0)[0]
    clock.run_until(due + 0.1)
    assert ahead.bundles() == [pytest.approx(due - AHEAD_S, abs=1e-9)]
    assert out.times == [pytest.approx(due, abs=1e-9)] and ahead.sent == []


def test_an_answer_at_once_or_an_echo_goes_plain_through_send():
    """accompany answers at the gesture's instant and input_thru echoes it: nothing to send
    ahead, so the ahead output gets them through ``send`` and they leave plain, at once."""
    engine, clock, out, model, ahead = ahead_rig("accompany", input_thru=True)
    engine.user_values(GESTURE)
    now = clock.now()
    assert ahead.handed == []
    assert [when for when, _ in ahead.sent] == [now, now]  # the echo, then the answer
    assert ahead.plain() == [now, now] and ahead.bundles() == []
