"""Ableton Link through aalink: the one module that touches the binding.

Thin on purpose. A ``LinkSession`` joins the session, reads the beat
against the event loop's clock (``impsy.sequencer.linktime.Reading``),
sets the tempo, starts and stops, and passes on what the session says
(tempo, peers, start/stop) as calls on the loop: aalink runs its callbacks
with ``call_soon_threadsafe``, so they arrive like any other event. What
the sequencer does with all that is ``impsy.sequencer.linkfollow``.

aalink is an optional dependency (the ``link`` extra) imported only when a
session opens, so ``impsy run`` without ``clock = "link"`` never loads it;
``check_available`` lets the config check refuse a Link config without it
before anything starts.

Link finds its peers by multicast on every network the machine is on. With
``IMPSY_LINK_PRIVATE_NET`` set (the tests set it), a session refuses to be
enabled unless the process sits in a network namespace of its own whose
only interface is the loopback (``unshare -rn``), so no test's Link
traffic can leave the machine.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import socket
from collections.abc import Callable
from typing import Any

from impsy.errors import ImpsyError
from impsy.sequencer.linktime import Reading, best, clock_offset

EXTRA = "pip install 'impsy[link]'"
PRIVATE_NET_ENV = "IMPSY_LINK_PRIVATE_NET"
READINGS = 3
"""Readings per ``read``; the narrowest bracket wins."""


def available() -> bool:
    """Whether aalink is installed (without importing it)."""
    return importlib.util.find_spec("aalink") is not None


def check_available(where: str) -> None:
    """Refuse a Link clock without aalink, naming ``where`` (the config key)."""
    if not available():
        raise ImpsyError(
            f'{where}: clock = "link" needs Ableton Link\'s binding aalink, which is not '
            f"installed; {EXTRA}, or choose another clock"
        )


def private_network() -> bool:
    """Whether this process's network namespace has no interface but the loopback."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def check_network() -> None:
    """With ``IMPSY_LINK_PRIVATE_NET`` set, refuse to join outside a private namespace."""
    if os.environ.get(PRIVATE_NET_ENV) and not private_network():
        raise ImpsyError(
            f"{PRIVATE_NET_ENV} is set but this process can reach other networks; "
            "run it under `unshare -rn` (loopback up, multicast on) to use Link"
        )


class LinkSession:
    """One Link peer: the session's beat, tempo, peers and start/stop, on the loop."""

    def __init__(
        self,
        bpm: float,
        quantum: int,
        start_stop_sync: bool,
        now: Callable[[], float],
    ) -> None:
        self.bpm = bpm
        self.quantum = quantum
        self.start_stop_sync = start_stop_sync
        self.now = now
        """The loop's clock (``Clock.now``): readings are on it."""
        self.on_tempo: Callable[[float], None] = _ignore
        self.on_peers: Callable[[int], None] = _ignore
        self.on_playing: Callable[[bool], None] = _ignore
        self._link: Any = None

    @property
    def is_open(self) -> bool:
        return self._link is not None

    def open(self, *, enable: bool = True) -> None:
        """Make the peer on the running loop and join the session (``enable``).

        A session not enabled keeps its own timeline and talks to nobody:
        what tests on an open network use.
        """
        import aalink

        if enable:
            check_network()
        link = aalink.Link(self.bpm)
        link.quantum = self.quantum
        link.start_stop_sync_enabled = self.start_stop_sync
        link.add_tempo_callback(self._tempo)
        link.add_num_peers_callback(self._peers)
        link.add_start_stop_callback(self._playing)
        self._link = link
        link.enabled = enable

    def close(self) -> None:
        """Leave the session; the binding's thread stops with the peer."""
        link, self._link = self._link, None
        if link is not None:
            link.enabled = False
            link.remove_tempo_callback(self._tempo)
            link.remove_num_peers_callback(self._peers)
            link.remove_start_stop_callback(self._playing)

    # ------------------------------------------------------------ reading
    def read(self) -> Reading:
        """The beat and tempo now, bracketed by the loop's clock (the best of a few)."""
        link, now = self._link, self.now
        for _ in range(READINGS):
            tempo = link.tempo
            readings = []
            for _ in range(READINGS):
                before = now()
                beat = link.beat
                readings.append(Reading(before, beat, now(), tempo))
            if link.tempo == tempo:  # no tempo change in between
                break
        return best(readings)

    @property
    def peers(self) -> int:
        return int(self._link.num_peers) if self._link is not None else 0

    @property
    def tempo(self) -> float:
        return float(self._link.tempo)

    @property
    def playing(self) -> bool:
        """The session's start/stop state (this peer's own while sync is off)."""
        return bool(self._link.playing)

    def link_time(self, when: float) -> datetime.timedelta:
        """Loop time ``when`` on Link's clock, as the binding takes times."""
        link, now = self._link, self.now
        offsets = []
        for _ in range(READINGS):
            before = now()
            link_s = link.time.total_seconds()
            after = now()
            offsets.append((after - before, clock_offset(before, link_s, after)))
        return datetime.timedelta(seconds=when - min(offsets)[1])

    # ------------------------------------------------------------ changing it
    def set_tempo(self, bpm: float) -> None:
        """The session's tempo, for every peer; the beat now stays where it is."""
        self._link.tempo = bpm

    def start_at(self, when: float) -> None:
        """Playing from loop time ``when``, beat 0 there, or at the session's next
        phase 0 after it when others are in the session (Link keeps the phase)."""
        self._link.set_is_playing_and_request_beat_at_time(True, self.link_time(when), 0)

    def beat_zero_at_start(self) -> None:
        """Number the beats from the session's start (its next phase 0 after it)."""
        self._link.request_beat_at_start_playing_time(0)

    def set_playing(self, playing: bool) -> None:
        self._link.playing = playing

    # ------------------------------------------------------------ the binding's calls
    def _tempo(self, bpm: float) -> None:
        if self._link is not None:
            self.on_tempo(float(bpm))

    def _peers(self, count: int) -> None:
        if self._link is not None:
            self.on_peers(int(count))

    def _playing(self, playing: bool) -> None:
        if self._link is not None:
            self.on_playing(bool(playing))


def _ignore(_: object) -> None:
    """No listener yet."""
