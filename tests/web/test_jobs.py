"""Datasets and training from the browser: real ``impsy`` subprocesses behind /api/jobs.

The training run is real TensorFlow on tests/data's dimension-9 dataset,
kept tiny (size xxs, 8-step windows, one epoch) so it takes seconds.
"""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from impsy.web.context import JOBS
from impsy.web.jobs import parse_epoch
from tests.web.test_api import GESTURE, ROOT, run, served

DATASET = ROOT / "tests" / "data" / "training-dataset-9d.npz"
TINY = {"modelsize": "xxs", "numepochs": 1, "batchsize": 16, "sequence_length": 8, "seed": 1}


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


def test_train_from_the_browser_then_use_the_model_live(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, mode="polyphony") as web:
            shutil.copy(DATASET, tmp_path / "datasets" / DATASET.name)
            body = {"dataset": DATASET.name, "name": "browser-model", **TINY}
            status, job = await web.send("POST", "/api/jobs/train", json=body)
            assert status == 202 and job["state"] == "running" and job["kind"] == "train"
            assert job["studio"] == "local" and job["args"][-2:] == ["--studio", "local"]
            status, busy = await web.send("POST", "/api/jobs/train", json=body)
            assert status == 409 and "still running" in busy["error"]
            web.peer.send("/interface", *GESTURE)  # the performance goes on meanwhile
            job = await wait_for_job(web, job["id"])
            assert job["state"] == "done", job["log_tail"]
            (epoch,) = job["progress"]
            assert epoch["epoch"] == 1 and epoch["epochs"] == 1
            assert epoch["loss"] is not None and epoch["seconds"] > 0
            assert sorted(job["outputs"]) == [
                "models/browser-model.keras",
                "models/browser-model.tflite",
            ]
            assert job["plot"] == "models/browser-model-loss.png"
            _, listing = await web.get("/api/jobs")
            assert [j["id"] for j in listing["jobs"]] == [job["id"]]

            status, swapped = await web.send(
                "POST", "/api/model/use", json={"file": "models/browser-model.tflite"}
            )
            assert status == 200, swapped
            assert swapped["model_info"]["units"] == 16
            assert web.engine.model.path.name == "browser-model.tflite"
            answered = len(web.peer.messages("/impsy"))
            web.peer.send("/interface", *GESTURE)
            await web.peer.wait_for("/impsy", answered + 1, timeout=3.0)  # the new model answers
            assert web.engine.counters.events_in == 2

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
