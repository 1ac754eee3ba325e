"""The sequencer: patterns played on absolute deadlines, edited live, with the model on the grid.

One scheduler drives everything from one clock (``impsy.clock``):
steps, bar lines and outgoing MIDI clock ticks are events at integer tick
positions (``impsy.sequencer.timeline``); the next one due is the only timer
armed, and when it fires every event due by then runs in order. Each event's
deadline is computed from the tempo anchor, so nothing accumulates: a tempo
change moves the anchor and the grid carries on from where it was. Note-offs
have their own deadlines. Every event records its lateness.

With ``clock = "follow"`` there is no internal tempo: incoming MIDI clock
ticks move the position, steps fire on the tick they fall on, and swung
steps (between ticks) are timed from the tempo estimated from the ticks.

What a person does (keyboard notes, steps switched on) is reported through
``on_gesture`` so the adapter can hand it to the engine as a gesture; the
pattern's own playback is not, because feeding every played step back as a
gesture would flood the model with the loop it is meant to answer.
"""

from __future__ import annotations

import logging
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from impsy.clock import Clock, Handle
from impsy.errors import CommandError
from impsy.ratelimit import RateLimitedWarning
from impsy.sequencer import midiclock
from impsy.sequencer.control import EDIT_MODES, MAX_BPM, MAX_SWING, MIN_BPM, SequencerEvent
from impsy.sequencer.lateness import LatenessStats
from impsy.sequencer.pattern import MAX_PATTERNS, Bank, Pattern, PatternError, Step, Track
from impsy.sequencer.timeline import TICKS_PER_BAR, Timeline, swing_ticks, ticks_per_step

log = logging.getLogger("impsy")

CLOCK_SOURCES = ("internal", "master", "follow")
# Start and continue are scheduled this far ahead so the first events are not late.
START_DELAY_S = 0.005
# A step this late (a stalled machine) is skipped, not played: the grid keeps its phase
# (no drift, still in time with other gear) and no backlog bursts out.
SKIP_AFTER_S = 0.05
UNDO_DEPTH = 200
# In step mode, notes this close together are one chord on one step.
CHORD_WINDOW_S = 0.06
NOTE_ON, NOTE_OFF, CONTROL_CHANGE = 0x90, 0x80, 0xB0

# (track index, track, raw MIDI message)
NoteOutput = Callable[[int, Track, list[int]], None]
# (note, velocity, cc values) of a human action, for the engine
Gesture = Callable[[int, int, dict[int, int]], None]


def _integer(value: Any, what: str) -> int:
    """An integer argument; whole floats are accepted because Pure Data sends only floats."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandError(f"{what} must be a number, got {value!r}")
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        raise CommandError(f"{what} must be a whole number, got {value!r}")
    return int(value)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CommandError(f"{what} must be a number, got {value!r}")
    return float(value)


@dataclass
class _Ghost:
    notes: tuple[int, ...]
    velocity: int
    cc: dict[int, int]


class Sequencer:
    """Implements ``impsy.sequencer.control.SequencerControl``; see that module for the API."""

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
        if clock_source not in CLOCK_SOURCES:
            raise ValueError(f"clock source {clock_source!r} not in {CLOCK_SOURCES}")
        self.bank = bank
        self.clock = clock
        self.output = output
        self.clock_output = clock_output
        self.clock_source = clock_source
        self.timeline = Timeline(self._check_tempo(tempo))
        self.swing = self._check_swing(swing)
        self.model_track = model_track
        self.quantise = quantise
        self.ghost_steps = ghost_steps
        self.model_gate = model_gate
        self._edit_mode = self._check_mode(edit_mode)
        self.rng = rng or random.Random()
        self.lateness = LatenessStats()
        self.clock_lateness = LatenessStats()
        self.skipped = 0
        self.on_gesture: Gesture | None = None
        self.bar_listeners: list[Callable[[int], None]] = []
        self._listeners: list[Callable[[SequencerEvent], None]] = []
        self._warn = RateLimitedWarning()
        # selection and editing
        self._pattern = 0
        self._queued: int | None = None
        self._track = 0
        self._cursor = 0
        self._last_step_note: tuple[float, int, int] | None = None  # (time, track, step)
        self.recording = False
        self._undo: deque[tuple[int, int, Track]] = deque(maxlen=UNDO_DEPTH)
        self.ghosts: dict[int, _Ghost] = {}
        # transport
        self._playing = False
        self._pattern_tick = 0
        self._step_numbers: list[int] = [0] * len(self.pattern.tracks)
        self._next_bar = 0
        self._next_clock_tick = 0
        self._position = 0.0  # where stop left off, in ticks
        self._bar_number = 0
        self._song_index = 0
        self._playheads: list[int] = [-1] * len(self.pattern.tracks)
        self._timer: Handle | None = None
        self._timer_tick: float | None = None
        # follow mode
        self._follow_tick = -1
        self.clock_messages_in = 0
        self.estimator = midiclock.TempoEstimator()
        # sounding notes: (track, channel, note) -> (note-off handle, by the model, its track);
        # the track is kept so the note-off goes where the note-on went, even after a switch
        self._sounding: dict[tuple[int, int, int], tuple[Handle, bool, Track]] = {}
        self._model_pending: set[Handle] = set()

    # ------------------------------------------------------------ properties
    @property
    def pattern(self) -> Pattern:
        return self.bank.patterns[self._pattern]

    @property
    def tempo(self) -> float:
        return self.timeline.bpm

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def selected_track(self) -> int:
        return self._track

    @property
    def selected_pattern(self) -> int:
        return self._pattern

    @property
    def edit_mode(self) -> str:
        return self._edit_mode

    @property
    def playhead(self) -> int:
        if not self._playing or self._track >= len(self._playheads):
            return -1
        return self._playheads[self._track]

    @property
    def next_bar(self) -> int:
        """The number of the next bar line to come (bar 0 starts at the top)."""
        return self._bar_number

    @property
    def cursor(self) -> int:
        """Step mode: the step the next keyboard note writes."""
        return self._cursor

    # ------------------------------------------------------------ listeners
    def add_listener(self, callback: Callable[[SequencerEvent], None]) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[SequencerEvent], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _emit(self, kind: str, **data: Any) -> None:
        if not self._listeners:
            return
        event = SequencerEvent(kind, data)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception as err:  # a broken display must not stop the music
                self._warn.warn(f"listener:{listener!r}", f"sequencer: listener failed: {err}")

    # ------------------------------------------------------------ checks
    def _check_tempo(self, bpm: Any) -> float:
        bpm = _number(bpm, "tempo")
        if not MIN_BPM <= bpm <= MAX_BPM:
            raise CommandError(f"tempo must be {MIN_BPM:g}-{MAX_BPM:g} BPM, got {bpm:g}")
        return bpm

    def _check_swing(self, amount: Any) -> float:
        amount = _number(amount, "swing")
        if not 0.0 <= amount <= MAX_SWING:
            raise CommandError(f"swing must be 0-{MAX_SWING:g} of a step, got {amount:g}")
        return amount

    def _check_mode(self, mode: Any) -> str:
        if mode not in EDIT_MODES:
            raise CommandError(f"edit mode must be one of {', '.join(EDIT_MODES)}, got {mode!r}")
        return mode

    def _track_index(self, track: Any) -> int:
        index = _integer(track, "track")
        count = len(self.pattern.tracks)
        if not 0 <= index < count:
            raise CommandError(f"track must be 0-{count - 1}, got {index}")
        return index

    def _step_index(self, track: int, step: Any) -> int:
        index = _integer(step, "step")
        count = self.pattern.tracks[track].length
        if not 0 <= index < count:
            raise CommandError(f"step must be 0-{count - 1} on track {track}, got {index}")
        return index

    # ------------------------------------------------------------ transport
    def start(self) -> None:
        """Play from the top of the pattern (or the song)."""
        self._not_following("start")
        if self._playing:
            self._halt()
        if self.bank.song:
            self._song_index = 0
            self._switch_pattern(self.bank.song[0])
        self._play_from(0, "start")

    def stop(self) -> None:
        self._not_following("stop")
        if not self._playing:
            return
        self._position = max(0.0, self.timeline.tick_at(self.clock.now()))
        self._halt()
        self._send_clock([midiclock.STOP])
        self._emit("transport", playing=False, state="stop")

    def continue_(self) -> None:
        """Play on from where stop left off (at the next sixteenth)."""
        self._not_following("continue")
        if self._playing:
            return
        self._play_from(math.ceil(self._position / 6) * 6, "continue")

    def _not_following(self, what: str) -> None:
        if self.clock_source == "follow":
            raise CommandError(f"cannot {what}: the sequencer follows MIDI clock; use the master")

    def _play_from(self, tick: int, state: str) -> None:
        now = self.clock.now()
        self._locate(tick)
        if state == "start":
            self._send_clock([midiclock.START])
        else:
            self._send_clock(midiclock.song_position(tick // midiclock.TICKS_PER_SIXTEENTH))
            self._send_clock([midiclock.CONTINUE])
        self.timeline.anchor(now + START_DELAY_S, tick)
        self._playing = True
        self._emit("transport", playing=True, state=state)
        self._schedule()

    def _locate(self, tick: int) -> None:
        """Put every counter at ``tick``: the next event of each kind at or after it."""
        if tick < self._pattern_tick or tick == 0:  # located before the pattern began
            self._pattern_tick = 0
        offset = max(0, tick - self._pattern_tick)
        self._step_numbers = [
            math.ceil(offset / ticks_per_step(t.steps_per_beat)) for t in self.pattern.tracks
        ]
        self._playheads = [-1] * len(self.pattern.tracks)
        self._next_bar = math.ceil(tick / TICKS_PER_BAR) * TICKS_PER_BAR
        self._bar_number = self._next_bar // TICKS_PER_BAR
        self._next_clock_tick = tick

    def _halt(self) -> None:
        self._playing = False
        self._cancel_timer()
        self._release(model_only=False)
        self._playheads = [-1] * len(self.pattern.tracks)

    def set_tempo(self, bpm: float) -> None:
        if self.clock_source == "follow":
            raise CommandError("the tempo follows MIDI clock; change it on the master")
        bpm = self._check_tempo(bpm)
        self.timeline.set_tempo(bpm, self.clock.now())
        if self._playing:
            self._schedule()
        self._emit("tempo", tempo=bpm, swing=self.swing)

    def set_swing(self, amount: float) -> None:
        self.swing = self._check_swing(amount)
        if self._playing:
            self._schedule()
        self._emit("tempo", tempo=self.tempo, swing=self.swing)

    # ------------------------------------------------------------ scheduling
    def _next_event(self) -> tuple[float, int, int] | None:
        """(tick, priority, track) of the next event: bar lines, then clock ticks, then steps."""
        best = (float(self._next_bar), 0, -1)
        if self.clock_source == "master":
            best = min(best, (float(self._next_clock_tick), 1, -1))
        for index, track in enumerate(self.pattern.tracks):
            number = self._step_numbers[index]
            spb = track.steps_per_beat
            tick = self._pattern_tick + number * ticks_per_step(spb)
            tick += swing_ticks(number, spb, self.swing)
            best = min(best, (tick, 2, index))
        return best

    def _schedule(self) -> None:
        """Arm the one timer for the next event (follow mode: only between ticks)."""
        self._cancel_timer()
        if not self._playing:
            return
        tick, _, _ = self._next_event()
        if self.clock_source == "follow" and tick > self._follow_tick + 1 - 1e-9:
            return  # the next incoming tick will run it
        self._timer_tick = tick
        self._timer = self.clock.call_at(self.timeline.time_at(tick), self._on_timer, tick)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_tick = None

    def _on_timer(self, tick: float) -> None:
        self._timer = None
        self._run_due(tick)
        self._schedule()

    def _run_due(self, upto: float) -> None:
        """Run every event at or before tick ``upto``, in order, recording lateness."""
        now = self.clock.now()
        while self._playing:
            tick, priority, index = self._next_event()
            if tick > upto + 1e-9:
                return
            deadline = self.timeline.time_at(tick)
            late = now - deadline
            if priority == 0:
                self._bar(int(tick))
                continue
            if priority == 1:
                # Late ticks are still sent: a follower counts them to know where it is.
                self.clock_lateness.add(late)
                self._send_clock([midiclock.CLOCK])
                self._next_clock_tick += 1
            else:
                self.lateness.add(late)
                skip = late > SKIP_AFTER_S
                self.skipped += skip
                self._play_step(index, deadline, silent=skip)

    def _bar(self, tick: int) -> None:
        """A bar line: switch to a queued pattern, follow the song, tell bar listeners."""
        self._next_bar = tick + TICKS_PER_BAR
        switch_to = self._queued
        if switch_to is None and self.bank.song and tick > self._pattern_tick:
            if tick - self._pattern_tick >= self._pattern_ticks(self.pattern):
                self._song_index = (self._song_index + 1) % len(self.bank.song)
                switch_to = self.bank.song[self._song_index]
        if switch_to is not None:
            self._queued = None
            self._switch_pattern(switch_to)
            self._pattern_tick = tick
            self._step_numbers = [0] * len(self.pattern.tracks)
            self._playheads = [-1] * len(self.pattern.tracks)
            self._emit_pattern()
        bar = self._bar_number
        self._bar_number += 1
        for listener in list(self.bar_listeners):
            try:
                listener(bar)
            except Exception as err:
                self._warn.warn(f"bar:{listener!r}", f"sequencer: bar listener failed: {err}")

    @staticmethod
    def _pattern_ticks(pattern: Pattern) -> int:
        longest = max(t.length * ticks_per_step(t.steps_per_beat) for t in pattern.tracks)
        return math.ceil(longest / TICKS_PER_BAR) * TICKS_PER_BAR

    def _switch_pattern(self, index: int) -> None:
        if index != self._pattern:
            self.ghosts.clear()
        self._pattern = index
        count = len(self.pattern.tracks)
        self._track = min(self._track, count - 1)
        self._cursor = min(self._cursor, self.pattern.tracks[self._track].length - 1)
        if len(self._step_numbers) != count:
            self._step_numbers = [0] * count
            self._playheads = [-1] * count

    def _audible(self, track: Track) -> bool:
        if track.muted:
            return False
        if any(t.solo for t in self.pattern.tracks):
            return track.solo
        return True

    def _play_step(self, index: int, deadline: float, silent: bool = False) -> None:
        track = self.pattern.tracks[index]
        number = self._step_numbers[index]
        self._step_numbers[index] = number + 1
        position = number % track.length
        self._playheads[index] = position
        if index == self._track:
            self._emit("playhead", step=position, steps=list(self._playheads))
        if silent or not self._audible(track):
            return
        step = track.steps[position]
        step_s = ticks_per_step(track.steps_per_beat) * self.timeline.tick_s
        if step.on:
            if step.probability < 1.0 and self.rng.random() >= step.probability:
                return
            for control, value in step.cc.items():
                self._send(index, track, [CONTROL_CHANGE | (track.channel - 1), control, value])
            self._notes_on(index, track, step.notes, step.velocity, deadline, step.gate * step_s)
        elif index == self.model_track and position in self.ghosts:
            ghost = self.ghosts[position]  # heard before it is accepted
            gate = self.model_gate * step_s
            self._notes_on(index, track, ghost.notes, ghost.velocity, deadline, gate, model=True)

    # ------------------------------------------------------------ notes
    def _send(self, index: int, track: Track, message: list[int]) -> None:
        try:
            self.output(index, track, message)
        except Exception as err:  # a broken output must not stop the clock
            self._warn.warn(f"out:{track.port}", f"sequencer: output {track.port!r}: {err}")

    def _send_clock(self, message: list[int]) -> None:
        if self.clock_source == "master" and self.clock_output is not None:
            try:
                self.clock_output(message)
            except Exception as err:
                self._warn.warn("clock", f"sequencer: sending MIDI clock: {err}")

    def _notes_on(
        self,
        index: int,
        track: Track,
        notes: tuple[int, ...],
        velocity: int,
        deadline: float,
        length_s: float,
        model: bool = False,
    ) -> None:
        channel = track.channel - 1
        for note in notes:
            key = (index, channel, note)
            if key in self._sounding:  # retrigger: end the old note first
                self._end_note(key)
            self._send(index, track, [NOTE_ON | channel, note, velocity])
            off_at = deadline + length_s
            handle = self.clock.call_at(off_at, self._note_off_due, key, off_at)
            self._sounding[key] = (handle, model, track)

    def _note_off_due(self, key: tuple[int, int, int], deadline: float) -> None:
        self.lateness.add(self.clock.now() - deadline)
        sounding = self._sounding.pop(key, None)
        if sounding is not None:
            self._note_off(key, sounding[2])

    def _note_off(self, key: tuple[int, int, int], track: Track) -> None:
        index, channel, note = key
        self._send(index, track, [NOTE_OFF | channel, note, 0])

    def _end_note(self, key: tuple[int, int, int]) -> None:
        handle, _, track = self._sounding.pop(key)
        handle.cancel()
        self._note_off(key, track)

    def _release(self, model_only: bool) -> None:
        for handle in self._model_pending:
            handle.cancel()
        self._model_pending.clear()
        for key, (_, model, _) in list(self._sounding.items()):
            if model or not model_only:
                self._end_note(key)

    def release_model(self) -> None:
        """The model stops: drop its queued notes and end the ones sounding."""
        self._release(model_only=True)

    def release_all(self) -> None:
        self._release(model_only=False)

    # ------------------------------------------------------------ MIDI clock in
    def clock_message(
        self, message: list[int] | tuple[int, ...], when: float | None = None
    ) -> None:
        """A realtime message from the master (follow mode); ``when`` = arrival time."""
        if self.clock_source != "follow" or not message:
            return
        self.clock_messages_in += 1
        when = self.clock.now() if when is None else when
        status = message[0]
        if status == midiclock.CLOCK:
            bpm = self.estimator.tick(when)
            if bpm is not None and abs(bpm - self.timeline.bpm) > 1e-6:
                changed = abs(bpm - self.timeline.bpm) > 0.5
                self.timeline.bpm = min(max(bpm, 1.0), 1000.0)
                if changed:
                    self._emit("tempo", tempo=round(self.timeline.bpm, 2), swing=self.swing)
            if not self._playing:
                return
            self._follow_tick += 1
            self.timeline.anchor(when, self._follow_tick)
            self._cancel_timer()
            self._run_due(self._follow_tick)
            self._schedule()
        elif status == midiclock.START:
            self._halt()
            self.estimator.reset()
            if self.bank.song:
                self._song_index = 0
                self._switch_pattern(self.bank.song[0])
            self._locate(0)
            self._follow_tick = -1
            self._playing = True
            self._emit("transport", playing=True, state="start")
        elif status == midiclock.CONTINUE:
            if not self._playing:
                self._locate(self._follow_tick + 1)
                self._playing = True
                self._emit("transport", playing=True, state="continue")
        elif status == midiclock.STOP:
            if self._playing:
                self._halt()
                self._emit("transport", playing=False, state="stop")
        elif status == midiclock.SONG_POSITION and len(message) == 3:
            tick = midiclock.read_song_position(message) * midiclock.TICKS_PER_SIXTEENTH
            self._follow_tick = tick - 1
            self._locate(tick)

    # ------------------------------------------------------------ selection
    def select_pattern(self, index: int) -> None:
        """Switch pattern now when stopped, at the next bar line when playing.

        The index one past the last makes a new empty pattern with the same tracks.
        """
        index = _integer(index, "pattern")
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
        if self._playing:
            self._queued = index
        else:
            self._switch_pattern(index)
            self._locate(0)
        self._emit_pattern()

    def add_pattern(self, pattern: Pattern) -> int:
        """Append ``pattern`` (e.g. imported from a MIDI file) and select it; its index."""
        count = len(self.bank.patterns)
        if count >= MAX_PATTERNS:
            raise CommandError(f"the bank is full ({MAX_PATTERNS} patterns)")
        try:
            pattern.validate(f"pattern {count}")
        except PatternError as err:
            raise CommandError(str(err)) from None
        self.bank.patterns.append(pattern)
        self.select_pattern(count)
        return count

    def select_track(self, index: int) -> None:
        self._track = self._track_index(index)
        self._cursor = min(self._cursor, self.pattern.tracks[self._track].length - 1)
        self._emit_pattern()

    def set_edit_mode(self, mode: str) -> None:
        self._edit_mode = self._check_mode(mode)
        self._emit_pattern()

    def set_recording(self, on: bool) -> None:
        """Live mode: keyboard notes are written at the playhead while this is on."""
        self.recording = bool(on)
        self._emit_pattern()

    def set_cursor(self, step: int) -> None:
        self._cursor = self._step_index(self._track, step)
        self._emit_pattern()

    def set_song(self, song: list[int]) -> None:
        count = len(self.bank.patterns)
        indexes = [_integer(i, "song entry") for i in song]
        if any(not 0 <= i < count for i in indexes):
            raise CommandError(f"song entries must be pattern indexes 0-{count - 1}")
        self.bank.song = indexes
        self._emit_pattern()

    def _emit_pattern(self) -> None:
        self._emit(
            "pattern",
            selected_pattern=self._pattern,
            selected_track=self._track,
            queued_pattern=self._queued,
            edit_mode=self._edit_mode,
            recording=self.recording,
            cursor=self._cursor,
        )

    # ------------------------------------------------------------ editing
    def _remember(self, track: int) -> None:
        self._undo.append((self._pattern, track, self.pattern.tracks[track].copy()))

    def _edited(self, track: int, step: int) -> None:
        data = self.pattern.tracks[track].steps[step].to_dict()
        self._emit("edit", track=track, step=step, step_data=data)

    def toggle_step(self, track: int, step: int) -> None:
        track = self._track_index(track)
        step = self._step_index(track, step)
        self._remember(track)
        target = self.pattern.tracks[track].steps[step]
        target.on = not target.on
        self._edited(track, step)
        if target.on:
            self._gesture(target)

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
        track = self._track_index(track)
        step = self._step_index(track, step)
        changed = self.pattern.tracks[track].steps[step].copy()
        try:
            if on is not None:
                changed.on = bool(on)
            if notes is not None:
                if isinstance(notes, int | float) and not isinstance(notes, bool):
                    notes = (_integer(notes, "note"),)
                changed.notes = tuple(_integer(n, "note") for n in notes)
            if velocity is not None:
                changed.velocity = _integer(velocity, "velocity")
            if gate is not None:
                changed.gate = _number(gate, "gate")
            if probability is not None:
                changed.probability = _number(probability, "probability")
            changed.validate(f"track {track} step {step}")
        except PatternError as err:
            raise CommandError(str(err)) from None
        self._remember(track)
        self.pattern.tracks[track].steps[step] = changed
        self._edited(track, step)
        if changed.on:
            self._gesture(changed)

    def mute(self, track: int, on: bool | None = None) -> None:
        index = self._track_index(track)
        target = self.pattern.tracks[index]
        self._remember(index)
        target.muted = (not target.muted) if on is None else bool(on)
        self._silence_if_inaudible()
        self._emit("edit", track=index, step=-1, muted=target.muted, solo=target.solo)

    def solo(self, track: int, on: bool | None = None) -> None:
        index = self._track_index(track)
        target = self.pattern.tracks[index]
        self._remember(index)
        target.solo = (not target.solo) if on is None else bool(on)
        self._silence_if_inaudible()
        self._emit("edit", track=index, step=-1, muted=target.muted, solo=target.solo)

    def _silence_if_inaudible(self) -> None:
        for key in list(self._sounding):
            if key[0] < len(self.pattern.tracks) and not self._audible(self.pattern.tracks[key[0]]):
                self._end_note(key)

    def undo(self) -> None:
        if not self._undo:
            raise CommandError("nothing to undo")
        pattern, track, saved = self._undo.pop()
        if pattern >= len(self.bank.patterns) or track >= len(self.bank.patterns[pattern].tracks):
            return
        self.bank.patterns[pattern].tracks[track] = saved
        if pattern == self._pattern:
            self._emit("edit", track=track, step=-1, muted=saved.muted, solo=saved.solo)

    @property
    def undo_depth(self) -> int:
        return len(self._undo)

    def record_note(self, note: int, velocity: int) -> None:
        """A keyboard note: written at the cursor (step mode) or the playhead (live, recording)."""
        note = _integer(note, "note")
        velocity = _integer(velocity, "velocity")
        if not 0 <= note <= 127 or not 1 <= velocity <= 127:
            raise CommandError(f"note must be 0-127 and velocity 1-127, got {note} {velocity}")
        track_index = self._track
        track = self.pattern.tracks[track_index]
        now = self.clock.now()
        written = None
        if self._edit_mode == "step":
            written = self._record_step(track_index, track, note, velocity, now)
        else:
            gate_s = ticks_per_step(track.steps_per_beat) * self.timeline.tick_s
            self._notes_on(track_index, track, (note,), velocity, now, gate_s)
            if self.recording and self._playing:
                written = self._nearest_step(track_index, now)
                self._remember(track_index)
                step = track.steps[written]
                step.on, step.notes, step.velocity = True, (note,), velocity
        if written is not None:
            self._edited(track_index, written)
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
        position = self._cursor % track.length
        self._remember(index)
        step = track.steps[position]
        step.on, step.notes, step.velocity = True, (note,), velocity
        self._cursor = (position + 1) % track.length
        self._last_step_note = (now, index, position)
        self._emit_pattern()
        return position

    def _nearest_step(self, index: int, now: float) -> int:
        track = self.pattern.tracks[index]
        tps = ticks_per_step(track.steps_per_beat)
        offset = self.timeline.tick_at(now) - self._pattern_tick
        return round(offset / tps) % track.length

    def _gesture(self, step: Step) -> None:
        if self.on_gesture is not None:
            self.on_gesture(step.notes[0], step.velocity, dict(step.cc))

    # ------------------------------------------------------------ the model
    def next_boundary(self, track_index: int, now: float) -> tuple[float, int]:
        """The time and step index of the next step boundary of a track, swing included."""
        track = self.pattern.tracks[track_index]
        spb = track.steps_per_beat
        tps = ticks_per_step(spb)
        offset = self.timeline.tick_at(now) - self._pattern_tick
        number = max(0, math.ceil(offset / tps - 1e-9))
        while True:
            tick = self._pattern_tick + number * tps + swing_ticks(number, spb, self.swing)
            if self.timeline.time_at(tick) >= now - 1e-9:
                return self.timeline.time_at(tick), number % track.length
            number += 1

    def place_model_note(
        self, notes: tuple[int, ...], velocity: int, cc: dict[int, int] | None = None
    ) -> None:
        """A prediction: a ghost, or a note quantised toward the next step of the model track."""
        if not 0 <= self.model_track < len(self.pattern.tracks):
            return
        index = self.model_track
        track = self.pattern.tracks[index]
        now = self.clock.now()
        cc = cc or {}
        if not self._playing:
            gate_s = self.model_gate * 60.0 / (self.tempo * track.steps_per_beat)
            self._model_sound(index, notes, velocity, cc, now, gate_s)
            return
        boundary, step = self.next_boundary(index, now)
        if self.ghost_steps > 0:
            self.ghosts[step] = _Ghost(tuple(notes), velocity, dict(cc))
            while len(self.ghosts) > self.ghost_steps:
                del self.ghosts[next(iter(self.ghosts))]
            self._emit("ghosts", ghosts=self.ghost_list())
            return
        when = now + (boundary - now) * self.quantise / 100.0
        gate_s = self.model_gate * ticks_per_step(track.steps_per_beat) * self.timeline.tick_s
        handle: Handle | None = None

        def due() -> None:
            self._model_pending.discard(handle)
            self.lateness.add(self.clock.now() - when)
            self._model_sound(index, notes, velocity, cc, when, gate_s)

        handle = self.clock.call_at(when, due)
        self._model_pending.add(handle)

    def _model_sound(
        self,
        index: int,
        notes: tuple[int, ...],
        velocity: int,
        cc: dict[int, int],
        when: float,
        gate_s: float,
    ) -> None:
        if index >= len(self.pattern.tracks):
            return
        track = self.pattern.tracks[index]
        if not self._audible(track):
            return
        for control, value in cc.items():
            self._send(index, track, [CONTROL_CHANGE | (track.channel - 1), control, value])
        self._notes_on(index, track, tuple(notes), velocity, when, gate_s, model=True)

    def ghost_list(self) -> list[dict[str, Any]]:
        return [
            {
                "track": self.model_track,
                "step": step,
                "notes": list(g.notes),
                "velocity": g.velocity,
            }
            for step, g in sorted(self.ghosts.items())
        ]

    def accept_ghosts(self) -> None:
        """Write the ghosts into the model track: one undo entry for all of them."""
        if not self.ghosts:
            raise CommandError("no ghost steps to accept")
        index = self.model_track
        self._remember(index)
        track = self.pattern.tracks[index]
        for position, ghost in self.ghosts.items():
            if position < track.length:
                step = track.steps[position]
                step.on, step.notes, step.velocity = True, ghost.notes, ghost.velocity
                step.cc.update(ghost.cc)
        self.ghosts.clear()
        self._emit("edit", track=index, step=-1, muted=track.muted, solo=track.solo)
        self._emit("ghosts", ghosts=[])

    def reject_ghosts(self) -> None:
        self.ghosts.clear()
        self._emit("ghosts", ghosts=[])

    # ------------------------------------------------------------ state
    def load_bank(self, bank: Bank) -> None:
        """Replace every pattern (e.g. loaded from a file); stops first."""
        bank.validate()
        if self._playing:
            self._halt()
        self.bank = bank
        self._pattern = 0
        self._queued = None
        self._track = 0
        self._cursor = 0
        self._undo.clear()
        self.ghosts.clear()
        self._locate(0)
        self._emit_pattern()

    def snapshot(self) -> dict[str, Any]:
        source = self.clock_source
        estimate = self.estimator.bpm if source == "follow" else None
        return {
            "tempo": round(self.tempo, 3),
            "swing": self.swing,
            "playing": self._playing,
            "edit_mode": self._edit_mode,
            "recording": self.recording,
            "cursor": self._cursor,
            "selected_pattern": self._pattern,
            "queued_pattern": self._queued,
            "selected_track": self._track,
            "playhead": self.playhead,
            "playheads": list(self._playheads) if self._playing else [],
            "patterns": [p.name for p in self.bank.patterns],
            "song": list(self.bank.song),
            "pattern": self.pattern.to_dict(),
            "ghosts": self.ghost_list(),
            "undo": len(self._undo),
            "lateness": self.lateness.as_dict(),
            "clock": {
                "source": source,
                "bpm_estimate": round(estimate, 3) if estimate is not None else None,
                "messages_in": self.clock_messages_in,
                "lateness": self.clock_lateness.as_dict() if source == "master" else None,
            },
            "skipped": self.skipped,
        }
