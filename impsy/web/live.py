"""``/api/live``: the engine's gestures and predictions, streamed to browsers.

The engine calls the observer on its loop for every event, so the observer
only copies the values into a bounded deque. A timer (30 Hz, on absolute
deadlines) turns what gathered into one JSON frame and offers it to each
client. Each client has a one-frame mailbox and its own sender task: a
client that cannot keep up misses frames, and nothing waits on it or queues
without bound. With no client connected the feed is not even observing.

A frame is work that can wait, and the loop's deadlines (the model's next
note, the sequencer's next tick) cannot: building one with the status takes
a few hundred microseconds, more on a cold core. So a frame that falls due
less than ``FRAME_ROOM_S`` before the loop's next deadline is put off until
just after it (``put_off``), for at most ``FRAME_PUT_OFF_MAX_S``: in a dense
passage the plots update a little later, and the notes leave on time. The
frame timer is a background timer (``impsy.engine.loop.call_background``),
so the model's predicting ahead is not held back by it either.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np
from aiohttp import WSMsgType, web

from impsy.engine.loop import call_background, room
from impsy.engine.loop import put_off as loop_put_off
from impsy.ratelimit import RateLimitedWarning
from impsy.web.responses import clean
from impsy.web.status import engine_status

if TYPE_CHECKING:
    from impsy.web.context import WebContext

log = logging.getLogger("impsy")

FRAME_HZ = 30.0
STATUS_HZ = 2.0
MAX_ROWS = 64
"""Rows kept per list between frames (1,920 a second at 30 Hz); older ones are dropped: the
plots show the recent past, and a bounded frame keeps its encoding well under a millisecond."""
MAX_SEQUENCER_EVENTS = 256
FRAME_ROOM_S = 0.004
"""A frame is built only while the loop's next deadline is at least this far away (a frame
takes a few hundred µs, and the machine may take the core for a scheduler slice meanwhile)..."""
FRAME_PUT_OFF_MAX_S = 1.0 / FRAME_HZ
"""...or once it has been put off this long (a frame period)."""


def put_off(room: float, waited: float) -> float | None:
    """How long to put off a frame that is due: None to build it now, else seconds.

    ``room`` is the time until the loop's next deadline (infinite when none
    is armed), ``waited`` how long this frame has been put off already.
    """
    return loop_put_off(room, waited, FRAME_ROOM_S, FRAME_PUT_OFF_MAX_S)


class Client:
    """One browser: the latest frame waiting for it, and the task sending it."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.pending: str | None = None
        self.ready = asyncio.Event()
        self.sent = 0
        self.dropped = 0

    def offer(self, frame: str) -> None:
        if self.pending is not None:
            self.dropped += 1  # still sending the previous one: this client is behind
        self.pending = frame
        self.ready.set()

    async def run(self) -> None:
        while not self.ws.closed:
            await self.ready.wait()
            self.ready.clear()
            frame, self.pending = self.pending, None
            if frame is None:
                continue
            await self.ws.send_str(frame)
            self.sent += 1


class LiveFeed:
    """Gathers engine events while someone watches; sends frames at ``FRAME_HZ``."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.clients: set[Client] = set()
        self.inputs: deque[list[float]] = deque(maxlen=MAX_ROWS)
        self.outputs: deque[list[float]] = deque(maxlen=MAX_ROWS)
        self.surprises: deque[list[float]] = deque(maxlen=MAX_ROWS)
        self.sequencer_events: deque[dict[str, Any]] = deque(maxlen=MAX_SEQUENCER_EVENTS)
        self._timer: asyncio.TimerHandle | None = None
        self._ticks = 0  # frame periods since the first frame
        self._started = 0.0  # when the first frame was due (loop.time())
        self._due_at = 0.0  # when the frame now waiting was due
        self._sequencer: Any = None
        self._status_due = True
        self._warn = RateLimitedWarning()
        self.frames = 0

    # ------------------------------------------------------------ engine side
    def observe(self, kind: str, values: np.ndarray, when: float) -> None:
        """Engine observer: copy and append, nothing more (runs inside the engine)."""
        row = (when, values.copy())
        if kind == "interface":
            self.inputs.append(row)
        elif kind == "surprise":
            self.surprises.append(row)
        else:
            self.outputs.append(row)

    def on_sequencer(self, event: Any) -> None:
        self.sequencer_events.append({"kind": event.kind, "data": event.data})

    def _attach(self) -> None:
        engine = self.ctx.engine
        if engine is not None:
            engine.add_observer(self.observe)
            self._sequencer = self.ctx.sequencer
            if self._sequencer is not None:
                self._sequencer.add_listener(self.on_sequencer)
        loop = asyncio.get_running_loop()
        self._ticks = 0
        self._started = self._due_at = loop.time()
        self._timer = call_background(loop, 0.0, self._tick)

    def _detach(self) -> None:
        engine = self.ctx.engine
        if engine is not None:
            engine.remove_observer(self.observe)
        if self._sequencer is not None:
            with contextlib.suppress(Exception):
                self._sequencer.remove_listener(self.on_sequencer)
            self._sequencer = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.inputs.clear()
        self.outputs.clear()
        self.surprises.clear()
        self.sequencer_events.clear()

    # -------------------------------------------------------------- frames
    def _rows(self, rows: deque) -> list[list[float]]:
        """``[[t, x_1..x_n], ...]`` in one NumPy pass (a per-row loop costs ~5 µs a row)."""
        taken = list(rows)
        rows.clear()
        table = np.empty((len(taken), len(taken[0][1]) + 1))
        table[:, 0] = [when for when, _ in taken]
        table[:, 1:] = [values for _, values in taken]
        return np.round(table, 4).tolist()

    def _sequencer_batch(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for event in self.sequencer_events:
            if events and event["kind"] == "playhead" and events[-1]["kind"] == "playhead":
                events[-1] = event  # only the latest playhead position matters
            else:
                events.append(event)
        self.sequencer_events.clear()
        return events

    def frame(self, now: float, with_status: bool) -> str | None:
        """The next frame, or None when nothing happened and no status is due."""
        body: dict[str, Any] = {"t": round(now, 4)}
        if self.inputs:
            body["inputs"] = self._rows(self.inputs)
        if self.outputs:
            body["outputs"] = self._rows(self.outputs)
        if self.surprises:
            body["surprise"] = self._rows(self.surprises)
        if self.sequencer_events:
            body["sequencer"] = clean(self._sequencer_batch())
        if with_status:
            engine = self.ctx.engine
            body["status"] = clean({"running": False} if engine is None else engine_status(engine))
        if len(body) == 1:
            return None
        # Rows are finite by the time they reach observers (input and predictions are checked),
        # so only the status needs cleaning; walking every row value would double the cost.
        return json.dumps(body, separators=(",", ":"))

    def _tick(self) -> None:
        """A frame is due: build it when the loop has room (``put_off``), arm the next."""
        self._timer = None
        if not self.clients:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        wait = put_off(room(loop), now - self._due_at)
        if wait is not None:
            self._timer = call_background(loop, wait, self._tick)
            return
        period = 1.0 / FRAME_HZ
        status_every = max(1, round(FRAME_HZ / (STATUS_HZ if self.ctx.engine else 1.0)))
        try:
            with_status = self._ticks % status_every == 0 or self._status_due
            self._status_due = False
            frame = self.frame(now, with_status)
            if frame is not None:
                self.frames += 1
                for client in list(self.clients):
                    client.offer(frame)
        except Exception as err:  # a bad frame must not end the feed
            self._warn.warn("live", f"web UI live feed: {err}")
        self._ticks += 1
        self._due_at = self._started + self._ticks * period
        now = loop.time()
        if self._due_at < now:  # the loop was held up: skip ahead, do not burst
            self._ticks = int((now - self._started) / period) + 1
            self._due_at = self._started + self._ticks * period
        self._timer = call_background(loop, self._due_at - now, self._tick)

    # ------------------------------------------------------------- handler
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
        await ws.prepare(request)
        client = Client(ws)
        self.clients.add(client)
        self._status_due = True  # a newcomer gets the status in its first frame
        if len(self.clients) == 1:
            self._attach()
        sender = asyncio.ensure_future(client.run())
        try:
            async for message in ws:  # the client has nothing to say; wait for it to leave
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            self.clients.discard(client)
            if not self.clients:
                self._detach()
        return ws

    async def close(self) -> None:
        for client in list(self.clients):
            with contextlib.suppress(Exception):
                await client.ws.close()
        self._detach()
