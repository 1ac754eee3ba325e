"""The model object the rest of impsy uses: step, sample, predict, reset.

It wraps an engine (NumPy or LiteRT), which owns the network and its LSTM
state, and adds what every engine shares: the sampling temperatures, a
seedable random generator, and a description for logs. The temperatures are
plain attributes because performers change them while playing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from impsy.model.params import SCALE, MixtureParams
from impsy.model.sampling import draw

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
        return MixtureParams(self._engine_step(x), self.dimension, self.mixtures)

    def sample(self, params: MixtureParams) -> np.ndarray:
        """Draw the next unscaled event from ``params`` with the current temperatures."""
        return self._draw(params.raw)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``sample(step(x))``: the next unscaled event after ``x``."""
        if len(x) != self.dimension:
            raise self._wrong_length(x)
        return self._draw(self._engine_step(x))  # no MixtureParams built per note

    def _draw(self, raw: np.ndarray) -> np.ndarray:
        return draw(
            raw, self.dimension, self.mixtures, self.pi_temp, self.sigma_temp, self._rng, _UNSCALE
        )

    def reset(self) -> None:
        """Zero the LSTM state, as at the start of a performance."""
        self._engine.reset()

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
