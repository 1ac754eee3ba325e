"""OSC time tags: impsy's loop clock as NTP time, bundles, and events sent ahead.

A receiver that honours time tags (SuperCollider's server, for one) plays a
bundle at the instant its tag names however long the network took, as long
as it arrives before then. So an output with a look-ahead sends each event
that much before it is due, in a bundle stamped with when it is due: the
network's and the host's jitter, up to the look-ahead, vanish at the
receiver. ``TimedSender`` does that on an absolute deadline, ``due - ahead``.

The mapping (``WallClock``). A time tag is NTP time: seconds since 1900 as
32.32 fixed point, on the wall clock. impsy's deadlines are on the event
loop's clock (``loop.time()``, CLOCK_MONOTONIC). Their difference is read as
a wall-clock reading taken between two loop-clock readings; the tightest of
``SAMPLES`` such brackets is kept, and half its width bounds the mapping's
error (``error_ns``: about 0.1 µs on the development VM; the tags' rounding
adds at most 0.12 ns). On Linux, NTP's frequency corrections slew
the monotonic and the wall clock alike, so the difference only changes when
the wall clock is *stepped* (set by hand, a first sync after boot); it is
read again every ``REFRESH_S``, so tags follow a step within that. A
receiver on another host compares the tags with its own wall clock: how far
the two hosts' clocks disagree (NTP on a LAN: typically well under a
millisecond; PTP: microseconds) adds to the error, and impsy cannot see it.

What leaves when (``TimedSender.send``): an event whose due time is still
ahead goes as a bundle stamped with it, at ``due - ahead`` or at once if that
has passed; an event already due (an immediate answer, an echo, a step the
scheduler hands over on time) goes as a plain message, played on arrival as
before: a tag in the past says nothing a receiver can use, and
SuperCollider's server reports each one as late.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

from impsy.clock import Clock, Handle
from impsy.io.osc_guard import BUNDLE_PREFIX

NTP_UNIX_OFFSET_S = 2_208_988_800
"""Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01)."""
SAMPLES = 5
"""Brackets read for each mapping; the tightest is kept."""
REFRESH_S = 1.0
"""The mapping is read again when it is older than this (a step of the wall clock)."""

_NS = 1_000_000_000
_SIZE = struct.Struct(">I")
_TAG = struct.Struct(">Q")


def ntp_timetag(unix_ns: int) -> int:
    """The 64-bit NTP time tag of a Unix time in nanoseconds, rounded to the nearest 2^-32 s."""
    ntp_ns = unix_ns + NTP_UNIX_OFFSET_S * _NS
    return ((ntp_ns << 32) + _NS // 2) // _NS


def unix_ns_of(timetag: int) -> int:
    """The Unix time in nanoseconds a time tag names (the inverse of ``ntp_timetag``)."""
    return ((timetag * _NS + (1 << 31)) >> 32) - NTP_UNIX_OFFSET_S * _NS


def encode_bundle(timetag: int, *elements: bytes) -> bytes:
    """An OSC bundle of already encoded messages (or bundles), stamped ``timetag``."""
    parts = [BUNDLE_PREFIX, _TAG.pack(timetag)]
    for element in elements:
        parts += [_SIZE.pack(len(element)), element]
    return b"".join(parts)


class WallClock:
    """Maps the loop clock (seconds) to the wall clock: ``timetag(due)``.

    ``now`` is the loop clock (``Clock.now``), ``wall_ns`` the wall clock
    (``time.time_ns``); both injectable so the mapping is tested exactly.
    """

    def __init__(
        self,
        now: Callable[[], float],
        wall_ns: Callable[[], int] = time.time_ns,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self._now = now
        self._wall_ns = wall_ns
        self.refresh_s = refresh_s
        self.offset_ns = 0
        """Wall clock minus loop clock, in nanoseconds."""
        self.error_ns = 0.0
        """Half the width of the bracket the offset was read in: its error bound."""
        self.read_at = -float("inf")
        """When (loop clock) the offset was last read."""

    def read(self) -> None:
        """Read the offset again: the tightest of ``SAMPLES`` brackets."""
        best: tuple[float, int, float] | None = None
        for _ in range(SAMPLES):
            before = self._now()
            wall = self._wall_ns()
            after = self._now()
            width = after - before
            if best is None or width < best[0]:
                best = (width, wall, (before + after) / 2)
        assert best is not None
        width, wall, middle = best
        self.offset_ns = wall - round(middle * _NS)
        self.error_ns = width * _NS / 2
        self.read_at = middle

    def unix_ns(self, loop_time: float) -> int:
        """The wall-clock time (Unix, ns) of an instant on the loop clock."""
        if self._now() - self.read_at > self.refresh_s:
            self.read()
        return round(loop_time * _NS) + self.offset_ns

    def timetag(self, loop_time: float) -> int:
        """The NTP time tag of an instant on the loop clock."""
        return ntp_timetag(self.unix_ns(loop_time))


class TimedSender:
    """Sends encoded OSC messages due at a loop-clock instant, ``ahead`` seconds early.

    ``sendto(datagram)`` puts one datagram on the wire; the early sends are
    deadlines on ``clock`` (``call_at``), so work that waits for room before
    the next deadline (the model predicting ahead) keeps clear of them.
    """

    def __init__(self, clock: Clock, wall: WallClock, sendto: Callable[[bytes], None]) -> None:
        self.clock = clock
        self.wall = wall
        self.sendto = sendto

    def send(self, message: bytes, due: float, ahead_s: float) -> Handle | None:
        """``message`` due at ``due``: stamped with it and sent ``ahead_s`` before, see the
        module doc. Returns the handle of a send still waiting (cancel it to withdraw the
        event), or None when it has gone."""
        now = self.clock.now()
        if ahead_s <= 0 or due <= now:
            self.sendto(message)
            return None
        bundle = encode_bundle(self.wall.timetag(due), message)
        at = due - ahead_s
        if at <= now:
            self.sendto(bundle)
            return None
        return self.clock.call_at(at, self.sendto, bundle)
