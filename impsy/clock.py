"""Time for the engine and the sequencer: "now" and "call this at that instant", injectable.

Neither ever sleeps: everything they play is a callback due at an absolute
deadline on one clock. ``LoopClock`` is the real one (the asyncio loop's
monotonic clock); ``ManualClock`` lets tests and the benchmark's dry runs
move time by hand, so every mode's and every pattern's timing is tested
exactly, without waiting.

Nothing here waits actively: precision comes from impsy's event loop
(``impsy.engine.loop``: a selector with microsecond timeouts and a low timer
slack), not from spinning a core before each deadline.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any, Protocol

MIN_DT = 0.001
"""The shortest gap between two events the engine plays, in seconds: a dt at or below zero
would make the network race ahead of the music. One constant for the engine, the model's
guidance and the config's checks, so the three never disagree."""


def _background(callback: Callable[..., object], args: tuple) -> None:
    """What a background timer runs: its callback (the marker ``next_timer_due`` looks for)."""
    callback(*args)


def call_background(
    loop: asyncio.AbstractEventLoop, delay: float, callback: Callable[..., object], *args: object
) -> asyncio.TimerHandle:
    """``loop.call_later`` for work that can wait (a web UI frame, a garbage collection).

    Such a timer is no deadline: ``next_timer_due`` does not count it, so
    other work that can wait is not held back by it.
    """
    return loop.call_later(delay, _background, callback, args)


def next_timer_due(loop: asyncio.AbstractEventLoop) -> float | None:
    """When the earliest live timer on ``loop`` is due (``loop.time()``), or None.

    None also when there is none, or the loop keeps its timers where this
    cannot see them: asyncio's own loops keep them in ``_scheduled``, a heap
    where cancelled ones stay until their time, and move those that fell due
    to ``_ready`` to run them in this turn of the loop (a timer there, still
    to run after the caller, is overdue: its time is in the past). Timers
    armed with ``call_background`` do not count.
    """
    scheduled = getattr(loop, "_scheduled", None)
    ready = getattr(loop, "_ready", None)
    if not scheduled and not ready:
        return None
    try:
        timers = [
            *(scheduled or ()),
            *(h for h in ready or () if isinstance(h, asyncio.TimerHandle)),
        ]
        due = [
            h.when()
            for h in timers
            if not h.cancelled() and getattr(h, "_callback", None) is not _background
        ]
    except (AttributeError, TypeError):
        return None
    return min(due) if due else None


class Handle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the engine and the sequencer need from time.

    Besides deadlines (``call_at``), work that can wait: ``call_background``
    arms a timer that is no deadline, and ``next_due`` says when the next
    deadline is (None when unknown or none), so such work can stay out of its
    way (``impsy.engine.loop``).
    """

    def now(self) -> float: ...

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> Handle: ...

    def call_background(self, delay: float, callback: Callable[..., Any], *args: Any) -> Handle: ...

    def next_due(self) -> float | None: ...


class LoopClock:
    """The asyncio loop's clock."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop given, else the running one (so it can be made before the loop starts)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def now(self) -> float:
        return self.loop.time()

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> Handle:
        return self.loop.call_at(when, callback, *args)

    def call_background(self, delay: float, callback: Callable[..., Any], *args: Any) -> Handle:
        return call_background(self.loop, delay, callback, *args)

    def next_due(self) -> float | None:
        return next_timer_due(self.loop)


class _ManualHandle:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that moves only when told: ``advance``/``run_until`` fire what falls due.

    Each callback runs with ``now()`` equal to its own deadline plus ``delay``
    (0 by default), so tests can also simulate a late machine.
    """

    def __init__(self, start: float = 100.0) -> None:
        self._now = start
        self.delay = 0.0
        self._queue: list[tuple[float, int, _ManualHandle, Callable[..., Any], tuple]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> Handle:
        handle = _ManualHandle()
        heapq.heappush(self._queue, (when, next(self._order), handle, callback, args))
        return handle

    def call_background(self, delay: float, callback: Callable[..., Any], *args: Any) -> Handle:
        return self.call_at(self._now + delay, callback, *args)

    def next_due(self) -> float | None:
        """None: on a manual clock nothing waits for room (tests time each rule directly)."""
        return None

    def run_until(self, when: float) -> None:
        """Fire every callback due up to ``when`` in deadline order, then set now = ``when``."""
        while self._queue and self._queue[0][0] <= when:
            due, _, handle, callback, args = heapq.heappop(self._queue)
            if handle.cancelled:
                continue
            self._now = max(self._now, due + self.delay)
            callback(*args)
        self._now = max(self._now, when)

    def advance(self, seconds: float) -> None:
        self.run_until(self._now + seconds)

    def pending(self) -> int:
        return sum(1 for entry in self._queue if not entry[2].cancelled)
