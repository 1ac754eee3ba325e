"""The notes sounding now, their note-offs, and the model's notes waiting to sound.

Every note-on arms its note-off at an absolute deadline, and the note-off
records how late it ran. A note started again while it still sounds is
ended first. Each sounding note keeps the track it started on, so its
note-off goes where its note-on went, even after a pattern switch.
Releasing ends notes at once: all of them when the transport halts, the
model's alone (and its queued ones) when the model stops.

A broken output (a port that vanished, a bug in a callback) is warned
about and skipped: it must not stop the clock.
"""

from __future__ import annotations

from collections.abc import Callable

from impsy.clock import Clock, Handle
from impsy.ratelimit import RateLimitedWarning
from impsy.sequencer.lateness import LatenessStats
from impsy.sequencer.pattern import Track

NOTE_ON, NOTE_OFF, CONTROL_CHANGE = 0x90, 0x80, 0xB0

NoteOutput = Callable[[int, Track, list[int]], None]
"""Where notes go: (track index, track, raw MIDI message)."""
Key = tuple[int, int, int]
"""A sounding note: (track index, channel, note)."""


class Voices:
    """Note-ons and CCs out through ``output``, each note's note-off on its deadline."""

    def __init__(
        self, clock: Clock, output: NoteOutput, lateness: LatenessStats, warn: RateLimitedWarning
    ) -> None:
        self.clock = clock
        self.output = output
        self.lateness = lateness
        self._warn = warn
        # key -> (its note-off, started by the model, the track it started on)
        self._sounding: dict[Key, tuple[Handle, bool, Track]] = {}
        self._waiting: set[Handle] = set()  # the model's notes not yet due

    def send(self, index: int, track: Track, message: list[int]) -> None:
        try:
            self.output(index, track, message)
        except Exception as err:  # a broken output must not stop the clock
            self._warn.warn(f"out:{track.port}", f"sequencer: output {track.port!r}: {err}")

    def play(
        self,
        index: int,
        track: Track,
        notes: tuple[int, ...],
        velocity: int,
        deadline: float,
        length_s: float,
        *,
        cc: dict[int, int] | None = None,
        model: bool = False,
    ) -> None:
        """The CC values, then the notes, each ending ``length_s`` after ``deadline``."""
        channel = track.channel - 1
        if cc:
            for control, value in cc.items():
                self.send(index, track, [CONTROL_CHANGE | channel, control, value])
        for note in notes:
            key = (index, channel, note)
            if key in self._sounding:  # retrigger: end the old note first
                self._end(key)
            self.send(index, track, [NOTE_ON | channel, note, velocity])
            off_at = deadline + length_s
            handle = self.clock.call_at(off_at, self._note_off_due, key, off_at)
            self._sounding[key] = (handle, model, track)

    def later(self, when: float, sound: Callable[[], None]) -> None:
        """Run ``sound`` (the model's note) at ``when``, unless the model is released first."""
        handle: Handle | None = None

        def due() -> None:
            self._waiting.discard(handle)
            self.lateness.add(self.clock.now() - when)
            sound()

        handle = self.clock.call_at(when, due)
        self._waiting.add(handle)

    def end_tracks(self, ending: Callable[[int], bool]) -> None:
        """End the sounding notes of every track index for which ``ending`` is true."""
        for key in list(self._sounding):
            if ending(key[0]):
                self._end(key)

    def release(self, model_only: bool) -> None:
        """End sounding notes now, and drop the model's waiting ones."""
        for handle in self._waiting:
            handle.cancel()
        self._waiting.clear()
        for key, (_, model, _) in list(self._sounding.items()):
            if model or not model_only:
                self._end(key)

    def _note_off_due(self, key: Key, deadline: float) -> None:
        self.lateness.add(self.clock.now() - deadline)
        sounding = self._sounding.pop(key, None)
        if sounding is not None:
            self._note_off(key, sounding[2])

    def _note_off(self, key: Key, track: Track) -> None:
        index, channel, note = key
        self.send(index, track, [NOTE_OFF | channel, note, 0])

    def _end(self, key: Key) -> None:
        handle, _, track = self._sounding.pop(key)
        handle.cancel()
        self._note_off(key, track)
