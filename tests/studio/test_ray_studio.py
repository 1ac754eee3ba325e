"""The Ray studio for real: a Ray cluster on 127.0.0.1 (``ray start --head``, two CPUs),
``impsy train --studio ray`` against it, the model back and playing.

Every job is real TensorFlow training (size xxs, 8-step windows) on a Ray
worker. The cluster is started once for the session (``conftest.py``); the
tests share one connection, so they share warm workers too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from click.testing import CliRunner  # noqa: E402

from impsy.cli.train import train  # noqa: E402
from impsy.dataset.npz import write_dataset  # noqa: E402
from impsy.errors import ImpsyError  # noqa: E402
from impsy.model import load_model  # noqa: E402
from impsy.model.formats import read_keras  # noqa: E402
from impsy.studio.job import TrainJob  # noqa: E402
from impsy.studio.ray_studio import RayStudio  # noqa: E402
from impsy.training.trainer import TrainOptions, load_performances  # noqa: E402
from tests.training.test_train import STEM, make_dataset  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
TINY = ["-M", "xxs", "--sequence-length", "8", "-B", "16", "--seed", "7"]


def run_train(*args: str) -> str:
    result = CliRunner().invoke(train, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def weight_arrays(path: Path) -> list[np.ndarray]:
    weights = read_keras(path)
    arrays = [
        a for layer in weights.lstm for a in (layer.kernel, layer.recurrent_kernel, layer.bias)
    ]
    return arrays + [v for v in vars(weights.mdn).values() if isinstance(v, np.ndarray)]


def check_it_plays(path: Path, dimension: int = 3) -> None:
    model = load_model(path)
    out = model.predict(np.full(dimension, 0.5, dtype=np.float32))
    assert np.asarray(out).shape == (dimension,) and np.all(np.isfinite(out))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "training-dataset-3d.npz")


def test_a_job_trains_on_the_cluster_and_matches_a_local_run_with_the_same_seed(
    tmp_path, data, ray_cluster
):
    out = run_train(
        "-S", str(data), "-O", str(tmp_path / "ray"), *TINY, "-N", "3",
        "--studio", "ray", "--studio-address", ray_cluster.address,
    )  # fmt: skip
    # progress streamed back: every epoch, with losses and the best so far
    epochs = re.findall(r"^epoch (\d)/3\s+loss\s+\S+\s+val_loss\s+\S+.*$", out, re.M)
    assert epochs == ["1", "2", "3"], out
    assert "studio: training on" in out and "best epoch" in out
    for suffix in (".keras", ".tflite", ".json", "-loss.png"):
        assert (tmp_path / "ray" / f"{STEM}{suffix}").is_file(), suffix
    summary = json.loads((tmp_path / "ray" / f"{STEM}.json").read_text())
    assert summary["seed"] == 7 and summary["studio"]["backend"] == "ray"
    assert summary["dataset"]["file"] == str(data)  # the client's path, not the worker's
    check_it_plays(tmp_path / "ray" / f"{STEM}.keras")
    check_it_plays(tmp_path / "ray" / f"{STEM}.tflite")

    run_train("-S", str(data), "-O", str(tmp_path / "local"), *TINY, "-N", "3")
    here = weight_arrays(tmp_path / "local" / f"{STEM}.keras")
    there = weight_arrays(tmp_path / "ray" / f"{STEM}.keras")
    difference = max(float(np.max(np.abs(a - b))) for a, b in zip(here, there, strict=True))
    print(f"max abs weight difference, local vs Ray, same seed: {difference:g}")
    assert difference <= 1e-6


def test_a_killed_worker_resumes_from_its_last_epoch_checkpoint(tmp_path, ray_cluster):
    rng = np.random.default_rng(3)
    performances = [  # larger than the others: an epoch must last long enough to be cut
        np.stack(
            [rng.gamma(2.0, 0.05, 1500), rng.random(1500), rng.choice([0.1, 0.9], 1500)], axis=1
        ).astype(np.float32)
        for _ in range(8)
    ]
    data = write_dataset(tmp_path / "big.npz", performances)
    options = TrainOptions(
        dataset=data, destination=tmp_path / "out", size="xxs", epochs=4, batch_size=16,
        sequence_length=8, seed=5, early_stopping=False,
    )  # fmt: skip
    lines: list[str] = []
    killed: list[int] = []

    def watch() -> None:  # kill the worker once it has finished an epoch
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pids = [int(m) for line in lines for m in re.findall(r"worker pid (\d+)", line)]
            if pids and any(line.startswith("epoch 2/4") for line in lines):
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    result = RayStudio(ray_cluster.address).train(
        TrainJob(options), load_performances(data, None), lines.append
    )
    watcher.join()
    assert killed, lines
    starts = [line for line in lines if line.startswith("studio: training on")]
    assert len(starts) == 2, lines  # the first worker, then the one Ray started again
    resumed = [re.match(r"checkpoint: resuming after epoch (\d+)", line) for line in lines]
    after = [int(m[1]) for m in resumed if m]
    assert after and after[0] >= 1, lines
    later = lines[lines.index(next(line for line in lines if line.startswith("checkpoint:"))) :]
    numbers = [int(line.split()[1].split("/")[0]) for line in later if line.startswith("epoch ")]
    assert numbers == list(range(after[0] + 1, 5)), lines  # on from the checkpoint, to the end
    assert result.summary["epochs_run"] == 4 and len(result.summary["history"]) == 4
    check_it_plays(result.outputs["keras"])


def test_a_sweep_runs_as_ray_tune_trials_and_keeps_the_best(tmp_path, data, ray_cluster):
    out = run_train(
        "-S", str(data), "-O", str(tmp_path), *TINY, "--name", "swept",
        "--studio", "ray", "--studio-address", ray_cluster.address,
        "--sweep", "units=8,16", "-N", "1",
    )  # fmt: skip
    assert "2 trials as Ray Tune trials" in out
    for number in (1, 2):  # each trial's progress streamed back, labelled
        assert re.search(rf"^trial {number}: epoch 1/1 +loss", out, re.M), out
    record = json.loads((tmp_path / "swept-sweep.json").read_text())
    scores = {t["number"]: t["val_nll"] for t in record["trials"]}
    assert len(scores) == 2 and all(np.isfinite(v) for v in scores.values())
    assert record["best"] == min(scores, key=scores.get)
    assert [t["params"] for t in record["trials"]] == [{"units": 8}, {"units": 16}]
    table = out[out.index("sweep done") :].splitlines()
    assert table[1].split()[:2] == ["trial", "units"] and table[2].split()[:2] == ["1", "8"]
    assert table[1 + record["best"]].endswith("*")
    best_units = record["trials"][record["best"] - 1]["params"]["units"]
    assert read_keras(tmp_path / "swept.keras").units == best_units
    check_it_plays(tmp_path / "swept.keras")


def starting_model(path: Path, units: int = 16, seed: int = 0) -> Path:
    """A size-xxs-shaped dim-3 inference model with weights no seeded training starts from."""
    from impsy.training.network import build_inference_model

    model = build_inference_model(3, units, 5, 2)
    rng = np.random.default_rng(seed)
    model.set_weights(
        [w + rng.normal(0, 0.3, w.shape).astype(w.dtype) for w in model.get_weights()]
    )
    model.save(path)
    return path


def test_a_fine_tune_sends_its_starting_model_once_and_trains_from_it(tmp_path, data, ray_cluster):
    start = starting_model(tmp_path / "start.keras")
    studio = RayStudio(ray_cluster.address)
    performances = load_performances(data, None)

    def fine_tune(out: str) -> tuple[list[str], dict[str, int]]:
        options = TrainOptions(
            dataset=data, destination=tmp_path / out, size="xxs", epochs=1, batch_size=16,
            sequence_length=8, seed=7, learning_rate=1e-7, init_from=start,
        )  # fmt: skip
        lines: list[str] = []
        result = studio.train(TrainJob(options), performances, lines.append)
        assert result.summary["options"]["init_from"] == str(start)  # the client's path
        # a rate of 1e-7 for one epoch: what comes back is the starting model, not a fresh one
        difference = max(
            float(np.max(np.abs(a - b)))
            for a, b in zip(
                weight_arrays(start), weight_arrays(result.outputs["keras"]), strict=True
            )
        )
        assert difference < 1e-4, difference
        return lines, studio.stats()

    before = studio.stats()
    lines, middle = fine_tune("first")
    sha = re.search(r"^studio: starting model ([0-9a-f]{12}) sent", "\n".join(lines), re.M)
    assert sha, lines
    assert any(line.startswith("starting from the weights of ") for line in lines), lines
    assert any(line.startswith("starting weights: val_loss ") for line in lines), lines
    assert middle["uploads"] >= before["uploads"] + 1
    lines, after = fine_tune("second")
    assert f"studio: starting model {sha[1]} is in the studio already: not sent again" in lines
    assert after["uploads"] == middle["uploads"]  # neither the dataset nor the model again
    assert after["reuses"] == middle["reuses"] + 2
    assert after["datasets"] == middle["datasets"]


def test_a_starting_model_that_cannot_be_read_or_does_not_fit_is_refused_before_sending(
    tmp_path, data, ray_cluster
):
    studio = RayStudio(ray_cluster.address)
    performances = load_performances(data, None)
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a model")
    wider = starting_model(tmp_path / "wider.keras", units=32)
    before = studio.stats()
    for path, reason in ((junk, f"--init-from: {junk}: "), (wider, "32 units x 2 layers")):
        options = TrainOptions(
            dataset=data, destination=tmp_path / "out", size="xxs", sequence_length=8,
            init_from=path,
        )  # fmt: skip
        with pytest.raises(ImpsyError, match=re.escape(reason)):
            studio.train(TrainJob(options), performances, print)
    assert studio.stats() == before  # nothing sent, nothing asked
    assert not (tmp_path / "out").exists()
