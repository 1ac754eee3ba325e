"""Datasets and training from the browser: real ``impsy`` subprocesses behind /api/jobs.

Training runs are real TensorFlow, kept tiny (size xxs, 8-step windows). A
training job run to the end and its model put to use live, through the same
/api/jobs, is tested once, from Chromium:
tests/system/test_webui_browser.py::test_training_shows_progress_and_its_model_is_hot_swapped_in
(the refusal of a second job while one runs, gestures taken in meanwhile, the
job's progress, outputs and plot, and the swapped-in model answering).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from impsy.dataset.npz import write_dataset
from impsy.web.context import JOBS
from impsy.web.jobs import parse_epoch
from impsy.web.sweeps import SweepProgress
from tests.web.test_api import ROOT, run, served

DATASET = ROOT / "tests" / "data" / "training-dataset-9d.npz"
TINY = {"modelsize": "xxs", "numepochs": 1, "batchsize": 16, "sequence_length": 8, "seed": 1}


def tiny_dataset(path: Path) -> Path:
    """Seven short 3-D performances: a trial trains on them in well under a second."""
    rng = np.random.default_rng(0)
    performances = []
    for length in (120, 90, 150, 60, 110, 80, 100):
        dt = rng.gamma(2.0, 0.05, length)
        knob = np.clip(0.5 + np.cumsum(rng.normal(0, 0.05, length)), 0, 1)
        performances.append(np.stack([dt, knob, rng.random(length)], axis=1).astype(np.float32))
    return write_dataset(path, performances)


async def wait_for_job(web, job_id: str, timeout: float = 90.0) -> dict:  # noqa: ANN001
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        status, job = await web.get(f"/api/jobs/{job_id}")
        assert status == 200
        if job["state"] != "running":
            return job
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} still running after {timeout} s: {job['log_tail']}")


def test_epoch_lines_become_progress():
    line = "epoch  3/100  loss    1.2500  val_loss       nan     2.0 s  best"
    assert parse_epoch(line) == {
        "epoch": 3,
        "epochs": 100,
        "loss": 1.25,
        "val_loss": None,
        "val_nll": None,
        "seconds": 2.0,
        "best": True,
    }
    scored = "epoch 12/100  loss   -3.5000  val_loss   -2.0000  val_nll   -4.2500     1.5 s"
    assert parse_epoch(scored) == {
        "epoch": 12,
        "epochs": 100,
        "loss": -3.5,
        "val_loss": -2.0,
        "val_nll": -4.25,
        "seconds": 1.5,
        "best": False,
    }
    assert parse_epoch("impsy: training a size s MDRNN") is None


def epoch(n: int, of: int, val_loss: float) -> str:
    return f"epoch {n}/{of}  loss    2.0000  val_loss {val_loss:9.4f}     0.5 s"


def test_ray_tune_trials_side_by_side_each_get_their_own_lines():
    """A Ray studio's sweep: every line labelled ``trial N: `` (impsy.studio.ray_remote),
    two trials at once; a trial started again from scratch drops the epochs it redoes."""
    sweep = SweepProgress.planned("units=8,16", [{"units": 8}, {"units": 16}])
    lines = [
        "studio: ray at 127.0.0.1:6379: 2 trials as Ray Tune trials",
        "trial 2: on studio-1 (worker pid 12)",
        "trial 1: on studio-1 (worker pid 11)",
        "trial 1: " + epoch(1, 3, 3.0),
        "trial 2: " + epoch(1, 3, 4.0),
        "trial 1: " + epoch(2, 3, 2.5),
        "trial 1: on studio-2 (worker pid 31)",
        "trial 1: " + epoch(1, 3, 2.9),
        "trial 2: " + epoch(2, 3, 3.5),
        "trial 2: trial 2 done: val_nll 3.2500 after 2 epochs",
    ]
    taken = [sweep.take(line) for line in lines]
    assert taken == [False] + [True] * 9  # the studio's own line is the job's, not a trial's
    one, two = sweep.as_dict()["trials"]
    assert (one["state"], one["epoch"], [p["val_loss"] for p in one["progress"]]) == (
        "running",
        1,
        [2.9],
    )
    assert (two["state"], two["val_nll"], two["epochs_run"]) == ("done", 3.25, 2)
    assert [p["epoch"] for p in two["progress"]] == [1, 2]
    assert sweep.current == 2
    # the local studio: a header line, then the trial's own unlabelled lines
    local = SweepProgress.planned("units=8,16", [{"units": 8}, {"units": 16}])
    for line in ("trial 1/2: units=8", epoch(1, 1, 3.0), "trial 1 done: val_nll 2.0 after 1 epochs",
                 "trial 2/2: units=16", "validation:   1 performances,     120 rows"):  # fmt: skip
        local.take(line)
    states = [(t["state"], t["epoch"], t["val_nll"]) for t in local.trials]
    assert states == [("done", 1, 2.0), ("running", None, None)]


def test_a_sweep_from_the_browser_shows_each_trial_then_the_table_of_its_record(tmp_path):
    """Two trials on the local studio (tiny model, 2 epochs, windows of 6 and 8 steps), one
    after the other on one split: the lines of ``impsy train --sweep`` become each trial's
    progress; the job's table is the NAME-sweep.json; only the best trial's model is kept."""

    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            tiny_dataset(tmp_path / "datasets" / "tiny-3d.npz")
            # the text is checked by impsy train's own parser, before anything runs
            status, checked = await web.get("/api/sweeps/check", params={"sweep": "units=8,16"})
            assert status == 200
            assert checked == {"count": 2, "trials": [{"units": 8}, {"units": 16}]}
            status, bad = await web.get("/api/sweeps/check", params={"sweep": "units=8,abc"})
            assert (status, bad["error"]) == (400, "--sweep 'units=8,abc': 'abc' is not an integer")
            body = {"dataset": "tiny-3d.npz", "name": "swept", **TINY, "numepochs": 2}
            status, refused = await web.send(
                "POST", "/api/jobs/train", json={**body, "sweep": "colour=red"}
            )
            assert status == 400 and "--sweep 'colour=red': expected name=value" in refused["error"]
            _, listing = await web.get("/api/jobs")
            assert listing["jobs"] == []

            status, job = await web.send(
                "POST", "/api/jobs/train", json={**body, "sweep": "seq=6,8"}
            )
            assert status == 202, job
            assert job["args"][-4:-2] == ["--sweep", "seq=6,8"]
            assert job["args"][-2:] == ["--studio", "local"]  # the configured studio
            assert [(t["number"], t["params"], t["state"]) for t in job["sweep"]["trials"]] == [
                (1, {"sequence_length": 6}, "pending"),
                (2, {"sequence_length": 8}, "pending"),
            ]
            snapshots = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            while job["state"] == "running" and loop.time() < deadline:
                await asyncio.sleep(0.1)
                _, job = await web.get(f"/api/jobs/{job['id']}")
                snapshots.append([(t["state"], t["epoch"]) for t in job["sweep"]["trials"]])
            assert job["state"] == "done", job["log_tail"]
            # while it ran: the first trial's result was there before the second's
            assert any(
                first == ("done", 2) and second[0] != "done" for first, second in snapshots
            ), snapshots
            sweep = job["sweep"]
            for trial in sweep["trials"]:
                assert [p["epoch"] for p in trial["progress"]] == [1, 2]
                assert all(
                    p["epochs"] == 2 and p["val_loss"] is not None for p in trial["progress"]
                )

            record = json.loads((tmp_path / "models" / "swept-sweep.json").read_text())
            assert sweep["record"] == "models/swept-sweep.json"
            assert (
                sweep["best"] == record["best"] and sweep["studio"] == record["studio"] == "local"
            )
            assert sweep["columns"] == ["sequence_length"]
            keys = ("number", "params", "val_nll", "epochs_run", "best_epoch", "seconds", "error")
            table = [{k: t[k] for k in keys} for t in sweep["trials"]]
            assert table == [{k: t[k] for k in keys} for t in record["trials"]]
            assert [t["state"] for t in sweep["trials"]] == ["done", "done"]
            scores = {t["number"]: t["val_nll"] for t in record["trials"]}
            assert record["best"] == min(scores, key=scores.get)
            assert sorted(job["outputs"]) == ["models/swept.keras", "models/swept.tflite"]
            assert sweep["outputs"] == ["models/swept.keras", "models/swept.tflite"]
            assert not list((tmp_path / "models").glob("*trial*"))  # only the best is kept
            best = json.loads((tmp_path / "models" / "swept.json").read_text())
            assert best["options"]["sequence_length"] == [6, 8][record["best"] - 1]
            # one split for every trial: the one for the longest window (8 + 1 rows)
            assert best["options"]["split_length"] == 9

            # the same table for the record in the models folder, later
            status, view = await web.get("/api/sweeps/swept-sweep.json")
            assert status == 200
            assert [{k: t[k] for k in keys} for t in view["trials"]] == table
            assert view["best"] == record["best"] and view["name"] == "swept-sweep.json"
            status, answer = await web.get("/api/sweeps/swept.json")
            assert status == 400 and "not a sweep record" in answer["error"]
            (tmp_path / "models" / "broken-sweep.json").write_text('{"trials": [{"number": 1}]}')
            status, answer = await web.get("/api/sweeps/broken-sweep.json")
            assert (status, answer["error"]) == (
                400,
                "broken-sweep.json: trials[0] must be an object with params",
            )
            status, answer = await web.get("/api/sweeps/gone-sweep.json")
            assert status == 404

    run(main())


def test_a_training_job_can_be_cancelled(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            shutil.copy(DATASET, tmp_path / "datasets" / DATASET.name)
            body = {"dataset": DATASET.name, **TINY, "numepochs": 500}
            status, job = await web.send("POST", "/api/jobs/train", json=body)
            assert status == 202
            pid = web.server.app[JOBS].jobs[job["id"]].process.pid
            await asyncio.sleep(0.5)
            status, job = await web.send("POST", f"/api/jobs/{job['id']}/cancel", json={})
            assert status == 200 and job["state"] == "cancelled"
            with pytest.raises(ProcessLookupError):
                os.killpg(pid, 0)  # the whole process group is gone
            status, again = await web.send("POST", f"/api/jobs/{job['id']}/cancel", json={})
            assert status == 409
            status, _ = await web.get("/api/jobs/99")
            assert status == 404

    run(main())


def test_bad_training_requests_are_refused(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            for body in (
                {"dataset": "nope.npz"},
                {"dataset": "../../etc/passwd.npz"},
                {"dataset": DATASET.name, "modelsize": "huge"},
                {"dataset": DATASET.name, "numepochs": 0},
                {"dataset": DATASET.name, "name": "../escape"},
            ):
                if body.get("dataset") == DATASET.name:
                    shutil.copy(DATASET, tmp_path / "datasets" / DATASET.name)
                status, answer = await web.send("POST", "/api/jobs/train", json=body)
                assert status in (400, 404), body
                assert "error" in answer
            _, listing = await web.get("/api/jobs")
            assert listing["jobs"] == []

    run(main())


def test_build_a_dataset_from_the_logs(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            rows = "".join(
                f"2026-01-01T10:00:{i:02d}.000000,interface,{','.join(['0.5'] * 8)}\n"
                for i in range(30)
            )
            (tmp_path / "logs" / "2026-01-01T10-00-00-9d-mdrnn.log").write_text(rows)
            status, job = await web.send("POST", "/api/jobs/dataset", json={"dimension": 9})
            assert status == 202 and job["kind"] == "dataset"
            job = await wait_for_job(web, job["id"], timeout=30)
            assert job["state"] == "done", job["log_tail"]
            assert job["outputs"] == ["datasets/training-dataset-9d.npz"]
            assert (tmp_path / "datasets" / "training-dataset-9d.npz").is_file()
            _, listing = await web.get("/api/files")
            assert [d["name"] for d in listing["datasets"]] == ["training-dataset-9d.npz"]

            (tmp_path / "logs" / "2026-01-01T10-00-00-9d-mdrnn.log").unlink()
            status, job = await web.send("POST", "/api/jobs/dataset", json={"dimension": 9})
            job = await wait_for_job(web, job["id"], timeout=30)
            assert job["state"] == "failed" and "no rows to write" in job["error"]

    run(main())
