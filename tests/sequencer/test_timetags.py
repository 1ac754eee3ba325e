"""The sequencer's OSC look-ahead on a manual clock: what each output is handed, when, stamped.

With ``set_timetags({"osc": A})`` the transport runs A early; a track played
over OSC is handed each note A before its step with the step's instant, its
note-off A before the note ends with that instant; a MIDI track still gets
its notes on the step, unstamped. Expected times are the grid's own
arithmetic (120 BPM: a 16th is 0.125 s; the default gate is half a step).
The real UDP run is ``tests/io/test_osc_timetags.py``.
"""

from __future__ import annotations

import pytest

from impsy.clock import ManualClock
from impsy.sequencer.pattern import Bank, Pattern, Track
from impsy.sequencer.sequencer import START_DELAY_S, Sequencer

T0 = 100.0
STEP = 0.125
AHEAD = 0.02
NOTE_ON = 0x90


class Outputs:
    """Records (clock time, track index, message, due or None) of each message handed over."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.handed: list[tuple[float, int, list[int], float | None]] = []

    def __call__(self, index: int, track: Track, message: list[int], due: float | None = None):  # noqa: ANN204
        self.handed.append((self.clock.now(), index, message, due))

    def of(self, index: int, on: bool) -> list[tuple[float, float | None]]:
        return [
            (when, due)
            for when, i, message, due in self.handed
            if i == index and (message[0] & 0xF0 == NOTE_ON) == on
        ]


def make() -> tuple[Sequencer, ManualClock, Outputs]:
    osc, midi = Track.empty("osc", 16), Track.empty("midi", 16, port="synth")
    for track in (osc, midi):
        for step in range(0, 16, 4):
            track.steps[step].on = True
    clock = ManualClock(T0)
    outputs = Outputs(clock)
    seq = Sequencer(Bank([Pattern("p", [osc, midi])]), clock, outputs, tempo=120)
    seq.set_timetags({"osc": AHEAD})
    return seq, clock, outputs


def test_osc_notes_are_handed_over_ahead_with_their_instant_and_midi_ones_on_time() -> None:
    seq, clock, out = make()
    seq.start()
    first = T0 + START_DELAY_S + AHEAD  # the transport runs AHEAD early from the start
    clock.run_until(first + 2.0 - AHEAD - 1e-6)  # one bar, not the next one's first note
    steps = [first + 4 * STEP * k for k in range(4)]
    assert out.of(0, on=True) == [(pytest.approx(t - AHEAD), pytest.approx(t)) for t in steps]
    ends = [t + STEP / 2 for t in steps]
    assert out.of(0, on=False) == [(pytest.approx(t - AHEAD), pytest.approx(t)) for t in ends]
    assert out.of(1, on=True) == [(pytest.approx(t), None) for t in steps]
    assert out.of(1, on=False) == [(pytest.approx(t), None) for t in ends]


def test_stopping_ends_a_note_still_on_its_way_no_sooner_than_it_starts() -> None:
    """Stopped after the OSC note-on left (ahead) but before its instant: the note-off is
    stamped with that instant; the MIDI note, not yet played, is simply not played."""
    seq, clock, out = make()
    seq.start()
    first = T0 + START_DELAY_S + AHEAD
    clock.run_until(first - AHEAD / 2)
    seq.stop()
    assert out.of(0, on=True) == [(pytest.approx(first - AHEAD), pytest.approx(first))]
    assert out.of(0, on=False) == [(pytest.approx(first - AHEAD / 2), pytest.approx(first))]
    clock.run_until(first + 1.0)
    assert out.of(1, on=True) == []


def test_a_note_played_at_once_goes_unstamped() -> None:
    """A keyboard note (played now, on no grid) cannot be sent ahead: it goes as always."""
    seq, clock, out = make()
    seq.set_edit_mode("live")
    seq.record_note(60, 100)  # live mode: heard at once
    clock.run_until(T0 + 1.0)
    assert {due for *_, due in out.handed} == {None}
    assert [when for when, *_ in out.handed] == [T0, pytest.approx(T0 + STEP)]  # a step long


def test_the_models_notes_on_an_osc_track_leave_ahead_stamped_with_their_step() -> None:
    """A prediction placed mid-step lands on the next step: handed over AHEAD before it."""
    seq, clock, out = make()
    seq.model_track = 0  # the OSC track
    seq.start()
    first = T0 + START_DELAY_S + AHEAD
    placed = first + STEP / 2  # between steps 0 and 1
    clock.run_until(placed)
    seq.place_model_note((72,), 90)
    clock.run_until(first + STEP + 0.01)
    model_ons = [(when, due) for when, i, m, due in out.handed if i == 0 and m[1:] == [72, 90]]
    assert model_ons == [(pytest.approx(first + STEP - AHEAD), pytest.approx(first + STEP))]


def test_a_latency_offset_moves_the_instant_and_the_look_ahead_comes_on_top() -> None:
    """OSC latency offset 10 ms: each note is stamped 10 ms before its step and handed over
    AHEAD before that; the transport runs early by the two together."""
    seq, clock, out = make()
    seq.set_latency({"osc": 0.01})
    assert seq.transport.lead_s == pytest.approx(0.01 + AHEAD)
    seq.start()
    first = T0 + START_DELAY_S + 0.01 + AHEAD
    clock.run_until(first + 4 * STEP - 0.02)  # the second OSC note has left, not the MIDI one
    steps = [first, first + 4 * STEP]
    expected = [(pytest.approx(t - 0.01 - AHEAD), pytest.approx(t - 0.01)) for t in steps]
    assert out.of(0, on=True) == expected
    assert out.of(1, on=True) == [(pytest.approx(first), None)]
