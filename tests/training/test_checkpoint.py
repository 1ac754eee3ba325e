"""Epoch checkpoints: a training that died after epoch k goes on from there, to the same end.

Real TensorFlow training (size xxs, 8-step windows) on the tiny generated
set of ``test_train``; the death is an exception raised by a callback after
the checkpoint of epoch 2 was saved, which is what a killed process leaves.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from impsy.training.checkpoint import (  # noqa: E402
    EpochState,
    FileCheckpoints,
    pack,
    unpack,
)
from impsy.training.trainer import TrainOptions, load_performances, train_model  # noqa: E402
from tests.training.test_train import make_dataset  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


class Died(Exception):
    """Stands for the worker process being killed."""


def test_a_checkpoint_survives_the_round_trip_as_plain_arrays():
    state = EpochState(
        epoch=3,
        weights=[np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(2, np.float32)],
        optimizer=[np.array(7), np.array(0.005, np.float32)],
        best_loss=1.25,
        best_epoch=2,
        best_weights=None,
        history=[{"epoch": 1, "loss": 2.0, "val_loss": float("inf")}],
        counters={"plateau": {"wait": 1.0, "best": None}},
        stopped=True,
    )
    back = unpack(pack(state))
    assert back is not None
    assert back.epoch == 3 and back.best_epoch == 2 and back.best_loss == 1.25
    assert back.best_weights is None and back.stopped
    np.testing.assert_array_equal(back.weights[0], state.weights[0])
    assert back.optimizer[0] == 7 and back.optimizer[1].dtype == np.float32
    assert back.history == state.history and back.counters == state.counters
    assert unpack(b"not a checkpoint") is None


def test_a_run_killed_after_epoch_two_resumes_and_ends_where_an_unbroken_run_ends(tmp_path):
    data = make_dataset(tmp_path / "training-dataset-3d.npz")
    performances = load_performances(data, None)

    def options(folder: str) -> TrainOptions:
        return TrainOptions(
            dataset=data,
            destination=tmp_path / folder,
            size="xxs",
            epochs=4,
            batch_size=16,
            sequence_length=8,
            seed=11,
            learning_rate=0.01,
            reduce_lr_patience=1,  # its counters and a halved rate must carry over
        )

    whole = train_model(options("whole"), performances, report=lambda _line: None)

    import keras

    class DieAfterEpochTwo(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == 2:
                raise Died

    store = FileCheckpoints(tmp_path / "job" / "checkpoint.npz")
    with pytest.raises(Died):
        train_model(
            options("broken"),
            performances,
            report=lambda _line: None,
            extra_callbacks=[DieAfterEpochTwo()],
            checkpoints=store,
        )
    saved = unpack(store.load())
    assert saved is not None and saved.epoch == 2
    lines: list[str] = []
    resumed = train_model(options("resumed"), performances, report=lines.append, checkpoints=store)
    assert any(line.startswith("checkpoint: resuming after epoch 2") for line in lines), lines
    epochs_run = [line.split()[1] for line in lines if line.startswith("epoch ")]
    assert epochs_run == ["3/4", "4/4"], lines  # only the epochs the first try did not finish
    assert resumed.summary["epochs_run"] == 4
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in whole.history]
    assert resumed.summary["best_epoch"] == whole.summary["best_epoch"]

    from impsy.model.formats import read_keras

    a = read_keras(whole.outputs["keras"])
    b = read_keras(resumed.outputs["keras"])
    for x, y in zip(a.lstm, b.lstm, strict=True):
        np.testing.assert_array_equal(x.kernel, y.kernel)
    np.testing.assert_array_equal(a.mdn.mu_kernel, b.mdn.mu_kernel)
