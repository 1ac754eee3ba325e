"""The model object the rest of impsy uses: step, sample, predict, reset.

It wraps an engine (NumPy or LiteRT), which owns the network and its LSTM
state, and adds what every engine shares: the sampling temperatures, the
steering (:mod:`impsy.model.steering`: held dimensions, allowed regions, the
dt tilt), a seedable random generator, and a description for logs. The
temperatures, the steering and the held values are plain attributes because
performers change them while playing: the engine swaps in new ones between
steps (a ``Steering`` is immutable, the held values are replaced, never
written into), so a step on the model's worker thread sees one or the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from impsy.model.params import SCALE, MixtureParams
from impsy.model.sampling import draw

if TYPE_CHECKING:  # the engine builds steering; a model file check never needs its maths
    from impsy.model.steering import Steering

_UNSCALE = 1.0 / SCALE


class Engine(Protocol):
    name: str
    gate: str
    dimension: int
    units: int
    layers: int
    mixtures: int
    tensor_map: dict | None

    def step(self, x: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...

    def state(self) -> list[np.ndarray]: ...

    def set_state(self, state: list[np.ndarray]) -> None: ...


class MDRNN:
    """A loaded MDRNN: feed it ``[dt, x1..xn]`` events, get the next one back."""

    def __init__(
        self,
        engine: Engine,
        path: Path,
        seed: int | None = None,
        gate_reason: str = "",
        weights_path: Path | None = None,
    ) -> None:
        self._engine = engine
        self._engine_step = engine.step
        self.path = Path(path)
        self.weights_path = Path(weights_path) if weights_path is not None else self.path
        self.engine = engine.name
        self.gate = engine.gate
        self.gate_reason = gate_reason
        self.dimension = engine.dimension
        self.units = engine.units
        self.layers = engine.layers
        self.mixtures = engine.mixtures
        self.tensor_map = engine.tensor_map
        self.pi_temp = 1.0
        self.sigma_temp = 0.01
        self.steering: Steering | None = None
        """Applied to every draw; None (or a plain one) draws exactly as IMPSY."""
        self.held: np.ndarray = np.zeros(self.dimension)
        """The event ``[dt, x1..xn]`` whose held dimensions (``steering.held``) every draw keeps."""
        self.fallbacks = 0
        """Steered draws that fell back (region with almost no mass, held values unexplained)."""
        self._raw: np.ndarray | None = None  # the mixture for the next event, after the last step
        self._rng = np.random.default_rng(seed)

    def _wrong_length(self, x: np.ndarray) -> ValueError:
        return ValueError(
            f"expected an event of {self.dimension} values [dt, x1..x{self.dimension - 1}], "
            f"got {len(x)}"
        )

    def step(self, x: np.ndarray) -> MixtureParams:
        """Feed one unscaled event and return the mixture for the next; the state advances."""
        if len(x) != self.dimension:
            raise self._wrong_length(x)
        self._raw = raw = self._engine_step(x)
        return MixtureParams(raw, self.dimension, self.mixtures)

    def sample(self, params: MixtureParams) -> np.ndarray:
        """Draw the next unscaled event from ``params`` with the current temperatures."""
        return self._draw(params.raw)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``sample(step(x))``: the next unscaled event after ``x``."""
        if len(x) != self.dimension:
            raise self._wrong_length(x)
        self._raw = raw = self._engine_step(x)
        return self._draw(raw)  # no MixtureParams built per note

    def fill(self, x: np.ndarray) -> np.ndarray:
        """Accompaniment: the next event, at this instant, given the performer's part of it.

        ``x`` is the performer's event ``[dt, x1..xn]``; the dimensions the
        steering holds keep ``x``'s values exactly, the others are drawn from
        the mixture the last step left, conditioned on the held ones (and
        restricted by the steering's regions). The state does not advance:
        the caller then feeds the whole event with :meth:`step`, so the LSTM
        sees what was played, one event per gesture. After a reset (or a
        change of state) there is no mixture yet: it is taken from a step on
        the performer's event, as if it had just been played, and the state
        is put back, so that step leaves no trace.
        """
        if len(x) != self.dimension:
            raise self._wrong_length(x)
        raw = self._raw
        if raw is None:
            state = self._engine.state()
            raw = self._engine_step(x)
            self._engine.set_state(state)
        return self._draw(raw, x)

    def _draw(self, raw: np.ndarray, held: np.ndarray | None = None) -> np.ndarray:
        steering = self.steering
        if steering is None or steering.plain:
            return draw(
                raw,
                self.dimension,
                self.mixtures,
                self.pi_temp,
                self.sigma_temp,
                self._rng,
                _UNSCALE,
            )
        sample, fell_back = steering.draw(
            raw, self.held if held is None else held, self.pi_temp, self.sigma_temp, self._rng
        )
        if fell_back:
            self.fallbacks += 1
        return sample

    def reset(self) -> None:
        """Zero the LSTM state, as at the start of a performance."""
        self._engine.reset()
        self._raw = None

    def seed(self, seed: int | None) -> None:
        """Restart the sampling generator; the same seed gives the same samples."""
        self._rng = np.random.default_rng(seed)

    @property
    def rng(self) -> np.random.Generator:
        """The generator ``sample`` draws from."""
        return self._rng

    def state(self) -> list[np.ndarray]:
        """Copies of the LSTM state ``[h_0, c_0, h_1, c_1, ...]``."""
        return self._engine.state()

    def set_state(self, state: list[np.ndarray]) -> None:
        """Continue from ``state`` (what ``state()`` returned): predicting ahead and then
        changing course (a new temperature, a steering change) goes back to where the music
        is, so the LSTM has seen exactly what was played."""
        self._engine.set_state(state)
        self._raw = None  # the mixture belonged to the state left behind

    def step_aside(self, state: list[np.ndarray] | None, x: np.ndarray) -> tuple[np.ndarray, list]:
        """Step another LSTM state on ``x``; the model's own state and mixture are untouched.

        For a second listener on the same network (the surprise meter hears
        only the performer, while the model plays on its own outputs).
        ``state`` None is the zero state of a reset. Returns the raw mixture
        for the next event and the state after ``x``.
        """
        if len(x) != self.dimension:
            raise self._wrong_length(x)
        engine = self._engine
        own, raw_before = engine.state(), self._raw
        try:
            if state is None:
                engine.reset()
            else:
                engine.set_state(state)
            raw = self._engine_step(x)
            after = engine.state()
        finally:
            engine.set_state(own)
            self._raw = raw_before
        return raw, after

    def describe(self) -> str:
        """One line for logs: file, engine, sizes and gate."""
        via = "" if self.weights_path == self.path else f" (weights from {self.weights_path.name})"
        reason = f" ({self.gate_reason})" if self.gate_reason else ""
        return (
            f"{self.path.name}{via}: {self.engine} engine, dimension {self.dimension}, "
            f"{self.units} units x {self.layers} layers, {self.mixtures} mixtures, "
            f"gate {self.gate}{reason}"
        )

    def __repr__(self) -> str:
        return f"<MDRNN {self.describe()}>"
