"""The Raspberry Pi files: systemd units checked by systemd itself, the install script's parts.

`systemd-analyze verify` parses each unit as systemd would at boot (unknown
keys, bad signal names, missing programs); the units are filled in the way
examples/rpi/install.sh fills them in, pointing at this checkout's venv.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage

from tests.osc_client import free_udp_port, osc_bytes
from tests.paths import MODELS, ROOT

RPI = ROOT / "examples" / "rpi"
UNITS = ["impsy.service", "impsy-webui.service", "impsy@.service"]
TEMPLATE = "impsy@.service"
MODEL = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.tflite"


def filled_in(unit: str, directory: Path, user: str = "root") -> str:
    return (RPI / unit).read_text().replace("@USER@", user).replace("@DIR@", str(directory))


def service_section(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(text)
    return parser["Service"]


# The template is verified as itself and as an instance: only an instance's ExecStart
# is checked for a real program.
@pytest.mark.parametrize(
    ("unit", "name"), [(unit, unit) for unit in UNITS] + [(TEMPLATE, "impsy@duo.service")]
)
def test_unit_passes_systemd_analyze_verify(unit, name, tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (Debian package systemd; make test installs it)"
    # ExecStart must name a real program: lay out DIR/.venv/bin/impsy as install.sh does.
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    path = tmp_path / name
    path.write_text(filled_in(unit, tmp_path))
    result = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_verify_reports_a_bad_unit(tmp_path):
    """The check above can fail: a misspelt signal is reported."""
    analyze = shutil.which("systemd-analyze")
    assert analyze
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    path = tmp_path / "impsy.service"
    path.write_text(filled_in("impsy.service", tmp_path).replace("SIGTERM", "SIGTREM"))
    result = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True)
    assert "SIGTREM" in result.stderr


@pytest.mark.parametrize(
    ("unit", "command"), [(UNITS[0], "run"), (UNITS[1], "webui"), (TEMPLATE, "run")]
)
def test_unit_restarts_on_failure_and_stops_with_sigterm(unit, command, tmp_path):
    service = service_section(filled_in(unit, tmp_path, "pi"))
    assert service["ExecStart"].split()[:2] == [f"{tmp_path}/.venv/bin/impsy", command]
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert service["User"] == "pi"
    assert service["WorkingDirectory"] == str(tmp_path)
    # a config error (exit 2) is not retried forever
    assert service["RestartPreventExitStatus"] == "2"


def test_webui_unit_and_impsy_unit_do_not_run_together():
    """`impsy run` serves the web UI itself; both on port 4000 at once would clash."""
    assert "Conflicts=impsy.service" in (RPI / "impsy-webui.service").read_text()


def test_template_unit_plays_one_config_per_instance(tmp_path):
    """impsy@NAME runs DIR/NAME.toml in DIR, logging to DIR/logs/NAME/: run its ExecStart."""
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    service = service_section(filled_in(TEMPLATE, tmp_path, "pi"))
    assert service["WorkingDirectory"] == str(tmp_path)
    assert "SupplementaryGroups" in service and "Conflicts" not in service

    def command(instance: str) -> list[str]:  # systemd replaces %i with the instance name
        return service["ExecStart"].replace("%i", instance).split()

    server, client = free_udp_port(), free_udp_port()
    (tmp_path / "duo.toml").write_text(
        f'[interaction]\nmode = "useronly"\n[model]\nfile = "{MODEL}"\n'
        f"[osc]\nserver_port = {server}\nclient_port = {client}\n"
    )
    proc = subprocess.Popen(
        command("duo"),
        cwd=service["WorkingDirectory"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", client))
            sock.settimeout(0.5)
            deadline = time.monotonic() + 30
            reply = None
            while reply is None and time.monotonic() < deadline and proc.poll() is None:
                sock.sendto(osc_bytes("/interface", *([0.5] * 8)), ("127.0.0.1", server))
                sock.sendto(osc_bytes("/impsy/status"), ("127.0.0.1", server))
                try:
                    reply = OscMessage(sock.recv(65536))
                except TimeoutError:
                    pass
        assert reply is not None and reply.address == "/impsy/status"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert any(f"{tmp_path}/duo.toml" in line for line in out.splitlines()), out
    assert list((tmp_path / "logs" / "duo").glob("*-9d-mdrnn.log")), out

    # an instance without its config: one line in the journal, exit 2 (not restarted)
    missing = subprocess.run(command("trio"), cwd=tmp_path, capture_output=True, text=True)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: {tmp_path}/trio.toml: no such config file"
    assert service["RestartPreventExitStatus"] == "2"


def test_install_script_installs_the_runtime_pinned_without_tensorflow():
    script = (RPI / "install.sh").read_text()
    installs = [
        line for line in re.sub(r"\\\n\s*", " ", script).splitlines() if "pip install" in line
    ]
    assert installs and not any("[train]" in line or "tensorflow" in line for line in installs)
    # one install resolves the dependencies, at the pinned versions; any other is --no-deps
    (resolving,) = [line for line in installs if "--no-deps" not in line]
    assert '-c "$CONSTRAINTS" "$SOURCE$EXTRAS"' in resolving
    assert 'EXTRAS="[litert]"' in script  # LiteRT unless --no-litert
    assert "CONSTRAINTS=$REPO/constraints.txt" in script
    assert re.search(r"^UNITS=\"(.*)\"$", script, re.MULTILINE).group(1).split() == [
        "impsy.service",
        "impsy@.service",
        "impsy-webui.service",
    ]
    assert sorted(UNITS) == sorted(p.name for p in RPI.glob("*.service"))


def test_install_script_help_runs():
    result = subprocess.run(
        ["sh", str(RPI / "install.sh"), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for option in ("--dir", "--user", "--enable", "--no-systemd", "--no-apt", "--no-litert"):
        assert option in result.stdout, option
    for option in ("--wheel", "--constraints", "--python"):
        assert option in result.stdout, option
    bad = subprocess.run(["sh", str(RPI / "install.sh"), "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr == "install.sh: unknown option --bogus (install.sh --help)\n"


# Each of these stops before apt, pip or systemd; --python names no Python, so a check
# that let the mistake through would stop there instead (a different line: a failure).
@pytest.mark.parametrize(
    ("options", "code", "line"),
    [
        (["--dir"], 2, "install.sh: --dir needs a value (install.sh --help)"),
        (["--wheel", ""], 2, "install.sh: --wheel needs a value (install.sh --help)"),
        (
            ["--constraints", "/nonexistent/c.txt"],
            1,
            "install.sh: /nonexistent/c.txt is missing (the pinned versions): "
            "pass --constraints FILE",
        ),
        (
            ["--wheel", "/nonexistent/impsy.whl"],
            1,
            "install.sh: /nonexistent/impsy.whl: no such wheel",
        ),
        (
            ["--enable", "--no-systemd"],
            1,
            "install.sh: --enable needs the units: leave out --no-systemd",
        ),
        (
            ["--dir", "/tmp/my impsy"],
            1,
            "install.sh: --dir /tmp/my impsy: the units need a folder name of letters, "
            "digits and ._-/ only",
        ),
    ],
)
def test_install_script_mistakes_are_one_line(options, code, line, tmp_path):
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("")
    result = subprocess.run(
        ["sh", str(RPI / "install.sh"), "--no-apt", "--python", "/nonexistent/python3"]
        + ["--constraints", str(constraints), *options],
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stderr) == (code, line + "\n"), result.stdout
    assert result.stdout == ""
