"""Where the music is at any instant: ticks (24 per beat) against clock time.

Every position is an integer tick (MIDI clock's 24 per quarter note), so a
step of any resolution in ``impsy.sequencer.pattern.STEPS_PER_BEAT`` falls on
a whole tick and a bar is 96 ticks. Time maps to ticks through one anchor
``(t0, tick0)`` and the tempo; a tempo change moves the anchor to the
current position, so the music neither jumps nor drifts: every deadline is
computed from the anchor, never by adding up intervals.
"""

from __future__ import annotations

import math

from impsy.sequencer.midiclock import PPQN

TICKS_PER_BAR = 4 * PPQN


class Timeline:
    """The tempo anchor: ``tick(t) = tick0 + (t - t0) * bpm * 24 / 60``."""

    def __init__(self, bpm: float, t0: float = 0.0, tick0: float = 0.0) -> None:
        self.bpm = bpm
        self.t0 = t0
        self.tick0 = tick0

    @property
    def tick_s(self) -> float:
        """Seconds per tick at the current tempo."""
        return 60.0 / (self.bpm * PPQN)

    def tick_at(self, when: float) -> float:
        return self.tick0 + (when - self.t0) / self.tick_s

    def time_at(self, tick: float) -> float:
        return self.t0 + (tick - self.tick0) * self.tick_s

    def anchor(self, when: float, tick: float) -> None:
        self.t0, self.tick0 = when, tick

    def set_tempo(self, bpm: float, when: float) -> None:
        """Change tempo at ``when`` without moving the music at that instant."""
        self.tick0 = self.tick_at(when)
        self.t0 = when
        self.bpm = bpm


def nearest(position: float) -> int:
    """The nearest whole step (or tick) to ``position``; exactly half way rounds up.

    Python's ``round`` rounds half to even (1.5 -> 2 but 2.5 -> 2), which piles
    evenly spaced notes half a step off the grid into chords on every other
    step; half up keeps them apart, one per step, always later.
    """
    return math.floor(position + 0.5)


def ticks_per_step(steps_per_beat: int) -> int:
    return PPQN // steps_per_beat


def swing_ticks(step_number: int, steps_per_beat: int, swing: float) -> float:
    """How far (in ticks) swing delays this step: odd steps of even resolutions only."""
    if swing <= 0.0 or step_number % 2 == 0 or steps_per_beat % 2:
        return 0.0
    return swing * ticks_per_step(steps_per_beat)
