"""One step's mixture parameters, kept as the raw MDN output.

The network's last layer emits ``[mu (K*D), sigma (K*D), pi logits (K)]`` in
model space (data x ``SCALE``). Keeping that single array and exposing the
parts as reshaped views means a step allocates nothing beyond the array
itself, and the raw vector can be compared bit-for-bit with other engines.
"""

from __future__ import annotations

import numpy as np

SCALE = 10.0
"""Data are multiplied by this before entering the network and divided after sampling.

IMPSY trains every model on ``data * 10``; the factor is part of the file format.
"""


class MixtureParams:
    """The mixture density for the next event, in model space (data x ``SCALE``)."""

    __slots__ = ("raw", "dimension", "mixtures")

    def __init__(self, raw: np.ndarray, dimension: int, mixtures: int) -> None:
        self.raw = raw
        self.dimension = dimension
        self.mixtures = mixtures

    @property
    def mu(self) -> np.ndarray:
        """Component means, shape (K, D)."""
        kd = self.mixtures * self.dimension
        return self.raw[:kd].reshape(self.mixtures, self.dimension)

    @property
    def sigma(self) -> np.ndarray:
        """Component standard deviations (already through ELU + 1), shape (K, D)."""
        kd = self.mixtures * self.dimension
        return self.raw[kd : 2 * kd].reshape(self.mixtures, self.dimension)

    @property
    def pi_logits(self) -> np.ndarray:
        """Unnormalised component log-weights, shape (K,)."""
        return self.raw[2 * self.mixtures * self.dimension :]

    def __repr__(self) -> str:
        return f"MixtureParams(dimension={self.dimension}, mixtures={self.mixtures})"
