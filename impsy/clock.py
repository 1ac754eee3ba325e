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


class Handle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the sequencer needs from time."""

    def now(self) -> float: ...

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> Handle: ...


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
