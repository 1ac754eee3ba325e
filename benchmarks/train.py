"""Time to quality: how long impsy's ``train`` takes to match IMPSY 1.2.1's trained model.

Both train on the same performances and are scored on the same held-out
ones (chosen by ``--seed`` exactly as ``impsy train --test-performances``
chooses them):

1. the dataset minus the test performances is written as
   ``datasets/training-dataset-{D}d.npz`` in a scratch folder, and IMPSY's
   ``impsy train -S datasets`` (its defaults unless ``--impsy-epochs``)
   trains on it; its wall time is measured around the whole command, and
   its exported ``.keras`` is scored on the test performances with
   :mod:`impsy.model.nll` (the ``impsy evaluate`` number);
2. impsy trains on the full dataset with ``--test-performances``, so it
   never sees the same test rows; each time the weights it would export
   change, they are scored on the test performances (that scoring time is
   excluded) until they reach IMPSY's test NLL. Its time includes importing
   TensorFlow (only the first ``--recipe`` pays for that). Recipes:
   ``staged`` (the default: ``impsy train --recipe staged``, as a user runs
   it), and two single runs with ``-B 128 --window-step 10 --learning-rate
   0.01 -P 20``: ``windows`` (IMPSY's window loss picks the epoch) and
   ``performances+permute`` (the bundled model's fine-tuning rule; from
   scratch it stalls near +19 and stops early, see TRAIN.md).

IMPSY is unseeded, so one run of it decides little, and its default run
takes 20-60 minutes here: ``--reference-only FILE`` trains IMPSY alone and
saves its result, ``--reference FILE`` times impsy against a saved one.

The goal is impsy's time to quality <= 0.5x IMPSY's wall time. This is
CPU-heavy; ``--quick`` gives IMPSY two epochs and impsy at most 10 minutes.

    .venv/bin/python benchmarks/train.py --quick
    .venv/bin/python benchmarks/train.py --impsy /tmp/impsy-ref/bin/impsy
    .venv/bin/python benchmarks/train.py --reference-only impsy-run-1.json
    .venv/bin/python benchmarks/train.py --reference impsy-run-1.json --recipe staged
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tables import markdown_table  # noqa: E402

from impsy.dataset.npz import dataset_file_name, write_dataset  # noqa: E402
from impsy.model import load_model, nll  # noqa: E402
from impsy.training.split import choose_test  # noqa: E402


def impsy_reference(args, train_perfs: list[np.ndarray], test_perfs, scratch: Path) -> dict:
    """Train with IMPSY 1.2.1's CLI; its wall time and its model's test NLL."""
    dimension = train_perfs[0].shape[1]
    data_dir = scratch / "datasets"
    data_dir.mkdir()
    write_dataset(data_dir / dataset_file_name(dimension), train_perfs)
    command = [
        args.impsy,
        "train",
        "-D",
        str(dimension),
        "-S",
        str(data_dir),
        "-M",
        args.size,
        "-O",
        str(scratch / "impsy-models"),
    ]
    if args.impsy_epochs:
        command += ["-N", str(args.impsy_epochs)]
    (scratch / "impsy-models").mkdir()
    print("IMPSY:", " ".join(command), flush=True)
    started = time.perf_counter()
    with open(scratch / "impsy-train.log", "w") as log:
        subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=scratch)
    seconds = time.perf_counter() - started
    keras_files = [p for p in (scratch / "impsy-models").glob("*.keras") if "ckpt" not in p.name]
    score = nll.evaluate(load_model(keras_files[0]), test_perfs)
    log_text = (scratch / "impsy-train.log").read_text(errors="replace")
    epochs = re.findall(r"^Epoch (\d+)/\d+", log_text, flags=re.MULTILINE)
    return {
        "wall_seconds": seconds,
        "epochs_run": int(epochs[-1]) if epochs else None,
        "test_nll": score.mean_nll,
        "steps": score.steps,
        "file": keras_files[0].name,
        "command": command[1:],
    }


BASE = {"batch_size": 128, "window_step": 10, "learning_rate": 0.01, "patience": 20}
"""The single-run recipes' settings (``impsy train -B 128 --window-step 10 --learning-rate
0.01 -P 20``)."""

RECIPES: dict[str, dict] = {
    # one run: IMPSY's window loss picks the epoch, no augmentation
    "windows": BASE,
    # the bundled model's fine-tuning rule from scratch (stalls near +19, see TRAIN.md)
    "performances+permute": {**BASE, "select_by": "performances", "augment": ("permute",)},
    # impsy train --recipe staged, as a user runs it (impsy.training.recipes)
    "staged": {},
}


class Reached(Exception):
    """The weights a run would export reached the target: the clock stops here."""


def impsy_time_to(
    args, recipe: str, dataset: Path, target: float, scratch: Path, test_perfs
) -> dict:
    """Train with impsy until the weights it would export reach ``target`` on the test set.

    The clock starts before TensorFlow is imported and stops while the test
    set is scored; training stops at the first score at or below ``target``,
    or after ``--max-minutes``.
    """
    started = time.perf_counter()
    import keras  # counted: IMPSY's wall time includes its TensorFlow import too

    from impsy.training.recipes import train_recipe
    from impsy.training.scoring import mdrnn_from_keras_weights
    from impsy.training.trainer import TrainOptions, load_performances, train_model

    scored: list[dict] = []
    excluded = [0.0]

    class TestScore(keras.callbacks.Callback):
        """Scores the weights the run would export, each time they change."""

        def __init__(self, stage: int) -> None:
            super().__init__()
            self.stage = stage

        def on_epoch_end(self, epoch, logs=None):
            if not (logs or {}).get("improved"):  # set by impsy's best-weights callback
                return
            seconds = time.perf_counter() - started - excluded[0]
            clock = time.perf_counter()
            score = nll.evaluate(mdrnn_from_keras_weights(self.model.get_weights()), test_perfs)
            excluded[0] += time.perf_counter() - clock
            scored.append(
                {
                    "stage": self.stage + 1,
                    "epoch": epoch + 1,
                    "seconds": seconds,
                    "test_nll": score.mean_nll,
                }
            )
            print(
                f"  impsy stage {self.stage + 1} epoch {epoch + 1}: test NLL {score.mean_nll:.4f} "
                f"at {seconds:.0f} s",
                flush=True,
            )
            if score.mean_nll <= target:
                raise Reached

    def score_stage(number: int, options: TrainOptions) -> list:
        return [TestScore(number)]

    def report(line: str) -> None:
        """The trainer's progress lines are not shown: the scores above are the output."""

    options = TrainOptions(
        **{
            "dataset": dataset,
            "destination": scratch / f"impsy-{recipe}",
            "name": "model",
            "size": args.size,
            "seed": args.seed,
            "test_performances": args.test_performances,
            "force": True,
            "max_minutes": args.max_minutes,
            **RECIPES[recipe],
        }
    )
    performances = load_performances(dataset, None)
    result = None
    try:
        if recipe == "staged":
            result = train_recipe(
                "staged", options, performances, report=report, stage_callbacks=score_stage
            )
        else:
            result = train_model(
                options, performances, report=report, extra_callbacks=score_stage(0, options)
            )
    except Reached:
        pass
    hit = next((s for s in scored if s["test_nll"] <= target), None)
    return {
        "reached": hit,
        "scored": scored,
        "epochs_run": None if result is None else result.summary["epochs_run"],
        "settings": dict(RECIPES[recipe]),
    }


def print_results(
    reference: dict, runs: dict, target: float | None, impsy_epochs: int | None
) -> None:
    """The results table; each run's ``reached_impsy`` and ``ratio`` are filled in."""
    rows = [
        (
            f"IMPSY 1.2.1 `train` ({impsy_epochs or 'default'} epochs)",
            f"{reference['wall_seconds']:.0f} s",
            f"{reference['test_nll']:.4f}",
            "",
        )
    ]
    for recipe, ours in runs.items():
        # with --target the run goes on past IMPSY's score: report both
        impsy = "IMPSY's test NLL"
        goals = {impsy: reference["test_nll"]}
        if target is not None:
            goals[f"{target:g}"] = target
        for name, goal in goals.items():
            reached = next((s for s in ours["scored"] if s["test_nll"] <= goal), None)
            ratio = reached["seconds"] / reference["wall_seconds"] if reached else None
            if name == impsy:
                ours["reached_impsy"], ours["ratio"] = reached, ratio
            if reached:
                rows.append(
                    (
                        f"impsy `{recipe}`, time to {name} (stage {reached['stage']}, epoch "
                        f"{reached['epoch']})",
                        f"{reached['seconds']:.0f} s",
                        f"{reached['test_nll']:.4f}",
                        f"**{ratio:.2f}**",
                    )
                )
            else:
                best = min((s["test_nll"] for s in ours["scored"]), default=float("nan"))
                last = ours["scored"][-1]["seconds"] if ours["scored"] else 0.0
                rows.append(
                    (
                        f"impsy `{recipe}` did not reach {name} (last improvement at {last:.0f} s)",
                        "",
                        f"{best:.4f}",
                        "",
                    )
                )
    header = ("", "wall time", "test NLL", "ratio (goal <= 0.5)")
    print()
    for line in markdown_table(header, rows, align="lrrr"):
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=ROOT / "tests/data/training-dataset-9d.npz")
    parser.add_argument("--impsy", default="/tmp/impsy-ref/bin/impsy", help="IMPSY 1.2.1's CLI")
    parser.add_argument("--size", default="s")
    parser.add_argument("--seed", type=int, default=2345)
    parser.add_argument("--test-performances", type=int, default=5)
    parser.add_argument("--impsy-epochs", type=int, help="IMPSY's -N (default: its own, 100)")
    parser.add_argument("--max-minutes", type=float, default=25.0, help="impsy's time limit")
    parser.add_argument("--quick", action="store_true", help="IMPSY 2 epochs; impsy <= 10 min")
    parser.add_argument(
        "--recipe",
        action="append",
        choices=sorted(RECIPES),
        help="a named recipe (see RECIPES); repeat to time several against one IMPSY run "
        "(default: staged)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--target",
        type=float,
        help="train on to this test NLL and time that too (IMPSY's is always reported)",
    )
    parser.add_argument(
        "--reference-only",
        type=Path,
        metavar="JSON",
        help="only train IMPSY and write its result here (its run is long and unseeded: "
        "time it once, alone on the machine, then time impsy's recipes against it)",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        metavar="JSON",
        help="a --reference-only result to time impsy against instead of training IMPSY",
    )
    args = parser.parse_args()
    if args.quick:
        args.impsy_epochs = args.impsy_epochs or 2
        args.max_minutes = min(args.max_minutes, 10.0)

    perfs = nll.read_performances(args.dataset)
    test = choose_test([len(p) for p in perfs], args.test_performances, args.seed)
    test_perfs = [perfs[i] for i in test]
    train_perfs = [p for i, p in enumerate(perfs) if i not in set(test)]
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        if args.reference:
            reference = json.loads(args.reference.read_text())
        else:
            reference = impsy_reference(args, train_perfs, test_perfs, scratch)
        if args.reference_only:
            reference["test_performances"] = test
            reference["impsy_epochs"] = args.impsy_epochs or "default"
            args.reference_only.write_text(json.dumps(reference, indent=2, default=str) + "\n")
            print(f"wrote {args.reference_only}")
            return
        print(
            f"IMPSY 1.2.1: {reference['wall_seconds']:.0f} s, test NLL {reference['test_nll']:.4f}",
            flush=True,
        )
        target = reference["test_nll"] if args.target is None else args.target
        runs = {
            recipe: impsy_time_to(args, recipe, args.dataset, target, scratch, test_perfs)
            for recipe in args.recipe or ["staged"]
        }
    results = {
        "test_performances": test,
        "impsy_1_2_1": reference,
        "impsy": runs,
        "quick": args.quick,
    }
    print_results(reference, runs, args.target, args.impsy_epochs)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
