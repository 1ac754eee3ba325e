"""`impsy run` as a user starts it: a real process, real sockets, real signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage

from tests.osc_client import free_udp_port, osc_bytes
from tests.paths import ROOT

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
IMPSY = [sys.executable, "-m", "impsy"]


def write_config(path: Path, server: int, client: int, model: str = str(MODEL), **extra) -> Path:
    mode = extra.get("mode", "callresponse")
    path.write_text(
        f"""
log_input = true
[interaction]
mode = "{mode}"
threshold = 0.1
[model]
file = "{model}"
timescale = 0.05
[osc]
server_port = {server}
client_port = {client}
"""
    )
    return path


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [*IMPSY, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float = 15.0) -> list[str]:
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    proc.kill()
    raise AssertionError(f"never printed {text!r}; output:\n{''.join(lines)}")


def test_sigterm_leaves_a_complete_log_and_exits_zero(tmp_path):
    server, client = free_udp_port(), free_udp_port()
    config = write_config(tmp_path / "config.toml", server, client, mode="useronly")
    proc = start(["run", "-c", str(config), "--logdir", str(tmp_path / "logs")], tmp_path)
    summary = wait_for_line(proc, "listening")
    assert any(f"127.0.0.1:{server}" in line for line in summary), summary
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", client))
        sock.settimeout(5)
        for i in range(50):
            sock.sendto(osc_bytes("/interface", *([i / 50] * 8)), ("127.0.0.1", server))
        # The status reply comes after all 50 gestures were handled (one socket, in order).
        sock.sendto(osc_bytes("/impsy/status"), ("127.0.0.1", server))
        reply = OscMessage(sock.recv(65536))
    status = dict(zip(reply.params[::2], reply.params[1::2], strict=True))
    assert status["events_in"] == 50
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    (log,) = (tmp_path / "logs").glob("*-9d-mdrnn.log")
    lines = log.read_text().splitlines()
    assert len(lines) == 50
    assert [float(v) for v in lines[-1].split(",")[2:]] == pytest.approx([49 / 50] * 8, abs=1e-6)


def test_missing_model_file_is_one_clear_error(tmp_path):
    config = write_config(
        tmp_path / "c.toml", free_udp_port(), free_udp_port(), model="nope.tflite"
    )
    result = subprocess.run(
        [*IMPSY, "run", "-c", str(config)], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "nope.tflite does not exist" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_model_logs_without_a_model(tmp_path):
    config = write_config(
        tmp_path / "c.toml", free_udp_port(), free_udp_port(), model="nope.tflite"
    )
    proc = start(["run", "-c", str(config), "--no-model", "-l", str(tmp_path)], tmp_path)
    lines = wait_for_line(proc, "listening")
    assert any("model: none" in line for line in lines)
    assert any("mode: useronly" in line for line in lines)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_run_never_imports_tensorflow(tmp_path):
    """The runtime must stay light: load the model, serve, and look at sys.modules."""
    server, client = free_udp_port(), free_udp_port()
    config = write_config(tmp_path / "c.toml", server, client)
    script = f"""
import os, signal, sys
from impsy.config import load_config
from impsy.engine import loop
from impsy.app import RunOptions, serve
def ready(engine):
    heavy = sorted(m for m in ("tensorflow", "keras", "keras_mdn_layer") if m in sys.modules)
    print("HEAVY", heavy, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
loop.run(serve(load_config({str(config)!r}), RunOptions(logdir={str(tmp_path)!r}), ready))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_cli_modules_import_nothing_heavy():
    """`impsy --help` stays fast because the command modules import only click."""
    script = (
        "import sys, impsy.cli; "
        "print(sorted(m for m in ('numpy', 'tensorflow', 'ai_edge_litert', 'h5py', 'pythonosc') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_version_and_entry_points(tmp_path):
    for command in (IMPSY, [sys.executable, str(ROOT / "start_impsy.py")]):
        result = subprocess.run([*command, "--version"], capture_output=True, text=True)
        assert result.returncode == 0
        assert result.stdout.startswith("impsy, version ")


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_has_a_model_that_fits(path, monkeypatch):
    """Each example config's model loads and agrees with its mappings (or it logs only)."""
    from impsy.app import RunOptions, load_performance_model
    from impsy.config import load_config

    monkeypatch.chdir(ROOT)
    config = load_config(path)
    model = load_performance_model(config, RunOptions())
    if config.interaction.mode == "useronly" and not config.model.file:
        assert model is None
    else:
        assert model.dimension == config.model.dimension
