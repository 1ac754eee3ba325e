"""The sequencer: patterns played on absolute deadlines, edited live, with the model on the grid.

``Sequencer`` is the one object front ends hold (it implements
``impsy.sequencer.control.SequencerControl``, and the ``seq/...`` rows of
``impsy.sequencer.commands`` run on it). It owns no logic of its own beyond
wiring; each job is a part with its own module:

- ``state``: the bank, the selection, the queued pattern, the cursor;
- ``transport``: start, stop, tempo, swing, and the scheduler that plays the
  grid on absolute deadlines (bar lines, the song, MIDI clock out);
- ``follow``: MIDI clock in (``clock = "follow"``);
- ``linkfollow``: Ableton Link (``clock = "link"``), joined by the adapter;
- ``editor``: steps, mute and solo, undo, keyboard notes;
- ``model_lane``: the model's predictions on the grid, and ghost steps;
- ``voices``: the notes sounding and their note-offs;
- ``events``: the listeners.

Arguments arrive typed and in range from the command table; the parts only
refuse what depends on their state (a step past the end of a track, a
pattern past the bank, nothing to undo, starting while following).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from impsy.clock import Clock
from impsy.ratelimit import RateLimitedWarning
from impsy.sequencer.control import SequencerEvent, StepChanges
from impsy.sequencer.editor import Editor, Gesture
from impsy.sequencer.events import Notifier
from impsy.sequencer.follow import ClockFollower
from impsy.sequencer.lateness import LatenessStats
from impsy.sequencer.link import LinkSession
from impsy.sequencer.linkfollow import LinkFollower
from impsy.sequencer.model_lane import Ghost, ModelLane
from impsy.sequencer.pattern import Bank, Pattern
from impsy.sequencer.state import State
from impsy.sequencer.transport import CLOCK_SOURCES, START_DELAY_S, Transport
from impsy.sequencer.voices import NoteOutput, Voices

__all__ = ["CLOCK_SOURCES", "START_DELAY_S", "Sequencer"]

T = TypeVar("T")


class _Kept(Generic[T]):
    """An attribute of the facade kept on one of its parts: ``seq.swing`` is
    ``seq.transport.swing``, read and written."""

    def __init__(self, part: str, name: str = "") -> None:
        self.part = part
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name

    def __get__(self, obj: Any, owner: type | None = None) -> T:
        if obj is None:
            return self  # type: ignore[return-value]
        return getattr(getattr(obj, self.part), self.name)

    def __set__(self, obj: Any, value: T) -> None:
        setattr(getattr(obj, self.part), self.name, value)


class Sequencer:
    """Implements ``impsy.sequencer.control.SequencerControl``; see that module for the API."""

    bank = _Kept[Bank]("state")
    recording = _Kept[bool]("state")
    output = _Kept[NoteOutput]("voices")
    swing = _Kept[float]("transport")
    skipped = _Kept[int]("transport")
    clock_source = _Kept[str]("transport")
    clock_messages_in = _Kept[int]("follower", "messages_in")
    on_gesture = _Kept[Gesture | None]("editor")
    model_track = _Kept[int]("lane")
    ghost_steps = _Kept[int]("lane")
    quantise = _Kept[float]("lane")
    model_gate = _Kept[float]("lane")
    ghosts = _Kept[dict[int, Ghost]]("lane")

    def __init__(
        self,
        bank: Bank,
        clock: Clock,
        output: NoteOutput,
        *,
        tempo: float = 120.0,
        swing: float = 0.0,
        clock_source: str = "internal",
        clock_output: Callable[[list[int]], None] | None = None,
        model_track: int = 0,
        quantise: float = 100.0,
        ghost_steps: int = 0,
        model_gate: float = 1.0,
        edit_mode: str = "step",
        rng: random.Random | None = None,
    ) -> None:
        bank.validate()
        self.clock = clock
        self.rng = rng or random.Random()
        self.lateness = LatenessStats()
        """Every step, note-off and model note: how late it really happened."""
        warn = RateLimitedWarning()
        self.events = Notifier(warn)
        self.bar_listeners = self.events.bar_listeners
        self.state = State(bank, edit_mode=edit_mode)
        self.voices = Voices(clock, output, self.lateness, warn)
        self.transport = Transport(
            self.state,
            clock,
            self.voices,
            self.events,
            self.lateness,
            self._play,
            self._switched,
            warn,
            tempo=tempo,
            swing=swing,
            clock_source=clock_source,
            clock_output=clock_output,
        )
        self.timeline = self.transport.timeline
        self.follower = ClockFollower(self.transport, self.events)
        self.link: LinkFollower | None = None
        """With ``clock = "link"``, once ``join_link`` has joined the session."""
        self.estimator = self.follower.estimator
        self.editor = Editor(self.state, self.transport, self.voices, self.events)
        self.lane = ModelLane(
            self.state,
            self.transport,
            self.voices,
            self.events,
            self.editor.remember,
            model_track=model_track,
            quantise=quantise,
            ghost_steps=ghost_steps,
            model_gate=model_gate,
        )

    # ------------------------------------------------------------ what it shows
    @property
    def pattern(self) -> Pattern:
        return self.state.pattern

    @property
    def tempo(self) -> float:
        return self.timeline.bpm

    @property
    def playing(self) -> bool:
        return self.transport.playing

    @property
    def selected_track(self) -> int:
        return self.state.track

    @property
    def selected_pattern(self) -> int:
        return self.state.pattern_index

    @property
    def edit_mode(self) -> str:
        return self.state.edit_mode

    @property
    def playhead(self) -> int:
        return self.transport.playhead(self.state.track)

    @property
    def next_bar(self) -> int:
        """The number of the next bar line to come (bar 0 starts at the top)."""
        return self.transport.bar_number

    @property
    def cursor(self) -> int:
        """Step mode: the step the next keyboard note writes."""
        return self.state.cursor

    @property
    def undo_depth(self) -> int:
        return self.editor.undo_depth

    @property
    def last_step_numbers(self) -> tuple[int, ...]:
        """Per track, the number of the step that came due last, -1 before the first.

        Counted from where the current pattern began, skipped steps included
        and not wrapped to the track's length, so inside ``output`` it numbers
        the step being played: step n of a 16th track is due at the pattern's
        start + n 16ths (plus swing).
        """
        return self.transport.last_step_numbers

    # ------------------------------------------------------------ listeners
    def add_listener(self, callback: Callable[[SequencerEvent], None]) -> None:
        self.events.add(callback)

    def remove_listener(self, callback: Callable[[SequencerEvent], None]) -> None:
        self.events.remove(callback)

    # ------------------------------------------------------------ transport
    def start(self) -> None:
        """Play from the top of the pattern (or the song)."""
        self.transport.start()

    def stop(self) -> None:
        self.transport.stop()

    def continue_(self) -> None:
        """Play on from where stop left off (at the next sixteenth)."""
        self.transport.continue_()

    def set_tempo(self, bpm: float) -> None:
        self.transport.set_tempo(bpm)

    def set_swing(self, amount: float) -> None:
        self.transport.set_swing(amount)

    def join_link(self, session: LinkSession) -> LinkFollower:
        """Follow an open Link session (``clock = "link"``)."""
        self.link = LinkFollower(self.transport, self.events, session, self.clock)
        self.link.open()
        return self.link

    def leave_link(self) -> None:
        """Stop following the session; impsy stops, the session plays on."""
        link, self.link = self.link, None
        if link is not None:
            link.close()

    def set_latency(self, offsets_s: Mapping[str, float], clock_ports: Iterable[str] = ()) -> None:
        """Latency offsets in seconds by output name (a MIDI port, or "osc"): each
        output's notes leave that long before they are due (``impsy.sequencer.voices``),
        and MIDI clock ticks the largest offset of ``clock_ports`` before theirs."""
        leads = {name: s for name, s in offsets_s.items() if s > 0}
        self.voices.leads = leads
        transport = self.transport
        transport.clock_lead_s = max((leads.get(name, 0.0) for name in clock_ports), default=0.0)
        transport.lead_s = self.voices.most_ahead()

    def set_timetags(self, aheads_s: Mapping[str, float]) -> None:
        """Time-tag look-ahead in seconds by output name ("osc"): its notes are handed over
        that long before they leave, each with when it is due (``impsy.sequencer.voices``);
        the transport runs early enough for the largest offset plus look-ahead."""
        self.voices.aheads = {name: s for name, s in aheads_s.items() if s > 0}
        self.transport.lead_s = self.voices.most_ahead()

    def clock_message(
        self, message: list[int] | tuple[int, ...], when: float | None = None
    ) -> None:
        """A realtime message from the master (follow mode); ``when`` = arrival time."""
        self.follower.message(message, when)

    # ------------------------------------------------------------ selection
    def select_pattern(self, index: int) -> None:
        """Switch pattern now when stopped, at the next bar line when playing.

        The index one past the last makes a new empty pattern with the same tracks.
        """
        self.state.open_pattern(index)
        self.transport.select(index)
        self._selected()

    def add_pattern(self, pattern: Pattern) -> int:
        """Append ``pattern`` (e.g. imported from a MIDI file) and select it; its index."""
        index = self.state.append(pattern)
        self.select_pattern(index)
        return index

    def select_track(self, index: int) -> None:
        self.state.select_track(index)
        self._selected()

    def set_edit_mode(self, mode: str) -> None:
        self.state.edit_mode = mode
        self._selected()

    def set_recording(self, on: bool) -> None:
        """Live mode: keyboard notes are written at the playhead while this is on."""
        self.state.recording = on
        self._selected()

    def set_cursor(self, step: int) -> None:
        self.state.cursor = self.state.step_index(self.state.track, step)
        self._selected()

    def set_song(self, song: list[int]) -> None:
        self.state.set_song(song)
        self._selected()

    def _selected(self) -> None:
        self.events.emit("pattern", **self.state.selection())

    # ------------------------------------------------------------ editing
    def toggle_step(self, track: int, step: int) -> None:
        self.editor.toggle_step(track, step)

    def set_step(
        self,
        track: int,
        step: int,
        *,
        on: bool | None = None,
        notes: int | tuple[int, ...] | list[int] | None = None,
        velocity: int | None = None,
        gate: float | None = None,
        probability: float | None = None,
    ) -> None:
        changes = StepChanges(
            on=on, notes=notes, velocity=velocity, gate=gate, probability=probability
        )
        self.editor.set_step(track, step, changes)

    def mute(self, track: int, on: bool | None = None) -> None:
        self.editor.mute(track, on)

    def solo(self, track: int, on: bool | None = None) -> None:
        self.editor.solo(track, on)

    def undo(self) -> None:
        self.editor.undo()

    def record_note(self, note: int, velocity: int) -> None:
        """A keyboard note: written at the cursor (step mode) or the playhead (live, recording)."""
        self.editor.record_note(note, velocity, self.clock.now())

    # ------------------------------------------------------------ the model
    def place_model_note(
        self, notes: tuple[int, ...], velocity: int, cc: dict[int, int] | None = None
    ) -> None:
        """A prediction: a ghost, or a note quantised toward the next step of the model track."""
        self.lane.place(notes, velocity, cc, self.clock.now())

    def ghost_list(self) -> list[dict[str, Any]]:
        return self.lane.ghost_list()

    def accept_ghosts(self) -> None:
        """Write the ghosts into the model track: one undo entry for all of them."""
        self.lane.accept()

    def reject_ghosts(self) -> None:
        self.lane.reject()

    def release_model(self) -> None:
        """The model stops: drop its queued notes and end the ones sounding."""
        self.voices.release(model_only=True)

    def release_all(self) -> None:
        self.voices.release(model_only=False)

    # ------------------------------------------------------------ the bank
    def load_bank(self, bank: Bank) -> None:
        """Replace every pattern (e.g. loaded from a file); stops first."""
        bank.validate()
        if self.transport.playing:
            self.transport.halt()
        self.state.reset(bank)
        self.editor.forget()
        self.lane.ghosts.clear()
        self.transport.locate(0)
        self._selected()

    def snapshot(self) -> dict[str, Any]:
        state, transport, follower = self.state, self.transport, self.follower
        following = transport.clock_source == "follow"
        estimate = self.estimator.bpm if following else None
        master = transport.clock_source == "master"
        return {
            "tempo": round(self.tempo, 3),
            "swing": transport.swing,
            "playing": transport.playing,
            "edit_mode": state.edit_mode,
            "recording": state.recording,
            "cursor": state.cursor,
            "selected_pattern": state.pattern_index,
            "queued_pattern": state.queued,
            "selected_track": state.track,
            "playhead": self.playhead,
            "playheads": list(transport.playheads) if transport.playing else [],
            "patterns": [p.name for p in state.bank.patterns],
            "song": list(state.bank.song),
            "pattern": state.pattern.to_dict(),
            "ghosts": self.lane.ghost_list(),
            "undo": self.editor.undo_depth,
            "lateness": self.lateness.as_dict(),
            "clock": {
                "source": transport.clock_source,
                "bpm_estimate": round(estimate, 3) if estimate is not None else None,
                "messages_in": follower.messages_in,
                "lateness": transport.clock_lateness.as_dict() if master else None,
                # With clock = "link" only: peers, tempo, beat and phase of the session.
                **({"link": self.link.status()} if self.link is not None else {}),
            },
            "skipped": transport.skipped,
        }

    # ------------------------------------------------------------ wiring
    def _play(self, index: int, position: int, deadline: float) -> None:
        """A step came due: its notes (by their probability), or the model's ghost there."""
        track = self.state.pattern.tracks[index]
        if not self.state.audible(track):
            return
        step = track.steps[position]
        if not step.on:
            self.lane.play_ghost(index, track, position, deadline)
        elif step.probability >= 1.0 or self.rng.random() < step.probability:
            length_s = step.gate * self.transport.step_s(track)
            self.voices.play(
                index, track, step.notes, step.velocity, deadline, length_s, cc=step.cc
            )

    def _switched(self) -> None:
        """Another pattern is current: the ghosts proposed on the old one go."""
        self.lane.ghosts.clear()
