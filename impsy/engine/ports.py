"""What the engine needs from the outside: the adapters it plays through and the model it asks.

The engine owns these two ports and everything else plugs into them: an
adapter (``impsy.io``, the sequencer) delivers gestures to the engine and
plays what the engine sends; a model (``impsy.model.MDRNN``) turns one event
into the next. Adapters never talk to the model.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from impsy.clock import Handle
from impsy.engine.eventlog import EventLog
from impsy.engine.stats import Counters


class Model(Protocol):
    """An MDRNN as the engine uses it: one event ``[dt, x_1..x_n]`` in, the next out.

    ``predict`` steps the LSTM and samples; ``step`` only steps (the user is
    playing) and returns the mixture, whose ``raw`` array the engine checks
    for NaN. The temperatures are plain attributes, changed while playing.
    ``state``/``set_state`` copy the LSTM state out and back: the player predicts
    ahead, and goes back to where the music is when it must change course.
    ``fill`` draws the rest of a performer's event at once (accompaniment);
    ``step_aside`` steps a second state (the surprise meter's listener).
    """

    dimension: int
    pi_temp: float
    sigma_temp: float
    path: Path

    steering: Any
    """An ``impsy.model.steering.Steering`` every draw applies, or None."""
    held: np.ndarray
    """The event whose held dimensions the steering keeps."""
    fallbacks: int

    def predict(self, x: np.ndarray) -> np.ndarray: ...

    def fill(self, x: np.ndarray) -> np.ndarray: ...

    def step_aside(self, state: list[np.ndarray] | None, x: np.ndarray) -> tuple[Any, list]: ...

    def step(self, x: np.ndarray) -> Any: ...

    def reset(self) -> None: ...

    def state(self) -> list[np.ndarray]: ...

    def set_state(self, state: list[np.ndarray]) -> None: ...

    def describe(self) -> str: ...


class Performance(Protocol):
    """The engine as an adapter sees it: where gestures go, and what it may ask."""

    counters: Counters
    event_log: EventLog | None
    responding: bool
    """callresponse: the model has the floor."""
    input_backlogged: bool
    """Set by an input adapter while the OS holds a backlog of its input."""

    def user_values(self, values: Sequence[float], source: str = "") -> None:
        """A dense gesture: all of x_1..x_n at once."""

    def user_input(self, updates: Iterable[tuple[int, float]], source: str = "") -> None:
        """A sparse gesture: (index, value) updates from one message."""

    def bad_input(self, source: str, reason: str, detail: str = "") -> None:
        """Count and report a message that could not be used (``reason`` a fixed phrase)."""

    def end_response(self) -> None:
        """callresponse: the model gives the floor back now."""


class Adapter(abc.ABC):
    """A connection that may deliver gestures and may play output vectors.

    Input goes adapter -> engine through ``engine.user_values`` (a dense
    vector) or ``engine.user_input`` (sparse updates), and bad input through
    ``engine.bad_input``; output goes engine -> adapter through ``send``.
    """

    name: str = "adapter"
    ahead_s: float = 0.0
    """How long before they are due this output sends the model's scheduled events (OSC time
    tags); 0: it plays what ``send`` gives it when it is given."""

    @abc.abstractmethod
    async def start(self, engine: Performance) -> None:
        """Open ports or sockets; after this, input reaches ``engine``."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Release everything ``start`` opened; safe to call twice."""

    @abc.abstractmethod
    def send(self, values: np.ndarray) -> None:
        """Play one output vector ``x_1..x_n`` (already clipped to [0, 1])."""

    def send_ahead(self, values: np.ndarray, due: float) -> Handle | None:
        """With ``ahead_s`` > 0: take an event of the model's playing due at ``due`` (the
        engine's clock) as soon as that is known, and send it when the adapter sees fit;
        the engine does not ``send`` it again when it is due. The handle withdraws it
        while it has not left (None: it has)."""
        raise NotImplementedError(f"{self.name} does not send ahead")

    def release(self) -> None:  # noqa: B027 - most adapters have nothing sounding
        """Silence whatever the model left sounding (note-offs)."""

    def send_surprise(self, value: float) -> None:  # noqa: B027 - most outputs ignore it
        """The surprise meter's value for the last gesture (nats), for outputs mapped to it."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for the start-up summary: what and where."""

    def health(self) -> dict[str, object]:
        """What the dashboard shows: ``state`` is "open", "waiting" or "error"."""
        return {"name": self.name, "description": self.describe(), "state": "open"}
