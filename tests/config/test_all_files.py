"""Every config in ``configs/`` and every one of IMPSY's own either runs or fails in one line.

Each file is given to ``impsy run`` in a real process, as a musician would,
with its network ports moved to free ones (so the test cannot collide with
anything) and MIDI on the test's JACK server. A file that loads must reach
"listening" with every adapter it enables and stop cleanly on SIGINT; a file
that cannot run must stop impsy with exactly one line that names the file
and the key to fix. Which IMPSY files fail, and on which key, is pinned.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from impsy.config import load_config
from tests.paths import ROOT

SHIPPED = sorted((ROOT / "configs").glob("*.toml"))
IMPSY_CONFIGS = sorted((ROOT / "tests" / "data" / "impsy-configs").glob("*.toml"))

# IMPSY's configs that cannot run here, and the key each one's error must name.
EXPECTED_FAILURES = {
    # [websocket] without mapping lists: IMPSY itself crashes on these with a KeyError.
    "AiC-alec-u2midipro.toml": "[websocket] input",
    "andromeda-ableton.toml": "[websocket] input",
    "arturia-minilab3-analogV.toml": "[websocket] input",
    "op1-volca-fm.toml": "[websocket] input",
    # They name a dimension-4 model that IMPSY's repository does not ship either.
    "pd-workshop-example.toml": "[model] file",
    "serial-example.toml": "[model] file",
}
PORT_KEYS = re.compile(r"^(\s*(?:server_port|client_port|port)\s*=\s*)\d+", re.MULTILINE)


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_free_ports(path: Path, tmp_path: Path) -> Path:
    """A copy of ``path`` with every port number replaced by a free one (UDP and TCP)."""
    text = path.read_text(encoding="utf-8")

    def free(match: re.Match) -> str:
        return f"{match[1]}{free_port(socket.SOCK_STREAM)}"

    copy = tmp_path / path.name
    copy.write_text(PORT_KEYS.sub(free, text), encoding="utf-8")
    return copy


def run_impsy(config: Path, logdir: Path) -> tuple[int, list[str], bool]:
    """Start ``impsy run``; stop it with SIGINT once listening. (exit code, output, listened)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "impsy", "run", "-c", str(config), "--logdir", str(logdir)],
        cwd=ROOT,  # relative model paths resolve as they do for a user in the repository
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "IMPSY_MIDI_API": "UNIX_JACK"},
    )
    lines: list[str] = []
    listened = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if "listening" in line:
            listened = True
            proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    return code, lines, listened


@pytest.mark.parametrize("path", SHIPPED + IMPSY_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_config_runs_or_fails_with_one_line_naming_the_key(
    path: Path, jack_server, tmp_path: Path
) -> None:
    copy = with_free_ports(path, tmp_path)
    code, lines, listened = run_impsy(copy, tmp_path / "logs")
    expected_key = EXPECTED_FAILURES.get(path.name) if path.parent.name != "configs" else None
    if expected_key is None:
        assert listened and code == 0, "\n".join(lines)
        config = load_config(copy)
        io_lines = [line for line in lines if line.startswith("io: ")]
        assert len(io_lines) >= len(config.adapters), "every enabled adapter started"
        return
    assert not listened
    assert code != 0
    problems = [line for line in lines if line.strip()]
    assert len(problems) == 1, f"expected one line, got {problems}"
    assert str(copy) in problems[0] and expected_key in problems[0], problems[0]


def test_expected_failures_are_real_files() -> None:
    names = {path.name for path in IMPSY_CONFIGS}
    assert set(EXPECTED_FAILURES) <= names
    assert len(IMPSY_CONFIGS) == 17
