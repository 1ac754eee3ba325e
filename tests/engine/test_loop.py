"""impsy's event loop: long sleeps end in a short one, garbage is collected between deadlines,
and work that can wait sees past its own timers. Nothing here depends on how fast the machine is:
time and the collector are stood in for where it matters."""

from __future__ import annotations

import asyncio
import gc
import math
import selectors

import pytest

from impsy.engine import loop as impsy_loop
from impsy.engine.loop import (
    GC_FORCE_AFTER_S,
    GC_FULL_ROOM_S,
    GC_ROOM_S,
    LONG_SLEEP_S,
    WAKE_EARLY_S,
    GapCollector,
    WarmSelector,
    call_background,
    due_generation,
    next_timer_due,
)


class FakeTime:
    """``time.monotonic`` that moves only when the fake select sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def sleeps(monkeypatch):
    """Each underlying select(): its timeout; it sleeps exactly that long, nothing is ready."""
    clock = FakeTime()
    calls: list[float | None] = []
    ready: list[list] = []

    def select(self, timeout=None):  # noqa: ANN001, ANN202
        calls.append(timeout)
        if ready:
            return ready.pop(0)
        clock.now += timeout or 0.0
        return []

    monkeypatch.setattr(selectors.SelectSelector, "select", select)
    monkeypatch.setattr(impsy_loop.time, "monotonic", clock.monotonic)
    return calls, ready, clock


def test_a_long_timed_sleep_ends_early_then_sleeps_the_rest(sleeps):
    calls, _, clock = sleeps
    start = clock.now
    assert WarmSelector().select(0.02) == []
    assert calls == [pytest.approx(0.02 - WAKE_EARLY_S), pytest.approx(WAKE_EARLY_S)]
    assert clock.now == pytest.approx(start + 0.02)  # woken exactly when asked, not before


@pytest.mark.parametrize("timeout", [None, 0.0, LONG_SLEEP_S, LONG_SLEEP_S / 2])
def test_short_sleeps_and_an_idle_loop_sleep_in_one_piece(sleeps, timeout):
    calls, _, _ = sleeps
    WarmSelector().select(timeout)
    assert calls == [timeout]


def test_something_ready_during_the_long_stretch_returns_at_once(sleeps):
    calls, ready, _ = sleeps
    ready.append(["a datagram"])
    assert WarmSelector().select(0.5) == ["a datagram"]
    assert len(calls) == 1


def test_the_loop_impsy_runs_on_uses_the_warm_selector():
    loop = impsy_loop.new_event_loop()
    try:
        assert isinstance(loop._selector, WarmSelector)
    finally:
        loop.close()


# ------------------------------------------------------------------ timers
def test_next_timer_due_skips_background_and_cancelled_timers():
    loop = impsy_loop.new_event_loop()
    try:
        now = loop.time()
        call_background(loop, 0.001, print)
        cancelled = loop.call_at(now + 0.002, print)
        cancelled.cancel()
        loop.call_at(now + 0.003, print)
        assert next_timer_due(loop) == pytest.approx(now + 0.003)
    finally:
        loop.close()


def test_next_timer_due_is_none_without_deadlines():
    loop = impsy_loop.new_event_loop()
    try:
        assert next_timer_due(loop) is None
        call_background(loop, 0.001, print)
        assert next_timer_due(loop) is None
    finally:
        loop.close()


# ---------------------------------------------------------- garbage collection
@pytest.mark.parametrize(
    ("counts", "generation"),
    [
        ((699, 9, 9), None),
        ((700, 0, 0), 0),
        ((700, 10, 0), 1),
        ((700, 10, 10), 2),
        ((700, 3, 10), 2),  # as CPython: the oldest generation whose count is reached
        ((10_000, 99, 99), 2),
    ],
)
def test_due_generation_follows_cpythons_thresholds(counts, generation):
    assert due_generation(counts, (700, 10, 10)) == generation


def test_due_generation_never_collects_an_oldest_generation_whose_threshold_is_0():
    assert due_generation((2000, 10, 5), (2000, 10, 0)) == 1
    assert due_generation((5, 0, 0), (0, 10, 10)) is None  # collection switched off


class FakeLoop:
    """What the collector uses of a loop: the time, a timer and the next deadline."""

    def __init__(self) -> None:
        self.now = 50.0
        self._scheduled: list[asyncio.TimerHandle] = []
        self.later: list[float] = []

    def time(self) -> float:
        return self.now

    def get_debug(self) -> bool:
        return False

    def call_later(self, delay, callback, *args):  # noqa: ANN001, ANN201
        self.later.append(delay)
        return asyncio.TimerHandle(self.now + delay, callback, args, self)

    def deadline_in(self, seconds: float) -> None:
        self._scheduled = [asyncio.TimerHandle(self.now + seconds, print, (), self)]


@pytest.fixture
def collections(monkeypatch):
    """The collector's calls to gc.collect, with gc.get_count standing in."""
    done: list[int] = []
    counts = {"now": (0, 0, 0)}
    monkeypatch.setattr(gc, "collect", lambda generation=2: done.append(generation) or 0)
    monkeypatch.setattr(gc, "get_count", lambda: counts["now"])
    monkeypatch.setattr(gc, "get_threshold", lambda: (700, 10, 10))
    return done, counts


def test_the_collector_waits_for_room_before_the_next_deadline(collections):
    done, counts = collections
    loop = FakeLoop()
    collector = GapCollector(loop)
    counts["now"] = (800, 0, 0)
    loop.deadline_in(GC_ROOM_S / 2)
    collector._check()
    assert done == []  # a deadline is too close
    loop.now += 0.05
    loop.deadline_in(GC_ROOM_S)
    collector._check()
    assert done == [0]
    assert collector.collections == [1, 0, 0] and collector.forced == 0


def test_the_oldest_generation_needs_more_room(collections):
    done, counts = collections
    loop = FakeLoop()
    collector = GapCollector(loop)
    counts["now"] = (800, 10, 10)
    loop.deadline_in((GC_ROOM_S + GC_FULL_ROOM_S) / 2)
    collector._check()
    assert done == []
    loop.deadline_in(GC_FULL_ROOM_S)
    collector._check()
    assert done == [2]


def test_without_any_deadline_the_collector_collects_when_due(collections):
    done, counts = collections
    collector = GapCollector(FakeLoop())
    collector._check()
    assert done == []  # nothing due
    counts["now"] = (700, 10, 3)
    collector._check()
    assert done == [1]


def test_a_collection_kept_waiting_too_long_runs_anyway(collections):
    done, counts = collections
    loop = FakeLoop()
    collector = GapCollector(loop)
    counts["now"] = (800, 0, 0)
    loop.deadline_in(0.0001)  # a dense passage: never any room
    collector._check()
    loop.now += GC_FORCE_AFTER_S / 2
    loop.deadline_in(0.0001)
    collector._check()
    assert done == []
    loop.now += GC_FORCE_AFTER_S / 2
    loop.deadline_in(0.0001)
    collector._check()
    assert done == [0] and collector.forced == 1


def test_run_hands_collection_to_the_collector_and_back():
    seen = {}

    async def main() -> None:
        seen["enabled"] = gc.isenabled()
        loop = asyncio.get_running_loop()
        seen["background"] = next_timer_due(loop)  # the collector's timer is no deadline

    assert gc.isenabled()
    impsy_loop.run(main())
    assert seen == {"enabled": False, "background": None}
    assert gc.isenabled()


def test_the_collector_looks_again_every_check_period():
    loop = FakeLoop()
    collector = GapCollector(loop)
    collector._check()
    collector._check()
    assert loop.later == [impsy_loop.GC_CHECK_S] * 2
    assert math.isinf(collector.room())


def test_next_timer_due_sees_an_overdue_timer_still_to_run_in_this_turn():
    """Timers that fell due together run in one turn of the loop; one that runs first must see
    the others, overdue, not an empty heap."""
    seen = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        loop.call_at(now - 0.002, lambda: seen.append(next_timer_due(loop)))
        loop.call_at(now - 0.001, seen.count, None)
        call_background(loop, 0.0, seen.count, None)
        await asyncio.sleep(0.01)
        seen.append(now - 0.001)

    impsy_loop.run(main())
    assert seen[0] == pytest.approx(seen[1])
