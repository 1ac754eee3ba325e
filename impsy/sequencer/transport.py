"""When things happen: the grid, the one timer, bar lines, the song, MIDI clock out.

One scheduler drives everything from one clock (``impsy.clock``): steps,
bar lines and outgoing MIDI clock ticks are events at integer tick positions
(``impsy.sequencer.timeline``); the next one due is the only timer armed,
and when it fires every event due by then runs in order. Each event's
deadline is computed from the tempo anchor, so nothing accumulates: a tempo
change moves the anchor and the grid carries on from where it was. Every
step and clock tick records its lateness; a step so late that the machine
must have stalled is skipped, so the grid keeps its phase and no backlog
bursts out.

A pattern chosen while playing waits for the next bar line, and so does the
song's next pattern. What a due step sounds like is not decided here: the
transport hands ``(track, step, deadline)`` to ``play``.

Following MIDI clock (``impsy.sequencer.follow``), the incoming ticks move
the position and the timer only runs what falls between two ticks (swung
steps): events past ``horizon`` wait for the next tick.

With Ableton Link (``clock = "link"``) the session owns start, stop and
tempo: those requests go to ``session`` (``impsy.sequencer.linkfollow``),
which moves the tempo anchor onto Link's timeline and starts and stops the
transport through the same moves as the MIDI clock follower.

Outputs with a latency offset (or a time-tag look-ahead) are served early:
every event runs ``lead_s`` (the largest) before its musical deadline, and
the deadline handed to ``play`` stays the musical one, so each output sends
at its own time before it (``impsy.sequencer.voices``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Protocol

from impsy.clock import Clock, Handle
from impsy.errors import CommandError
from impsy.ratelimit import RateLimitedWarning
from impsy.sequencer import midiclock
from impsy.sequencer.events import Notifier
from impsy.sequencer.lateness import LatenessStats
from impsy.sequencer.pattern import Pattern, Track
from impsy.sequencer.state import State
from impsy.sequencer.timeline import (
    TICKS_PER_BAR,
    Timeline,
    nearest,
    swing_ticks,
    ticks_per_step,
)
from impsy.sequencer.voices import Voices

CLOCK_SOURCES = ("internal", "master", "follow", "link")
START_DELAY_S = 0.005
"""Start and continue are scheduled this far ahead so the first events are not late."""
SKIP_AFTER_S = 0.05
"""A step this late (a stalled machine) is skipped, not played."""
EARLY_S = 2e-5
"""Output due later than this after the event ran (a smaller latency offset) waits for it."""
BAR, CLOCK_TICK, STEP = 0, 1, 2
"""Kinds of event, in the order they run when due on the same tick."""

StepDue = Callable[[int, int, float], None]
"""A step to sound: (track index, step in the track, deadline)."""


class SessionClock(Protocol):
    """A shared clock that owns start, stop and tempo (Link: ``linkfollow.LinkFollower``)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def continue_(self) -> None: ...

    def set_tempo(self, bpm: float) -> None: ...


def pattern_ticks(pattern: Pattern) -> int:
    """How long a pattern plays in a song: its longest track, rounded up to whole bars."""
    longest = max(t.length * ticks_per_step(t.steps_per_beat) for t in pattern.tracks)
    return math.ceil(longest / TICKS_PER_BAR) * TICKS_PER_BAR


class Transport:
    """Start, stop, tempo and swing, and the scheduler that plays the grid on time."""

    def __init__(
        self,
        state: State,
        clock: Clock,
        voices: Voices,
        events: Notifier,
        lateness: LatenessStats,
        play: StepDue,
        switched: Callable[[], None],
        warn: RateLimitedWarning,
        *,
        tempo: float,
        swing: float,
        clock_source: str = "internal",
        clock_output: Callable[[list[int]], None] | None = None,
    ) -> None:
        if clock_source not in CLOCK_SOURCES:
            raise ValueError(f"clock source {clock_source!r} not in {CLOCK_SOURCES}")
        self.state = state
        self.clock = clock
        self.voices = voices
        self.events = events
        self.lateness = lateness
        self.play = play
        self.switched = switched
        """Called when another pattern becomes the current one."""
        self.timeline = Timeline(tempo)
        self.swing = swing
        self.clock_source = clock_source
        self.clock_output = clock_output
        self._warn = warn
        self.clock_lateness = LatenessStats()
        self.skipped = 0
        self.playing = False
        self.horizon: float | None = None
        """Following: the tick events wait for (the next one to come in); else None."""
        self.session: SessionClock | None = None
        """With ``clock_source = "link"``: the session start, stop and tempo go to."""
        self.lead_s = 0.0
        """Events run this long before their deadline: the largest output latency offset
        (with its time-tag look-ahead, ``Voices.most_ahead``)."""
        self.clock_lead_s = 0.0
        """MIDI clock ticks leave this long before their deadline (the clock ports' offset)."""
        self._ticks_waiting: deque[Handle] = deque()  # in the order they fire
        self.bar_number = 0
        """The number of the next bar line to come (bar 0 starts at the top)."""
        tracks = len(state.pattern.tracks)
        self.playheads: list[int] = [-1] * tracks
        self._step_numbers: list[int] = [0] * tracks
        self._pattern_tick = 0  # where the current pattern began
        self._next_bar = 0
        self._next_clock_tick = 0
        self._position = 0.0  # where stop left off, in ticks
        self._song_index = 0
        self._timer: Handle | None = None

    # ------------------------------------------------------------ transport
    def start(self) -> None:
        """Play from the top of the pattern (or the song)."""
        self._not_following("start")
        if self.clock_source == "link":
            self._session().start()
            return
        if self.playing:
            self.halt()
        self.top()
        self._play_from(0, "start")

    def stop(self) -> None:
        self._not_following("stop")
        if self.clock_source == "link":
            self._session().stop()
            return
        self.stopped()

    def stopped(self) -> None:
        """Stop here, keeping the position for continue; listeners are told."""
        if not self.playing:
            return
        self._position = max(0.0, self.timeline.tick_at(self.clock.now()))
        self.halt()
        self._send_clock([midiclock.STOP])
        self.events.emit("transport", playing=False, state="stop")

    @property
    def stopped_at(self) -> float:
        """The tick where the last stop left off."""
        return self._position

    def continue_(self) -> None:
        """Play on from where stop left off (at the next sixteenth)."""
        self._not_following("continue")
        if self.clock_source == "link":
            self._session().continue_()
            return
        if self.playing:
            return
        self._play_from(math.ceil(self._position / 6) * 6, "continue")

    def set_tempo(self, bpm: float) -> None:
        if self.clock_source == "follow":
            raise CommandError("the tempo follows MIDI clock; change it on the master")
        if self.clock_source == "link":
            self._session().set_tempo(bpm)
            return
        self.timeline.set_tempo(bpm, self.clock.now())
        if self.playing:
            self._schedule()
        self.events.emit("tempo", tempo=bpm, swing=self.swing)

    def set_swing(self, amount: float) -> None:
        self.swing = amount
        if self.playing:
            self._schedule()
        self.events.emit("tempo", tempo=self.timeline.bpm, swing=self.swing)

    def select(self, index: int) -> None:
        """Switch to pattern ``index`` now when stopped, at the next bar line when playing."""
        if self.playing:
            self.state.queued = index
        else:
            self._switch(index)
            self.locate(0)

    def _not_following(self, what: str) -> None:
        if self.clock_source == "follow":
            raise CommandError(f"cannot {what}: the sequencer follows MIDI clock; use the master")

    def _session(self) -> SessionClock:
        if self.session is None:
            raise CommandError("the sequencer has not joined the Link session yet")
        return self.session

    def _play_from(self, tick: int, how: str) -> None:
        now = self.clock.now()
        self.locate(tick)
        if how == "start":
            self._send_clock([midiclock.START])
        else:
            self._send_clock(midiclock.song_position(tick // midiclock.TICKS_PER_SIXTEENTH))
            self._send_clock([midiclock.CONTINUE])
        self.timeline.anchor(now + START_DELAY_S + self.lead_s, tick)
        self.resume(how)
        self._schedule()

    # ------------------------------------------------------- the follower's moves
    def resume(self, how: str) -> None:
        """Playing from here on, after "start" or "continue": listeners are told."""
        self.playing = True
        self.events.emit("transport", playing=True, state=how)

    def halt(self) -> None:
        """Stop playing at once: the timer off, every note released."""
        self.playing = False
        self._cancel_timer()
        for handle in self._ticks_waiting:
            handle.cancel()
        self._ticks_waiting.clear()
        self.voices.release(model_only=False)
        self.playheads = [-1] * len(self.state.pattern.tracks)

    def top(self) -> None:
        """With a song, back to its first pattern."""
        song = self.state.bank.song
        if song:
            self._song_index = 0
            self._switch(song[0])

    def locate(self, tick: int) -> None:
        """Put every counter at ``tick``: the next event of each kind at or after it."""
        if tick < self._pattern_tick or tick == 0:  # located before the pattern began
            self._pattern_tick = 0
        offset = max(0, tick - self._pattern_tick)
        tracks = self.state.pattern.tracks
        self._step_numbers = [math.ceil(offset / ticks_per_step(t.steps_per_beat)) for t in tracks]
        self.playheads = [-1] * len(tracks)
        self._next_bar = math.ceil(tick / TICKS_PER_BAR) * TICKS_PER_BAR
        self.bar_number = self._next_bar // TICKS_PER_BAR
        self._next_clock_tick = tick

    def run_to(self, tick: int, when: float) -> None:
        """Tick ``tick`` arrived at ``when``: run everything due by then, time the rest."""
        self.timeline.anchor(when, tick)
        self._cancel_timer()
        self._run_due(tick)
        self._schedule()

    def reschedule(self) -> None:
        """The anchor moved (a new reading of a shared clock): time the next event again."""
        if self.playing:
            self._schedule()

    # ------------------------------------------------------------ the grid
    def playhead(self, track: int) -> int:
        """The step a track is playing; -1 when stopped."""
        if not self.playing or track >= len(self.playheads):
            return -1
        return self.playheads[track]

    @property
    def last_step_numbers(self) -> tuple[int, ...]:
        """Per track, the number of the step that came due last (see ``Sequencer``)."""
        return tuple(number - 1 for number in self._step_numbers)

    def step_s(self, track: Track) -> float:
        """A step of ``track`` in seconds at the current tempo."""
        return ticks_per_step(track.steps_per_beat) * self.timeline.tick_s

    def nearest_step(self, index: int, now: float) -> int:
        """The step of track ``index`` nearest to ``now`` (before or after it)."""
        track = self.state.pattern.tracks[index]
        offset = self.timeline.tick_at(now) - self._pattern_tick
        return nearest(offset / ticks_per_step(track.steps_per_beat)) % track.length

    def next_boundary(self, index: int, now: float) -> tuple[float, int]:
        """The time and step of the next step boundary of track ``index``, swing included."""
        track = self.state.pattern.tracks[index]
        spb = track.steps_per_beat
        tps = ticks_per_step(spb)
        offset = self.timeline.tick_at(now) - self._pattern_tick
        number = max(0, math.ceil(offset / tps - 1e-9))
        while True:
            tick = self._pattern_tick + number * tps + swing_ticks(number, spb, self.swing)
            if self.timeline.time_at(tick) >= now - 1e-9:
                return self.timeline.time_at(tick), number % track.length
            number += 1

    # ------------------------------------------------------------ scheduling
    def _next_event(self) -> tuple[float, int, int]:
        """(tick, kind, track) of the next event; on the same tick, in the order of kinds."""
        best = (float(self._next_bar), BAR, -1)
        if self.clock_source == "master":
            best = min(best, (float(self._next_clock_tick), CLOCK_TICK, -1))
        for index, track in enumerate(self.state.pattern.tracks):
            number = self._step_numbers[index]
            spb = track.steps_per_beat
            tick = self._pattern_tick + number * ticks_per_step(spb)
            tick += swing_ticks(number, spb, self.swing)
            best = min(best, (tick, STEP, index))
        return best

    def _schedule(self) -> None:
        """Arm the one timer for the next event (following: only before the next tick)."""
        self._cancel_timer()
        if not self.playing:
            return
        tick, _, _ = self._next_event()
        if self.horizon is not None and tick > self.horizon - 1e-9:
            return  # the next incoming tick will run it
        when = self.timeline.time_at(tick) - self._lead()
        self._timer = self.clock.call_at(when, self._on_timer, tick)

    def _lead(self) -> float:
        """How early events run: ``lead_s``, but not following (ticks cannot come early)."""
        return 0.0 if self.horizon is not None else self.lead_s

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self, tick: float) -> None:
        self._timer = None
        self._run_due(tick)
        self._schedule()

    def _run_due(self, upto: float) -> None:
        """Run every event at or before tick ``upto``, in order, recording lateness."""
        now = self.clock.now()
        lead = self._lead()
        while self.playing:
            tick, kind, index = self._next_event()
            if tick > upto + 1e-9:
                return
            deadline = self.timeline.time_at(tick)
            late = now - (deadline - lead)
            if kind == BAR:
                self._bar(int(tick))
            elif kind == CLOCK_TICK:
                self._next_clock_tick += 1
                send_at = deadline - self.clock_lead_s
                if send_at > now + EARLY_S:  # the clock ports' offset is below lead_s
                    self._ticks_waiting.append(
                        self.clock.call_at(send_at, self._tick_waited, send_at)
                    )
                else:
                    self._tick_out(send_at)
            else:
                self.lateness.add(late)
                skip = late > SKIP_AFTER_S
                self.skipped += skip
                self._step(index, deadline, silent=skip)

    def _bar(self, tick: int) -> None:
        """A bar line: switch to a queued pattern, follow the song, tell bar listeners."""
        self._next_bar = tick + TICKS_PER_BAR
        state = self.state
        switch_to = state.queued
        song = state.bank.song
        if switch_to is None and song and tick > self._pattern_tick:
            if tick - self._pattern_tick >= pattern_ticks(state.pattern):
                self._song_index = (self._song_index + 1) % len(song)
                switch_to = song[self._song_index]
        if switch_to is not None:
            state.queued = None
            self._switch(switch_to)
            self._pattern_tick = tick
            self._step_numbers = [0] * len(state.pattern.tracks)
            self.playheads = [-1] * len(state.pattern.tracks)
            self.events.emit("pattern", **state.selection())
        bar = self.bar_number
        self.bar_number += 1
        self.events.bar(bar)

    def _switch(self, index: int) -> None:
        if self.state.switch_pattern(index):
            self.switched()
        count = len(self.state.pattern.tracks)
        if len(self._step_numbers) != count:
            self._step_numbers = [0] * count
            self.playheads = [-1] * count

    def _step(self, index: int, deadline: float, silent: bool) -> None:
        track = self.state.pattern.tracks[index]
        number = self._step_numbers[index]
        self._step_numbers[index] = number + 1
        position = number % track.length
        self.playheads[index] = position
        if index == self.state.track:
            self.events.emit("playhead", step=position, steps=list(self.playheads))
        if not silent:
            self.play(index, position, deadline)

    def _tick_waited(self, send_at: float) -> None:
        self._ticks_waiting.popleft()
        self._tick_out(send_at)

    def _tick_out(self, send_at: float) -> None:
        """A MIDI clock tick leaves. Late ticks are still sent: a follower counts them to
        know where it is."""
        self.clock_lateness.add(self.clock.now() - send_at)
        self._send_clock([midiclock.CLOCK])

    def _send_clock(self, message: list[int]) -> None:
        if self.clock_source == "master" and self.clock_output is not None:
            try:
                self.clock_output(message)
            except Exception as err:
                self._warn.warn("clock", f"sequencer: sending MIDI clock: {err}")
