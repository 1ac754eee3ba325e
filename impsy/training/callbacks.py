"""Keras callbacks for training: one progress line per epoch, and best weights kept.

Built by functions so ``keras`` is imported only when training starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from impsy.training.progress import epoch_line


def make_callbacks(
    report: Callable[[str], None],
    epochs: int,
    patience: int | None,
    reduce_lr_patience: int | None = None,
    max_seconds: float | None = None,
    validation_performances: list[Any] | None = None,
    initial: tuple[float, list[Any]] | None = None,
    validation_row_weights: list[Any] | None = None,
    validation_loss: Callable[[Any], float] | None = None,
) -> tuple[Any, list[Any]]:
    """``(best, callbacks)``: ``best`` holds the best-validation weights and the history.

    ``best`` restores those weights when training ends, however it ends
    (epoch limit, early stopping, time limit, NaN), so what is exported is
    always the epoch with the lowest validation loss, not the last one.
    ``reduce_lr_patience`` halves the learning rate after that many epochs
    without improvement: a high rate gets near fast, a lower one then
    settles. ``max_seconds`` ends training after the epoch that passes it.

    With ``validation_performances`` (whole performances, not windows) each
    epoch also scores them from a reset state as ``impsy evaluate`` does
    (logged as ``val_nll``), and that score, not the window loss, picks the
    best epoch, halves the rate and stops early. ``initial`` is the starting
    weights' score and weights when fine-tuning: an epoch must beat it to be
    kept, so a fine-tune never exports weights worse than it started from.

    A dataset with row weights (marked spans) is validated with them, as
    training draws by them: ``validation_row_weights`` (one array per
    validation performance) weight each step of ``val_nll``, and
    ``validation_loss`` (a function of the model, the weighted window loss
    of :mod:`impsy.training.scoring`) is logged as ``val_loss`` in place of
    Keras's, which ``fit`` then does not compute.

    Each epoch's logs get ``improved`` (1.0 when that epoch's weights became
    the ones to export, else 0.0), so callbacks run after these (the
    benchmark's test scoring) follow that choice instead of redoing it.
    """
    import keras
    import numpy as np

    monitor = "val_loss" if validation_performances is None else "val_nll"

    class PerformanceValidation(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            from impsy.training.scoring import performances_nll

            if logs is not None:
                logs["val_nll"] = performances_nll(
                    self.model.get_weights(), validation_performances, validation_row_weights
                )

    class WeightedValidation(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if logs is not None and validation_loss is not None:
                logs["val_loss"] = validation_loss(self.model)

    class BestWeights(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best_loss = float("inf") if initial is None else float(initial[0])
            self.best_epoch = 0
            self.best_weights: list[Any] | None = None if initial is None else initial[1]
            self.history: list[dict[str, float]] = []
            self._started = 0.0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = {} if logs is None else logs  # the same dict later callbacks get
            seconds = time.perf_counter() - self._started
            loss = float(logs.get("loss", float("nan")))
            val = float(logs.get("val_loss", float("nan")))
            entry = {"epoch": epoch + 1, "loss": loss, "val_loss": val}
            if monitor == "val_nll":
                entry["val_nll"] = float(logs.get("val_nll", float("nan")))
            entry["learning_rate"] = float(
                keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
            )
            entry["seconds"] = round(seconds, 3)
            self.history.append(entry)
            score = entry[monitor]
            improved = bool(np.isfinite(score) and score < self.best_loss)
            if improved:
                self.best_loss, self.best_epoch = score, epoch + 1
                self.best_weights = [w.copy() for w in self.model.get_weights()]
            logs["improved"] = float(improved)
            report(
                epoch_line(epoch + 1, epochs, loss, val, seconds, improved, entry.get("val_nll"))
            )

        def on_train_end(self, logs: Any = None) -> None:
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    class TimeLimit(keras.callbacks.Callback):
        def __init__(self, seconds: float) -> None:
            super().__init__()
            self.seconds = seconds
            self._started = 0.0

        def on_train_begin(self, logs: Any = None) -> None:
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if time.perf_counter() - self._started > self.seconds:
                report(f"time limit of {self.seconds / 60:g} min reached after epoch {epoch + 1}")
                self.model.stop_training = True

    best = BestWeights()
    callbacks: list[Any] = [keras.callbacks.TerminateOnNaN()]
    if validation_loss is not None:
        callbacks.append(WeightedValidation())  # before the callbacks that read val_loss
    if validation_performances is not None:
        callbacks.append(PerformanceValidation())  # before the callbacks that read val_nll
    callbacks.append(best)
    if reduce_lr_patience is not None:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                mode="min",
                factor=0.5,
                patience=reduce_lr_patience,
                min_lr=1e-5,
            )
        )
    if max_seconds is not None:
        callbacks.append(TimeLimit(max_seconds))
    if patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor=monitor, mode="min", patience=patience)
        )
    return best, callbacks
