"""Runs the model, inline when it is fast, on one worker thread when it is not.

A size-s step takes tens of microseconds, cheaper than a thread hand-off, so
it runs on the loop. Big models (l/xl) can take longer than the 1 ms the loop
may be blocked, so they go to a single worker thread: one thread keeps the
calls in order, which the LSTM state needs. The choice is measured at
start-up, not guessed from the file name.

Both kinds answer through a callback (``predict(x, done)``): inline calls it
before returning, the worker thread calls it on the loop when the step is
done. So the engine's timing code is one piece of callback logic, whichever
runs the model, and runs unchanged on a manual clock in tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from impsy.engine.ports import Model
from impsy.engine.stats import Counters
from impsy.ratelimit import RateLimitedWarning

INLINE_BUDGET_S = 0.0003  # median step cost above which inference leaves the loop

Done = Callable[[np.ndarray | None], None]
"""Receives a prediction, or None when the model failed (already reported)."""
State = list[np.ndarray]
DoneAhead = Callable[[np.ndarray | None, State | None], None]
"""Receives a prediction (or None) and the LSTM state after it (None: the model cannot say)."""


def _median_step_seconds(model: Model, trials: int = 20) -> float:
    probe = np.zeros(model.dimension)
    times = []
    for _ in range(trials):
        start = time.perf_counter()
        model.step(probe)
        times.append(time.perf_counter() - start)
    model.reset()
    return float(np.median(times))


class Predictor:
    """The engine's only way to call the model; answers None instead of garbage."""

    def __init__(self, model: Model, counters: Counters, threaded: bool | None = None) -> None:
        self.model = model
        self.counters = counters
        self._warn = RateLimitedWarning()
        if threaded is None:
            threaded = _median_step_seconds(model) > INLINE_BUDGET_S
        self.threaded = threaded
        self._executor = (
            ThreadPoolExecutor(1, thread_name_prefix="impsy-model") if threaded else None
        )

    # ------------------------------------------------------ on the calling thread
    def predict_now(self, x: np.ndarray) -> np.ndarray | None:
        """Step and sample on the calling thread."""
        return self._sample_now(self.model.predict, x)

    def _sample_now(
        self, sample: Callable[[np.ndarray], np.ndarray], x: np.ndarray
    ) -> np.ndarray | None:
        start = time.perf_counter()
        try:
            y = sample(x)
        except Exception as err:  # a broken model must not stop the performance
            return self._fail(f"model raised {type(err).__name__}: {err}")
        self.counters.inference.add(time.perf_counter() - start)
        if not np.all(np.isfinite(y)):
            return self._fail("model produced NaN or infinity")
        self.counters.predictions += 1
        return y

    def condition_now(self, x: np.ndarray) -> None:
        """Step without sampling on the calling thread."""
        start = time.perf_counter()
        try:
            params = self.model.step(x)
        except Exception as err:
            self._fail(f"model raised {type(err).__name__}: {err}")
            return
        self.counters.inference.add(time.perf_counter() - start)
        if not np.all(np.isfinite(params.raw)):
            self._fail("model produced NaN or infinity")

    def _fail(self, message: str) -> None:
        self.counters.model_errors += 1
        # Rate-limited by kind ("model raised ValueError"), not by the whole message:
        # an error whose text changes on every call must not print, and be kept, each time.
        kind = message.split(":", 1)[0]
        self._warn.warn(kind, f"{message}; its state was reset and nothing was played")
        self.model.reset()
        return None

    # ------------------------------------------------------------ the engine's calls
    def predict(self, x: np.ndarray, done: Done) -> None:
        """Step the model on ``x``, sample the next event, and hand it to ``done``.

        Inline, ``done`` runs before this returns; threaded, it runs on the
        loop once the worker is done (in the order the calls were made).
        """
        self.call(lambda: self.predict_now(x), done)

    def predict_ahead(self, x: np.ndarray, done: DoneAhead) -> None:
        """``predict``, with a copy of the LSTM state after the step: the player predicts
        ahead of the music and goes back to that state when it changes course."""
        self.call(lambda: (self.predict_now(x), self._state()), lambda pair: done(*pair))

    def accompany(self, x: np.ndarray, done: Done) -> None:
        """Fill the model's dimensions of the performer's event ``x`` (``Model.fill``), hand
        the whole event to ``done``, then feed the model the event as played (values
        clipped to [0, 1], as the player feeds back what it played).

        The fill is a draw from the mixture the last step left, a few
        microseconds: ``done`` (which sends it) runs before the LSTM steps,
        so the answer leaves at the gesture's instant and the step is paid
        after it. Threaded, the event reaches the loop as soon as it is
        drawn and the worker steps meanwhile.
        """
        if self._executor is None:
            y = self._sample_now(self.model.fill, x)
            done(y)
            if y is not None:
                self.condition_now(_as_played(y))
            return
        loop = asyncio.get_running_loop()

        def work() -> None:
            y = self._sample_now(self.model.fill, x)
            try:
                loop.call_soon_threadsafe(done, y)
            except RuntimeError:  # the loop closed meanwhile: nobody to tell
                return
            if y is not None:
                self.condition_now(_as_played(y))

        self._executor.submit(work)

    def call(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Run ``work`` where the model runs and hand its result to ``done`` on the loop."""
        if self._executor is None:
            done(work())
            return
        loop = asyncio.get_running_loop()
        future = self._executor.submit(work)
        future.add_done_callback(lambda f: _deliver(loop, f, done))

    def _in_order(self, work: Callable[..., object], *args: object) -> None:
        """Run ``work(*args)`` where the model runs, after whatever is already queued."""
        if self._executor is None:
            work(*args)
        else:
            self._executor.submit(work, *args)

    def _state(self) -> State | None:
        try:
            return self.model.state()
        except Exception:  # a model that cannot copy its state: it cannot go back either
            return None

    def set_state(self, state: State) -> None:
        """Continue from ``state`` (after whatever is already queued)."""
        self._in_order(self._set_state_now, state)

    def _set_state_now(self, state: State) -> None:
        try:
            self.model.set_state(state)
        except Exception as err:
            self._fail(f"model raised {type(err).__name__} restoring its state: {err}")

    def condition(self, x: np.ndarray) -> None:
        """Feed ``x`` into the LSTM state without sampling (the user is playing)."""
        self._in_order(self.condition_now, x)

    def reset(self) -> None:
        """Forget the LSTM state (after whatever is already queued)."""
        self._in_order(self.model.reset)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


def _as_played(event: np.ndarray) -> np.ndarray:
    """The event as the outputs play it (values clipped to [0, 1]), which the model is fed."""
    played = np.array(event, dtype=np.float64)
    np.clip(played[1:], 0.0, 1.0, out=played[1:])
    return played


def _deliver(loop: asyncio.AbstractEventLoop, future: Future, done: Callable[[Any], None]) -> None:
    """On the worker thread: hand a finished prediction to the loop."""
    if future.cancelled():
        return
    try:
        loop.call_soon_threadsafe(done, future.result())
    except RuntimeError:  # the loop closed while the model was stepping: nobody to tell
        pass
