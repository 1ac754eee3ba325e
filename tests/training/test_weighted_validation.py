"""Validation weighted by a dataset's row weights (marked spans), as training draws windows.

Real TensorFlow training (size xxs, 8-step windows, one epoch). The expected
scores are computed here from the exported model with the numpy engine,
window by window and step by step from a reset state, not by the trainer's
own scoring code.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from impsy.dataset.npz import write_dataset  # noqa: E402
from impsy.model import load_model  # noqa: E402
from impsy.model.nll import performance_nll  # noqa: E402
from impsy.training.split import split_performances  # noqa: E402
from impsy.training.trainer import (
    TrainOptions,
    TrainResult,
    load_performances,
    train_model,
)  # noqa: E402
from tests.training.test_train import make_dataset  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
T = 8  # sequence length: windows of T + 1 rows, scored on rows 1..T
SEED = 7


def options(data: Path, out: Path, **more) -> TrainOptions:
    return TrainOptions(
        dataset=data, destination=out, size="xxs", epochs=1, batch_size=16,
        sequence_length=T, seed=SEED, **more,
    )  # fmt: skip


@pytest.fixture(scope="module")
def marked(tmp_path_factory) -> tuple[Path, list[np.ndarray], int, int]:
    """The same performances with weights: spans of 2, 0.25 and 1 everywhere, and in one
    validation performance a tail of weight 0 from the targets of one window on.

    Returns the dataset, its weights, that performance and the first row of its tail."""
    plain = make_dataset(tmp_path_factory.mktemp("plain") / "training-dataset-3d.npz")
    performances = load_performances(plain, None)
    lengths = [len(p) for p in performances]
    validation = split_performances(lengths, 0, SEED, 0.1, T + 1).validation
    rng = np.random.default_rng(11)
    weights = [rng.choice([0.25, 1.0, 2.0], size=n) for n in lengths]
    chosen = validation[0]
    assert lengths[chosen] >= 4 * T  # room for two scored windows before the tail
    tail = 2 * T + 1  # the targets of the window starting at row 2T, and every row after
    weights[chosen][tail:] = 0.0
    path = write_dataset(tmp_path_factory.mktemp("marked") / "marked.npz", performances, weights)
    return path, weights, chosen, tail


def by_hand(keras_file: Path, performances, weights, validation) -> tuple[float, float]:
    """(window loss, whole-performance NLL), weighted, from the exported model."""
    model = load_model(keras_file, engine="numpy")
    window_sum = window_weight = step_sum = step_weight = 0.0
    for index in validation:
        rows, w = performances[index], weights[index]
        for start in range(0, len(rows) - T, T):  # the fixed windows: T apart from row 0
            nll = performance_nll(model, rows[start : start + T + 1]).mean()
            weight = w[start + 1 : start + T + 1].mean()  # the rows the window is scored on
            window_sum += weight * nll
            window_weight += weight
        steps = performance_nll(model, rows)
        step_sum += float(np.sum(steps * w[1:]))
        step_weight += float(np.sum(w[1:]))
    return window_sum / window_weight, step_sum / step_weight


@pytest.fixture(scope="module")
def marked_run(tmp_path_factory, marked) -> tuple[TrainResult, list[str]]:
    """One epoch on the marked dataset, the epoch picked by whole performances."""
    data = marked[0]
    lines: list[str] = []
    out = tmp_path_factory.mktemp("marked-run")
    options_ = options(data, out, select_by="performances")
    return train_model(options_, load_performances(data, None), lines.append), lines


def test_weighted_validation_scores_each_window_and_step_by_its_weight(marked, marked_run):
    data, weights, _, _ = marked
    performances = load_performances(data, None)
    result, lines = marked_run
    (epoch,) = result.history
    assert any(line.startswith("validation:") and "weighted" in line for line in lines), lines
    validation = result.summary["split"]["validation"]
    window_loss, step_nll = by_hand(result.outputs["keras"], performances, weights, validation)
    plain_loss, _ = by_hand(
        result.outputs["keras"], performances, [np.ones(len(p)) for p in performances], validation
    )
    print(
        f"val_loss {epoch['val_loss']:.5f} (by hand {window_loss:.5f}, unweighted {plain_loss:.5f})"
    )
    assert epoch["val_loss"] == pytest.approx(window_loss, rel=1e-4)
    assert epoch["val_nll"] == pytest.approx(step_nll, rel=1e-4)
    assert abs(plain_loss - window_loss) > 1e-3  # the weights matter for this data
    assert result.summary["best_val_loss"] == epoch["val_nll"]


def test_a_span_of_weight_zero_does_not_move_the_validation_score(tmp_path, marked, marked_run):
    """Rows in the weight-0 tail changed wildly: the same val_loss and val_nll."""
    data, weights, chosen, tail = marked
    performances = load_performances(data, None)
    first = marked_run[0].history[0]
    changed = [p.copy() for p in performances]
    noise = np.random.default_rng(5).random(changed[chosen][tail:].shape).astype(np.float32)
    changed[chosen][tail:] = noise * np.array([3.0, 1.0, 1.0], np.float32)
    other = write_dataset(tmp_path / "changed.npz", changed, weights)
    second = train_model(
        options(other, tmp_path, select_by="performances"), changed, print
    ).history[0]
    assert second["loss"] == first["loss"]  # the validation performance is not trained on
    assert second["val_loss"] == first["val_loss"]
    assert second["val_nll"] == first["val_nll"]
