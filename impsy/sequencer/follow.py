"""MIDI clock in: with ``clock = "follow"`` the master's messages move the transport.

There is no internal tempo then: each incoming tick (24 per beat) is a
position, and steps fire on the tick they fall on. Swung steps fall between
ticks, so they are timed from the tempo estimated from the ticks
(``impsy.sequencer.midiclock.TempoEstimator``). Start, stop, continue and the
song position pointer do what the master says; the sequencer's own start
and stop refuse (``Transport``).
"""

from __future__ import annotations

from impsy.sequencer import midiclock
from impsy.sequencer.events import Notifier
from impsy.sequencer.transport import Transport

EMIT_TEMPO_CHANGE = 0.5
"""Listeners hear of an estimated tempo that moved by more than this (BPM)."""


class ClockFollower:
    """The last tick that came in, the tempo estimated from the ticks, and a message count."""

    def __init__(self, transport: Transport, events: Notifier) -> None:
        self.transport = transport
        self.events = events
        self.estimator = midiclock.TempoEstimator()
        self.messages_in = 0
        self.tick = -1
        if self.following:
            self._at(-1)

    @property
    def following(self) -> bool:
        return self.transport.clock_source == "follow"

    def message(self, message: list[int] | tuple[int, ...], when: float | None = None) -> None:
        """A realtime message from the master; ``when`` = its arrival time (default now)."""
        if not self.following or not message:
            return
        self.messages_in += 1
        transport = self.transport
        when = transport.clock.now() if when is None else when
        status = message[0]
        if status == midiclock.CLOCK:
            self._estimate(when)
            if transport.playing:
                self._at(self.tick + 1)
                transport.run_to(self.tick, when)
        elif status == midiclock.START:
            transport.halt()
            self.estimator.reset()
            transport.top()
            transport.locate(0)
            self._at(-1)
            transport.resume("start")
        elif status == midiclock.CONTINUE:
            if not transport.playing:
                transport.locate(self.tick + 1)
                transport.resume("continue")
        elif status == midiclock.STOP:
            if transport.playing:
                transport.halt()
                self.events.emit("transport", playing=False, state="stop")
        elif status == midiclock.SONG_POSITION and len(message) == 3:
            tick = midiclock.read_song_position(message) * midiclock.TICKS_PER_SIXTEENTH
            self._at(tick - 1)
            transport.locate(tick)

    def _estimate(self, when: float) -> None:
        """The tempo from this tick's time; listeners hear of a real change."""
        timeline = self.transport.timeline
        bpm = self.estimator.tick(when)
        if bpm is not None and abs(bpm - timeline.bpm) > 1e-6:
            changed = abs(bpm - timeline.bpm) > EMIT_TEMPO_CHANGE
            timeline.bpm = min(max(bpm, 1.0), 1000.0)
            if changed:
                self.events.emit("tempo", tempo=round(timeline.bpm, 2), swing=self.transport.swing)

    def _at(self, tick: int) -> None:
        """``tick`` is the last one in: the transport waits for the next."""
        self.tick = tick
        self.transport.horizon = tick + 1
