"""A training job submitted from the web UI to a real Ray studio, its model played at once.

A real ``impsy run`` (no model yet, dimension 3) whose config names the
package's Ray cluster as its ``[studio]`` and serves the web UI with a token.
The test is the page: it submits the train job with the requests the page's
scripts make (``Authorization: Bearer``, ``X-Impsy: 1``, a same-site
``Origin``, JSON), polls the job as the page does until epochs arrive from
the cluster, waits for the model to come back, uses it (the page's "use this
model now", ``POST /api/model/use``), and then the running server answers
gestures over OSC with it. A tiny model (size xxs, 8-step windows, 2 epochs).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import pytest

from tests.osc_client import OscPeer, free_udp_port
from tests.studio.ray_cluster import free_tcp_port
from tests.web.test_jobs import tiny_dataset

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
TOKEN = "studio-test-token-0123456789"
TRAIN = {
    "dataset": "tiny-3d.npz",
    "modelsize": "xxs",
    "numepochs": 2,
    "batchsize": 16,
    "sequence_length": 8,
    "seed": 7,
    "name": "from-web",
}


def write_config(cwd: Path, address: str) -> tuple[Path, int, int, int]:
    osc_in, osc_out, web_port = free_udp_port(), free_udp_port(), free_tcp_port()
    config = cwd / "config.toml"
    config.write_text(
        f"""[model]
dimension = 3
file = ""
[interaction]
mode = "useronly"
threshold = 0.1
[osc]
server_port = {osc_in}
client_port = {osc_out}
[webui]
port = {web_port}
token = "{TOKEN}"
[studio]
backend = "ray"
address = "{address}"
"""
    )
    return config, osc_in, osc_out, web_port


def start_impsy_run(cwd: Path, config: Path) -> tuple[subprocess.Popen, list[str]]:
    """``impsy run`` on ``config``, once it says it is listening (its output kept)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "impsy", "run", "-c", str(config), "-l", "logs"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    output: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        if "listening" in line:
            threading.Thread(target=output.extend, args=(proc.stdout,), daemon=True).start()
            return proc, output
    proc.kill()
    raise AssertionError("impsy run never said it was listening:\n" + "".join(output))


class Page:
    """The web UI's requests as its scripts send them (impsy/web/static/js/api.js)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    async def get(self, path: str, **headers: str) -> tuple[int, dict]:
        auth = {"Authorization": f"Bearer {TOKEN}", **headers}
        async with self.session.get(self.base + path, headers=auth) as response:
            return response.status, await response.json()

    async def post(self, path: str, body: dict, **headers: str) -> tuple[int, dict]:
        sent = {
            "Authorization": f"Bearer {TOKEN}",
            "X-Impsy": "1",
            "Origin": self.base,  # the page's own origin, as a browser sends it
            **headers,
        }
        async with self.session.post(self.base + path, json=body, headers=sent) as r:
            return r.status, await r.json()


def test_train_from_the_web_ui_on_the_ray_studio_then_play_the_model(tmp_path, ray_cluster):
    for folder in ("datasets", "models", "logs"):
        (tmp_path / folder).mkdir()
    tiny_dataset(tmp_path / "datasets" / "tiny-3d.npz")
    config, osc_in, osc_out, web_port = write_config(tmp_path, ray_cluster.address)
    proc, output = start_impsy_run(tmp_path, config)

    async def main() -> None:
        base = f"http://127.0.0.1:{web_port}"
        peer = await OscPeer.open(osc_out, osc_in)
        async with aiohttp.ClientSession() as session:
            page = Page(session, base)
            # the page's rules: no token, or another site's Origin, and nothing starts
            status, _ = await page.post("/api/jobs/train", TRAIN, Authorization="Bearer nope")
            assert status == 401
            status, _ = await page.post("/api/jobs/train", TRAIN, Origin="http://evil.example")
            assert status == 403

            status, job = await page.post("/api/jobs/train", TRAIN)
            assert status == 202, job
            assert job["studio"] == f"ray at {ray_cluster.address}"
            assert job["args"][-4:] == ["--studio", "ray", "--studio-address", ray_cluster.address]
            seen_running: list[int] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 120
            while job["state"] == "running" and loop.time() < deadline:
                await asyncio.sleep(0.2)  # the page polls every 500 ms
                status, job = await page.get(f"/api/jobs/{job['id']}")
                assert status == 200
                if job["state"] == "running" and job["progress"]:
                    seen_running.append(job["progress"][-1]["epoch"])
            assert job["state"] == "done", "\n".join(job["log_tail"])
            assert seen_running, "no epoch arrived while the job ran:\n" + "\n".join(
                job["log_tail"]
            )
            assert [p["epoch"] for p in job["progress"]] == [1, 2]
            assert all(p["loss"] is not None and p["epochs"] == 2 for p in job["progress"])
            assert any(line.startswith("studio: training on") for line in job["log_tail"])
            assert sorted(job["outputs"]) == ["models/from-web.keras", "models/from-web.tflite"]
            summary = json.loads((tmp_path / "models" / "from-web.json").read_text())
            assert summary["studio"]["backend"] == "ray"  # trained there, files back here

            status, before = await page.get("/api/status")
            assert before["model"] in (None, "") and before["model_info"] is None
            status, swapped = await page.post("/api/model/use", {"file": job["outputs"][1]})
            assert status == 200, swapped
            assert Path(swapped["model"]).name == "from-web.tflite"
            assert swapped["model_info"]["units"] == 16  # xxs
            status, after = await page.post("/api/control", {"mode": "callresponse"})
            assert status == 200 and after["mode"] == "callresponse"

            peer.send("/interface", 0.3, 0.7)  # a gesture; the new model answers it
            answers = await peer.wait_for("/impsy", 1, timeout=10.0)
            assert len(answers[0]) == 2 and all(0.0 <= v <= 1.0 for v in answers[0])
            status, now = await page.get("/api/status")
            assert Path(now["model"]).name == "from-web.tflite"
        peer.close()

    try:
        asyncio.run(main())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0, "".join(output)
    assert not [line for line in output if "Traceback" in line], "".join(output)
