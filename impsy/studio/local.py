"""The local studio: training in this process, as ``impsy train`` always did.

No new dependency and no network: the default. Its job functions are also
what a Ray worker runs once the job's dataset is on its disk
(:mod:`impsy.studio.ray_remote`), so both studios train exactly the same
way, and the same seed gives the same model on either.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from impsy.studio.job import TrainJob
from impsy.studio.sweep import Trial, best_trial, trial_from_summary, trial_options, validation_nll
from impsy.training.checkpoint import CheckpointStore
from impsy.training.trainer import TrainResult, check_outputs, output_paths, output_stem

Report = Callable[[str], None]


@dataclass
class SweepResult:
    """Every trial, the best one, and the best model's files under the sweep's name."""

    trials: list[Trial]
    best: Trial | None
    outputs: dict[str, Path] = field(default_factory=dict)
    wall_seconds: float = 0.0
    where: str = "local"


def train_here(
    job: TrainJob,
    performances: list[np.ndarray],
    report: Report,
    checkpoints: CheckpointStore | None = None,
) -> TrainResult:
    """Run ``job`` in this process (a recipe's stages keep no checkpoints)."""
    from impsy.training.trainer import train_model

    if job.recipe == "single":
        return train_model(job.options, performances, report=report, checkpoints=checkpoints)
    from impsy.training.recipes import train_recipe

    return train_recipe(job.recipe, job.options, performances, report=report)


def trial_here(
    job: TrainJob,
    number: int,
    params: dict[str, Any],
    performances: list[np.ndarray],
    report: Report,
    checkpoints: CheckpointStore | None = None,
) -> tuple[Trial, TrainResult | None]:
    """One trial of a sweep, trained and scored here; a failure is a trial with an error."""
    from impsy.errors import ImpsyError

    try:
        result = train_here(job, performances, report, checkpoints)
        score = validation_nll(
            result.outputs["keras"], result.summary, performances, _row_weights(job)
        )
    except ImpsyError as err:
        return Trial(number, params, error=str(err)), None
    trial = trial_from_summary(number, params, result.summary, score)
    report(f"trial {number} done: val_nll {score:.4f} after {trial.epochs_run} epochs")
    return trial, result


def _row_weights(job: TrainJob) -> list[np.ndarray] | None:
    """The dataset's per-row weights (from feedback marks), or None for a plain dataset."""
    from impsy.dataset.npz import read_weights

    dataset = job.options.dataset
    return None if dataset is None else read_weights(dataset)


def keep_best(
    base: TrainJob,
    performances: list[np.ndarray],
    best: Trial | None,
    files: dict[str, Path],
) -> dict[str, Path]:
    """Copy the best trial's files to the sweep's own names in the destination."""
    if best is None:
        return {}
    final = output_paths(base.options.destination, output_stem(base.options, _dim(performances)))
    base.options.destination.mkdir(parents=True, exist_ok=True)
    for kind, path in files.items():
        if kind in final:
            shutil.copyfile(path, final[kind])
    return {kind: final[kind] for kind in files if kind in final}


def _dim(performances: list[np.ndarray]) -> int:
    return int(performances[0].shape[1])


class LocalStudio:
    """Trains on this machine, one job (or one trial) at a time."""

    name = "local"

    def describe(self) -> str:
        return "local (this machine)"

    def train(self, job: TrainJob, performances: list[np.ndarray], report: Report) -> TrainResult:
        return train_here(job, performances, report)

    def sweep(
        self,
        job: TrainJob,
        trials: list[dict[str, Any]],
        performances: list[np.ndarray],
        report: Report,
    ) -> SweepResult:
        """The trials one after another; the best one's files under the job's name."""
        started = time.perf_counter()
        stem = output_stem(job.options, _dim(performances))
        final = output_paths(job.options.destination, stem)
        check_outputs(final, job.options.force)
        done: list[Trial] = []
        kept: dict[int, dict[str, Path]] = {}
        with tempfile.TemporaryDirectory(prefix="impsy-sweep-") as tmp:
            base = TrainJob(dataclasses.replace(job.options, destination=Path(tmp)), job.recipe)
            for number, options in enumerate(trial_options(base.options, trials, stem), start=1):
                params = trials[number - 1]
                report(f"trial {number}/{len(trials)}: {_describe(params)}")
                trial, result = trial_here(
                    TrainJob(options, job.recipe), number, params, performances, report
                )
                done.append(trial)
                if result is not None:
                    kept[number] = result.outputs
            best = best_trial(done)
            outputs = keep_best(job, performances, best, kept.get(best.number, {}) if best else {})
        if best is not None:
            best.files = {kind: str(path) for kind, path in outputs.items()}
        return SweepResult(done, best, outputs, time.perf_counter() - started, "local")


def _describe(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())
