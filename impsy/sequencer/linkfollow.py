"""Ableton Link in: with ``clock = "link"`` the session's timeline moves the transport.

The transport keeps scheduling on its own timer; what Link changes is the
tempo anchor it schedules from. Every ``RESYNC_S`` (and at once when the
session's tempo changes, or impsy changes it) a fresh reading of Link's
beat re-anchors the timeline at ``tick = (beat - origin) * 24``
(``impsy.sequencer.linktime``). Link changes tempo without moving the beat
at that instant, so neither does impsy: the grid carries on from where it
is, at the new speed. The model's notes are placed on the same timeline, so
they follow too.

Start, stop, continue and tempo requests (``Transport.session``):

- start: playing from beat 0 at the session's next phase 0 (at once when
  alone), which is tick 0: the bar lines sit on phase 0 of the quantum;
- stop: stops here; with start/stop sync the session stops too;
- continue: from where stop left off, rounded up to a whole quantum, at
  the session's next phase 0;
- tempo: the session's tempo, for every peer.

With start/stop sync on (``link_start_stop``), the session's start and stop
start and stop impsy; a start that impsy hears of late (it joined a
session already playing, or the news took a moment) plays on from the
session's position, numbering beats from the session's start.
"""

from __future__ import annotations

from typing import Any

from impsy.clock import Clock, Handle
from impsy.sequencer import linktime
from impsy.sequencer.events import Notifier
from impsy.sequencer.link import LinkSession
from impsy.sequencer.linktime import Reading
from impsy.sequencer.transport import SKIP_AFTER_S, START_DELAY_S, Transport

RESYNC_S = 0.1
"""How often the timeline is re-anchored on Link's: the loop's clock and Link's may
differ in rate by parts per million, a few microseconds in this time."""
EMIT_TEMPO_CHANGE = 0.005
"""Listeners hear of a session tempo that moved by more than this (BPM)."""


class LinkFollower:
    """The transport on Link's timeline: start, stop and tempo through the session."""

    def __init__(
        self,
        transport: Transport,
        events: Notifier,
        session: LinkSession,
        clock: Clock,
    ) -> None:
        self.transport = transport
        self.events = events
        self.session = session
        self.clock = clock
        self.origin = 0.0
        """The Link beat at impsy's tick 0."""
        self.peers = 0
        self.reading: Reading | None = None
        """The last reading of the session."""
        self._timer: Handle | None = None
        self._told_bpm: float | None = None

    @property
    def quantum(self) -> int:
        return self.session.quantum

    @property
    def start_stop_sync(self) -> bool:
        return self.session.start_stop_sync

    def open(self) -> None:
        """Listen to the session and put the timeline on it (the session is open)."""
        session = self.session
        session.on_tempo = self._tempo_changed
        session.on_peers = self._peers_changed
        session.on_playing = self._playing_changed
        self.transport.session = self
        self.peers = session.peers
        self._told_bpm = None
        self.resync()

    def close(self) -> None:
        """Stop here without stopping the session (others play on), and stop listening."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.transport.stopped()
        if self.transport.session is self:
            self.transport.session = None

    # ------------------------------------------------------------ the timeline
    def resync(self) -> Reading:
        """Re-anchor the transport's timeline on a fresh reading of the session."""
        if self._timer is not None:
            self._timer.cancel()
        reading = self._read()
        self.transport.reschedule()
        self._timer = self.clock.call_background(RESYNC_S, self._periodic)
        if self._told_bpm is None or abs(reading.tempo - self._told_bpm) > EMIT_TEMPO_CHANGE:
            self._told_bpm = reading.tempo
            self.events.emit("tempo", tempo=round(reading.tempo, 3), swing=self.transport.swing)
        return reading

    def _read(self) -> Reading:
        """A reading, put on the transport's timeline (no rescheduling)."""
        reading = self.reading = self.session.read()
        timeline = self.transport.timeline
        timeline.t0, timeline.tick0 = linktime.anchor(reading, self.origin)
        timeline.bpm = reading.tempo
        return reading

    def _periodic(self) -> None:
        self._timer = None
        if self.session.is_open:
            self.resync()

    # ------------------------------------------------------------ impsy's requests
    def start(self) -> None:
        """Beat 0 at the session's next phase 0 (now when alone): tick 0 there."""
        transport = self.transport
        self.session.start_at(self.clock.now() + START_DELAY_S + transport.lead_s)
        self._begin(join=False)

    def stop(self) -> None:
        if self.start_stop_sync:
            self.session.set_playing(False)
        self.transport.stopped()

    def continue_(self) -> None:
        transport = self.transport
        if transport.playing:
            return
        when = self.clock.now() + START_DELAY_S + transport.lead_s
        beat = linktime.beat_at(self.session.read(), when)
        origin, tick = linktime.continue_origin(beat, transport.stopped_at, self.quantum)
        if self.start_stop_sync:
            self.session.set_playing(True)
        self.origin = origin
        self._read()
        transport.locate(tick)
        transport.resume("continue")
        transport.reschedule()

    def set_tempo(self, bpm: float) -> None:
        self.session.set_tempo(bpm)
        self.resync()

    # ------------------------------------------------------------ the session's news
    def _playing_changed(self, playing: bool) -> None:
        """Start/stop from the session (sync on); stale news (already undone) is ignored."""
        if not self.start_stop_sync or playing != self.session.playing:
            return
        if playing and not self.transport.playing:
            self.session.beat_zero_at_start()
            self._begin(join=True)
        elif not playing and self.transport.playing:
            self.transport.stopped()

    def _tempo_changed(self, bpm: float) -> None:
        self.resync()

    def _peers_changed(self, count: int) -> None:
        self.peers = count
        self.events.emit("link", peers=count)

    def _begin(self, join: bool) -> None:
        """Play from tick 0 = beat 0; joining late, from the session's position now."""
        transport = self.transport
        if transport.playing:
            transport.halt()
        transport.top()
        transport.locate(0)
        self.origin = 0.0
        self._read()
        if join:
            timeline = transport.timeline
            tick_now = timeline.tick_at(self.clock.now() + transport.lead_s)
            first = linktime.join_tick(tick_now, SKIP_AFTER_S / timeline.tick_s)
            if first > 0:
                transport.locate(first)
        transport.resume("start")
        transport.reschedule()

    # ------------------------------------------------------------ what it shows
    def status(self) -> dict[str, Any]:
        """Peers, tempo, beat and phase now, the quantum and start/stop sync."""
        reading = self.session.read() if self.session.is_open else self.reading
        beat = linktime.beat_at(reading, self.clock.now()) if reading is not None else 0.0
        return {
            "peers": self.peers,
            "tempo": round(reading.tempo, 3) if reading is not None else None,
            "beat": round(beat, 4),
            "phase": round(linktime.phase(beat, self.quantum), 4),
            "quantum": self.quantum,
            "start_stop_sync": self.start_stop_sync,
            "session_playing": self.session.playing if self.session.is_open else False,
        }
