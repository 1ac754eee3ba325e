"""Sequencer timing against an injected clock: the grid, tempo, swing, bars, MIDI clock.

``ManualClock`` moves time by hand and fires every callback at its own
deadline, so these tests check *where* events are scheduled (exact
arithmetic) without sleeping.
"""

from __future__ import annotations

import pytest

from impsy.clock import ManualClock
from impsy.engine.table import CommandTable
from impsy.errors import CommandError
from impsy.sequencer import midiclock
from impsy.sequencer.commands import SEQUENCER_COMMANDS
from impsy.sequencer.pattern import Bank, Pattern, Track
from impsy.sequencer.sequencer import START_DELAY_S, Sequencer

T0 = 100.0
NOTE_ON, NOTE_OFF = 0x90, 0x80


class Recorder:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.events: list[tuple[float, int, list[int]]] = []
        self.clock_messages: list[tuple[float, list[int]]] = []

    def __call__(self, index: int, track: Track, message: list[int]) -> None:
        self.events.append((self.clock.now(), index, message))

    def clock_out(self, message: list[int]) -> None:
        self.clock_messages.append((self.clock.now(), message))

    def ons(self, index: int | None = None) -> list[tuple[float, list[int]]]:
        return [
            (t, m)
            for t, i, m in self.events
            if m[0] & 0xF0 == NOTE_ON and (index is None or i == index)
        ]

    def offs(self) -> list[tuple[float, list[int]]]:
        return [(t, m) for t, _, m in self.events if m[0] & 0xF0 == NOTE_OFF]


def four_on_the_floor(name: str = "kick", note: int = 36, steps: int = 16) -> Track:
    track = Track.empty(name, steps)
    for i in range(0, steps, 4):
        track.steps[i].on = True
        track.steps[i].notes = (note,)
    return track


def every_step(name: str = "hats", note: int = 42, steps: int = 16) -> Track:
    track = Track.empty(name, steps)
    for step in track.steps:
        step.on, step.notes = True, (note,)
    return track


def make(*tracks: Track, **options) -> tuple[Sequencer, ManualClock, Recorder]:  # noqa: ANN003
    clock = ManualClock(T0)
    recorder = Recorder(clock)
    seq = Sequencer(
        Bank([Pattern("p1", list(tracks))]),
        clock,
        recorder,
        clock_output=recorder.clock_out,
        **options,
    )
    return seq, clock, recorder


START = T0 + START_DELAY_S


def commands(seq: Sequencer) -> CommandTable:
    """The ``seq/...`` rows run on ``seq``, as ``impsy.app`` registers them."""
    table = CommandTable()
    table.register(SEQUENCER_COMMANDS, seq)
    return table


def test_steps_play_on_the_grid_with_note_offs_at_the_gate() -> None:
    seq, clock, rec = make(four_on_the_floor(), tempo=120)
    seq.start()
    clock.run_until(START + 2.0 - 1e-6)  # one bar at 120 BPM
    assert [round(t - START, 9) for t, _ in rec.ons()] == [0.0, 0.5, 1.0, 1.5]
    assert all(m == [NOTE_ON, 36, 100] for _, m in rec.ons())
    # gate 0.5 step = 0.0625 s at 16ths of 120 BPM
    assert [round(t - START, 9) for t, _ in rec.offs()] == [0.0625, 0.5625, 1.0625, 1.5625]
    assert seq.lateness.count == 16 + 4  # every step (on or off) and every note-off
    assert seq.lateness.max_s == 0.0


def test_pattern_loops_and_playhead_follows() -> None:
    seq, clock, rec = make(four_on_the_floor(steps=4), tempo=120)
    seq.start()
    clock.run_until(START + 0.125 * 2 + 1e-9)
    assert seq.playhead == 2
    clock.run_until(START + 0.125 * 9 + 1e-9)
    assert len(rec.ons()) == 3  # steps 0, 4 (= 0 again), 8 (= 0)
    seq.stop()
    assert seq.playhead == -1


def test_tempo_change_keeps_position_and_never_drifts() -> None:
    seq, clock, rec = make(every_step(), tempo=120)
    seq.start()
    clock.run_until(START + 0.125 * 4 + 0.01)  # just after step 4
    change = clock.now()
    seq.set_tempo(60)
    clock.run_until(change + 5.0)
    times = [t for t, _ in rec.ons()]
    # step 5 was due 0.115 s later at 120 BPM, i.e. 0.92 of a step; at 60 it is 0.92 * 0.25 s
    assert times[5] == pytest.approx(change + 0.115 * 2, abs=1e-9)
    # from then on exactly one 16th at 60 BPM apart, computed not accumulated
    for n, t in enumerate(times[5:]):
        assert t == pytest.approx(times[5] + n * 0.25, abs=1e-9)


def test_tempo_range_is_checked_by_the_command_table() -> None:
    seq, _, _ = make(every_step())
    table = commands(seq)
    for bad in (19.9, 301, float("nan"), "fast"):
        with pytest.raises(CommandError, match="seq/tempo: bpm must be a number 20-300"):
            table.call("seq/tempo", [bad])
        assert seq.tempo == 120
    for bpm in (300, 20):
        table.call("seq/tempo", [bpm])
        assert seq.tempo == bpm


def test_swing_delays_odd_sixteenths_by_a_fraction_of_a_step() -> None:
    seq, clock, rec = make(every_step(), tempo=120, swing=0.5)
    seq.start()
    clock.run_until(START + 0.5 - 1e-6)
    offsets = [round(t - START, 9) for t, _ in rec.ons()]
    assert offsets == [0.0, 0.125 + 0.0625, 0.25, 0.375 + 0.0625]


def test_swing_moves_only_the_odd_steps_of_even_resolutions() -> None:
    """Triplets (3 a beat) and quarter notes (1 a beat) stay on the straight grid."""
    sixteenths = every_step("sixteenths", note=40)
    triplets = every_step("triplets", note=50, steps=12)
    triplets.steps_per_beat = 3
    quarters = every_step("quarters", note=60, steps=4)
    quarters.steps_per_beat = 1
    seq, clock, rec = make(sixteenths, triplets, quarters, tempo=120, swing=0.5)
    seq.start()
    clock.run_until(START + 4.0 - 1e-6)  # two bars of 0.5 s beats

    def grid(per_beat: int, count: int, swing: float = 0.0) -> list[float]:
        step = 0.5 / per_beat
        return [START + n * step + (swing * step if n % 2 else 0.0) for n in range(count)]

    assert [t for t, _ in rec.ons(1)] == pytest.approx(grid(3, 24), abs=1e-9)
    assert [t for t, _ in rec.ons(2)] == pytest.approx(grid(1, 8), abs=1e-9)
    assert [t for t, _ in rec.ons(0)] == pytest.approx(grid(4, 32, swing=0.5), abs=1e-9)


def test_the_documented_maximum_swing_is_accepted_through_the_command_table() -> None:
    seq, clock, rec = make(every_step(), tempo=120)
    table = commands(seq)
    table.call("seq/swing", [0.75])
    assert seq.swing == 0.75
    for bad in (0.76, 0.8, -0.01):
        before = seq.snapshot()
        with pytest.raises(CommandError, match="seq/swing: swing must be a number 0-0.75"):
            table.call("seq/swing", [bad])
        assert seq.snapshot() == before
    assert seq.swing == 0.75
    seq.start()
    clock.run_until(START + 0.5 - 1e-6)
    step = 0.125
    expected = [START, START + step * 1.75, START + step * 2, START + step * 3.75]
    assert [t for t, _ in rec.ons()] == pytest.approx(expected, abs=1e-9)


def test_pattern_switch_waits_for_the_next_bar() -> None:
    second = every_step("other", note=50)
    seq, clock, rec = make(four_on_the_floor(), tempo=120)
    seq.bank.patterns.append(Pattern("p2", [second]))
    seq.start()
    clock.run_until(START + 0.7)
    seq.select_pattern(1)
    assert seq.selected_pattern == 0  # queued
    clock.run_until(START + 2.0 - 1e-6)
    assert {m[1] for _, m in rec.ons()} == {36}
    clock.run_until(START + 2.0 + 1e-6)
    assert seq.selected_pattern == 1
    assert rec.ons()[-1] == (pytest.approx(START + 2.0), [NOTE_ON, 50, 100])


def test_song_chains_patterns_bar_by_bar() -> None:
    seq, clock, rec = make(four_on_the_floor(note=36), tempo=120)
    seq.bank.patterns.append(Pattern("p2", [four_on_the_floor(note=38)]))
    seq.set_song([0, 1, 1])
    seq.start()
    clock.run_until(START + 8.0 - 1e-6)
    per_bar = [rec.ons()[i][1][1] for i in range(0, 16, 4)]
    assert per_bar == [36, 38, 38, 36]


def test_mute_and_solo() -> None:
    seq, clock, rec = make(four_on_the_floor(note=36), four_on_the_floor(note=38), tempo=120)
    seq.mute(0, True)
    seq.start()
    clock.run_until(START + 1.0 - 1e-6)
    assert {m[1] for _, m in rec.ons()} == {38}
    seq.mute(0, False)
    seq.solo(0, True)
    count = len(rec.ons())
    clock.run_until(START + 2.0 - 1e-6)
    assert {m[1] for _, m in rec.ons()[count:]} == {36}


def test_stop_releases_sounding_notes_and_continue_resumes_at_that_step() -> None:
    track = every_step()
    track.steps[0].gate = 8.0
    for i, step in enumerate(track.steps):
        step.notes = (40 + i,)
    seq, clock, rec = make(track, tempo=120)
    seq.start()
    clock.run_until(START + 0.125 * 5 + 0.01)  # steps 0-5 played
    seq.stop()
    assert not seq.playing
    assert [NOTE_OFF, 40, 0] in [m for _, m in rec.offs()]  # the long note was cut
    rec.events.clear()
    clock.advance(3.0)
    assert rec.events == []
    seq.continue_()
    clock.advance(0.2)
    assert rec.ons()[0][1][1] == 46  # step 6, the next sixteenth


def test_master_sends_24_ticks_per_beat_and_transport_messages() -> None:
    seq, clock, rec = make(every_step(), tempo=120, clock_source="master")
    seq.start()
    clock.run_until(START + 1.0 - 1e-6)  # two beats
    messages = [m for _, m in rec.clock_messages]
    assert messages[0] == [midiclock.START]
    ticks = [t for t, m in rec.clock_messages if m == [midiclock.CLOCK]]
    assert len(ticks) == 48
    assert all(t == pytest.approx(START + n * 0.5 / 24, abs=1e-9) for n, t in enumerate(ticks))
    seq.stop()
    assert rec.clock_messages[-1][1] == [midiclock.STOP]
    seq.continue_()
    # position: 2 beats = 8 sixteenths
    assert [m for _, m in rec.clock_messages[-2:]] == [
        midiclock.song_position(8),
        [midiclock.CONTINUE],
    ]


def test_follower_plays_on_incoming_ticks_and_estimates_tempo() -> None:
    seq, clock, rec = make(every_step(), tempo=120, clock_source="follow")
    with pytest.raises(CommandError):
        seq.start()
    tick_s = 60 / (90 * 24)  # the master plays 90 BPM
    seq.clock_message([midiclock.START], clock.now())
    for n in range(24 * 4):
        clock.run_until(T0 + n * tick_s)
        seq.clock_message([midiclock.CLOCK], clock.now())
    assert seq.snapshot()["clock"]["bpm_estimate"] == pytest.approx(90, rel=0.01)
    ons = rec.ons()
    assert len(ons) == 16  # one 16th every 6 ticks
    assert [round(t - T0, 9) for t, _ in ons[:3]] == [
        0.0,
        round(6 * tick_s, 9),
        round(12 * tick_s, 9),
    ]
    seq.clock_message([midiclock.STOP], clock.now())
    assert not seq.playing


def test_follower_song_position_pointer_locates_the_named_step() -> None:
    track = every_step()
    for i, step in enumerate(track.steps):
        step.notes = (60 + i,)
    seq, clock, rec = make(track, tempo=120, clock_source="follow")
    seq.clock_message(midiclock.song_position(5), clock.now())
    seq.clock_message([midiclock.CONTINUE], clock.now())
    seq.clock_message([midiclock.CLOCK], clock.now())
    assert rec.ons()[0][1][1] == 65
    assert seq.playhead == 5


def test_lateness_is_measured_against_each_deadline() -> None:
    seq, clock, rec = make(four_on_the_floor(), tempo=120)
    clock.delay = 0.002  # every callback runs 2 ms late
    seq.start()
    clock.run_until(START + 2.0)
    stats = seq.snapshot()["lateness"]
    assert stats["count"] >= 8
    assert stats["p50_ms"] == pytest.approx(2.0)
    assert sum(stats["histogram"]["counts"]) == stats["count"]


def test_a_stalled_machine_skips_late_steps_and_keeps_the_grid() -> None:
    seq, clock, rec = make(every_step(), tempo=120)
    seq.start()
    clock.delay = 0.32  # a stall: steps 0-2 come due while the machine is stuck
    clock.run_until(START)
    clock.delay = 0.0
    clock.run_until(START + 0.125 * 6 - 1e-6)
    starts = [round(t - START, 9) for t, _ in rec.ons()]
    assert seq.skipped == 3  # steps 0, 1, 2: never burst out late
    assert starts == [0.375, 0.5, 0.625]  # steps 3-5 exactly on the original grid


def test_probability_decides_per_step_with_a_seeded_generator() -> None:
    import random

    never, sometimes = every_step("never", note=30), every_step("sometimes", note=31)
    for step in never.steps:
        step.probability = 0.0
    for step in sometimes.steps:
        step.probability = 0.5
    seq, clock, rec = make(never, sometimes, tempo=120, rng=random.Random(4))
    seq.start()
    clock.run_until(START + 8.0 - 1e-6)  # 64 steps each
    notes = [m[1] for _, m in rec.ons()]
    assert 30 not in notes
    assert 16 < notes.count(31) < 48


def test_step_cc_values_are_sent_before_its_notes() -> None:
    track = Track.empty("t", 4)
    track.steps[0].on, track.steps[0].cc, track.steps[0].notes = True, {74: 10}, (60, 64)
    seq, clock, rec = make(track, tempo=120)
    track.channel = 3
    seq.start()
    clock.run_until(START + 0.01)
    assert [m for _, _, m in rec.events] == [[0xB2, 74, 10], [0x92, 60, 100], [0x92, 64, 100]]


def test_a_note_held_over_a_pattern_switch_ends_on_the_port_it_started_on() -> None:
    long_note = Track.empty("a", 16, port="synth-a")
    long_note.steps[15].on, long_note.steps[15].gate = True, 4.0
    seq, clock, rec = make(long_note, tempo=120)
    seq.bank.patterns.append(Pattern("p2", [Track.empty("b", 16, port="synth-b")]))
    ports: list[tuple[str, list[int]]] = []
    seq.output = lambda index, track, message: ports.append((track.port, message))
    seq.start()
    clock.run_until(START + 1.9)
    seq.select_pattern(1)
    clock.run_until(START + 3.0)
    assert seq.selected_pattern == 1
    assert ports == [("synth-a", [NOTE_ON, 60, 100]), ("synth-a", [NOTE_OFF, 60, 0])]


def test_follower_swings_odd_steps_between_ticks_at_the_estimated_tempo() -> None:
    seq, clock, rec = make(every_step(), tempo=120, clock_source="follow", swing=0.5)
    tick_s = 60 / (100 * 24)
    seq.clock_message([midiclock.START], clock.now())
    for n in range(24 * 2):
        clock.run_until(T0 + n * tick_s)
        seq.clock_message([midiclock.CLOCK], clock.now())
    ons = [round((t - T0) / tick_s, 6) for t, _ in rec.ons()]
    # even steps on their tick, odd steps half a step (3 ticks) later
    assert ons[:4] == [0.0, 9.0, 12.0, 21.0]
