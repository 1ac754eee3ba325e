"""Sweeps: a small grid of training options, one trial per point, the best by validation NLL.

``impsy train --sweep "units=16,32 dropout=0,0.2"`` trains every
combination (here four trials) with the other options as given. Every
trial is scored the same way, whatever its window length: the NLL per step
of its exported model over the whole validation performances, from a reset
state (as ``impsy evaluate`` scores a model), and all trials share one
split (chosen for the longest window), so the numbers compare. The lowest
wins; a trial that failed has no score and never wins.

This module is pure logic (parse, expand, score, tabulate); who runs the
trials is the studio's business: Ray Tune trials on a Ray studio, one after
another on the local one.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from impsy.errors import ImpsyError
from impsy.training.trainer import TrainOptions

KEYS: dict[str, tuple[str, type]] = {
    "size": ("size", str),
    "modelsize": ("size", str),
    "units": ("units", int),
    "layers": ("layers", int),
    "dropout": ("dropout", float),
    "recurrent_dropout": ("recurrent_dropout", float),
    "sequence_length": ("sequence_length", int),
    "seq": ("sequence_length", int),
    "learning_rate": ("learning_rate", float),
    "lr": ("learning_rate", float),
    "batch_size": ("batch_size", int),
    "batchsize": ("batch_size", int),
    "window_step": ("window_step", int),
}
"""What a sweep can vary: a name (or a short one) -> the option and its type."""
SIZES = ("xxs", "xs", "s", "m", "l", "xl")
MAX_TRIALS = 256
LIMITS: dict[str, tuple[float, float]] = {
    "units": (1, 4096),
    "layers": (1, 8),
    "dropout": (0.0, 0.99),
    "recurrent_dropout": (0.0, 0.99),
    "sequence_length": (1, 100_000),
    "learning_rate": (1e-9, 10.0),
    "batch_size": (1, 1_000_000),
    "window_step": (1, 100_000),
}


def parse_grid(specs: list[str] | tuple[str, ...]) -> dict[str, list[Any]]:
    """``["units=16,32 dropout=0,0.2", "layers=1,2"]`` -> option -> values, in order given.

    Each part is ``name=v1,v2,...``; parts are separated by spaces or given as
    separate ``--sweep`` options. A mistake is one ImpsyError naming the part.
    """
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        for part in spec.replace(";", " ").split():
            name, equals, values = part.partition("=")
            key = name.strip().lower().replace("-", "_")
            if not equals or key not in KEYS:
                raise ImpsyError(
                    f"--sweep {part!r}: expected name=value,value,... with a name from "
                    f"{', '.join(sorted(set(KEYS)))}"
                )
            option, kind = KEYS[key]
            if option in grid:
                raise ImpsyError(f"--sweep {part!r}: {option} is swept twice")
            grid[option] = [_value(part, option, kind, v) for v in values.split(",") if v]
            if not grid[option]:
                raise ImpsyError(f"--sweep {part!r}: no values")
    if not grid:
        raise ImpsyError("--sweep needs at least one name=value,value,...")
    count = math.prod(len(v) for v in grid.values())
    if count > MAX_TRIALS:
        raise ImpsyError(f"--sweep: {count} trials is more than {MAX_TRIALS}; sweep fewer values")
    return grid


def _value(part: str, option: str, kind: type, text: str) -> Any:
    if option == "size":
        if text not in SIZES:
            raise ImpsyError(f"--sweep {part!r}: size {text!r} is not one of {', '.join(SIZES)}")
        return text
    try:
        value = kind(text)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise ImpsyError(f"--sweep {part!r}: {text!r} is not {noun}") from None
    low, high = LIMITS[option]
    if not low <= value <= high:
        raise ImpsyError(f"--sweep {part!r}: {option} must be {low:g}-{high:g}, got {text}")
    return value


def expand(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination, the first option varying slowest."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def trial_options(
    base: TrainOptions, trials: list[dict[str, Any]], stem: str
) -> list[TrainOptions]:
    """Each trial's options: the base with its values, named ``STEM-trialN``, one split.

    The split is the one for the longest window any trial uses, unless the
    base names one (``split_length``), so every trial is scored on the same
    validation performances.
    """
    longest = max(params.get("sequence_length", base.sequence_length) for params in trials)
    split_length = base.split_length or longest + 1
    return [
        dataclasses.replace(
            base, **params, name=f"{stem}-trial{number}", split_length=split_length, force=True
        )
        for number, params in enumerate(trials, start=1)
    ]


@dataclass
class Trial:
    """One trial's outcome."""

    number: int
    params: dict[str, Any]
    val_nll: float | None = None
    epochs_run: int = 0
    best_epoch: int = 0
    seconds: float = 0.0
    error: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    """Where its files are (kind -> path) once they are on this machine."""

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def validation_nll(
    keras_file: Path,
    summary: dict[str, Any],
    performances: list[Any],
    row_weights: list[np.ndarray] | None = None,
) -> float:
    """NLL per step (model space) of the exported model on the run's validation
    performances, whole and from a reset state (numpy engine, as ``impsy evaluate``).

    With ``row_weights`` (a dataset built from marked logs) each step counts
    as much as the row it predicts, as training's own validation does, so the
    trials are ranked by the playing the performer marked good.
    """
    from impsy.model import load_model
    from impsy.training.scoring import model_nll

    kept = [i for i in summary["split"]["validation"] if len(performances[i]) >= 2]
    weights = None if row_weights is None else [row_weights[i] for i in kept]
    model = load_model(keras_file, engine="numpy")
    return float(model_nll(model, [performances[i] for i in kept], weights))


def trial_from_summary(
    number: int, params: dict[str, Any], summary: dict[str, Any], score: float
) -> Trial:
    return Trial(
        number=number,
        params=params,
        val_nll=score if np.isfinite(score) else None,
        epochs_run=int(summary["epochs_run"]),
        best_epoch=int(summary["best_epoch"]),
        seconds=float(summary["wall_seconds"]),
    )


def best_trial(trials: list[Trial]) -> Trial | None:
    """The trial with the lowest validation NLL (the first on a tie); None if none scored."""
    scored = [t for t in trials if t.val_nll is not None]
    return min(scored, key=lambda t: t.val_nll) if scored else None


def table(trials: list[Trial], best: Trial | None) -> list[str]:
    """The trials as aligned text lines, the best marked with ``*``."""
    names = list(dict.fromkeys(k for t in trials for k in t.params))
    header = ["trial", *names, "epochs", "best", "val_nll", "seconds", ""]
    rows = [header]
    for t in trials:
        score = f"{t.val_nll:.4f}" if t.val_nll is not None else f"failed: {t.error or '?'}"
        rows.append(
            [
                str(t.number),
                *(str(t.params.get(n, "")) for n in names),
                str(t.epochs_run),
                str(t.best_epoch),
                score,
                f"{t.seconds:.1f}",
                "*" if best is not None and t.number == best.number else "",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
