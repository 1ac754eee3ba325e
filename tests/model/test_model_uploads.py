"""A zip bomb through the web UI of a running performance: refused, and the performance unhurt.

A real ``impsy run`` with the web UI is started as a user starts it; the
issue's bomb (under 1 MiB, inflating to 900 MiB of ``model.weights.h5``) is
uploaded over HTTP and then, copied into ``models/``, chosen as the model to
play. Before the fix the server itself inflated it: 1.8 GiB of memory and
the event loop stalled for over a second. Now the file is loaded in a
limited child process (``check_model_file``) and refused from its zip
directory, so the server's peak memory does not move and ``/api/status``
answers throughout.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.cli.test_run import MODEL, start, wait_for_line
from tests.model.archives import MiB, zip_bomb
from tests.osc_client import free_udp_port
from tests.paths import ROOT
from tests.web.test_api import free_tcp_port

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")

SERVER_GROWTH = 64 * MiB
"""How much the performing process's peak memory may grow while refusing the bomb: it
grows by 1 to 2 MiB (the upload's buffers); before the fix, by 1.8 GiB."""
REFUSAL_SECONDS = 20.0
"""How long the refusal may take, a child process's start included: 0.2 to 0.4 s here."""
STALL_SECONDS = 1.0
"""Longest ``/api/status`` may take meanwhile: about 10 ms here; 1.2 s before the fix."""
TRAINED = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.keras"


def _peak(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status)[1]) * 1024


def _post(url: str, body: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, "X-Impsy": "1"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def _upload(url: str, name: str, data: bytes) -> tuple[int, dict]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return _post(url, body, f"multipart/form-data; boundary={boundary}")


class StatusWatch:
    """Asks ``/api/status`` every few milliseconds in a thread; keeps the slowest answer."""

    def __init__(self, url: str) -> None:
        self.url, self.slowest, self.answers = url, 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            with urllib.request.urlopen(self.url, timeout=30) as response:
                response.read()
            self.slowest = max(self.slowest, time.perf_counter() - started)
            self.answers += 1
            time.sleep(0.005)

    def __enter__(self) -> StatusWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=35)


def test_a_zip_bomb_upload_and_hot_swap_leave_the_performance_alone(tmp_path: Path) -> None:
    port = free_tcp_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[interaction]\nmode = "callresponse"\n[model]\nfile = "{MODEL}"\n'
        f"[osc]\nserver_port = {free_udp_port()}\nclient_port = {free_udp_port()}\n"
        f"[webui]\nport = {port}\n"
    )
    (tmp_path / "made").mkdir()
    bomb = zip_bomb(tmp_path / "made" / "bomb.keras", 900 * MiB)
    proc = start(["run", "-c", str(config), "-l", str(tmp_path / "logs")], tmp_path)
    try:
        wait_for_line(proc, "listening")
        base = f"http://127.0.0.1:{port}"
        before = _peak(proc.pid)
        with StatusWatch(f"{base}/api/status") as watch:
            started = time.perf_counter()
            status, body = _upload(f"{base}/api/files/models", "bomb.keras", bomb.read_bytes())
            seconds = time.perf_counter() - started
            assert status == 400, body
            assert body["error"].startswith("bomb.keras is not a model impsy can load: "), body
            assert "would unpack to 900.0 MiB" in body["error"] and "zip bomb" in body["error"]
            assert "\n" not in body["error"] and "upload" not in body["error"], body
            assert seconds < REFUSAL_SECONDS, seconds

            # The same file put in models/ by hand and chosen as the model to play.
            models = tmp_path / "models"
            assert not models.exists() or not any(models.iterdir())  # nothing kept
            models.mkdir(exist_ok=True)
            shutil.copy(bomb, models / "bomb.keras")
            status, body = _post(
                f"{base}/api/model/use", b'{"file": "bomb.keras"}', "application/json"
            )
            assert status == 400 and "bomb.keras: cannot load: " in body["error"], body
            assert "zip bomb" in body["error"], body
        grown = _peak(proc.pid) - before
        assert grown < SERVER_GROWTH, f"the performing process grew by {grown / MiB:.0f} MiB"
        assert watch.answers > 0 and watch.slowest < STALL_SECONDS, watch.slowest

        # A real model still goes through both ways.
        status, body = _upload(f"{base}/api/files/models", "mine.keras", TRAINED.read_bytes())
        assert (status, body.get("dimension")) == (201, 9), body
        status, body = _post(f"{base}/api/model/use", b'{"file": "mine.keras"}', "application/json")
        assert status == 200, body
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
