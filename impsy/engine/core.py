"""The interaction engine: who plays when, in each of IMPSY's modes.

A gesture from any adapter goes through the input pipeline (sparse updates
-> the dense model input and a log row), then the mode decides what the
model does with it:

- ``callresponse``: the user's gestures condition the LSTM; after
  ``threshold`` seconds of silence the model takes over, primed with the
  user's last vector, and stops (releasing its notes) the instant the user
  plays again. A call needs a caller: the model waits for the first gesture.
- ``polyphony`` (``filter``): every gesture conditions the model and its
  prediction is played ``dt * timescale`` after that gesture. The model is
  not fed its own output. In a flood the loop cannot keep up with (an input
  adapter sets ``input_backlogged``), gestures are logged but not answered.
- ``battle`` (``independent``): the model plays on its own outputs from
  start-up; the user's gestures are logged (and echoed with ``input_thru``).
- ``accompany``: each gesture is answered at its own instant. The gesture
  sets the ``human`` dimensions (and dt); the model draws the others from
  its exact conditional distribution given them, and the whole event is
  sent at once and fed to the model (zero-latency accompaniment: a melody
  in, harmony out).
- ``useronly``: gestures are logged; no model is needed.

Steering (``impsy.engine.steering``): each dimension's role, held values,
allowed regions and the density tilt, compiled into the model's draw after
every change; what the player predicted ahead is then predicted again. The
surprise meter (``impsy.engine.surprise``) scores each gesture under a
listener that hears only the performer.

The model's own playing (response and battle) is ``impsy.engine.player``.
Its events and polyphony's answers are also handed, as soon as their
deadline is known, to outputs that send ahead (``Adapter.send_ahead``: OSC
time tags), which the engine then skips when the event is due.
Every instant here comes from one injected ``Clock`` (``impsy.clock``): the
asyncio loop's when performing, a manual clock in tests, so every mode's
timing is tested exactly without sleeping. The engine imports no adapter,
feature or front end: they reach it through ``impsy.engine.ports`` and the
command table (``impsy.engine.commands``), and are put together by
``impsy.app``.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from impsy.clock import Clock, Handle, LoopClock
from impsy.config.modes import LEAD_MODES, MODES
from impsy.engine.loop import put_off
from impsy.engine.playback import plan_playback
from impsy.engine.player import AFTER_SEND_S, FIRST_DT, RESYNC_AFTER_S, Player
from impsy.engine.predictor import Predictor
from impsy.engine.stats import Counters
from impsy.engine.steering import SteeringSettings, scale_of
from impsy.engine.surprise import Listener
from impsy.errors import CommandError
from impsy.mapping.pipeline import InputState
from impsy.ratelimit import RateLimitedWarning

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from impsy.config.schema import SteeringConfig
    from impsy.engine.eventlog import EventLog
    from impsy.engine.ports import Adapter, Model

log = logging.getLogger("impsy")

MODEL_MODES = ("callresponse", "polyphony", "battle", "accompany")

# Polyphony: predictions waiting for their time. Beyond this the oldest are
# dropped: a prediction for a gesture long past is stale, not worth a burst.
MAX_PENDING = 32
LOG_ROOM_S = 0.004
"""The model's kept log rows are written once the next deadline is at least this far away..."""
LOG_PATIENCE_S = 0.1
"""...or once they have waited this long."""
TELEMETRY_SUFFIX = ".telemetry.csv"
"""The run's telemetry (the surprise meter's rows) is ``<log name>.telemetry.csv``."""
LOG_ROWS_AT_ONCE = 32
"""Kept rows written in one go (~10 µs each); more wait for the next room."""


class _Handles:
    """A polyphony answer's timer and what was sent ahead of it (``Adapter.send_ahead``):
    dropping the answer withdraws both."""

    __slots__ = ("handles",)

    def __init__(self, *handles: Handle) -> None:
        self.handles = handles

    def cancel(self) -> None:
        for handle in self.handles:
            handle.cancel()


@dataclass
class Settings:
    """What can be changed while playing."""

    mode: str
    threshold: float
    timescale: float
    input_thru: bool
    log_input: bool
    log_predictions: bool
    verbose: bool = False
    paused: bool = False
    surprise: bool = False
    lead: bool = False
    """The model reads lead rows (``[model] lead``): it only answers, in ``accompany``."""


class Engine:
    """Routes gestures to the model and the model's predictions to the adapters."""

    def __init__(
        self,
        dimension: int,
        settings: Settings,
        model: Model | None = None,
        event_log: EventLog | None = None,
        *,
        clock: Clock | None = None,
        initial_value: float = 0.5,
        threaded_model: bool | None = None,
    ) -> None:
        if model is not None and model.dimension != dimension:
            raise ValueError(f"model dimension {model.dimension} != engine dimension {dimension}")
        if settings.lead and settings.mode not in LEAD_MODES:
            raise ValueError(f"a lead model only accompanies, not in {settings.mode} mode")
        if model is None and settings.mode in MODEL_MODES:
            raise ValueError(f"{settings.mode} mode needs a model")
        self.dimension = dimension
        self.settings = settings
        self.model = model
        self.event_log = event_log
        self.clock: Clock = clock or LoopClock()
        self.counters = Counters()
        self.adapters: list[Adapter] = []
        self.predictor = Predictor(model, self.counters, threaded_model) if model else None
        self.player = self._new_player()
        self.pipeline = InputState(dimension, [initial_value] * (dimension - 1), 0.0)
        self._initial_value = initial_value
        self._user_vector: np.ndarray | None = None  # last model input from the user
        self._last_user_time: float | None = None
        self._handover: Handle | None = None
        self._pending: dict[int, Handle] = {}  # polyphony, oldest first
        self._tokens = itertools.count()
        self._stopping = False
        self._warn = RateLimitedWarning()
        self.responding = False  # callresponse: the model has the floor
        # Set by an input adapter while the OS holds a backlog of its input (a flood
        # faster than the loop can answer): polyphony then logs gestures without
        # answering them until the backlog is read, so the model's cost never loses input.
        self.input_backlogged = False
        self._observers: list[Callable[[str, np.ndarray, float], None]] = []
        self._log_flush: Handle | None = None  # writes the model's kept log rows
        self._log_kept_since = 0.0
        self.steering = SteeringSettings(dimension, initial_value)
        self.note_dimensions: tuple[int, ...] = ()
        """Dimensions the outputs play as notes (``scale`` without dimensions steers these)."""
        self._played = np.full(dimension - 1, initial_value)  # the model's last output
        self.listener: Listener | None = None
        self.telemetry: EventLog | None = None
        """Where the surprise meter's values go (beside the log, never in it)."""
        self.surprise = math.nan
        """The last gesture's surprise, nats (NaN before the meter has heard two gestures)."""
        self.set_surprise(settings.surprise)
        self._compile_steering()
        self.realtime = False
        """Whether the loop's thread runs at real-time priority (``impsy.engine.priority``)."""

    def _new_player(self) -> Player | None:
        if self.predictor is None:
            return None
        return Player(
            self.clock,
            self.predictor,
            lambda: self.settings.timescale,
            self._play_handed,
            self.counters,
            plan=self._send_ahead,
        )

    # ----------------------------------------------------------- lifecycle
    async def start(self, adapters: Iterable[Adapter] = ()) -> None:
        """Open the adapters (in order), then start what the mode plays on its own."""
        await self.open(adapters)
        self.begin()

    async def open(self, adapters: Iterable[Adapter]) -> None:
        """Open the adapters in order; input reaches the engine from here on."""
        for adapter in adapters:
            await adapter.start(self)
            self.adapters.append(adapter)

    def begin(self) -> None:
        """Start the clock's part: input time counts from now, battle starts playing.

        Called once everything else is up (``impsy.app`` starts the web UI
        first), so nothing slow delays the model's first deadlines.
        """
        self.pipeline = InputState(
            self.dimension, [self._initial_value] * (self.dimension - 1), self.clock.now()
        )
        self._enter_mode()

    def halt(self) -> None:
        """Silence everything now; input arriving from here on is ignored."""
        self._stopping = True  # input arriving while adapters close must not restart the model
        self._silence_model()
        self._release_all()  # also notes echoed by input_thru: nothing may hang

    async def stop(self) -> None:
        """Silence everything, stop the adapters, close the log."""
        self.halt()
        for adapter in reversed(self.adapters):
            try:
                await adapter.stop()
            except Exception:  # one broken adapter must not keep the log open
                log.exception("error stopping %s", adapter.name)
        self.adapters.clear()
        self._silence_model()
        if self.predictor:
            self.predictor.close()
        if self._log_flush is not None:
            self._log_flush.cancel()
            self._log_flush = None
        if self.event_log:
            self.event_log.close()  # writes any kept rows
            self.counters.log_rows = self.event_log.rows
        if self.telemetry is not None:
            self.telemetry.close()

    # ----------------------------------------------------------- observers
    def add_observer(self, observer: Callable[[str, np.ndarray, float], None]) -> None:
        """Watch every gesture and every played prediction (web UI, fuzzing).

        Called on the loop as ``observer(kind, values, time)``, kind
        "interface" or "rnn"; a failing observer is reported, never fatal.
        """
        self._observers.append(observer)

    def remove_observer(self, observer: Callable[[str, np.ndarray, float], None]) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    @property
    def observed(self) -> bool:
        """Whether anyone watches (the web UI stops watching when nobody looks)."""
        return bool(self._observers)

    # --------------------------------------------------------------- input
    def user_input(self, updates: Iterable[tuple[int, float]], source: str = "") -> None:
        """A gesture: (index, value) updates over x_1..x_n from one message."""
        now = self.clock.now()
        interaction = self.pipeline.apply(updates, now)
        if interaction is None:
            return  # a message mapped to nothing: not a gesture
        self._handle(interaction.model_input, interaction.values, now)

    def user_values(self, values: Sequence[float], source: str = "") -> None:
        """A dense gesture: all of x_1..x_n at once (OSC, serial).

        The model and the log take values in [0, 1]; a sender may send anything
        finite (OSC doubles and 64-bit integers such as -9.2e18). Such values are
        clipped into [0, 1] before the log and the model, counted in
        ``clipped_input`` and reported (rate-limited), so a wild controller
        cannot write nonsense into the training data.
        """
        now = self.clock.now()
        if min(values) < 0.0 or max(values) > 1.0:
            self.counters.clipped_input += 1
            self._warn.warn(
                f"{source}:clipped",
                f"{source or 'input'}: values outside [0, 1] clipped into it: "
                f"{[float(v) for v in values]!r}"[:200],
            )
            values = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
        interaction = self.pipeline.apply_dense(values, now)
        self._handle(interaction.model_input, interaction.values, now)

    def _handle(self, model_input: np.ndarray, values: np.ndarray, now: float) -> None:
        if self._stopping:
            return
        self.counters.events_in += 1
        stamp: object = now
        event_log = self.event_log if self.settings.log_input else None
        if event_log is not None:
            # Stamped now, written once any answer has left (accompany's answer goes at
            # once; formatting and writing the row took 45-50 us before it): on disk
            # before this returns, so before the next gesture, in the order of the stamps.
            kept = event_log.write_later("interface", values)
            if kept is not None:  # the meter takes dt as the dataset will
                stamp = kept
        try:
            if self.settings.verbose:
                log.info("in  %s", np.round(values, 3))
            if self._observers:
                self._notify("interface", values, now)
            if not self.settings.paused:
                self._respond(model_input, values, now)
        finally:
            if event_log is not None:
                event_log.flush()
                self.counters.log_rows = event_log.rows
        if self.listener is not None:  # after any answer has left: the meter never delays it
            self.listener.hear(values, stamp, self._heard)

    def _respond(self, model_input: np.ndarray, values: np.ndarray, now: float) -> None:
        """What the mode does with a gesture (the engine is not paused)."""
        mode = self.settings.mode
        steering = self.steering
        owned = steering.indices("model")
        if owned:  # the model's dimensions: it hears its own last values there
            model_input = model_input.copy()
            for d in owned:
                if d:
                    model_input[d] = self._played[d - 1]
        if steering.take(model_input) and self.model is not None:
            self.model.held = steering.held
            if mode == "battle":  # (callresponse's answer restarts from the gesture anyway)
                self._replan()
        if mode == "callresponse" and self.responding:
            # Before the echo: releasing the model's notes must not cut the user's.
            self._silence_model()
            log.info("user takes over")
        if self.settings.input_thru:
            self._send(np.clip(values, 0.0, 1.0))
        self._user_vector = model_input
        self._last_user_time = now
        if mode == "callresponse":
            self.predictor.condition(model_input)
            self._schedule_handover(now + self.settings.threshold)
        elif mode == "polyphony":
            if self.input_backlogged:
                self.counters.shed_predictions += 1
            else:
                self.predictor.predict(model_input, lambda y: self._schedule_answer(y, now))
        elif mode == "accompany":
            if self.input_backlogged:
                self.counters.shed_predictions += 1
                return
            if steering.pinned:  # values set by hold stay, whatever this gesture says
                model_input = model_input.copy()
                for d in steering.pinned:
                    model_input[d] = steering.held[d]
            if self.settings.lead:
                row = model_input
                self.predictor.predict(row, lambda y: self._accompanied(self._answer(row, y), now))
            else:
                self.predictor.accompany(model_input, lambda y: self._accompanied(y, now))

    def bad_input(self, source: str, reason: str, detail: str = "") -> None:
        """Count and report a message that could not be used.

        Warnings are rate-limited per (source, reason), so ``reason`` must be a
        fixed phrase; what varies (the message itself) goes in ``detail``.
        """
        self.counters.bad_input += 1
        shown = f"{reason} {detail}" if detail else reason
        self._warn.warn(f"{source}:{reason}", f"{source}: ignored bad input: {shown}")

    # -------------------------------------------------------------- output
    def _send(self, values: np.ndarray, handed: bool = False) -> None:
        """``values`` to every output; with ``handed``, not to those it was handed to ahead."""
        for adapter in self.adapters:
            if handed and adapter.ahead_s > 0:
                continue
            try:
                adapter.send(values)
            except Exception as err:  # a failing output must not silence the others
                self._warn.warn(f"send:{adapter.name}", f"{adapter.name}: send failed: {err}")
        self.counters.outputs += 1

    def _send_ahead(self, values: np.ndarray, due: float) -> list[Handle]:
        """A scheduled event of the model's, to the outputs that send ahead (OSC time tags)
        as soon as its deadline is known; the handles withdraw it if it is dropped first."""
        handles = []
        for adapter in self.adapters:
            if adapter.ahead_s > 0:
                try:
                    handle = adapter.send_ahead(values, due)
                except Exception as err:  # a failing output must not silence the others
                    self._warn.warn(f"send:{adapter.name}", f"{adapter.name}: send failed: {err}")
                    continue
                if handle is not None:
                    handles.append(handle)
        return handles

    def _play_handed(self, values: np.ndarray, deadline: float) -> None:
        """The player's event is due: played everywhere but where it was handed ahead."""
        self._play_model(values, deadline, handed=True)

    def _play_model(self, values: np.ndarray, deadline: float, handed: bool = False) -> None:
        now = self.clock.now()
        self.counters.lateness.add(max(0.0, now - deadline))
        self._send(values, handed)
        self._played = values
        if self.event_log and self.settings.log_predictions:
            # Kept, and written between deadlines: the next note may be microseconds away.
            self.event_log.write_later("rnn", values)
            if self._log_flush is None:  # after the receiver had the core (see AFTER_SEND_S)
                self._log_kept_since = now
                self._log_flush = self.clock.call_background(AFTER_SEND_S, self._flush_log)
        if self.settings.verbose:
            log.info("out %s", np.round(values, 3))
        if self._observers:
            self._notify("rnn", values, now)

    def _room(self) -> float:
        """Seconds until the next deadline on the clock (infinite when unknown or none)."""
        due = self.clock.next_due()
        return math.inf if due is None else due - self.clock.now()

    def _flush_log(self) -> None:
        """Write the model's kept log rows, once there is room before the next deadline."""
        self._log_flush = None
        if not self.event_log:
            return
        wait = put_off(
            self._room(), self.clock.now() - self._log_kept_since, LOG_ROOM_S, LOG_PATIENCE_S
        )
        if wait is not None and self.event_log.pending:
            self._log_flush = self.clock.call_background(wait, self._flush_log)
            return
        self.event_log.flush(LOG_ROWS_AT_ONCE)
        self.counters.log_rows = self.event_log.rows
        if self.event_log.pending:  # the rest once there is room again
            self._log_flush = self.clock.call_background(0.0, self._flush_log)

    def _notify(self, kind: str, values: np.ndarray, when: float) -> None:
        for observer in list(self._observers):
            try:
                observer(kind, values, when)
            except Exception as err:  # a broken watcher must not stop the music
                self._warn.warn(f"observer:{observer!r}", f"observer failed: {err}")

    # ----------------------------------------------------------- the modes
    def _schedule_handover(self, when: float) -> None:
        if self._handover is not None:
            self._handover.cancel()
        self._handover = self.clock.call_at(when, self._hand_over)

    def _hand_over(self) -> None:
        """callresponse: the user has been quiet long enough; the model answers."""
        self._handover = None
        if self._stopping or self.settings.paused or self.settings.mode != "callresponse":
            return
        if self._user_vector is None:
            return
        self.responding = True
        log.info("model responds")
        self.player.start(self._user_vector)

    def _schedule_answer(self, prediction: np.ndarray | None, event_time: float) -> None:
        """polyphony: play the answer to the gesture at ``event_time`` after its dt."""
        if (
            prediction is None
            or self._stopping
            or self.settings.paused
            or self.settings.mode != "polyphony"
        ):
            return
        plan = plan_playback(prediction, self.settings.timescale)
        deadline = event_time + plan.wait
        if deadline < self.clock.now() - RESYNC_AFTER_S:
            self.counters.dropped_predictions += 1  # a slow model's answer to a gesture long past
            return
        if len(self._pending) >= MAX_PENDING:
            oldest = next(iter(self._pending))
            self._pending.pop(oldest).cancel()
            self.counters.dropped_predictions += 1
        token = next(self._tokens)
        timer = self.clock.call_at(deadline, self._play_pending, token, plan.values, deadline)
        handed = self._send_ahead(plan.values, deadline)
        self._pending[token] = _Handles(timer, *handed) if handed else timer

    def _answer(self, row: np.ndarray, drawn: np.ndarray | None) -> np.ndarray | None:
        """A lead model's answer to ``row`` (the gesture, with its own last answer): the
        gesture's dt and human dimensions, and what it drew for the others."""
        if drawn is None:
            return None
        event = np.array(row, dtype=np.float64)
        human = set(self.steering.indices("human"))
        for d in range(1, self.dimension):
            if d not in human:
                event[d] = drawn[d]
        return event

    def _accompanied(self, event: np.ndarray | None, gesture_time: float) -> None:
        """accompany: play the filled event now (its lateness is the time since the gesture)."""
        if event is None or self._stopping or self.settings.paused:
            return
        if self.settings.mode != "accompany":
            return
        if self.clock.now() - gesture_time > RESYNC_AFTER_S:
            self.counters.dropped_predictions += 1  # a slow model's answer to a gesture long past
            return
        self._play_model(np.clip(event[1:], 0.0, 1.0), gesture_time)

    def _heard(self, surprise: float | None) -> None:
        """The surprise meter's value for the last gesture: to the outputs, watchers, telemetry."""
        if surprise is None or self._stopping or not math.isfinite(surprise):
            return
        self.surprise = surprise
        if self.telemetry is None and self.event_log is not None:
            self.telemetry = self.event_log.beside(TELEMETRY_SUFFIX)
        if self.telemetry is not None:
            self.telemetry.write("surprise", (surprise,))
        for adapter in self.adapters:
            try:
                adapter.send_surprise(surprise)
            except Exception as err:  # a failing output must not silence the others
                self._warn.warn(f"surprise:{adapter.name}", f"{adapter.name}: send failed: {err}")
        if self._observers:
            self._notify("surprise", np.array((surprise,)), self.clock.now())

    def _play_pending(self, token: int, values: np.ndarray, deadline: float) -> None:
        # Each answer removes its own entry: answers with different dt fire out of order.
        if self._pending.pop(token, None) is not None:
            self._play_model(values, deadline, handed=True)

    def _silence_model(self) -> None:
        """Stop everything the model has queued and release its notes."""
        if self.player is not None:
            self.player.stop()
        if self._handover is not None:
            self._handover.cancel()
            self._handover = None
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
        was_playing = self.responding or self.settings.mode in ("battle", "polyphony", "accompany")
        self.responding = False
        if was_playing:
            self._release_all()

    def _release_all(self) -> None:
        for adapter in self.adapters:
            try:
                adapter.release()
            except Exception as err:  # one failing output must not keep the others sounding
                self._warn.warn(f"release:{adapter.name}", f"{adapter.name}: release failed: {err}")

    def _enter_mode(self) -> None:
        """Start what the current mode runs on its own."""
        if self.settings.paused or self._stopping:
            return
        mode = self.settings.mode
        if mode == "battle":
            prime = self._user_vector
            if prime is None:
                prime = np.array([FIRST_DT] + [self._initial_value] * (self.dimension - 1))
            self.player.start(prime)
        elif mode == "callresponse" and self._last_user_time is not None:
            when = max(self.clock.now(), self._last_user_time + self.settings.threshold)
            self._schedule_handover(when)

    # -------------------------------------------- settings (the command table's targets)
    def set_mode(self, mode: str) -> str:
        """Switch to ``mode`` (a canonical name: the command table resolves aliases)."""
        if mode not in MODES:
            raise ValueError(f"not a mode: {mode!r}")
        if mode in MODEL_MODES and self.model is None:
            raise CommandError(f"{mode} mode needs a model; this run has none")
        if self.settings.lead and mode not in LEAD_MODES:
            raise CommandError(f"{mode}: this run's model is a lead model; it only accompanies")
        self._silence_model()
        self.settings.mode = mode
        self._compile_steering()  # accompany holds dt (the gesture's timing)
        self._enter_mode()
        log.info("mode: %s", mode)
        return mode

    def set_paused(self, paused: bool) -> None:
        if paused == self.settings.paused:
            return
        if paused:
            self._silence_model()
        self.settings.paused = paused
        if not paused:
            self._enter_mode()
        log.info("paused" if paused else "resumed")

    def reset(self) -> None:
        """Forget the LSTM state (the model starts a fresh phrase)."""
        if self.predictor is not None:
            self.predictor.reset()
        if self.player is not None:  # what it predicted ahead came from the old state
            self.player.replan(restore=False)
        log.info("model state reset")

    def set_sigmatemp(self, value: float) -> None:
        if self.model is not None:
            self.model.sigma_temp = value
            self._replan()

    def set_pitemp(self, value: float) -> None:
        if self.model is not None:
            self.model.pi_temp = value
            self._replan()

    def _replan(self) -> None:
        """A sampling setting changed: what the player predicted ahead is predicted again,
        so the change is heard from the event after the one about to play."""
        if self.player is not None:
            self.player.replan()

    # ------------------------------------------------------------ steering
    def _compile_steering(self) -> None:
        """Hand the model the steering of the current settings and mode."""
        model = self.model
        if model is None:
            return
        steering = self.steering
        hold_dt = self.settings.mode == "accompany"
        if not steering.steered and not hold_dt:  # IMPSY's draw, untouched
            if getattr(model, "steering", None) is not None:
                model.steering = None
            return
        # A lead model's step already heard the gesture: its draw conditions on nothing.
        free = hold_dt and self.settings.lead
        compiled = steering.compile(model.mixtures, hold_dt=hold_dt, free=free)
        model.held = steering.held
        model.steering = None if compiled.plain else compiled

    def _steered(self) -> None:
        """A steering setting changed: it applies from the next event the model draws."""
        self._compile_steering()
        self._replan()

    def set_role(self, dim: int, role: str) -> None:
        self.steering.set_role(dim, role)
        self._steered()

    def hold(self, dim: int, value: float) -> None:
        self.steering.hold(dim, value)
        self._steered()

    def set_range(self, dim: int, low: float | None = None, high: float | None = None) -> None:
        self.steering.set_range(dim, low, high)
        self._steered()

    def set_notes(self, dim: int, notes: Sequence[int]) -> None:
        self.steering.set_notes(dim, notes)
        self._steered()

    def toggle_note(self, dim: int, note: int, on: bool | None = None) -> bool:
        allowed = self.steering.toggle_note(dim, note, on)
        self._steered()
        return allowed

    def set_scale(self, root: int, name: str, dims: Sequence[int] = ()) -> tuple[int, ...]:
        """Constrain note dimensions (``dims``, else every note output) to a scale."""
        chosen = tuple(dims) or self.note_dimensions
        if not chosen:
            raise CommandError(
                "scale: no output plays notes; name the dimensions (e.g. scale 62 major 1 2)"
            )
        for dim in chosen:
            self.steering.check(dim)
        notes = scale_of(root, name)
        before = dict(self.steering.notes)
        try:
            for dim in chosen:
                self.steering.set_notes(dim, notes)
        except CommandError:
            self.steering.notes = before
            raise
        self._steered()
        return chosen

    def set_density(self, value: float) -> None:
        self.steering.set_density(value)
        self._steered()

    def set_surprise(self, on: bool) -> None:
        """Turn the surprise meter on or off (its listener starts from a fresh state)."""
        self.settings.surprise = on
        if on and self.predictor is not None and self.model is not None:
            if self.listener is None:
                self.listener = Listener(self.predictor, self.dimension, self.model.mixtures)
        else:
            self.listener = None
            self.surprise = math.nan  # no value while the meter is off

    def configure_steering(self, config: SteeringConfig) -> None:
        """Apply a config's ``[steering]`` (already checked) through the live commands' code."""
        steering = self.steering
        for dim, role in enumerate(config.roles):
            steering.set_role(dim, role)
        for dim, value in config.hold.items():
            steering.hold(dim, value)
        for dim, (low, high) in config.ranges.items():
            steering.set_range(dim, low, high)
        for dim, notes in config.notes.items():
            steering.set_notes(dim, notes)
        if config.scale is not None:
            root, name = config.scale
            for dim in config.scale_dimensions:
                steering.set_notes(dim, scale_of(root, name))
        steering.set_density(config.density)
        self.set_surprise(config.surprise)
        self._steered()

    def steering_status(self) -> dict[str, object]:
        """The steering as flat name/value pairs (an OSC reply carries no lists)."""
        steering = self.steering
        out: dict[str, object] = {"density": steering.density}
        for d, role in enumerate(steering.roles):
            out[f"role{d}"] = role
            if role == "human":
                out[f"held{d}"] = float(steering.held[d])
        for d, (low, high) in sorted(steering.ranges.items()):
            out[f"low{d}"], out[f"high{d}"] = low, high
        for d, notes in sorted(steering.notes.items()):
            out[f"notes{d}"] = " ".join(str(n) for n in sorted(notes))
        out["fallbacks"] = getattr(self.model, "fallbacks", 0)
        return out

    def set_timescale(self, value: float) -> None:
        self.settings.timescale = value

    def set_threshold(self, value: float) -> None:
        """callresponse: a hand-over already waiting moves to the new threshold."""
        self.settings.threshold = value
        if self._handover is not None and self._last_user_time is not None:
            self._schedule_handover(self._last_user_time + value)

    def end_response(self) -> None:
        """callresponse: the model gives the floor back now (e.g. at a bar line).

        Its notes are released and it waits for the next call, as if the user
        had just played, but nothing is logged or echoed.
        """
        if self.responding:
            self._silence_model()
            log.info("model hands back")

    def swap_model(self, model: Model) -> None:
        """Play with another model from now on, without dropping input.

        The new model must have this run's dimension (the mappings are fixed).
        Whatever the old model queued is silenced; the mode then restarts.
        """
        if model.dimension != self.dimension:
            raise CommandError(
                f"model dimension {model.dimension} does not match this run's {self.dimension}"
            )
        if self.model is not None:
            model.pi_temp = self.model.pi_temp
            model.sigma_temp = self.model.sigma_temp
        self._silence_model()
        old = self.predictor
        self.model = model
        self.predictor = Predictor(model, self.counters, old.threaded if old else None)
        self.player = self._new_player()
        if old is not None:
            old.close()
        self._compile_steering()
        self.listener = None  # a new network: the meter (if on) listens afresh
        self.set_surprise(self.settings.surprise)
        self._enter_mode()
        log.info("model: %s", model.describe())

    def status(self) -> dict[str, object]:
        """Everything a status query or the web UI shows, as plain values."""
        model = self.model
        return {
            "mode": self.settings.mode,
            "paused": self.settings.paused,
            "responding": self.responding,
            "model": str(model.path) if model is not None else "",
            "dimension": self.dimension,
            "threshold": self.settings.threshold,
            "timescale": self.settings.timescale,
            "pitemp": model.pi_temp if model is not None else 0.0,
            "sigmatemp": model.sigma_temp if model is not None else 0.0,
            "steering_fallbacks": getattr(model, "fallbacks", 0),
            "realtime": int(self.realtime),
            # before the meter has heard two gestures there is no value (JSON has no NaN)
            **({} if math.isnan(self.surprise) else {"surprise": self.surprise}),
            **self.counters.as_dict(),
        }
