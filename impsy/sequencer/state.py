"""What the sequencer shows: the bank, the selection, the queued pattern, the cursor.

Plain state, no clock and no output: the transport, the editor and the
model lane read and move it, and ``Sequencer.snapshot`` shows it. The only
checks here are the ones that depend on it: a track past the end of the
pattern, a step past the end of its track, a pattern past the bank. Types
and fixed ranges are the command table's (``impsy.sequencer.commands``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from impsy.errors import CommandError
from impsy.sequencer.pattern import MAX_PATTERNS, Bank, Pattern, PatternError, Track


@dataclass
class State:
    """The bank being played and edited, and what a person has selected in it."""

    bank: Bank
    edit_mode: str = "step"
    """Where keyboard notes go: "step" (the cursor) or "live" (the playhead)."""
    pattern_index: int = 0
    queued: int | None = None
    """The pattern to switch to at the next bar line (chosen while playing)."""
    track: int = 0
    """The selected track: edits and keyboard notes go to it."""
    cursor: int = 0
    """Step mode: the step the next keyboard note writes."""
    recording: bool = False
    """Live mode: keyboard notes are written at the playhead while this is on."""

    @property
    def pattern(self) -> Pattern:
        return self.bank.patterns[self.pattern_index]

    def track_index(self, track: int) -> int:
        count = len(self.pattern.tracks)
        if not 0 <= track < count:
            raise CommandError(f"track must be 0-{count - 1}, got {track}")
        return track

    def step_index(self, track: int, step: int) -> int:
        count = self.pattern.tracks[track].length
        if not 0 <= step < count:
            raise CommandError(f"step must be 0-{count - 1} on track {track}, got {step}")
        return step

    def audible(self, track: Track) -> bool:
        """Not muted, and soloed when any track of the pattern is."""
        if track.muted:
            return False
        if any(t.solo for t in self.pattern.tracks):
            return track.solo
        return True

    def selection(self) -> dict[str, Any]:
        """The data of a "pattern" event."""
        return {
            "selected_pattern": self.pattern_index,
            "selected_track": self.track,
            "queued_pattern": self.queued,
            "edit_mode": self.edit_mode,
            "recording": self.recording,
            "cursor": self.cursor,
        }

    def select_track(self, index: int) -> None:
        self.track = self.track_index(index)
        self._keep_cursor()

    def switch_pattern(self, index: int) -> bool:
        """Make pattern ``index`` the current one; whether it was another one."""
        changed = index != self.pattern_index
        self.pattern_index = index
        self.track = min(self.track, len(self.pattern.tracks) - 1)
        self._keep_cursor()
        return changed

    def _keep_cursor(self) -> None:
        self.cursor = min(self.cursor, self.pattern.tracks[self.track].length - 1)

    def open_pattern(self, index: int) -> None:
        """Check a pattern index; the one past the last appends an empty pattern, same tracks."""
        count = len(self.bank.patterns)
        if not 0 <= index <= count:
            raise CommandError(f"pattern must be 0-{count} ({count} makes a new one), got {index}")
        if index == count:
            tracks = [
                Track.empty(
                    t.name,
                    t.length,
                    port=t.port,
                    channel=t.channel,
                    steps_per_beat=t.steps_per_beat,
                )
                for t in self.pattern.tracks
            ]
            self.bank.patterns.append(Pattern(f"pattern {count + 1}", tracks))

    def append(self, pattern: Pattern) -> int:
        """Add ``pattern`` (e.g. imported from a MIDI file) to the bank; its index."""
        count = len(self.bank.patterns)
        if count >= MAX_PATTERNS:
            raise CommandError(f"the bank is full ({MAX_PATTERNS} patterns)")
        try:
            pattern.validate(f"pattern {count}")
        except PatternError as err:
            raise CommandError(str(err)) from None
        self.bank.patterns.append(pattern)
        return count

    def set_song(self, song: list[int]) -> None:
        count = len(self.bank.patterns)
        if any(not 0 <= i < count for i in song):
            raise CommandError(f"song entries must be pattern indexes 0-{count - 1}")
        self.bank.song = list(song)

    def reset(self, bank: Bank) -> None:
        """A new bank (loaded from a file): its first pattern and track, the cursor at 0."""
        self.bank = bank
        self.pattern_index = 0
        self.queued = None
        self.track = 0
        self.cursor = 0
