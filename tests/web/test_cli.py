"""``impsy webui`` and ``impsy run`` with ``[webui]``, as a user starts them: real processes."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.cli.test_run import IMPSY, MODEL, start, wait_for_line
from tests.osc_client import free_udp_port
from tests.web.test_api import free_tcp_port


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def write_config(path: Path, webui: str, osc: bool = True) -> Path:
    text = f'[interaction]\nmode = "callresponse"\n[model]\nfile = "{MODEL}"\n[webui]\n{webui}\n'
    if osc:
        text += f"[osc]\nserver_port = {free_udp_port()}\nclient_port = {free_udp_port()}\n"
    path.write_text(text)
    return path


def test_impsy_webui_serves_without_a_performance(tmp_path):
    config = write_config(tmp_path / "config.toml", "", osc=False)
    proc = start(["webui", "-c", str(config), "--port", "0"], tmp_path)
    lines = wait_for_line(proc, "web UI at")
    url = re.search(r"(http://\S+/)", lines[-1])[1]
    status = get_json(url + "api/status")
    assert status["running"] is False and status["dimension"] == 9
    assert get_json(url + "api/files") == {
        "logs": [],
        "datasets": [],
        "models": [],
        "upload_limit": 50 * 1024 * 1024,
    }
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out


def test_impsy_run_serves_the_web_ui_on_its_own_loop(tmp_path):
    port = free_tcp_port()
    config = write_config(tmp_path / "config.toml", f"port = {port}")
    proc = start(["run", "-c", str(config), "-l", str(tmp_path / "logs")], tmp_path)
    lines = wait_for_line(proc, "listening")
    assert f"webui: http://127.0.0.1:{port}/\n" in lines
    status = get_json(f"http://127.0.0.1:{port}/api/status")
    assert status["running"] is True and status["mode"] == "callresponse"
    assert [a["name"] for a in status["adapters"]] == ["osc"]
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out


def test_impsy_run_stops_at_start_up_when_the_web_port_is_taken(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = write_config(tmp_path / "config.toml", f"port = {port}")
        result = subprocess.run(
            [*IMPSY, "run", "-c", str(config), "-l", str(tmp_path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"[webui] cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "address already in use" in errors[0].lower()


def test_impsy_run_refuses_an_open_web_ui_without_a_token(tmp_path):
    config = write_config(tmp_path / "config.toml", 'host = "0.0.0.0"')
    result = subprocess.run(
        [*IMPSY, "run", "-c", str(config), "-l", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "[webui] token" in result.stderr and "0.0.0.0" in result.stderr
    assert "listening" not in result.stdout


def test_impsy_run_refuses_a_short_token_on_an_open_web_ui(tmp_path):
    config = write_config(tmp_path / "config.toml", 'host = "0.0.0.0"\ntoken = "x"')
    result = subprocess.run(
        [*IMPSY, "run", "-c", str(config), "-l", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "[webui] token: 1 characters" in line and "at least 16" in line
    assert "secrets.token_urlsafe" in line and "listening" not in result.stdout


def test_a_short_token_is_fine_on_loopback_and_a_long_one_anywhere():
    from impsy.web.security import check_bind

    check_bind("127.0.0.1", "x")
    check_bind("0.0.0.0", "s" * 16)


def test_run_with_the_web_ui_never_imports_tensorflow(tmp_path):
    config = write_config(tmp_path / "c.toml", f"port = {free_tcp_port()}")
    script = f"""
import os, signal, sys
from impsy.config import load_config
from impsy.engine import loop
from impsy.app import RunOptions, serve
def ready(engine):
    heavy = sorted(m for m in ("tensorflow", "keras", "keras_mdn_layer") if m in sys.modules)
    print("HEAVY", heavy, "aiohttp" in sys.modules, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
loop.run(serve(load_config({str(config)!r}), RunOptions(logdir={str(tmp_path)!r}), ready))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "HEAVY [] True" in result.stdout
