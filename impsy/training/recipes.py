"""Named training recipes: several ``train_model`` stages, each starting from the last.

One setting does not fit a whole training. A high learning rate on short
windows is what gets a model off the plateau every run starts on (the
model predicting each control's average, NLL about +20 per step) within
two minutes: 20-step windows make cheap optimiser steps, and what takes a
model off the plateau (each control's next value from its last few) needs
many steps, not long memories. It then stalls on players it never heard.
Longer windows, a lower rate, permuted controls and epochs picked on whole
validation performances are what carry a model on to held-out players,
but from scratch they stall on that plateau.
``staged`` runs them in that order; ``benchmarks/TRAIN.md`` has its
measurements against IMPSY 1.2.1's training.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from impsy.training.trainer import (
    TrainOptions,
    TrainResult,
    check_outputs,
    options_record,
    output_paths,
    output_stem,
    train_model,
)

STAGES: dict[str, tuple[dict[str, Any], ...]] = {
    "staged": (
        # off the plateau: short windows, a high rate, many cheap steps per epoch
        {
            "sequence_length": 20,
            "window_step": 5,
            "batch_size": 64,
            "learning_rate": 1e-2,
            "patience": 20,
            "max_minutes": 5.0,
        },
        # long windows, controls permuted, epochs chosen on whole performances
        {
            "sequence_length": 300,
            "window_step": 25,
            "batch_size": 64,
            "learning_rate": 2e-3,
            "patience": 12,
            "reduce_lr_patience": 4,
            "select_by": "performances",
            "augment": ("permute",),
        },
    ),
}
"""Each stage's settings; what a stage does not set comes from the command line."""

RECIPES = ("single", *STAGES)
"""``single``: one run with the options as given (IMPSY's way)."""


def train_recipe(
    recipe: str,
    options: TrainOptions,
    performances: list[np.ndarray],
    report: Callable[[str], None] = print,
    stage_callbacks: Callable[[int, TrainOptions], list[Any]] | None = None,
) -> TrainResult:
    """Run ``recipe``'s stages; the last stage's model is written under ``options.name``.

    Stages are kept in ``DESTINATION/NAME-stages/``. ``options.max_minutes``
    bounds the whole recipe (a stage gets what is left of it); the split is
    the first stage's in every stage. ``stage_callbacks(number, options)``
    gives extra Keras callbacks for a stage (the benchmark scores with them).
    """
    stages = STAGES[recipe]
    started = time.perf_counter()
    final = output_paths(options.destination, output_stem(options, performances[0].shape[1]))
    check_outputs(final, options.force)  # before hours of training, not after
    folder = options.destination / f"{final['keras'].stem}-stages"
    previous = options.init_from
    split_length = options.split_length or stages[0]["sequence_length"] + 1
    done: list[tuple[TrainOptions, TrainResult]] = []
    for number, settings in enumerate(stages):
        left = _minutes_left(options.max_minutes, started)
        if left is not None and left <= 0:
            report(f"recipe {recipe}: out of time before stage {number}")
            break
        limits = [m for m in (settings.get("max_minutes"), left) if m is not None]
        stage = dataclasses.replace(
            options,
            **{**settings, "max_minutes": min(limits) if limits else None},
            destination=folder,
            name=f"stage{number}",
            force=True,
            init_from=previous,
            split_length=split_length,
        )
        report(f"recipe {recipe}, stage {number + 1}/{len(stages)}: {_describe(settings)}")
        extra = stage_callbacks(number, stage) if stage_callbacks else None
        result = train_model(stage, performances, report=report, extra_callbacks=extra)
        done.append((stage, result))
        previous = result.outputs["keras"]
    return _finish(recipe, options, done, final, time.perf_counter() - started)


def _minutes_left(limit: float | None, started: float) -> float | None:
    return None if limit is None else limit - (time.perf_counter() - started) / 60


def _describe(settings: dict[str, Any]) -> str:
    return ", ".join(
        f"{k.replace('_', ' ')} {'+'.join(v) if isinstance(v, tuple) else v}"
        for k, v in settings.items()
    )


def _finish(
    recipe: str,
    options: TrainOptions,
    done: list[tuple[TrainOptions, TrainResult]],
    final: dict[str, Path],
    wall_seconds: float,
) -> TrainResult:
    """The last stage's files under the final names, with a summary of every stage."""
    last_options, last = done[-1]
    for kind, path in last.outputs.items():
        if kind not in ("summary", "plot"):
            shutil.copyfile(path, final[kind])
    from impsy.training.loss_plot import write_loss_plot

    stage = f"recipe {recipe}, stage {len(done)}/{len(done)}"
    write_loss_plot(
        final["plot"], last.history, last.summary["best_epoch"], f"{final['keras'].stem} ({stage})"
    )
    summary = dict(last.summary)
    summary["model"] = final["keras"].stem
    summary["outputs"] = {kind: path.name for kind, path in final.items()}
    summary["wall_seconds"] = round(wall_seconds, 2)
    summary["recipe"] = {
        "name": recipe,
        "command_options": options_record(options),
        "stages": [
            {
                "stage": number,
                "settings": options_record(stage),
                "epochs_run": result.summary["epochs_run"],
                "best_epoch": result.summary["best_epoch"],
                "selected_by": result.summary["selected_by"],
                "best_val": result.summary["best_val_loss"],
                "test_nll": result.summary["test_nll"],
                "wall_seconds": result.summary["wall_seconds"],
                "files": str(result.outputs["keras"].parent),
            }
            for number, (stage, result) in enumerate(done)
        ],
        "wall_seconds": round(wall_seconds, 2),
    }
    final["summary"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return TrainResult(outputs=final, summary=summary, history=last.history)
