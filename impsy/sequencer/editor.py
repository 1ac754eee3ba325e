"""Editing the pattern: steps, mute and solo, undo, and keyboard notes.

Every edit first remembers its track as it was, so ``undo`` puts it back
(the last ``UNDO_DEPTH`` edits). A keyboard note is written at the cursor in
step mode (notes within ``CHORD_WINDOW_S`` of each other are one chord on
one step) or, in live mode, heard at once and written at the nearest step
while recording.

What a person does (keyboard notes, steps switched on) is reported through
``on_gesture`` so the adapter can hand it to the engine as a gesture; the
pattern's own playback is not, because feeding every played step back as a
gesture would flood the model with the loop it is meant to answer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from impsy.errors import CommandError
from impsy.sequencer.control import StepChanges
from impsy.sequencer.events import Notifier
from impsy.sequencer.pattern import PatternError, Step, Track
from impsy.sequencer.state import State
from impsy.sequencer.transport import Transport
from impsy.sequencer.voices import Voices

UNDO_DEPTH = 200
CHORD_WINDOW_S = 0.06
"""In step mode, notes this close together are one chord on one step."""

Gesture = Callable[[int, int, dict[int, int]], None]
"""(note, velocity, cc values) of a human action, for the engine."""


@dataclass(eq=False)
class Editor:
    """Changes to the bank that a person makes, each one undoable."""

    state: State
    transport: Transport
    voices: Voices
    events: Notifier
    on_gesture: Gesture | None = None
    _undo: deque[tuple[int, int, Track]] = field(
        default_factory=lambda: deque(maxlen=UNDO_DEPTH), init=False
    )
    _last_step_note: tuple[float, int, int] | None = field(default=None, init=False)
    """(time, track, step) of the last note entered in step mode."""

    # ------------------------------------------------------------ undo
    def remember(self, track: int) -> None:
        """Keep track ``track`` of the current pattern as it is, for ``undo``."""
        state = self.state
        self._undo.append((state.pattern_index, track, state.pattern.tracks[track].copy()))

    def undo(self) -> None:
        if not self._undo:
            raise CommandError("nothing to undo")
        pattern, track, saved = self._undo.pop()
        patterns = self.state.bank.patterns
        if pattern >= len(patterns) or track >= len(patterns[pattern].tracks):
            return
        patterns[pattern].tracks[track] = saved
        if pattern == self.state.pattern_index:
            self.events.emit("edit", track=track, step=-1, muted=saved.muted, solo=saved.solo)

    @property
    def undo_depth(self) -> int:
        return len(self._undo)

    def forget(self) -> None:
        """A new bank: nothing of the old one to undo."""
        self._undo.clear()

    # ------------------------------------------------------------ steps and tracks
    def toggle_step(self, track: int, step: int) -> None:
        track = self.state.track_index(track)
        step = self.state.step_index(track, step)
        self.remember(track)
        target = self.state.pattern.tracks[track].steps[step]
        target.on = not target.on
        self._edited(track, step)
        if target.on:
            self._gesture(target)

    def set_step(self, track: int, step: int, changes: StepChanges) -> None:
        """Change the fields given; the step is checked whole before it replaces the old one."""
        track = self.state.track_index(track)
        step = self.state.step_index(track, step)
        changed = self.state.pattern.tracks[track].steps[step].copy()
        for name, value in changes.items():
            if value is not None:
                setattr(changed, name, value)
        try:
            changed.validate(f"track {track} step {step}")
        except PatternError as err:
            raise CommandError(str(err)) from None
        self.remember(track)
        self.state.pattern.tracks[track].steps[step] = changed
        self._edited(track, step)
        if changed.on:
            self._gesture(changed)

    def write_bar(self, on: Sequence[Sequence[bool]], velocity: Sequence[Sequence[int]]) -> None:
        """A whole bar from a pattern model: row ``t`` of ``on``/``velocity`` (sixteenths) into
        track ``t`` of the current pattern, every bar of it, one undo entry per track.

        Notes, gates and probabilities stay; a track at another resolution
        takes each of its steps from the nearest sixteenth. Rows beyond the
        pattern's tracks are left out.
        """
        tracks = self.state.pattern.tracks
        for t, (row_on, row_velocity) in enumerate(zip(on, velocity, strict=True)):
            if t >= len(tracks):
                break
            self.remember(t)
            track = tracks[t]
            per_bar = 4 * track.steps_per_beat
            sixteenths = len(row_on)
            for index, step in enumerate(track.steps):
                slot = min(sixteenths - 1, (index % per_bar) * sixteenths // per_bar)
                step.on = bool(row_on[slot])
                if step.on:
                    step.velocity = int(min(max(row_velocity[slot], 1), 127))
            self.events.emit("edit", track=t, step=-1, muted=track.muted, solo=track.solo)

    def mute(self, track: int, on: bool | None = None) -> None:
        self._switch(track, "muted", on)

    def solo(self, track: int, on: bool | None = None) -> None:
        self._switch(track, "solo", on)

    def _switch(self, track: int, flag: str, on: bool | None) -> None:
        """Set a track's ``muted`` or ``solo`` (toggle it without ``on``); silence what stops."""
        index = self.state.track_index(track)
        target = self.state.pattern.tracks[index]
        self.remember(index)
        setattr(target, flag, (not getattr(target, flag)) if on is None else on)
        tracks = self.state.pattern.tracks
        self.voices.end_tracks(lambda i: i < len(tracks) and not self.state.audible(tracks[i]))
        self.events.emit("edit", track=index, step=-1, muted=target.muted, solo=target.solo)

    # ------------------------------------------------------------ keyboard notes
    def record_note(self, note: int, velocity: int, now: float) -> None:
        """A keyboard note played at ``now``.

        Step mode: written at the cursor. Live mode: heard, and written at the
        nearest step while recording and playing.
        """
        index = self.state.track
        track = self.state.pattern.tracks[index]
        written = None
        if self.state.edit_mode == "step":
            written = self._record_step(index, track, note, velocity, now)
        else:
            self.voices.play(index, track, (note,), velocity, now, self.transport.step_s(track))
            if self.state.recording and self.transport.playing:
                written = self.transport.nearest_step(index, now)
                self.remember(index)
                step = track.steps[written]
                step.on, step.notes, step.velocity = True, (note,), velocity
        if written is not None:
            self._edited(index, written)
        if self.on_gesture is not None:
            self.on_gesture(note, velocity, {})

    def _record_step(self, index: int, track: Track, note: int, velocity: int, now: float) -> int:
        last = self._last_step_note
        if last is not None and now - last[0] <= CHORD_WINDOW_S and last[1] == index:
            step = track.steps[last[2]]  # part of the chord just entered
            if note not in step.notes:
                step.notes = (*step.notes, note)
            self._last_step_note = (now, index, last[2])
            return last[2]
        state = self.state
        position = state.cursor % track.length
        self.remember(index)
        step = track.steps[position]
        step.on, step.notes, step.velocity = True, (note,), velocity
        state.cursor = (position + 1) % track.length
        self._last_step_note = (now, index, position)
        self.events.emit("pattern", **state.selection())
        return position

    def _edited(self, track: int, step: int) -> None:
        data = self.state.pattern.tracks[track].steps[step].to_dict()
        self.events.emit("edit", track=track, step=step, step_data=data)

    def _gesture(self, step: Step) -> None:
        if self.on_gesture is not None:
            self.on_gesture(step.notes[0], step.velocity, dict(step.cc))
