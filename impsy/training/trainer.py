"""Train an MDRNN on a dataset and write its ``.keras``, ``.tflite``, summary and loss plot.

The steps: read the performances, split whole performances into train,
validation and test sets (seeded), fit on lazily gathered windows with one
line per epoch, restore the best-validation weights, copy them into the
one-step inference model, export it, and score the exported ``.keras`` on
the test performances with :mod:`impsy.model.nll`, the same code
``impsy evaluate`` uses.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from impsy.errors import ImpsyError
from impsy.training.checkpoint import CheckpointStore, EpochState
from impsy.training.network import SCALE, model_name
from impsy.training.split import Split, split_performances
from impsy.training.windows import WindowSource

SEQUENCE_LENGTH = 50
"""IMPSY's training window (``SEQ_LEN``): 50 steps, scored one row ahead."""
IMPSY_SEED = 2345
"""IMPSY seeds NumPy and ``random`` with this (not TensorFlow, so its runs still vary)."""
STRATEGIES = ("default", "mirrored")
SELECT_BY = ("windows", "performances")


@dataclass(frozen=True)
class TrainOptions:
    """Everything a run depends on; recorded in the summary as given."""

    dataset: Path
    destination: Path = Path("models")
    size: str = "s"
    units: int | None = None
    """LSTM units per layer instead of the size's (sweeps try sizes between the names)."""
    layers: int | None = None
    """LSTM layers instead of the size's."""
    early_stopping: bool = True
    patience: int = 10
    epochs: int = 100
    batch_size: int = 64
    seed: int = IMPSY_SEED
    test_performances: int = 0
    strategy: str = "default"
    sequence_length: int = SEQUENCE_LENGTH
    window_step: int | None = None
    """Rows between windows in an epoch; None means ``sequence_length`` (IMPSY: 1)."""
    validation_fraction: float = 0.1
    learning_rate: float = 1e-2
    clipnorm: float | None = 1.0
    """Gradient norm clip: a 400 s pause is 4000 in model space, and its gradient would
    otherwise throw the weights far off in one step (IMPSY: none)."""
    reduce_lr_patience: int | None = 5
    """Halve the learning rate after this many epochs without improvement (None: never)."""
    max_minutes: float | None = None
    """Stop after the epoch that passes this much training time (None: no limit)."""
    name: str | None = None
    """File stem; None means IMPSY's ``musicMDRNN-dim..-scale10``."""
    force: bool = False
    init_from: Path | None = None
    """A ``.keras`` of the same size whose weights start the training (fine-tuning)."""
    dropout: float = 0.0
    """Dropout on each LSTM's inputs while training (0: none)."""
    recurrent_dropout: float = 0.0
    """Dropout on each LSTM's recurrent state while training (0: none)."""
    split_length: int | None = None
    """Shortest performance the validation split may pick (default: the window,
    ``sequence_length + 1``); set 51 to keep a 50-step run's split with longer windows."""
    augment: tuple[str, ...] = ()
    """Training-window augmentations (see :data:`impsy.training.windows.AUGMENTATIONS`);
    validation and test data are never changed."""
    select_by: str = "windows"
    """What picks the best epoch, halves the rate and stops early: ``windows`` (the mean
    loss over validation windows from a zero state, IMPSY's ``val_loss``) or
    ``performances`` (whole validation performances from a reset state, as the test
    NLL and ``impsy evaluate`` score a model)."""


@dataclass
class TrainResult:
    """What a run produced, and the numbers the summary holds."""

    outputs: dict[str, Path]
    summary: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)


def output_paths(destination: Path, stem: str) -> dict[str, Path]:
    """The four files a run writes, by kind."""
    return {
        "keras": destination / f"{stem}.keras",
        "tflite": destination / f"{stem}.tflite",
        "summary": destination / f"{stem}.json",
        "plot": destination / f"{stem}-loss.png",
    }


def resolved_size(options: TrainOptions) -> Any:
    """The architecture trained: the named size, with ``units``/``layers`` where given."""
    from impsy.config import model_size
    from impsy.config.sizes import ModelSize

    size = model_size(options.size)
    for key in ("units", "layers"):
        value = getattr(options, key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ImpsyError(f"{key} must be a positive integer, got {value!r}")
    return ModelSize(
        units=options.units or size.units,
        mixtures=size.mixtures,
        layers=options.layers or size.layers,
    )


def output_stem(options: TrainOptions, dimension: int) -> str:
    """``--name``, else IMPSY's ``musicMDRNN-dim..-scale10`` for the size and dimension."""
    size = resolved_size(options)
    return options.name or model_name(dimension, size.layers, size.units, size.mixtures)


def options_record(options: TrainOptions) -> dict[str, Any]:
    """The options as JSON values (paths as strings, tuples as lists), for summaries."""
    return {
        k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
        for k, v in asdict(options).items()
    }


def check_outputs(paths: dict[str, Path], force: bool) -> None:
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not force:
        raise ImpsyError(
            f"{', '.join(existing)} already exist(s); use --force to overwrite, or --name or "
            "--destination to write elsewhere"
        )


def _strategy(name: str) -> Any:
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "default":
        return tf.distribute.get_strategy()
    raise ImpsyError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")


def _datasets(
    train: WindowSource,
    validation: WindowSource,
    options: TrainOptions,
    step: int,
    done_epochs: int = 0,
) -> tuple[Any, Any, int, int]:
    """tf.data over the window sources: train, validation and their batches per epoch.

    ``done_epochs`` (a resumed run) skips the batches those epochs drew, so the
    next epoch sees the windows it would have seen without the interruption.
    """
    import itertools

    import tensorflow as tf

    dimension = train.dimension
    spec = tf.TensorSpec((None, options.sequence_length, dimension), tf.float32)
    rng = np.random.default_rng([options.seed, 3])
    batches = train.training_batches(step, options.batch_size, rng)
    skip = done_epochs * math.ceil(train.epoch_size(step) / options.batch_size)
    if skip:
        next(itertools.islice(batches, skip - 1, skip))
    train_ds = tf.data.Dataset.from_generator(
        lambda: batches, output_signature=(spec, spec)
    ).prefetch(2)
    val_ds = tf.data.Dataset.from_generator(
        lambda: validation.fixed_batches(options.sequence_length, options.batch_size),
        output_signature=(spec, spec),
    )
    steps = math.ceil(train.epoch_size(step) / options.batch_size)
    val_steps = math.ceil(validation.starts(options.sequence_length).size / options.batch_size)
    return train_ds, val_ds.repeat(), steps, val_steps


def _describe_split(
    split: Split, lengths: list[int], length: int, report: Callable[[str], None]
) -> None:
    for label, indices in split.as_dict().items():
        rows = sum(lengths[i] for i in indices)
        short = sum(1 for i in indices if lengths[i] < length)
        note = f" ({short} shorter than a window, unused)" if short and label != "test" else ""
        report(f"{label:>10}: {len(indices):3d} performances, {rows:7d} rows{note}")


def train_model(
    options: TrainOptions,
    performances: list[np.ndarray],
    report: Callable[[str], None] = print,
    extra_callbacks: list[Any] | None = None,
    checkpoints: CheckpointStore | None = None,
) -> TrainResult:
    """Run one training on the dataset's performances (read with :func:`load_performances`).

    ``extra_callbacks`` are Keras callbacks run after impsy's own (the
    benchmark uses one to score the best weights so far on the test set).
    ``checkpoints`` keeps a checkpoint after every epoch; when it already
    holds one (the job's earlier try died), training goes on from it
    (:mod:`impsy.training.checkpoint`).
    """
    started = time.perf_counter()
    if options.strategy not in STRATEGIES:
        raise ImpsyError(f"unknown strategy {options.strategy!r}; use default or mirrored")
    if options.select_by not in SELECT_BY:
        raise ImpsyError(f"unknown select_by {options.select_by!r}; use windows or performances")
    size = resolved_size(options)
    dimension = int(performances[0].shape[1])
    stem = output_stem(options, dimension)
    paths = output_paths(options.destination, stem)
    check_outputs(paths, options.force)
    from impsy.training.loss_plot import require_matplotlib

    require_matplotlib()  # before training, not after it: the plot is drawn at the end
    length = options.sequence_length + 1
    step = options.window_step or options.sequence_length
    lengths = [len(p) for p in performances]
    split = split_performances(
        lengths,
        options.test_performances,
        options.seed,
        options.validation_fraction,
        options.split_length or length,
    )
    _describe_split(split, lengths, length, report)
    weights = _row_weights(options.dataset, performances, report)
    train_source = WindowSource(
        [performances[i] for i in split.train],
        length,
        augment=options.augment,
        weights=None if weights is None else [weights[i] for i in split.train],
    )
    val_source = WindowSource(
        [performances[i] for i in split.validation],
        length,
        weights=None if weights is None else [weights[i] for i in split.validation],
    )
    if not train_source.epoch_size(step) or not val_source.starts(options.sequence_length).size:
        raise ImpsyError("not enough rows for one training and one validation window")
    weighted_loss = _weighted_validation(val_source, options, report)

    from impsy.training.seeding import seed_everything

    seed_everything(options.seed)
    import keras

    from impsy.training.callbacks import make_callbacks
    from impsy.training.network import build_training_model, mixture_loss

    strategy = _strategy(options.strategy)
    with strategy.scope():
        model = build_training_model(
            dimension,
            size.units,
            size.mixtures,
            size.layers,
            dropout=options.dropout,
            recurrent_dropout=options.recurrent_dropout,
        )
        if options.init_from is not None:
            model.set_weights(_initial_weights(options.init_from, dimension, size))
            report(f"starting from the weights of {options.init_from}")
        model.compile(
            optimizer=keras.optimizers.Adam(
                learning_rate=options.learning_rate, clipnorm=options.clipnorm
            ),
            loss=mixture_loss(dimension, size.mixtures),
        )
    resumed = _resume(checkpoints, model, report)
    done_epochs = resumed.epoch if resumed is not None else 0
    train_ds, val_ds, steps, val_steps = _datasets(
        train_source, val_source, options, step, done_epochs
    )
    extra = list(extra_callbacks or [])
    scored = [i for i in split.validation if lengths[i] >= 2]
    whole = [performances[i] for i in scored]
    monitored = whole if options.select_by == "performances" else None
    whole_weights = None if weights is None else [weights[i] for i in scored]
    initial = None
    if options.init_from is not None and resumed is None:
        initial = _initial_score(model, val_ds, val_steps, monitored, whole_weights, weighted_loss)
        report(f"starting weights: {'val_nll' if monitored else 'val_loss'} {initial[0]:.4f}")
    report(
        f"training {stem}: {train_source.epoch_size(step)} windows of {options.sequence_length} "
        f"per epoch ({steps} batches of {options.batch_size}), up to {options.epochs} epochs"
    )
    best, callbacks = make_callbacks(
        report,
        options.epochs,
        options.patience if options.early_stopping else None,
        options.reduce_lr_patience,
        None if options.max_minutes is None else options.max_minutes * 60,
        validation_performances=monitored,
        initial=initial,
        validation_row_weights=whole_weights,
        validation_loss=weighted_loss,
    )
    if checkpoints is not None:
        from impsy.training.checkpoint import checkpoint_callback

        if resumed is not None:
            best.best_loss, best.best_epoch = resumed.best_loss, resumed.best_epoch
            best.best_weights, best.history = resumed.best_weights, list(resumed.history)
        callbacks.append(checkpoint_callback(checkpoints, best, callbacks, resumed))
    fit_started = time.perf_counter()
    stopped = resumed is not None and resumed.stopped
    model.fit(
        train_ds,
        steps_per_epoch=steps,
        # weighted: the callback scores the validation windows (Keras would weigh them alike)
        validation_data=val_ds if weighted_loss is None else None,
        validation_steps=val_steps if weighted_loss is None else None,
        epochs=done_epochs if stopped else options.epochs,
        initial_epoch=done_epochs,
        shuffle=False,  # the window source shuffles, from the seed
        callbacks=callbacks + extra,
        verbose=0,
    )
    fit_seconds = time.perf_counter() - fit_started
    if best.best_weights is None:
        raise ImpsyError("training produced no finite validation loss (NaN from the start?)")
    options.destination.mkdir(parents=True, exist_ok=True)
    _export(model, dimension, size, paths)
    test = _test_nll(paths["keras"], [performances[i] for i in split.test])
    from impsy.training.loss_plot import write_loss_plot

    write_loss_plot(paths["plot"], best.history, best.best_epoch, stem)
    summary = _summary(
        options,
        size,
        dimension,
        split,
        lengths,
        best,
        test,
        paths,
        steps,
        step,
        fit_seconds,
        time.perf_counter() - started,
    )
    from impsy.training.summary import write_summary

    write_summary(paths["summary"], summary)
    return TrainResult(outputs=paths, summary=summary, history=best.history)


def _row_weights(
    dataset: Path, performances: list[np.ndarray], report: Callable[[str], None]
) -> list[np.ndarray] | None:
    """The dataset's row weights (marked spans), checked against its performances."""
    from impsy.dataset.npz import read_weights

    try:
        weights = read_weights(dataset) if Path(dataset).is_file() else None
    except ValueError as err:
        raise ImpsyError(f"{dataset}: weights: {err}") from None
    if weights is None:
        return None
    if [len(w) for w in weights] != [len(p) for p in performances]:
        raise ImpsyError(f"{dataset}: its weights do not match its performances row for row")
    rows = sum(len(w) for w in weights)
    marked = sum(int(np.sum(w != 1.0)) for w in weights)
    report(f"row weights: {marked} of {rows} rows weighted (marked spans); windows drawn by weight")
    return weights


def _weighted_validation(
    source: WindowSource, options: TrainOptions, report: Callable[[str], None]
) -> Callable[[Any], float] | None:
    """The weighted validation loss of a dataset with row weights; None without weights.

    Each fixed validation window counts as much as training would draw it
    (its weight, :meth:`WindowSource.window_weights`); the number replaces
    Keras's ``val_loss``, so the best epoch, the rate halving and early
    stopping all follow the marks.
    """
    chance = source.fixed_weights(options.sequence_length)
    if chance is None:
        return None
    if not chance.sum() > 0:
        raise ImpsyError(
            "every validation window has weight 0 (its performances are all marked bad "
            "with weight 0): mark less, or use another --seed for another split"
        )
    from impsy.training.scoring import weighted_window_loss

    x, y = source.gather(source.starts(options.sequence_length))
    report(f"validation: {len(chance)} windows, each loss weighted as training draws it")
    return weighted_window_loss(x, y, chance, options.batch_size)


def _resume(
    checkpoints: CheckpointStore | None, model: Any, report: Callable[[str], None]
) -> EpochState | None:
    """The checkpoint an earlier try of this job left, put into ``model``; else None."""
    if checkpoints is None:
        return None
    data = checkpoints.load()
    if data is None:
        return None
    from impsy.training.checkpoint import restore_model, unpack

    state = unpack(data)
    if state is None:
        report("checkpoint: not readable (another format?); training from the start")
        return None
    try:
        restore_model(model, state)
    except ValueError as err:
        report(f"checkpoint: does not fit this model ({err}); training from the start")
        return None
    report(f"checkpoint: resuming after epoch {state.epoch} (best so far: {state.best_epoch})")
    return state


def _initial_score(
    model: Any,
    val_ds: Any,
    val_steps: int,
    whole: list[np.ndarray] | None,
    whole_weights: list[np.ndarray] | None = None,
    weighted_loss: Callable[[Any], float] | None = None,
) -> tuple[float, list[Any]]:
    """The starting weights' validation score (what the run selects by), and the weights."""
    weights = [w.copy() for w in model.get_weights()]
    if whole is not None:
        from impsy.training.scoring import performances_nll

        return performances_nll(weights, whole, whole_weights), weights
    if weighted_loss is not None:
        return weighted_loss(model), weights
    return float(model.evaluate(val_ds, steps=val_steps, verbose=0)), weights


def check_init_model(path: Path, dimension: int | None = None, size: Any = None) -> None:
    """``--init-from``'s file read by impsy's own reader, within its limits; ImpsyError if not.

    With ``dimension`` and ``size`` the file must also be that architecture.
    A Ray studio's client calls this before it sends the file, so a bad or
    mismatched model is refused here, in a line, not on a worker.
    """
    from impsy.model import ModelError, load_model

    try:
        model = load_model(path, engine="numpy")
    except ModelError as err:
        raise ImpsyError(f"--init-from: {err}") from None
    if dimension is None or size is None:
        return
    found = (model.dimension, model.units, model.layers, model.mixtures)
    wanted = (dimension, size.units, size.layers, size.mixtures)
    if found != wanted:
        raise ImpsyError(
            f"--init-from: {path} is a dim-{found[0]} model of {found[1]} units x {found[2]} "
            f"layers, {found[3]} mixtures; this training is dim-{wanted[0]}, {wanted[1]} units "
            f"x {wanted[2]} layers, {wanted[3]} mixtures: start from a model of the same size"
        )


def _initial_weights(path: Path, dimension: int, size: Any) -> list[Any]:
    """The weights of a ``.keras`` inference model of this size, in training-model order.

    impsy's own reader goes first: it holds the file to impsy's limits
    (``impsy.model.limits``: declared and inflated sizes, compression ratio,
    nesting), which Keras's loader does not, so a zip bomb or a damaged file
    is refused with its reason before Keras unpacks anything.
    """
    from impsy.training.network import build_inference_model

    check_init_model(path)
    inference = build_inference_model(dimension, size.units, size.mixtures, size.layers)
    try:
        inference.load_weights(str(path))
    except Exception as err:  # noqa: BLE001 - Keras raises many kinds on a mismatch
        raise ImpsyError(
            f"{path}: cannot load its weights into a size {size.units}x"
            f"{size.layers}, {size.mixtures}-mixture dim-{dimension} model: {err}"
        ) from None
    return inference.get_weights()


def _export(model: Any, dimension: int, size: Any, paths: dict[str, Path]) -> None:
    """Best weights into the one-step model; save it as ``.keras`` and ``.tflite``."""
    from impsy.training.network import build_inference_model
    from impsy.training.tflite import convert_inference_model, write_tflite

    inference = build_inference_model(dimension, size.units, size.mixtures, size.layers)
    inference.set_weights(model.get_weights())
    inference.save(paths["keras"])
    write_tflite(
        convert_inference_model(inference, dimension, size.units, size.layers), paths["tflite"]
    )


def _test_nll(keras_file: Path, performances: list[np.ndarray]) -> dict[str, Any] | None:
    """Mean NLL per step (model space) of the exported file on the test performances."""
    if not performances:
        return None
    from impsy.model import load_model, nll

    result = nll.evaluate(load_model(keras_file), performances)
    return {"mean_nll": result.mean_nll, "steps": result.steps, "engine": "numpy (.keras)"}


def _summary(
    options: TrainOptions,
    size: Any,
    dimension: int,
    split: Split,
    lengths: list[int],
    best: Any,
    test: dict[str, Any] | None,
    paths: dict[str, Path],
    steps: int,
    step: int,
    fit_seconds: float,
    wall_seconds: float,
) -> dict[str, Any]:
    from impsy.training.summary import sha256, versions

    settings = options_record(options)
    settings["window_step"] = step
    return {
        "model": paths["keras"].stem,
        "dataset": {
            "file": str(options.dataset),
            "sha256": sha256(options.dataset),
            "performances": len(lengths),
            "rows": int(sum(lengths)),
        },
        "split": split.as_dict(),
        "split_rows": {k: int(sum(lengths[i] for i in v)) for k, v in split.as_dict().items()},
        "architecture": {
            "dimension": dimension,
            "units": size.units,
            "layers": size.layers,
            "mixtures": size.mixtures,
            "scale": SCALE,
            "recurrent_activation": "sigmoid",
        },
        "options": settings,
        "batches_per_epoch": steps,
        "epochs_run": len(best.history),
        "selected_by": "val_nll" if options.select_by == "performances" else "val_loss",
        "best_epoch": best.best_epoch,
        "best_val_loss": best.best_loss,
        "test_nll": test,
        "nll_note": "mean negative log-likelihood per step in model space (data x 10), "
        "as keras-mdn-layer's loss and impsy evaluate report it",
        "history": best.history,
        "fit_seconds": round(fit_seconds, 2),
        "wall_seconds": round(wall_seconds, 2),
        "seed": options.seed,
        "outputs": {kind: path.name for kind, path in paths.items()},
        "versions": versions(),
    }


def load_performances(path: Path, dimension: int | None) -> list[np.ndarray]:
    """The dataset's performances, checked against ``dimension`` when one is given."""
    from impsy.model import ModelError, nll

    try:
        performances = nll.read_performances(path)
    except ModelError as err:
        raise ImpsyError(str(err)) from None
    if not performances:
        raise ImpsyError(f"{path}: no performances")
    found = sorted({p.shape[1] for p in performances})
    if len(found) != 1:
        raise ImpsyError(f"{path}: performances of different dimensions {found}")
    if dimension is not None and found[0] != dimension:
        raise ImpsyError(f"{path} holds dimension {found[0]} data, not {dimension} (--dimension)")
    return performances
