"""Link's (beat, time) readings as impsy's tick anchor: the arithmetic, exactly."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from impsy.sequencer import linktime
from impsy.sequencer.linktime import Reading
from impsy.sequencer.timeline import Timeline
from tests.paths import BENCHMARKS


def test_a_reading_is_taken_at_the_middle_of_its_bracket() -> None:
    reading = Reading(before=10.0, beat=4.0, after=10.000004, tempo=120.0)
    assert reading.when == pytest.approx(10.000002, abs=1e-12)
    assert reading.spread == pytest.approx(4e-6, abs=1e-12)
    assert reading.beat_s == 0.5


def test_the_narrowest_bracket_wins() -> None:
    wide = Reading(1.0, 2.0, 1.001, 120.0)  # a preemption between the two clock reads
    narrow = Reading(1.002, 2.004, 1.002002, 120.0)
    assert linktime.best([wide, narrow, wide]) is narrow


def test_beats_and_times_map_both_ways_on_the_tempo() -> None:
    reading = Reading(20.0, 8.0, 20.0, 90.0)  # a beat is 2/3 s
    assert linktime.beat_at(reading, 21.0) == pytest.approx(9.5, abs=1e-12)
    assert linktime.time_at(reading, 5.0) == pytest.approx(18.0, abs=1e-12)
    assert linktime.time_at(reading, linktime.beat_at(reading, 33.3)) == pytest.approx(33.3)


def test_the_anchor_counts_24_ticks_a_beat_from_the_origin() -> None:
    reading = Reading(50.0, 6.5, 50.000002, 120.0)
    t0, tick0 = linktime.anchor(reading, origin=4.0)
    assert (t0, tick0) == (pytest.approx(50.000001, abs=1e-12), 60.0)
    timeline = Timeline(120.0, t0, tick0)
    # Bar 1 of impsy (tick 96) is Link's beat 8 = origin + 4: 1.5 beats after the reading.
    assert timeline.time_at(96) == pytest.approx(50.000001 + 0.75, abs=1e-12)
    assert timeline.time_at(96) == pytest.approx(linktime.time_at(reading, 8.0), abs=1e-12)


@pytest.mark.parametrize(
    ("beat", "quantum", "phase"),
    [(0.0, 4, 0.0), (9.0, 4, 1.0), (-0.5, 4, 3.5), (7.25, 3, 1.25), (-6.0, 3, 0.0)],
)
def test_phase_is_the_position_in_the_quantum(beat: float, quantum: int, phase: float) -> None:
    assert linktime.phase(beat, quantum) == pytest.approx(phase, abs=1e-12)


@pytest.mark.parametrize(
    ("beat", "quantum", "boundary"),
    [(4.0, 4, 4.0), (4.0 + 1e-12, 4, 4.0), (4.1, 4, 8.0), (-2.3, 4, 0.0), (-4.5, 4, -4.0),
     (5.0, 3, 6.0)],
)  # fmt: skip
def test_the_next_boundary_is_the_next_phase_zero(beat, quantum, boundary) -> None:  # noqa: ANN001
    assert linktime.next_boundary(beat, quantum) == boundary


def test_joining_late_plays_what_is_due_within_the_grace_and_not_before_tick_0() -> None:
    assert linktime.join_tick(100.4, grace_ticks=2.0) == 99  # 98.4 rounded up
    assert linktime.join_tick(100.0, grace_ticks=0.0) == 100
    assert linktime.join_tick(1.0, grace_ticks=5.0) == 0
    assert linktime.join_tick(-12.0, grace_ticks=2.0) == 0  # the start is still ahead


def test_continue_resumes_on_the_next_phase_zero_from_a_whole_quantum() -> None:
    # Stopped at tick 100 (just past bar 1): play on from tick 192 (bar 2)...
    origin, tick = linktime.continue_origin(beat_now=13.2, stopped_at_tick=100, quantum=4)
    assert tick == 192
    # ... at Link's beat 16, the next phase 0: tick 192 is 8 beats after the origin.
    assert origin == 8.0
    assert (16.0 - origin) * 24 == tick
    # With a quantum of 3, a whole quantum is 72 ticks.
    assert linktime.continue_origin(7.0, 0.0, 3) == (9.0, 0)
    assert linktime.continue_origin(7.0, 73.0, 3) == (9.0 - 6.0, 144)


def test_the_clock_offset_is_taken_at_the_middle_of_its_bracket() -> None:
    assert linktime.clock_offset(100.0, 40.5, 100.000002) == pytest.approx(59.500001, abs=1e-12)


def test_the_floor_deadlines_move_with_each_resync_it_reports() -> None:
    """``benchmarks/link_drift.py``'s floor arithmetic: the host's floor restarts its
    timeline after a timer more than 50 ms late, and its later deadlines move by that much."""
    sys.path.insert(0, str(BENCHMARKS))
    from link_drift import floor_errors

    late = np.array([0.0, 0.2, 0.0, 0.0])  # the second timer stalled 200 ms
    received = [(10.0003, 0), (10.7004, 1), (11.2005, 2), (11.7001, 3)]
    errors = floor_errors(received, start=10.0, offsets=np.arange(4) * 0.5, late_s=late)
    assert errors == pytest.approx([0.0003, 0.2004, 0.0005, 0.0001], abs=1e-9)
