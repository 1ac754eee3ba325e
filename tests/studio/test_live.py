"""The ``train`` and ``model/use`` rows in a running performance (``impsy.app.build``).

``train`` starts a real ``impsy train`` process that trains on the session's
Ray cluster, through its Ray Client port (``ray://``, as a machine outside the
cluster submits); the model comes back and is swapped into the running engine.
A studio that cannot be reached fails the command with one message naming
its address while the performance goes on, and the performing process never
imports Ray or TensorFlow, even with a Ray studio configured. The job finds
its dataset in the studio already: only its hash is sent.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from impsy.app import RunOptions, build
from impsy.config import load_config_text
from impsy.errors import CommandError
from impsy.studio.ray_studio import RayStudio
from tests.studio.ray_cluster import free_tcp_port
from tests.training.test_train import make_dataset

CONFIG = """
[model]
dimension = 3
file = ""
[interaction]
mode = "useronly"
[studio]
backend = "ray"
address = "{address}"
"""


@pytest.mark.timeout(300)  # 17 s alone, 57 s in the full suite, 107-115 s with both cores busy
def test_train_on_the_studio_then_play_the_model_without_stopping(
    tmp_path, monkeypatch, ray_cluster
):
    """Also the studio's cache: the dataset is sent once, by its hash, and found by the
    next job whatever its file is called (here, by the job the train row submits)."""
    monkeypatch.chdir(tmp_path)  # impsy run's folder: datasets/ and models/ are found there
    (tmp_path / "datasets").mkdir()
    make_dataset(tmp_path / "datasets" / "tiny.npz")
    studio = RayStudio(ray_cluster.address)
    studio.upload(tmp_path / "datasets" / "tiny.npz", lambda _line: None)  # sent, or there
    before = studio.stats()
    # through Ray Client, as a Raspberry Pi beside the studio would submit
    config = load_config_text(CONFIG.format(address=ray_cluster.client_address), "live.toml")

    async def main() -> tuple[str, dict, dict, float, object]:
        performance = build(config, RunOptions(logdir=tmp_path, no_model=True))
        await performance.start()
        gaps: list[float] = []

        async def tick() -> None:  # the loop's own pulse while the job runs
            last = time.perf_counter()
            while True:
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last - 0.005)
                last = now

        ticker = asyncio.ensure_future(tick())
        try:
            pending = performance.commands.call("train", ["tiny.npz", "xxs", 2, 1])
            running = performance.commands.call("train/status")
            try:
                path = await asyncio.wait_for(pending.wait(), 240)
            except CommandError as err:  # say what the job printed
                log = "\n".join(performance.training.log)
                raise AssertionError(f"{err}\n{log}") from None
            done = performance.commands.call("train/status")
            return path, running, done, max(gaps), performance.engine.model
        finally:
            ticker.cancel()
            await performance.stop()

    path, running, done, worst_gap, model = asyncio.run(main())
    after = studio.stats()
    assert after["uploads"] == before["uploads"], "the job sent the dataset again"
    assert after["reuses"] == before["reuses"] + 1 and after["datasets"] == before["datasets"]
    print(f"loop: worst extra delay of a 5 ms tick during the job: {worst_gap * 1000:.2f} ms")
    assert running["state"] == "running" and running["studio"].startswith("ray at ray://")
    assert done["state"] == "done" and done["epoch"] == 2 and done["epochs"] == 2
    assert done["model"] == path and "best" in done
    assert str(tmp_path / "models") in path and path.endswith(".keras")
    assert model is not None and str(model.path) == path  # swapped into the running engine
    out = model.predict(np.full(3, 0.5, dtype=np.float32))
    assert np.asarray(out).shape == (3,) and np.all(np.isfinite(out))


def test_model_use_refuses_a_missing_file_and_names_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config_text(CONFIG.format(address="127.0.0.1:1"), "live.toml")
    performance = build(config, RunOptions(logdir=tmp_path, no_model=True))
    with pytest.raises(CommandError, match="no model gone.keras"):
        performance.commands.call("model/use", ["gone.keras"])
    with pytest.raises(CommandError, match="must be a file name"):
        performance.commands.call("model/use", ["../etc/passwd.keras"])
    with pytest.raises(CommandError, match="no dataset"):
        performance.commands.call("train", ["missing.npz"])


def test_an_unreachable_studio_fails_the_command_and_the_performance_goes_on(tmp_path):
    """In a process of its own, as impsy run: nothing there imports Ray or TensorFlow."""
    (tmp_path / "datasets").mkdir()
    make_dataset(tmp_path / "datasets" / "training-dataset-3d.npz")
    address = f"127.0.0.1:{free_tcp_port()}"
    script = textwrap.dedent(f"""
        import asyncio, json, sys
        from impsy.app import RunOptions, build
        from impsy.config import load_config_text
        from impsy.errors import CommandError

        async def main():
            config = load_config_text({CONFIG.format(address=address)!r}, "live.toml")
            performance = build(config, RunOptions(logdir={str(tmp_path)!r}, no_model=True))
            await performance.start()
            try:
                pending = performance.commands.call("train")
                try:
                    await asyncio.wait_for(pending.wait(), 60)
                    error = None
                except CommandError as err:
                    error = str(err)
                status = performance.commands.call("status")
                return error, performance.commands.call("train/status"), status
            finally:
                await performance.stop()

        error, train, status = asyncio.run(main())
        heavy = sorted(m for m in ("ray", "tensorflow", "keras") if m in sys.modules)
        mode = status["mode"]
        print(json.dumps({{"error": error, "train": train, "heavy": heavy, "mode": mode}}))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["error"] is not None and address in report["error"]
    assert "cannot be reached" in report["error"]
    assert report["train"]["state"] == "failed"
    assert report["mode"] == "useronly"  # the engine still answers
    assert report["heavy"] == []
