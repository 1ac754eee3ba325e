"""impsy installed the way musicians install it, then played in an empty folder.

The wheel is built here from a copy of the checkout (``pip wheel``, with the
build requirements of pyproject.toml), installed with its runtime
dependencies only (no extras: no LiteRT, no TensorFlow) into a fresh venv
by pip and by ``uv tool install`` (uv itself pip-installed into a scratch
venv), each from wheels alone (``--only-binary``/``--no-build``: nothing may
need compiling). Then ``impsy run``, started with no argument in an empty
folder (no ./config.toml, no models/), must use the packaged default config
and the packaged model and answer a real OSC ``/interface`` on
127.0.0.1:6000 with predictions to 127.0.0.1:6001, and ``impsy init`` must
make a folder that plays its own copy of the model. Dependencies come from
PyPI through pip's and uv's caches: about 40 s warm, minutes cold.

The same smoke test runs on other Pythons when ``IMPSY_TEST_PYTHONS`` names
them (``IMPSY_TEST_PYTHONS=3.12,3.13``: versions found as ``pythonX.Y`` on
PATH or in pyenv's versions folder, or interpreter paths); they are left out
of the default suite for time, and each prints its install time and size
(``pytest -s``).

The packaged default listens on fixed ports (UDP 6000, 6001 and TCP 4000),
so runs that use them take a lock file first: two test sessions on one
machine wait for each other instead of colliding.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pythonosc.osc_message import OscMessage

from tests.cli.test_run import wait_for_line
from tests.osc_client import free_udp_port, osc_bytes
from tests.paths import MODELS

pytestmark = pytest.mark.timeout(900)  # venv installs: minutes on cold caches

PYTHONS_ENV = "IMPSY_TEST_PYTHONS"
DEFAULT_MODEL = "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained"
PACKAGED_MODEL_FILES = (f"{DEFAULT_MODEL}.tflite", f"{DEFAULT_MODEL}.keras")
# What the installed impsy must not see: this checkout, a config chosen elsewhere.
UNSET = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "IMPSY_CONFIG", "IMPSY_MIDI_BINDING")
LARGEST_WHEEL = 1_500_000  # bytes: the code, the web UI and the default model (~0.8 MB)
PORTS_LOCK = Path(tempfile.gettempdir()) / "impsy-default-ports.lock"


def clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in UNSET}
    env.update(extra)
    return env


def user_env(home: Path) -> dict[str, str]:
    """A pretend user with no per-user config: the packaged default is what is left."""
    return clean_env(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PYTHONUNBUFFERED="1",
    )


def run(args: list[str], timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


# ------------------------------------- the wheel (built once: tests/system/conftest.py)
def test_the_wheel_holds_the_default_model_and_spdx_metadata(wheel):
    assert wheel.stat().st_size < LARGEST_WHEEL, f"{wheel.name}: {wheel.stat().st_size} bytes"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = (name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode()
        for name in PACKAGED_MODEL_FILES:
            packaged = archive.read(f"impsy/data/models/{name}")
            assert packaged == (MODELS / name).read_bytes(), f"{name} differs from models/{name}"
    assert "impsy/data/default.toml" in names and "impsy/data/models/LICENSE.md" in names
    assert "License-Expression: MIT" in metadata
    assert "Classifier: Topic :: Multimedia :: Sound/Audio :: MIDI" in metadata
    assert "Classifier: Programming Language :: Python :: 3.14" in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    runtime = [line for line in requires if "extra ==" not in line]
    assert not any("ai-edge-litert" in line or "tensorflow" in line for line in runtime), runtime
    assert any(line.startswith("Requires-Dist: rtmidi2") for line in runtime), runtime


# ------------------------------------------------------------ fresh installs
def pip_install(python: str, venv: Path, wheel: Path) -> float:
    """A fresh venv with ``wheel`` and its runtime dependencies, from wheels only; seconds."""
    started = time.monotonic()
    run([python, "-m", "venv", str(venv)], env=clean_env())
    run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--only-binary=:all:"]
        + [str(wheel)],
        env=clean_env(),
    )
    return time.monotonic() - started


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


@pytest.fixture(scope="module")
def runtime_venv(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    seconds = pip_install(sys.executable, venv, wheel)
    print(f"runtime install: {seconds:.1f} s, {size_mb(venv):.0f} MB")
    return venv


@contextlib.contextmanager
def default_ports() -> Iterator[socket.socket]:
    """The packaged default's ports, held by this session; yields the socket on 6001."""
    PORTS_LOCK.touch(exist_ok=True)
    with PORTS_LOCK.open() as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for kind, port in ((socket.SOCK_DGRAM, 6000), (socket.SOCK_STREAM, 4000)):
            with socket.socket(socket.AF_INET, kind) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError as err:
                    pytest.fail(f"port {port} is taken by another program ({err})")
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            peer.bind(("127.0.0.1", 6001))
            peer.settimeout(15)
            yield peer
        finally:
            peer.close()


def free_tcp() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answer(peer: socket.socket, server: int) -> list[float]:
    """Play three gestures to impsy; the first prediction it sends back."""
    for value in (0.2, 0.4, 0.6):
        peer.sendto(osc_bytes("/interface", *([value] * 8)), ("127.0.0.1", server))
        time.sleep(0.02)
    while True:
        message = OscMessage(peer.recv(65536))
        if message.address == "/impsy":
            return list(message.params)


def play(command: list[str], folder: Path, env: dict[str, str], peer, server=6000):
    """Start ``command`` in ``folder``, play to it, stop it; (start-up lines, a prediction)."""
    proc = subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        lines = wait_for_line(proc, "listening", timeout=60)
        prediction = answer(peer, server)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, "".join(lines) + rest
    return "".join(lines), prediction


def midi_binding(venv: Path, folder: Path) -> str:
    """The RtMidi binding impsy picks in ``venv`` (run from ``folder``, away from this checkout)."""
    script = "from impsy.io.midi.backend import binding; print(binding().name)"
    python = str(venv / "bin" / "python")
    return run([python, "-c", script], env=clean_env(), cwd=folder).stdout.strip()


def expected_binding(version: tuple[int, int]) -> str:
    """What the dependency markers install on Linux x86_64: python-rtmidi up to 3.12."""
    return "python-rtmidi" if version < (3, 13) else "rtmidi2"


def check_packaged_run(output: str, prediction: list[float], folder: Path) -> None:
    assert "(packaged default; no ./config.toml here" in output, output
    assert "playing the copy packaged with impsy" in output, output
    # no LiteRT in a runtime install: the .keras beside the .tflite, on NumPy
    assert f"{DEFAULT_MODEL}.tflite (weights from {DEFAULT_MODEL}.keras): numpy engine" in output
    assert "LiteRT not installed" in output
    assert len(prediction) == 8 and all(isinstance(value, float) for value in prediction)
    assert list(folder.iterdir()) == [], "a run with the packaged default writes nothing here"


def test_pip_installed_impsy_plays_in_an_empty_folder(runtime_venv, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    litert = subprocess.run(
        [str(runtime_venv / "bin" / "python"), "-c", "import ai_edge_litert"],
        capture_output=True,
        env=clean_env(),
        cwd=folder,
    )
    assert litert.returncode != 0, "a runtime install has no LiteRT (it is the litert extra)"
    assert midi_binding(runtime_venv, folder) == expected_binding(sys.version_info[:2])
    with default_ports() as peer:
        output, prediction = play(
            [str(runtime_venv / "bin" / "impsy"), "run"], folder, user_env(tmp_path / "home"), peer
        )
    check_packaged_run(output, prediction, folder)


def test_impsy_init_makes_a_folder_that_plays_its_own_copy(runtime_venv, tmp_path):
    impsy = str(runtime_venv / "bin" / "impsy")
    env = user_env(tmp_path / "home")
    studio = tmp_path / "studio"
    result = run([impsy, "init", str(studio)], env=env, cwd=tmp_path)
    assert f"created  {studio / 'models' / (DEFAULT_MODEL + '.tflite')}" in result.stdout
    for name in PACKAGED_MODEL_FILES:
        assert (studio / "models" / name).read_bytes() == (MODELS / name).read_bytes()
    config = studio / "config.toml"
    assert f'file = "models/{DEFAULT_MODEL}.tflite"' in config.read_text()
    server, client = free_udp_port(), free_udp_port()
    text = config.read_text()
    for key, value in (("server_port", server), ("client_port", client), ("port", free_tcp())):
        text, count = re.subn(rf"^{key} = \d+", f"{key} = {value}", text, flags=re.MULTILINE)
        assert count == 1, key
    config.write_text(text)  # free ports instead of 6000/6001/4000, as a user would edit them
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", client))
        peer.settimeout(15)
        output, prediction = play([impsy, "run"], studio, env, peer, server)
    assert "./config.toml in the working directory" in output, output
    assert "packaged" not in output, "the folder's own models/ copy must be the one played"
    assert len(prediction) == 8


# ------------------------------------------------------------------ uv tool
@pytest.fixture(scope="module")
def uv(tmp_path_factory) -> Path:
    """uv, pip-installed into a scratch folder (it is not one of impsy's dependencies; its
    command is a self-contained program, so no venv is needed around it)."""
    target = tmp_path_factory.mktemp("uv")
    run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target"]
        + [str(target), "uv"],
        env=clean_env(),
    )
    return target / "bin" / "uv"


def test_uv_tool_installed_impsy_plays_in_an_empty_folder(uv, wheel, tmp_path):
    tools, bin_dir = tmp_path / "tools", tmp_path / "bin"
    env = clean_env(
        UV_TOOL_DIR=str(tools), UV_TOOL_BIN_DIR=str(bin_dir), UV_PYTHON_DOWNLOADS="never"
    )
    base_python = getattr(sys, "_base_executable", sys.executable)
    started = time.monotonic()
    run([str(uv), "tool", "install", "--no-build", "--python", base_python, str(wheel)], env=env)
    print(f"uv tool install: {time.monotonic() - started:.1f} s")
    folder = tmp_path / "empty"
    folder.mkdir()
    with default_ports() as peer:
        output, prediction = play(
            [str(bin_dir / "impsy"), "run"], folder, user_env(tmp_path / "home"), peer
        )
    check_packaged_run(output, prediction, folder)


# ---------------------------------------------------------- other Pythons
def other_pythons() -> list[str]:
    return [entry.strip() for entry in os.environ.get(PYTHONS_ENV, "").split(",") if entry.strip()]


def interpreter(entry: str) -> str:
    """A Python named by path, or by version: ``python3.13`` on PATH, else pyenv's 3.13.x."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [entry] if os.sep in entry else [shutil.which(f"python{entry}")]
    candidates += sorted(str(p) for p in pyenv.glob(f"{entry}.*/bin/python{entry}"))
    script = "import sys; print(sys.executable)"
    for candidate in filter(None, candidates):
        found = subprocess.run([candidate, "-c", script], capture_output=True, text=True)
        if found.returncode == 0:
            return found.stdout.strip()
    pytest.fail(f"{PYTHONS_ENV}: no working python{entry} on PATH or in {pyenv}")


@pytest.fixture(scope="module")
def other_venvs(wheel, tmp_path_factory) -> Iterator[dict[str, Path]]:
    """A runtime venv per ``IMPSY_TEST_PYTHONS`` entry, made by the first test that asks."""
    venvs: dict[str, Path] = {}

    def make(entry: str) -> Path:
        if entry not in venvs:
            venv = tmp_path_factory.mktemp("python") / "venv"
            seconds = pip_install(interpreter(entry), venv, wheel)
            version = run([str(venv / "bin" / "python"), "--version"]).stdout.strip()
            print(f"{version}: runtime install {seconds:.1f} s, {size_mb(venv):.0f} MB")
            venvs[entry] = venv
        return venvs[entry]

    yield make


def python_version(venv: Path) -> tuple[int, int]:
    script = "import sys; print(*sys.version_info[:2])"
    major, minor = run([str(venv / "bin" / "python"), "-c", script]).stdout.split()
    return int(major), int(minor)


# Minutes of installs per Python: run by `make test-pythons`; tests/conftest.py leaves
# these out of `make test` (deselected, not skipped) unless IMPSY_TEST_PYTHONS names some.
OTHER_PYTHONS = pytest.mark.other_pythons


@OTHER_PYTHONS
@pytest.mark.parametrize("entry", other_pythons() or ["3.12"])
def test_other_python_installs_from_wheels_and_plays(entry, other_venvs, tmp_path):
    venv = other_venvs(entry)
    folder = tmp_path / "empty"
    folder.mkdir()
    midi = midi_binding(venv, folder)
    assert midi == expected_binding(python_version(venv)), midi
    started = time.monotonic()
    with default_ports() as peer:
        output, prediction = play(
            [str(venv / "bin" / "impsy"), "run"], folder, user_env(tmp_path / "home"), peer
        )
    played = time.monotonic() - started
    print(f"{entry}: MIDI via {midi}; start, three gestures, a prediction, stop: {played:.1f} s")
    check_packaged_run(output, prediction, folder)


@OTHER_PYTHONS
@pytest.mark.parametrize("entry", other_pythons() or ["3.12"])
def test_other_python_midi_on_jack_connects_or_says_why(entry, other_venvs, jack_server, tmp_path):
    """The installed binding on the suite's JACK server: it plays, or exits with one line.

    rtmidi2's Linux wheels bundle libjack 1.9.14 (JACK protocol 8), which
    cannot reach jackd2 1.9.17 or later (protocol 9); impsy must then say so
    and exit 2, never abort inside RtMidi.
    """
    venv = other_venvs(entry)
    config = tmp_path / "midi.toml"
    mapping = str([["control_change", 1, n] for n in range(1, 9)]).replace("'", '"')
    config.write_text(
        '[interaction]\nmode = "useronly"\n'
        f"[osc]\nserver_port = {free_udp_port()}\nclient_port = {free_udp_port()}\n"
        f'[midi]\nin_device = ["keys"]\ninput."keys" = {mapping}\n'
    )
    command = [str(venv / "bin" / "impsy"), "run", "-c", str(config), "-l", str(tmp_path)]
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        started = proc.stdout.readline()  # the first line: an error ends the process first
        while started and not started.startswith(b"impsy: listening"):
            started = proc.stdout.readline()
        if started:  # it connected, and waits for "keys" to appear
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    if started:
        assert proc.returncode == 0, err
        print(f"{entry}: MIDI on JACK works")
        return
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, (proc.returncode, out, err)
    assert lines[0].startswith(f"error: {config}: [midi] cannot use MIDI (MidiInJack::initialize")
    print(f"{entry}: {lines[0]}")
