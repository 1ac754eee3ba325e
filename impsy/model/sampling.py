"""Drawing the next event from a step's mixture parameters.

The procedure is IMPSY's (and keras-mdn-layer's): soften the component
weights with ``pi_temp``, pick a component by comparing one uniform draw with
the cumulative weights, then draw each dimension independently from a normal
with std ``sigma * sqrt(sigma_temp)``. A diagonal normal is drawn per
dimension rather than through ``multivariate_normal``: it is the same
distribution, but without building and factorising a covariance matrix on
every note.

Everything here is in model space (data x ``SCALE``). The draw order is fixed
(one uniform, then ``D`` normals) so a seeded generator reproduces
a performance exactly.
"""

from __future__ import annotations

import math

import numpy as np

from impsy.model.params import MixtureParams


def mixture_weights(pi_logits: np.ndarray, pi_temp: float) -> np.ndarray:
    """Component probabilities ``softmax(pi_logits / pi_temp)`` (float64).

    A low ``pi_temp`` sharpens the choice towards the likeliest component; a high
    one spreads it. The maximum is subtracted first so large logits cannot overflow.
    """
    scaled = np.asarray(pi_logits, dtype=np.float64) / pi_temp
    scaled -= scaled.max()
    np.exp(scaled, out=scaled)
    scaled /= scaled.sum()
    return scaled


def pick_mixture(weights: np.ndarray, u: float) -> int:
    """The first component whose cumulative weight reaches ``u`` (uniform in [0, 1)).

    Rounding can leave the total a hair under ``u``; the last component is
    returned then, rather than the ``-1`` keras-mdn-layer would give.
    """
    total = 0.0
    last = len(weights) - 1
    for k, weight in enumerate(weights):
        total += float(weight)
        if total >= u:
            return k
    return last


def _pick_from_logits(logits: list[float], pi_temp: float, u: float) -> int:
    """``pick_mixture(mixture_weights(logits, pi_temp), u)`` in plain floats.

    For five components Python arithmetic is several times quicker than
    NumPy's per-call overhead; the comparison is made on unnormalised weights
    against ``u * total`` so no division per component is needed.
    """
    top = max(logits)
    weights = [math.exp((value - top) / pi_temp) for value in logits]
    threshold = u * sum(weights)
    total = 0.0
    for k, weight in enumerate(weights):
        total += weight
        if total >= threshold:
            return k
    return len(weights) - 1


def draw(
    raw: np.ndarray,
    dimension: int,
    mixtures: int,
    pi_temp: float,
    sigma_temp: float,
    rng: np.random.Generator,
    out_scale: float = 1.0,
) -> np.ndarray:
    """One sample from a raw MDN output vector, multiplied by ``out_scale``.

    ``out_scale`` lets the model fold the final division by ``SCALE`` into the
    arithmetic it already does, which matters on a path that runs per note.
    """
    kd = mixtures * dimension
    k = _pick_from_logits(raw[2 * kd :].tolist(), pi_temp, rng.random())
    start = k * dimension
    sample = rng.normal(0.0, math.sqrt(sigma_temp), dimension)
    sample *= raw[kd + start : kd + start + dimension]
    sample += raw[start : start + dimension]
    if out_scale != 1.0:
        sample *= out_scale
    return sample


def sample_params(
    params: MixtureParams,
    pi_temp: float,
    sigma_temp: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """A model-space sample: pick a component, then ``mu_k + sigma_k*sqrt(sigma_temp)*N(0, 1)``."""
    return draw(params.raw, params.dimension, params.mixtures, pi_temp, sigma_temp, rng)
