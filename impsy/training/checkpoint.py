"""Epoch checkpoints: what a training needs to go on after the process running it died.

A studio runs trainings on machines that can lose a worker (killed, out of
memory, a node gone). After every epoch the trainer hands a checkpoint to a
:class:`CheckpointStore` (a file here, the studio's store on a Ray cluster),
and a training started again on the same job finds it and continues from
the next epoch instead of from scratch.

A checkpoint is everything the next epochs depend on: the weights, the
optimiser's slots (Adam's moments, its step count and learning rate), the
best epoch so far with its weights and the history, and the counters of the
callbacks that halve the rate and stop early. The window stream is not
stored: it is a seeded sequence, so the resumed run skips the batches the
finished epochs used. Without dropout a resumed run ends with the weights an
uninterrupted one would have; with dropout, the dropout masks differ.

The format is NumPy's ``.npz`` of plain arrays with a JSON header, read with
``allow_pickle=False``: a checkpoint from elsewhere is data, never code.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

FORMAT = 1
"""Bumped when the layout changes; a checkpoint of another format is ignored."""


@dataclass
class EpochState:
    """A training after ``epoch`` epochs (1-based count of finished epochs)."""

    epoch: int
    weights: list[np.ndarray]
    optimizer: list[np.ndarray]
    best_loss: float
    best_epoch: int
    best_weights: list[np.ndarray] | None
    history: list[dict[str, float]]
    counters: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """Callback state by callback: ``plateau`` and ``stopping`` (``wait``, ``best``...)."""
    stopped: bool = False
    """Early stopping or the time limit ended the training after this epoch."""


class CheckpointStore(Protocol):
    """Where a job keeps its latest checkpoint: a file, a studio's store."""

    def load(self) -> bytes | None: ...

    def save(self, data: bytes) -> None: ...


class FileCheckpoints:
    """The latest checkpoint in one file, replaced atomically (write, then rename)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> bytes | None:
        return self.path.read_bytes() if self.path.is_file() else None

    def save(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        part = self.path.with_name(self.path.name + ".part")
        part.write_bytes(data)
        part.replace(self.path)


def pack(state: EpochState) -> bytes:
    """``state`` as ``.npz`` bytes: numbered arrays per list, the rest as a JSON header."""
    arrays: dict[str, np.ndarray] = {}
    for prefix, values in (
        ("w", state.weights),
        ("o", state.optimizer),
        ("b", state.best_weights or []),
    ):
        for index, value in enumerate(values):
            arrays[f"{prefix}{index}"] = np.asarray(value)
    header = {
        "format": FORMAT,
        "epoch": state.epoch,
        "weights": len(state.weights),
        "optimizer": len(state.optimizer),
        "best_weights": None if state.best_weights is None else len(state.best_weights),
        "best_loss": state.best_loss,
        "best_epoch": state.best_epoch,
        "history": state.history,
        "counters": state.counters,
        "stopped": state.stopped,
    }
    text = json.dumps(header, allow_nan=True).encode("utf-8")
    arrays["header"] = np.frombuffer(text, dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def unpack(data: bytes) -> EpochState | None:
    """The state in ``data``; None when it is not a checkpoint of this format."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            header = json.loads(bytes(archive["header"]).decode("utf-8"))
            if header.get("format") != FORMAT:
                return None

            def arrays(prefix: str, count: int | None) -> list[np.ndarray]:
                return [archive[f"{prefix}{i}"] for i in range(count or 0)]

            best_count = header["best_weights"]
            return EpochState(
                epoch=int(header["epoch"]),
                weights=arrays("w", header["weights"]),
                optimizer=arrays("o", header["optimizer"]),
                best_loss=float(header["best_loss"]),
                best_epoch=int(header["best_epoch"]),
                best_weights=None if best_count is None else arrays("b", best_count),
                history=list(header["history"]),
                counters=dict(header["counters"]),
                stopped=bool(header["stopped"]),
            )
    except (OSError, ValueError, KeyError, TypeError):
        return None


COUNTERS: dict[str, tuple[str, ...]] = {
    "plateau": ("wait", "cooldown_counter", "best"),
    "stopping": ("wait", "best", "best_epoch"),
}
"""The attributes of Keras' ReduceLROnPlateau and EarlyStopping that carry across epochs."""


def _plain(value: Any) -> float | None:
    """A counter as JSON takes it (Keras keeps ``best`` as None before the first epoch)."""
    return None if value is None else float(value)


def _counter_owners(callbacks: list[Any]) -> dict[str, Any]:
    import keras

    owners: dict[str, Any] = {}
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.ReduceLROnPlateau):
            owners["plateau"] = callback
        elif isinstance(callback, keras.callbacks.EarlyStopping):
            owners["stopping"] = callback
    return owners


def restore_model(model: Any, state: EpochState) -> None:
    """Weights and optimiser slots from ``state`` (the optimiser is built first)."""
    model.set_weights(state.weights)
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    if len(optimizer.variables) != len(state.optimizer):
        raise ValueError(
            f"checkpoint has {len(state.optimizer)} optimiser slots, "
            f"the model {len(optimizer.variables)}"
        )
    for variable, value in zip(optimizer.variables, state.optimizer, strict=True):
        variable.assign(value)


def checkpoint_callback(
    store: CheckpointStore, best: Any, callbacks: list[Any], resumed: EpochState | None
) -> Any:
    """A Keras callback, run after all the others, that saves a checkpoint after each epoch.

    ``best`` is the best-weights keeper of :func:`impsy.training.callbacks.make_callbacks`;
    ``callbacks`` the list it is in (their counters are saved); ``resumed`` the state
    the run started from, whose counters are put back when training begins (Keras
    resets them then, so they can only be put back after).
    """
    import keras

    owners = _counter_owners(callbacks)

    class Checkpointing(keras.callbacks.Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            if resumed is None:
                return
            for name, values in resumed.counters.items():
                owner = owners.get(name)
                for attribute, value in values.items():
                    if owner is not None and attribute in COUNTERS[name]:
                        setattr(owner, attribute, value)

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            counters = {
                name: {a: _plain(getattr(owner, a, None)) for a in COUNTERS[name]}
                for name, owner in owners.items()
            }
            state = EpochState(
                epoch=epoch + 1,
                weights=[w.copy() for w in self.model.get_weights()],
                optimizer=[np.asarray(v) for v in self.model.optimizer.variables],
                best_loss=float(best.best_loss),
                best_epoch=int(best.best_epoch),
                best_weights=best.best_weights,
                history=list(best.history),
                counters=counters,
                stopped=bool(self.model.stop_training),
            )
            store.save(pack(state))

    return Checkpointing()
