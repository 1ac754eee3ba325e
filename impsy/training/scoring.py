"""Score a training model's current weights on whole performances, as ``impsy evaluate`` does.

Window losses start every window from a zero state, so they say little
about a model that must carry its state through a whole performance, and
that is what ``impsy evaluate`` and the test NLL measure. Copying the
weights into the numpy engine and replaying each validation performance
from a reset state scores the model the way it will be used (and takes
well under a second for the bundled 9-D set's validation performances).

A dataset with row weights (spans a performer marked good or bad) is scored
with the same weights training draws by: each validation window's loss
counts in proportion to its weight (the mean weight of the rows it is
scored on), each whole-performance step in proportion to its target row's.
A span of weight 0 then cannot move the score, and a good span moves it
twice as much, so the epoch kept is the one best on the playing that was
wanted. Without weights nothing here runs: Keras's own ``val_loss`` and
:func:`performances_nll`'s plain mean stay exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def mdrnn_from_keras_weights(weights: list[Any], name: str = "training") -> Any:
    """An :class:`impsy.model.mdrnn.MDRNN` (numpy engine, sigmoid gate) on these weights.

    ``weights`` is Keras' ``get_weights()`` order for the training or the
    inference model: three arrays per LSTM layer, then the MDN's six.
    """
    from impsy.model.mdrnn import MDRNN
    from impsy.model.numpy_engine import NumpyEngine
    from impsy.model.weights import Provenance, build_weights

    layers = (len(weights) - 6) // 3
    arrays = build_weights(
        [tuple(weights[3 * i : 3 * i + 3]) for i in range(layers)],
        tuple(weights[3 * layers :]),
        Provenance("keras-zip", "3"),
        name,
    )
    return MDRNN(NumpyEngine(arrays, "sigmoid"), Path(name))


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """``sum(w * v) / sum(w)``; a weight of 0 drops its value even when that is inf or NaN."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if values.shape != weights.shape:
        raise ValueError(f"{values.shape[0]} values but {weights.shape[0]} weights")
    total = float(weights.sum())
    if not total > 0:
        raise ValueError("every weight is 0: nothing to score")
    kept = weights > 0
    return float(np.sum(weights[kept] * values[kept]) / total)


def performances_nll(
    weights: list[Any],
    performances: Sequence[np.ndarray],
    row_weights: Sequence[np.ndarray] | None = None,
) -> float:
    """Mean NLL per step (model space) of these weights over whole performances.

    With ``row_weights`` (one per row of each performance) each step counts
    as much as the row it predicts: the mean is ``sum(w * nll) / sum(w)``.
    """
    return model_nll(mdrnn_from_keras_weights(weights), performances, row_weights)


def model_nll(
    model: Any,
    performances: Sequence[np.ndarray],
    row_weights: Sequence[np.ndarray] | None = None,
) -> float:
    """:func:`performances_nll` of a loaded model (the numpy engine's, or any steppable)."""
    from impsy.model import nll

    if row_weights is None:
        return nll.evaluate(model, performances).mean_nll
    steps = [nll.performance_nll(model, p) for p in performances]
    model.reset()
    targets = [np.asarray(w, dtype=np.float64)[1:] for w in row_weights]
    return weighted_mean(np.concatenate(steps), np.concatenate(targets))


def window_nlls(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> np.ndarray:
    """Each window's mean NLL per step (model space), from a zero state, as the loss sees it.

    ``x`` and ``y`` are ``(B, T, D)`` model-space windows (``y`` one row
    ahead); ``model`` is the Keras training model. The mixture is scored in
    float64 by :func:`impsy.model.nll.mixture_log_prob`.
    """
    from impsy.model.nll import mixture_log_prob

    raw = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    windows, steps, dimension = y.shape
    mixtures = raw.shape[-1] // (2 * dimension + 1)
    log_prob = mixture_log_prob(
        raw.reshape(windows * steps, -1), y.reshape(windows * steps, dimension), dimension, mixtures
    )
    return -log_prob.reshape(windows, steps).mean(axis=1)


def weighted_window_loss(
    x: np.ndarray, y: np.ndarray, window_weights: np.ndarray, batch_size: int
) -> Callable[[Any], float]:
    """A function of the training model: the weighted mean of these windows' losses."""

    def score(model: Any) -> float:
        return weighted_mean(window_nlls(model, x, y, batch_size), window_weights)

    return score
