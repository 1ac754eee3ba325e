"""MIDI clock: the bytes a master sends, and a follower that estimates tempo from ticks.

MIDI clock is 24 ticks per quarter note (0xF8), with start (0xFA), stop
(0xFC), continue (0xFB) and the song position pointer (0xF2), which counts
MIDI beats: sixteenth notes, 6 ticks each.

The follower estimates tempo from the last ``WINDOW`` tick arrival times
by a least-squares line through them, which smooths the jitter of a USB or
JACK period (a single interval can be off by a whole period) while following
a tempo change within a couple of beats.
"""

from __future__ import annotations

from collections import deque

import numpy as np

PPQN = 24
TICKS_PER_SIXTEENTH = 6
CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2
WINDOW = 36
# A gap longer than this between ticks (a paused master) restarts the estimate.
STALE_S = 0.5


def song_position(sixteenths: int) -> list[int]:
    """The song position pointer message for a position in sixteenth notes."""
    value = max(0, min(int(sixteenths), 0x3FFF))
    return [SONG_POSITION, value & 0x7F, value >> 7]


def read_song_position(message: list[int] | tuple[int, ...]) -> int:
    return message[1] | (message[2] << 7)


class TempoEstimator:
    """Tempo from tick times: the slope of a least-squares fit over the recent ticks."""

    def __init__(self, window: int = WINDOW) -> None:
        self._times: deque[float] = deque(maxlen=window)
        self.bpm: float | None = None

    def reset(self) -> None:
        self._times.clear()

    def tick(self, when: float) -> float | None:
        if self._times and when - self._times[-1] > STALE_S:
            self._times.clear()
        self._times.append(when)
        count = len(self._times)
        if count < 3:
            return self.bpm
        times = np.fromiter(self._times, float, count)
        index = np.arange(count, dtype=float)
        slope = np.polyfit(index, times, 1)[0]
        if slope > 0:
            self.bpm = 60.0 / (slope * PPQN)
        return self.bpm
