"""Link's timeline as impsy's: readings of the session's beat turned into the tick anchor.

Ableton Link says where the session's beat is *now*, on the clock Link keeps
(on Linux ``CLOCK_MONOTONIC_RAW``), while impsy schedules on the event
loop's clock (``time.monotonic``: ``CLOCK_MONOTONIC``). The two tick at
rates that differ by the system's clock correction (NTP's, parts per
million), so no fixed offset between them holds for long. Instead, a
``Reading`` brackets Link's beat between two readings of the loop's clock:
the beat was taken somewhere between them, so their midpoint is off by at
most half the bracket (a microsecond or two). A fresh reading every
fraction of a second re-anchors the timeline, so the clocks' slow drift
never adds up.

impsy counts ticks (24 a beat) from where it started playing, the
*origin*: ``tick = (beat - origin) * 24``. Starting sets the origin on a
multiple of the quantum (Link's phase 0), so impsy's bar lines, every 4
beats from there, fall on the session's with the default quantum of 4.

Everything here is arithmetic on the numbers it is given, so it is tested
exactly; ``impsy.sequencer.link`` takes the readings and
``impsy.sequencer.linkfollow`` moves the transport with them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

from impsy.sequencer.midiclock import PPQN

EPSILON_BEATS = 1e-9
"""Beats closer than this to a boundary count as on it (floating-point noise)."""


class Reading(NamedTuple):
    """Link's beat and tempo, taken between two readings of the loop's clock."""

    before: float
    """The loop's clock just before Link's beat was read (seconds)."""
    beat: float
    """The session's beat, as this peer numbers it."""
    after: float
    """The loop's clock just after."""
    tempo: float
    """Beats per minute."""

    @property
    def when(self) -> float:
        """When the beat was read, on the loop's clock: the middle of the bracket."""
        return (self.before + self.after) / 2

    @property
    def spread(self) -> float:
        """How long the bracket is: twice the largest error of ``when``."""
        return self.after - self.before

    @property
    def beat_s(self) -> float:
        """Seconds per beat."""
        return 60.0 / self.tempo


def best(readings: Iterable[Reading]) -> Reading:
    """The reading with the narrowest bracket (the one a preemption did not widen)."""
    return min(readings, key=lambda reading: reading.spread)


def beat_at(reading: Reading, when: float) -> float:
    """The session's beat at loop time ``when`` (Link's beat moves linearly with time)."""
    return reading.beat + (when - reading.when) / reading.beat_s


def time_at(reading: Reading, beat: float) -> float:
    """The loop time at which the session reaches ``beat``."""
    return reading.when + (beat - reading.beat) * reading.beat_s


def anchor(reading: Reading, origin: float) -> tuple[float, float]:
    """``(t0, tick0)`` for ``impsy.sequencer.timeline.Timeline``: the tick at the reading."""
    return reading.when, (reading.beat - origin) * PPQN


def phase(beat: float, quantum: float) -> float:
    """Where ``beat`` is in the quantum, 0 <= phase < quantum (also for negative beats)."""
    return beat - math.floor(beat / quantum) * quantum


def next_boundary(beat: float, quantum: float) -> float:
    """The first multiple of ``quantum`` at or after ``beat``: the next phase 0."""
    return math.ceil(beat / quantum - EPSILON_BEATS) * quantum


def join_tick(tick_now: float, grace_ticks: float) -> int:
    """Joining a session that already plays: the first tick to play from.

    Steps due within ``grace_ticks`` before now still play (a little late:
    the news of the start came after it); older ones are left out rather
    than played in a burst. Never before tick 0, where the music starts.
    """
    return max(0, math.ceil(tick_now - grace_ticks - EPSILON_BEATS))


def continue_origin(beat_now: float, stopped_at_tick: float, quantum: int) -> tuple[float, int]:
    """Continue after a stop: ``(origin, tick)`` so that playing resumes in phase.

    The position where stop left off is rounded up to a whole quantum (a bar
    with the default quantum of 4) and lands on the session's next phase 0,
    so the bar lines stay on the session's.
    """
    quantum_ticks = quantum * PPQN
    tick = math.ceil(stopped_at_tick / quantum_ticks - EPSILON_BEATS) * quantum_ticks
    return next_boundary(beat_now, quantum) - tick / PPQN, tick


def clock_offset(before: float, link_s: float, after: float) -> float:
    """Loop time minus Link time, from a Link time read between two loop times."""
    return (before + after) / 2 - link_s
