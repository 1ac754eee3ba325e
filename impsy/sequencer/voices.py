"""The notes sounding now, their note-offs, and the model's notes waiting to sound.

Every note-on arms its note-off at an absolute deadline, and the note-off
records how late it ran. A note started again while it still sounds is
ended first. Each sounding note keeps the track it started on, so its
note-off goes where its note-on went, even after a pattern switch.
Releasing ends notes at once: all of them when the transport halts, the
model's alone (and its queued ones) when the model stops.

A broken output (a port that vanished, a bug in a callback) is warned
about and skipped: it must not stop the clock.

An output with a latency offset (``leads``: seconds, by output name) gets
each note that long before its deadline, and its note-off that long before
the note ends, so the note sounds on the beat at the far end for as long
as it should. The transport runs every step early by the largest offset;
an output with a smaller one waits here for its own time.

An output that time-tags (``aheads``: the OSC look-ahead, ``impsy.io.osc_timetag``)
gets each note that much earlier still, with the instant it is due:
``output(index, track, message, due)``; it sends it ahead in a bundle
stamped with that instant. Its note-off goes the same way, only if the
note-on did (a note-on played on arrival and a note-off stamped for later
could end the note before it starts); a note ended early (stop, mute,
retrigger) whose note-on is still on its way is ended at the note-on's
instant, not before it. A note handed over when already due (a note played
at once, following MIDI clock) goes as always.
"""

from __future__ import annotations

from collections.abc import Callable

from impsy.clock import Clock, Handle
from impsy.ratelimit import RateLimitedWarning
from impsy.sequencer.lateness import LatenessStats
from impsy.sequencer.pattern import Track

NOTE_ON, NOTE_OFF, CONTROL_CHANGE = 0x90, 0x80, 0xB0
EARLY_S = 2e-5
"""A note due later than this after it was played (a smaller offset) waits for its time."""

NoteOutput = Callable[..., None]
"""Where notes go: (track index, track, raw MIDI message), and the instant it is due for an
output in ``Voices.aheads``."""
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
        self._early: dict[Handle, bool] = {}  # notes waiting for their output's offset
        self.leads: dict[str, float] = {}
        """Latency offset in seconds by output name: a MIDI port, or "osc"."""
        self.aheads: dict[str, float] = {}
        """Time-tag look-ahead in seconds by output name ("osc"): see the module doc."""
        self._stamped: dict[Key, float] = {}  # sounding notes sent time-tagged: their instant

    def lead_of(self, track: Track) -> float:
        """The latency offset of the output ``track`` plays through (0 when none is set)."""
        if not self.leads:
            return 0.0
        return self.leads.get("osc" if track.plays_osc else track.port, 0.0)

    def ahead_of(self, track: Track) -> float:
        """The time-tag look-ahead of the output ``track`` plays through (0: none)."""
        if not self.aheads:
            return 0.0
        return self.aheads.get("osc" if track.plays_osc else track.port, 0.0)

    def most_ahead(self) -> float:
        """How early the transport must run: the largest offset plus look-ahead of any output."""
        names = self.leads.keys() | self.aheads.keys()
        return max((self.leads.get(n, 0.0) + self.aheads.get(n, 0.0) for n in names), default=0.0)

    def send(self, index: int, track: Track, message: list[int], due: float | None = None) -> None:
        try:
            if due is None:
                self.output(index, track, message)
            else:  # a time-tagging output: the instant the message is due
                self.output(index, track, message, due)
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
        """The CC values, then the notes, each ending ``length_s`` after ``deadline``.

        A deadline still ahead (the transport runs early for latency offsets)
        is met at the far end: the notes leave the output's offset before it,
        now or later when that offset is smaller than the transport's lead. A
        deadline already here (a note played at once) leaves now.
        """
        now = self.clock.now()
        start = deadline - self.lead_of(track) if deadline > now else deadline
        ahead = self.ahead_of(track) if start > now else 0.0
        if start - ahead > now + EARLY_S:
            handle: Handle | None = None

            def due() -> None:
                self._early.pop(handle, None)
                self._play(index, track, notes, velocity, start, length_s, cc, model, ahead)

            handle = self.clock.call_at(start - ahead, due)
            self._early[handle] = model
            return
        self._play(index, track, notes, velocity, start, length_s, cc, model, ahead)

    def _play(
        self,
        index: int,
        track: Track,
        notes: tuple[int, ...],
        velocity: int,
        start: float,
        length_s: float,
        cc: dict[int, int] | None,
        model: bool,
        ahead: float = 0.0,
    ) -> None:
        channel = track.channel - 1
        if ahead > 0 and start <= self.clock.now():
            ahead = 0.0  # due already (a stalled loop): played on arrival, note-off too
        due = start if ahead > 0 else None
        if cc:
            for control, value in cc.items():
                self.send(index, track, [CONTROL_CHANGE | channel, control, value], due)
        for note in notes:
            key = (index, channel, note)
            if key in self._sounding:  # retrigger: end the old note first
                self._end(key, due)
            self.send(index, track, [NOTE_ON | channel, note, velocity], due)
            if due is not None:
                self._stamped[key] = due
            off_at = start + length_s
            handle = self.clock.call_at(off_at - ahead, self._note_off_due, key, off_at, ahead)
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
        for handle, model in list(self._early.items()):
            if model or not model_only:
                handle.cancel()
                del self._early[handle]
        for key, (_, model, _) in list(self._sounding.items()):
            if model or not model_only:
                self._end(key)

    def _note_off_due(self, key: Key, deadline: float, ahead: float = 0.0) -> None:
        self.lateness.add(self.clock.now() - (deadline - ahead))
        sounding = self._sounding.pop(key, None)
        self._stamped.pop(key, None)
        if sounding is not None:
            self._note_off(key, sounding[2], deadline if ahead > 0 else None)

    def _note_off(self, key: Key, track: Track, due: float | None = None) -> None:
        index, channel, note = key
        self.send(index, track, [NOTE_OFF | channel, note, 0], due)

    def _end(self, key: Key, due: float | None = None) -> None:
        handle, _, track = self._sounding.pop(key)
        handle.cancel()
        stamped = self._stamped.pop(key, None)
        if due is None and stamped is not None and stamped > self.clock.now():
            due = stamped  # its note-on is still on its way: end it no sooner
        self._note_off(key, track, due)
