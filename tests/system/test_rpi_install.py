"""examples/rpi/install.sh end to end: install into a temporary folder, then play.

The installer runs as a user runs it, without root (--no-apt --no-systemd): it
makes its own venv, installs impsy[litert] from this checkout at the versions
pinned in constraints.txt, runs `impsy init` and puts the model the config
names where the config says. Then the installed `impsy run`, started with the
installed impsy.service's own ExecStart line, must answer OSC gestures on
127.0.0.1 with predictions. The first install takes 15-20 s with pip's cache
(it needs PyPI, or a cache, for the dependencies); the four later runs of
install.sh (an update from a wheel, mistakes) 5-8 s each; the module ~35 s.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage

from tests.osc_client import free_udp_port, osc_bytes
from tests.paths import ROOT
from tests.system.test_rpi_files import UNITS, service_section

INSTALL = ROOT / "examples" / "rpi" / "install.sh"
CONSTRAINTS = ROOT / "constraints.txt"
DEFAULT_MODEL = "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained"
# The installed venv must see only what it installed, never this checkout.
ENV = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}

pytestmark = pytest.mark.timeout(900)  # a venv install: minutes on a cold pip cache


def install(directory: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(INSTALL), "--no-apt", "--no-systemd", "--dir", str(directory)]
        + ["--python", sys.executable, "--constraints", str(CONSTRAINTS), *options],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=840,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("rpi") / "impsy"
    started = time.monotonic()
    result = install(directory)
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"install.sh took {time.monotonic() - started:.1f} s")
    return directory


def installed_from(directory: Path) -> dict:
    """pip's record of where the installed venv's impsy came from (direct_url.json)."""
    script = "import importlib.metadata as m; print(m.distribution('impsy').read_text(NAME))"
    script = script.replace("NAME", "'direct_url.json'")
    result = subprocess.run(
        [str(directory / ".venv" / "bin" / "python"), "-c", script],
        cwd=directory,  # not this checkout, whose impsy.egg-info would answer
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def set_ports(config: Path, server: int, client: int, webui: int) -> None:
    """Free ports instead of 6000/6001/4000, as a user would edit them."""
    text = config.read_text()
    for key, value in (("server_port", server), ("client_port", client), ("port", webui)):
        text, count = re.subn(rf"^{key} = \d+", f"{key} = {value}", text, flags=re.MULTILINE)
        assert count == 1, f"config.toml has {count} uncommented '{key} =' lines"
    config.write_text(text)


class Output:
    """A process's output lines, read by a thread so that waiting for one can time out."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._arrived = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._arrived:
                self.lines.append(line)
                self._arrived.notify_all()

    def wait_for(self, text: str, timeout: float = 30.0) -> list[str]:
        with self._arrived:
            found = self._arrived.wait_for(
                lambda: any(text in line for line in self.lines), timeout
            )
            assert found, f"never printed {text!r}; output:\n{''.join(self.lines)}"
            return list(self.lines)

    def all(self) -> str:
        self._thread.join(timeout=10)
        return "".join(self.lines)


def test_installed_impsy_plays_from_its_own_venv(installed):
    venv_python = installed / ".venv" / "bin" / "python"
    where = subprocess.run(
        [str(venv_python), "-c", "import impsy; print(impsy.__file__)"],
        cwd=installed,
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert where.stdout.startswith(str(installed / ".venv")), where.stdout + where.stderr
    assert "dir_info" in installed_from(installed)  # from a copy of this checkout
    tensorflow = subprocess.run(
        [str(venv_python), "-c", "import tensorflow"], capture_output=True, env=ENV
    )
    assert tensorflow.returncode != 0, "the Pi's venv must not have TensorFlow"

    config = installed / "config.toml"
    assert f'file = "models/{DEFAULT_MODEL}.tflite"' in config.read_text()
    assert (installed / "models" / f"{DEFAULT_MODEL}.tflite").is_file()
    # what the NumPy engine runs instead, beside it (engine = "numpy", or no LiteRT)
    assert (installed / "models" / f"{DEFAULT_MODEL}.keras").is_file()
    impsy = str(installed / ".venv" / "bin" / "impsy")
    checked = subprocess.run(
        [impsy, "check-config", "config.toml"],
        cwd=installed,
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok config.toml")

    server, client = free_udp_port(), free_udp_port()
    set_ports(config, server, client, free_tcp_port())
    # exactly what systemd would start: the installed impsy.service's ExecStart, in its
    # WorkingDirectory (the units install.sh filled in, in DIR/systemd/)
    service = service_section((installed / "systemd" / "impsy.service").read_text())
    proc = subprocess.Popen(
        service["ExecStart"].split(),
        cwd=service["WorkingDirectory"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**ENV, "PYTHONUNBUFFERED": "1"},
    )
    output = Output(proc)
    try:
        startup = output.wait_for("listening")
        (model,) = [line for line in startup if line.startswith("model: ")]
        assert f"{DEFAULT_MODEL}.tflite: litert engine" in model, startup
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", client))
            sock.settimeout(10)
            for i in range(3):
                sock.sendto(osc_bytes("/interface", *([0.2 + i / 10] * 8)), ("127.0.0.1", server))
                time.sleep(0.02)
            # callresponse: after 0.1 s of silence the model answers on /impsy
            message = OscMessage(sock.recv(65536))
            while message.address != "/impsy":
                message = OscMessage(sock.recv(65536))
        prediction = list(message.params)
        assert len(prediction) == 8, prediction
        assert all(isinstance(value, float) and 0.0 <= value <= 1.0 for value in prediction)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    assert proc.returncode == 0, output.all()
    (log,) = (installed / "logs").glob("*-9d-mdrnn.log")
    assert len([row for row in log.read_text().splitlines() if ",interface," in row]) == 3


def test_the_units_it_fills_in_pass_systemd_analyze_verify(installed, tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (Debian package systemd; make test installs it)"
    units = installed / "systemd"
    assert sorted(path.name for path in units.iterdir()) == sorted(UNITS)
    for unit in UNITS:
        text = (units / unit).read_text()
        assert "@DIR@" not in text and "@USER@" not in text, unit
        # the template as an instance, so that its ExecStart is checked too
        path = tmp_path / unit.replace("@.", "@duo.")
        path.write_text(text)
        result = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True)
        assert (result.returncode, result.stderr) == (0, ""), f"{unit}: {result.stderr}"
        assert f"ExecStart={installed}/.venv/bin/impsy " in text, unit


def test_running_it_again_from_a_wheel_updates_impsy_and_keeps_the_config(
    installed, tmp_path, wheel
):
    """An update from a wheel, without LiteRT: config.toml stays, a lost model returns.

    --no-litert takes LiteRT out of the venv: the NumPy engine runs the .keras beside
    the .tflite the config names.
    """
    config = installed / "config.toml"
    config.write_text(config.read_text() + "# my own line\n")
    for model in (installed / "models").glob(f"{DEFAULT_MODEL}.*"):
        model.unlink()
    result = install(installed, "--wheel", str(wheel), "--no-litert")
    assert result.returncode == 0, result.stdout + result.stderr
    assert config.read_text().endswith("# my own line\n")
    assert (installed / "models" / f"{DEFAULT_MODEL}.tflite").is_file()
    (loads,) = [line for line in result.stdout.splitlines() if "the model loads" in line]
    assert f"(weights from {DEFAULT_MODEL}.keras): numpy engine" in loads, loads
    litert = subprocess.run(
        [str(installed / ".venv" / "bin" / "python"), "-c", "import ai_edge_litert"],
        cwd=installed,
        capture_output=True,
        env=ENV,
    )
    assert litert.returncode != 0, "--no-litert left LiteRT in the venv"
    assert installed_from(installed)["url"] == f"file://{wheel}"


def test_a_config_naming_a_missing_model_is_one_clear_line(installed, wheel):
    """From the session's wheel (already installed: pip keeps it), which the check follows."""
    config = installed / "config.toml"
    before = config.read_text()
    config.write_text(before.replace(f"models/{DEFAULT_MODEL}.tflite", "models/mine.tflite"))
    try:
        result = install(installed, "--wheel", str(wheel), "--no-litert")
    finally:
        config.write_text(before)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f'install.sh: {installed}/config.toml names [model] file = "models/mine.tflite", '
        "which is not there: copy it there or edit the file"
    )
    assert "Traceback" not in result.stderr


def test_a_model_of_this_checkout_that_the_package_lacks_is_copied_from_models(installed):
    """IMPSY's 2019 model is in models/ but not in the package: install.sh copies it."""
    config = installed / "config.toml"
    before = config.read_text()
    old = "musicMDRNN-dim9-layers2-units64-mixtures5-scale10"
    config.write_text(before.replace(f"models/{DEFAULT_MODEL}.tflite", f"models/{old}.tflite"))
    try:
        result = install(installed)
        copied = sorted(path.name for path in (installed / "models").glob(f"{old}.*"))
    finally:
        config.write_text(before)
    assert result.returncode == 0, result.stdout + result.stderr
    assert copied == [f"{old}.h5", f"{old}.keras", f"{old}.tflite"]
    assert f"install.sh: copied models/{old}.tflite into {installed}/models/" in result.stdout
    assert f"the model loads: <MDRNN {old}.tflite: litert engine" in result.stdout
