"""`impsy status` against a real `impsy run` process, a silent peer and no peer at all."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

from tests.cli.test_run import start, wait_for_line, write_config
from tests.osc_client import free_udp_port, osc_bytes

IMPSY = [sys.executable, "-m", "impsy"]


def status(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*IMPSY, "status", *args], capture_output=True, text=True, cwd=cwd, timeout=30
    )


def test_status_of_a_running_impsy_exits_zero_and_prints_its_counters(tmp_path):
    server, client = free_udp_port(), free_udp_port()
    config = write_config(tmp_path / "config.toml", server, client, mode="useronly")
    proc = start(["run", "-c", str(config), "-l", str(tmp_path / "logs")], tmp_path)
    try:
        wait_for_line(proc, "listening")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(3):
                sock.sendto(osc_bytes("/interface", *([i / 4] * 8)), ("127.0.0.1", server))
        # --config gives the port; the three gestures were handled before the query.
        result = status("-c", str(config))
        assert result.returncode == 0, result.stdout + result.stderr
        rows = dict(line.split(None, 1) for line in result.stdout.splitlines())
        assert rows["mode"] == "useronly"
        assert rows["events_in"] == "3"
        # ./config.toml is found like `impsy run` finds it; --quiet prints nothing.
        quiet = status("--quiet", cwd=tmp_path)
        assert quiet.returncode == 0, quiet.stderr
        assert quiet.stdout == ""
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_status_with_nobody_listening_exits_one():
    port = free_udp_port()
    result = status("--host", "127.0.0.1", "--port", str(port), "--timeout", "0.5")
    assert result.returncode == 1
    assert f"no answer from udp://127.0.0.1:{port}" in result.stdout


def test_status_of_a_peer_that_never_answers_exits_one_after_the_timeout():
    """A hung server (socket open, nothing answers) is unhealthy, not an error or a hang."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        result = status("--port", str(port), "--host", "127.0.0.1", "--timeout", "0.3", "-q")
        request = silent.recv(1024)
    assert result.returncode == 1
    assert result.stdout == ""
    assert request.startswith(b"/impsy/status\0")


def test_status_needs_an_osc_section_or_a_port(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[interaction]\nmode = "useronly"\n')
    result = status("-c", str(config))
    assert result.returncode == 2
    assert "no [osc] section" in result.stderr
    assert "Traceback" not in result.stderr
