"""How well a model predicts recorded performances: mean negative log-likelihood per step.

Each performance is replayed from a zeroed LSTM state; after each row the
model's mixture is scored on the *next* row. Scores are in model space (data
x ``SCALE``), the space keras-mdn-layer's training loss works in, so the
numbers are comparable with IMPSY's ``val_loss``. The data-space NLL of the
same predictions is lower by ``D * ln(SCALE)`` per step (the Jacobian of
the scaling); :data:`data_space_offset` gives that constant.

The same function serves ``impsy evaluate`` and the gate-activation
measurement, so both report the same quantity.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from impsy.model.errors import ModelError
from impsy.model.params import SCALE, MixtureParams

_LOG_2PI = math.log(2.0 * math.pi)


class Steppable(Protocol):
    dimension: int
    mixtures: int

    def reset(self) -> None: ...

    def step(self, x: np.ndarray) -> MixtureParams: ...


def mixture_log_prob(raw: np.ndarray, targets: np.ndarray, dimension: int, mixtures: int):
    """log p(target | mixture) for each row of raw MDN outputs, in float64.

    ``raw`` is (N, K*(2D+1)), ``targets`` (N, D), both in model space. Uses
    log-softmax and log-sum-exp so very peaked mixtures do not underflow.
    """
    raw = np.asarray(raw, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    kd = mixtures * dimension
    mu = raw[:, :kd].reshape(-1, mixtures, dimension)
    sigma = raw[:, kd : 2 * kd].reshape(-1, mixtures, dimension)
    logits = raw[:, 2 * kd :]
    z = (targets[:, None, :] - mu) / sigma
    log_component = (
        -0.5 * dimension * _LOG_2PI - np.log(sigma).sum(axis=-1) - 0.5 * (z * z).sum(axis=-1)
    )
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_pi = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    joint = log_pi + log_component
    top = joint.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(joint - top).sum(axis=1, keepdims=True)))[:, 0]


def data_space_offset(dimension: int) -> float:
    """Subtract this from a model-space NLL per step to get the data-space NLL."""
    return dimension * math.log(SCALE)


def performance_nll(model: Steppable, performance: np.ndarray) -> np.ndarray:
    """Per-step NLL (model space) of rows 1..N-1 given the rows before, from a reset state."""
    rows = np.asarray(performance, dtype=np.float32)
    if len(rows) < 2:
        return np.zeros(0)
    model.reset()
    raw = np.empty((len(rows) - 1, model.mixtures * (2 * model.dimension + 1)))
    for t in range(len(rows) - 1):
        raw[t] = model.step(rows[t]).raw
    targets = rows[1:].astype(np.float64) * SCALE
    return -mixture_log_prob(raw, targets, model.dimension, model.mixtures)


@dataclass(frozen=True)
class PerformanceScore:
    """One performance's result: its index in the dataset, scored steps, mean NLL."""

    index: int
    steps: int
    mean_nll: float


@dataclass(frozen=True)
class Evaluation:
    """The overall mean NLL per step (steps pooled) and each performance's."""

    mean_nll: float
    steps: int
    performances: list[PerformanceScore]


def evaluate(model: Steppable, performances: Iterable[np.ndarray]) -> Evaluation:
    """Score every performance; the overall mean weights each step equally."""
    scores = []
    total = 0.0
    steps = 0
    for index, performance in enumerate(performances):
        nll = performance_nll(model, performance)
        if len(nll):
            scores.append(PerformanceScore(index, len(nll), float(nll.mean())))
            total += float(nll.sum())
            steps += len(nll)
    model.reset()
    mean = total / steps if steps else float("nan")
    return Evaluation(mean, steps, scores)


def read_performances(path: Path | str) -> list[np.ndarray]:
    """The ``perfs`` of an IMPSY training ``.npz``, as a list of float32 (N_i, D) arrays.

    NumPy stores the list as an object array, or as one 3-D array when every
    performance has the same length; both come back as a list here.
    """
    from impsy.dataset.npz import read_npz_array

    try:
        perfs = read_npz_array(path, "perfs")  # unpickles numpy arrays and nothing else
    except KeyError:
        raise ModelError(f"{path}: no 'perfs' array") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ModelError(f"{path}: not a readable dataset .npz ({err})") from None
    if perfs.dtype != object and perfs.ndim != 3:
        raise ModelError(
            f"{path}: 'perfs' is a {perfs.dtype} array of shape {perfs.shape}; expected a list "
            "of (N, D) performances"
        )
    items: Sequence[np.ndarray] = list(perfs)
    result = []
    for number, item in enumerate(items):
        array = np.asarray(item, dtype=np.float32)
        if array.ndim != 2:
            raise ModelError(
                f"{path}: performance {number} has shape {array.shape}; expected (N, D)"
            )
        result.append(array)
    return result
