"""The event loop impsy runs on, tuned for musical timing.

The default epoll selector rounds every timeout up to a whole millisecond, so
a sleep to an absolute deadline lands 0-1 ms late (p99 ~1.1 ms measured here).
``select()`` takes microsecond timeouts, which brings p99 lateness to ~0.2 ms
without any busy-waiting. impsy holds a handful of sockets, far below
select's 1024-descriptor limit. Linux's default 50 us timer slack is also
lowered for this process where prctl is available.

A sleep of milliseconds ends slowly and cold: the core (on a VM, the virtual
CPU, which the host then has to schedule again) has gone idle, and the
caches have cooled. Measured on the 2-core development VM, timers 20 ms
apart fired 0.17 ms late at the median, and the first model step after such
a sleep cost several times a warm one. So a timed sleep longer than
``LONG_SLEEP_S`` ends ``WAKE_EARLY_S`` early and sleeps the rest: the second,
short sleep ends quickly (0.06-0.08 ms at the median there). One extra
wake-up per long wait; still no busy-waiting, and an idle loop (no timer
armed) sleeps in one piece.

``next_timer_due`` tells work that can wait (predicting ahead, a web UI
frame) when the loop's next timed callback is due, so it can stay out of
the way of a deadline instead of making it late; such work arms its own
timers with ``call_background``, which ``next_timer_due`` looks past. Both
live in ``impsy.clock``, where ``LoopClock`` offers them to the engine as
``call_background`` and ``next_due`` (a ``ManualClock`` has them too).

Python's cyclic garbage collector is such work too: left to itself it runs
whenever allocations pass a threshold, so a young-generation collection
(1-2 ms in a running server with the web UI) can land on a deadline. In
``run`` the ``GapCollector`` takes it over: the same thresholds, but a
collection runs only when the next timer is ``GC_ROOM_S`` away (or once it
has waited ``GC_FORCE_AFTER_S``).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import math
import selectors
import sys
import time

from impsy.clock import call_background, next_timer_due

_PR_SET_TIMERSLACK = 29
_TIMER_SLACK_NS = 1000
SELECT_LIMIT = 1024  # FD_SETSIZE
LONG_SLEEP_S = 0.001
"""A timed sleep longer than this ends ``WAKE_EARLY_S`` early, then sleeps the rest."""
WAKE_EARLY_S = 0.00025
AFTER_DEADLINE_S = 0.0001
"""Work put off for a deadline (``put_off``) looks again this long after it."""


def _lower_timer_slack() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(_PR_SET_TIMERSLACK, _TIMER_SLACK_NS, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # precision is a bonus, never a requirement


def _cap_descriptors() -> None:
    """select() cannot watch descriptors >= 1024: make the OS refuse them instead.

    With the cap, a flood of connections makes ``accept`` fail with EMFILE,
    which asyncio handles by pausing; without it, one descriptor numbered
    1024 would crash the loop.
    """
    try:
        import resource
    except ImportError:  # not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft > SELECT_LIMIT:
        resource.setrlimit(resource.RLIMIT_NOFILE, (SELECT_LIMIT, hard))


def room(loop: asyncio.AbstractEventLoop) -> float:
    """Seconds until the loop's next deadline (``next_timer_due``; infinite when none)."""
    due = next_timer_due(loop)
    return math.inf if due is None else due - loop.time()


def put_off(room: float, waited: float, needed: float, patience: float) -> float | None:
    """How long to put off work that can wait: None to do it now, else seconds.

    The work needs ``needed`` seconds of ``room`` before the next deadline;
    it has been put off for ``waited`` seconds and will be for at most
    ``patience``. Put off, it looks again just after that deadline.
    """
    if room >= needed or waited >= patience:
        return None
    return max(0.0, room) + AFTER_DEADLINE_S


class WarmSelector(selectors.SelectSelector):
    """``select()`` whose long timed sleeps end in a short one (see the module doc)."""

    def select(self, timeout: float | None = None) -> list:
        if timeout is not None and timeout > LONG_SLEEP_S:
            end = time.monotonic() + timeout  # the event loop's clock
            ready = super().select(timeout - WAKE_EARLY_S)
            if ready:
                return ready
            timeout = max(0.0, end - time.monotonic())
        return super().select(timeout)


SWITCH_INTERVAL_S = 0.0005
"""How long another thread running Python may keep the loop's thread waiting for the GIL.

CPython lets a thread run 5 ms before it must hand the interpreter over. A
worker thread running Python code (the model on its worker for big models, a
pattern bank written for training, the web UI's file work) can then hold a
deadline up by up to 5 ms; at 0.5 ms it holds it up by that much at most,
for a few more thread switches a second while a worker is busy."""


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A selector loop with microsecond timer resolution (and a short GIL switch interval)."""
    _lower_timer_slack()
    _cap_descriptors()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    return asyncio.SelectorEventLoop(WarmSelector())


GC_CHECK_S = 0.05
"""How often the ``GapCollector`` looks whether a collection is due."""
GC_ROOM_S = 0.003
"""A collection runs only while the loop's next timer is at least this far away."""
GC_FULL_ROOM_S = 0.02
"""The same for a collection of the oldest generation (rare, and longer)."""
GC_FORCE_AFTER_S = 2.0
"""A collection due this long runs whatever the loop has next: garbage must not pile up."""


def due_generation(counts: tuple[int, int, int], thresholds: tuple[int, ...]) -> int | None:
    """The generation CPython's automatic collector would collect now, or None.

    ``counts`` is ``gc.get_count()`` (allocations minus deallocations since
    the last young collection, then the collections of each generation since
    the next one's) and ``thresholds`` is ``gc.get_threshold()``.
    """
    if not thresholds or thresholds[0] <= 0 or counts[0] < thresholds[0]:
        return None
    generation = 0
    for older in (1, 2):  # a threshold of 0 (some Pythons' oldest) is never reached here
        if older < len(thresholds) and 0 < thresholds[older] <= counts[older]:
            generation = older
    return generation


class GapCollector:
    """Runs Python's cyclic garbage collector between deadlines instead of on them.

    ``start`` switches automatic collection off and looks every
    ``GC_CHECK_S``: when CPython would have collected (``due_generation``)
    and the loop's next timer is far enough away, it collects that
    generation. ``stop`` switches automatic collection back on.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.collections = [0, 0, 0]
        self.forced = 0
        self._timer: asyncio.TimerHandle | None = None
        self._waiting_since: float | None = None
        self._was_enabled = False

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = call_background(self.loop, GC_CHECK_S, self._check)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._was_enabled:
            gc.enable()

    def room(self) -> float:
        """Seconds until the loop's next deadline (infinite when none is armed)."""
        return room(self.loop)

    def _check(self) -> None:
        self._timer = call_background(self.loop, GC_CHECK_S, self._check)
        generation = due_generation(gc.get_count(), gc.get_threshold())
        if generation is None:
            self._waiting_since = None
            return
        now = self.loop.time()
        if self._waiting_since is None:
            self._waiting_since = now
        needed = GC_FULL_ROOM_S if generation == 2 else GC_ROOM_S
        forced = now - self._waiting_since >= GC_FORCE_AFTER_S
        if self.room() >= needed or forced:
            gc.collect(generation)
            self.collections[generation] += 1
            self.forced += forced
            self._waiting_since = None


def run(main) -> object:  # noqa: ANN001 - a coroutine
    """``asyncio.run`` on impsy's loop, its garbage collected between deadlines."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        collector = GapCollector(runner.get_loop())
        collector.start()
        try:
            return runner.run(main)
        finally:
            collector.stop()
