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
   never sees the same test rows; after every epoch that improves the
   validation loss, the weights it would export are scored on the test
   performances (that scoring time is excluded) until they reach IMPSY's
   test NLL. Its time includes importing TensorFlow (only the first
   ``--recipe`` pays for that). A recipe is the ``--select-by`` rule plus
   any ``--augment``, on top of ``-B 128 --window-step 10 --learning-rate
   0.01``: ``windows`` (the default) or e.g. ``performances+permute`` (the
   bundled model's fine-tuning recipe; from scratch at this rate it stalls
   near +19 and stops early, see TRAIN.md).

The goal is impsy's time to quality <= 0.5x IMPSY's wall time. This is
CPU-heavy; ``--quick`` gives IMPSY two epochs and impsy at most 10 minutes.

    .venv/bin/python benchmarks/train.py --quick
    .venv/bin/python benchmarks/train.py --impsy /tmp/impsy-ref/bin/impsy
    .venv/bin/python benchmarks/train.py --impsy-epochs 10 --recipe windows \
        --recipe performances+permute
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from impsy.dataset.npz import dataset_file_name, write_dataset  # noqa: E402
from impsy.model import load_model, nll  # noqa: E402
from impsy.training.split import choose_test  # noqa: E402

RECIPE = ["-B", "128", "--window-step", "10", "--learning-rate", "0.01"]


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
    return {
        "wall_seconds": seconds,
        "test_nll": score.mean_nll,
        "steps": score.steps,
        "file": keras_files[0].name,
        "command": command[1:],
    }


def parse_recipe(text: str) -> tuple[str, tuple[str, ...]]:
    """``performances+permute`` -> (select_by, augmentations); see ``--recipe``."""
    select_by, *augment = text.split("+")
    if select_by not in ("windows", "performances") or set(augment) - {"permute", "flip"}:
        raise SystemExit(f"--recipe {text!r}: expected windows|performances[+permute][+flip]")
    return select_by, tuple(augment)


def impsy_time_to(
    args, recipe: str, dataset: Path, target: float, scratch: Path, test_perfs
) -> dict:
    """Train with impsy until the weights it would export reach ``target`` on the test set."""
    select_by, augment = parse_recipe(recipe)
    started = time.perf_counter()
    import keras  # counted: IMPSY's wall time includes its TensorFlow import too

    from impsy.training.scoring import mdrnn_from_keras_weights
    from impsy.training.trainer import TrainOptions, load_performances, train_model

    scored: list[dict] = []
    excluded = [0.0]
    monitor = "val_nll" if select_by == "performances" else "val_loss"

    class TestScore(keras.callbacks.Callback):
        best = float("inf")

        def on_epoch_end(self, epoch, logs=None):
            val = float((logs or {}).get(monitor, float("inf")))
            if val >= self.best:
                return
            self.best = val
            clock = time.perf_counter()
            elapsed = clock - started - excluded[0]  # training time so far, scoring excluded
            score = nll.evaluate(mdrnn_from_keras_weights(self.model.get_weights()), test_perfs)
            total, steps = score.mean_nll * score.steps, score.steps
            excluded[0] += time.perf_counter() - clock
            scored.append({"epoch": epoch + 1, "seconds": elapsed, "test_nll": total / steps})
            print(
                f"  impsy epoch {epoch + 1}: test NLL {total / steps:.4f} at {elapsed:.0f} s",
                flush=True,
            )
            if total / steps <= target:
                self.model.stop_training = True

    options = TrainOptions(
        dataset=dataset,
        destination=scratch / f"impsy-{recipe}",
        size=args.size,
        seed=args.seed,
        test_performances=args.test_performances,
        batch_size=128,
        window_step=10,
        learning_rate=0.01,
        epochs=1000,
        patience=20,
        max_minutes=args.max_minutes,
        select_by=select_by,
        augment=augment,
        force=True,
    )
    result = train_model(
        options,
        load_performances(dataset, None),
        report=lambda _: None,
        extra_callbacks=[TestScore()],
    )
    reached = next((s for s in scored if s["test_nll"] <= target), None)
    return {
        "reached": reached,
        "scored": scored,
        "final_test_nll": result.summary["test_nll"],
        "epochs_run": result.summary["epochs_run"],
        "recipe": RECIPE + ["--select-by", select_by] + [f"--augment={a}" for a in augment],
    }


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
        help="impsy's --select-by, then any --augment, joined by +; repeat to time several "
        "recipes against one IMPSY run (default: windows)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
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
        reference = impsy_reference(args, train_perfs, test_perfs, scratch)
        print(
            f"IMPSY 1.2.1: {reference['wall_seconds']:.0f} s, test NLL {reference['test_nll']:.4f}",
            flush=True,
        )
        runs = {
            recipe: impsy_time_to(
                args, recipe, args.dataset, reference["test_nll"], scratch, test_perfs
            )
            for recipe in args.recipe or ["windows"]
        }
    results = {
        "test_performances": test,
        "impsy_1_2_1": reference,
        "impsy": runs,
        "quick": args.quick,
    }
    print("\n| | wall time | test NLL | ratio (goal <= 0.5) |\n| --- | ---: | ---: | ---: |")
    print(
        f"| IMPSY 1.2.1 `train` ({args.impsy_epochs or 'default'} epochs) | "
        f"{reference['wall_seconds']:.0f} s | {reference['test_nll']:.4f} | |"
    )
    for recipe, ours in runs.items():
        reached = ours["reached"]
        ours["ratio"] = reached["seconds"] / reference["wall_seconds"] if reached else None
        if reached:
            print(
                f"| impsy `{recipe}`, time to reach it (epoch {reached['epoch']}) | "
                f"{reached['seconds']:.0f} s | {reached['test_nll']:.4f} | "
                f"**{ours['ratio']:.2f}** |"
            )
        else:
            best = min((s["test_nll"] for s in ours["scored"]), default=float("nan"))
            print(
                f"| impsy `{recipe}` did not reach it (stopped after "
                f"{ours['epochs_run']} epochs) | | {best:.4f} | |"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
