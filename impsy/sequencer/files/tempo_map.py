"""Real seconds to MIDI ticks through a tempo map, so notes keep their real times.

A Standard MIDI File places events in ticks and turns ticks into time
through its ``set_tempo`` events. To write a performance whose tempo changed
(``impsy.sequencer.files.tempo_log``) so that a DAW shows bars that follow the
music *and* plays every note when it was played, seconds become ticks piece
by piece: at the tempo in effect at that moment, counted from the start of
that tempo's segment.

Each tempo change is itself put on a whole tick, which moves it by at most
half a tick; the segment then starts at the exact time the file says that
tick is, so rounding never accumulates and every event is within half a
tick (about 0.5 ms at 120 bpm and 480 ticks a beat) of its real time.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass


def bpm_to_tempo(bpm: float) -> int:
    """Microseconds per beat, as a file's ``set_tempo`` holds it (mido's ``bpm2tempo``)."""
    return round(60_000_000 / bpm)


@dataclass(frozen=True)
class Segment:
    """From ``tick`` (which the file plays at ``seconds``) on, ``tempo`` µs a beat."""

    seconds: float
    tick: int
    tempo: int


class TempoMap:
    """Piecewise seconds -> ticks for ``changes``: (seconds, bpm) in time order.

    The tempo at 0 s is the last change at or before it; with none, the
    first change's (the sequencer usually starts after the first gesture);
    with no changes at all, ``default_bpm``.
    """

    def __init__(
        self, changes: Sequence[tuple[float, float]], ticks_per_beat: int, default_bpm: float
    ) -> None:
        self.ticks_per_beat = ticks_per_beat
        changes = sorted(changes)
        before = [bpm for seconds, bpm in changes if seconds <= 0.0]
        first = before[-1] if before else changes[0][1] if changes else default_bpm
        self.segments = [Segment(0.0, 0, bpm_to_tempo(first))]
        for seconds, bpm in changes:
            if seconds <= 0.0:
                continue
            tempo = bpm_to_tempo(bpm)
            last = self.segments[-1]
            if tempo == last.tempo:
                continue
            tick = max(last.tick, self._tick_in(last, seconds))
            if tick == last.tick:  # two changes within half a tick: the later one wins
                self.segments[-1] = Segment(last.seconds, last.tick, tempo)
            else:
                self.segments.append(Segment(self._seconds_at(last, tick), tick, tempo))
        self._starts = [segment.seconds for segment in self.segments]

    def _seconds_at(self, segment: Segment, tick: int) -> float:
        return segment.seconds + (tick - segment.tick) * segment.tempo / (1e6 * self.ticks_per_beat)

    def _tick_in(self, segment: Segment, seconds: float) -> int:
        elapsed = (seconds - segment.seconds) * 1e6 * self.ticks_per_beat / segment.tempo
        return segment.tick + round(elapsed)

    def tick(self, seconds: float) -> int:
        """The tick a file with this map plays at ``seconds`` (to the nearest tick)."""
        index = max(0, bisect.bisect_right(self._starts, seconds) - 1)
        return self._tick_in(self.segments[index], seconds)

    def changes_until(self, end_tick: int) -> list[Segment]:
        """The segments that start before ``end_tick`` (the first always does)."""
        return [s for s in self.segments if s.tick < end_tick or s.tick == 0]
