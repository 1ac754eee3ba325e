"""The Raspberry Pi files: systemd units checked by systemd itself, the install script's parts.

`systemd-analyze verify` parses each unit as systemd would at boot (unknown
keys, bad signal names, missing programs); the units are filled in the way
examples/rpi/install.sh fills them in, pointing at this checkout's venv.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

RPI = ROOT / "examples" / "rpi"
UNITS = ["impsy.service", "impsy-webui.service"]


def filled_in(unit: str, directory: Path, user: str = "root") -> str:
    return (RPI / unit).read_text().replace("@USER@", user).replace("@DIR@", str(directory))


def service_section(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(text)
    return parser["Service"]


@pytest.mark.parametrize("unit", UNITS)
def test_unit_passes_systemd_analyze_verify(unit, tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (Debian package systemd; make test installs it)"
    # ExecStart must name a real program: lay out DIR/.venv/bin/impsy as install.sh does.
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    path = tmp_path / unit
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


@pytest.mark.parametrize(("unit", "command"), [(UNITS[0], "run"), (UNITS[1], "webui")])
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


def test_install_script_installs_the_runtime_without_tensorflow():
    script = (RPI / "install.sh").read_text()
    installs = [line for line in script.splitlines() if "pip install" in line]
    assert installs and not any("[train]" in line or "tensorflow" in line for line in installs)
    assert 'pip install --quiet --prefer-binary "$REPO"' in script
    for unit in UNITS:
        assert unit in script


def test_install_script_help_runs():
    result = subprocess.run(
        ["sh", str(RPI / "install.sh"), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "--enable" in result.stdout and "--no-systemd" in result.stdout
    bad = subprocess.run(["sh", str(RPI / "install.sh"), "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "unknown option --bogus" in bad.stderr
