"""The live feed stays out of the way of the loop's deadlines: a frame due just before one is put
off until just after it (and never for longer than a frame period)."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest

from impsy.config import load_config_text
from impsy.engine import loop as impsy_loop
from impsy.engine.loop import AFTER_DEADLINE_S, next_timer_due
from impsy.web.context import WebContext
from impsy.web.live import (
    FRAME_PUT_OFF_MAX_S,
    FRAME_ROOM_S,
    LiveFeed,
    put_off,
)


@pytest.mark.parametrize("room", [FRAME_ROOM_S, 0.01, math.inf])
def test_a_frame_with_room_before_the_next_deadline_is_built_now(room):
    assert put_off(room, waited=0.0) is None


@pytest.mark.parametrize("room", [0.0, 0.0005, FRAME_ROOM_S * 0.99])
def test_a_frame_due_just_before_a_deadline_waits_until_just_after_it(room):
    assert put_off(room, waited=0.0) == pytest.approx(room + AFTER_DEADLINE_S)


def test_a_deadline_already_past_puts_the_frame_off_only_a_moment():
    assert put_off(-0.003, waited=0.0) == pytest.approx(AFTER_DEADLINE_S)


def test_a_frame_put_off_for_a_frame_period_is_built_whatever_comes_next():
    assert put_off(0.0001, waited=FRAME_PUT_OFF_MAX_S) is None
    assert put_off(0.0001, waited=FRAME_PUT_OFF_MAX_S * 0.99) is not None


class Watcher:
    """A client as the feed sees it: takes each frame offered."""

    def __init__(self, order: list[str]) -> None:
        self.order = order

    def offer(self, frame: str) -> None:
        self.order.append("frame")


def test_on_the_loop_the_deadline_runs_before_a_frame_that_fell_due_just_before_it():
    order: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        feed = LiveFeed(WebContext.create(load_config_text("", "c"), None, root=Path("."), port=0))
        feed.clients.add(Watcher(order))
        feed.observe("rnn", np.full(8, 0.5), loop.time())
        deadline = loop.time() + FRAME_ROOM_S / 2
        loop.call_at(deadline, order.append, "deadline")
        feed._due_at = loop.time()
        feed._tick()  # due now, with a deadline in less than FRAME_ROOM_S: put off
        assert order == [] and feed._timer is not None
        assert feed._timer.when() > deadline
        assert next_timer_due(loop) == deadline
        await asyncio.sleep(FRAME_ROOM_S + AFTER_DEADLINE_S + 0.01)
        feed.clients.clear()

    impsy_loop.run(main())
    assert order[:2] == ["deadline", "frame"]
