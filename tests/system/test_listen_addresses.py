"""What impsy exposes to the network, and that no input is ever run as code.

The listeners are checked in a real ``impsy run``: the start-up summary
must name each bind address exactly as configured, and the kernel's own
socket tables (``/proc/net/udp``, ``/proc/net/tcp``) must agree with it,
so a summary that says 127.0.0.1 can never hide a socket open to the LAN.

The source scan is a plain text search over ``impsy/``: any of the calls
that turn bytes into code (``eval``, ``exec``, ``pickle``, ``yaml.load``,
``np.load(..., allow_pickle=True)``) fails the test unless it is in the
short, reviewed list below, with the reason it is there. A dataset file
crafted to run code when unpickled is refused without running it.
"""

from __future__ import annotations

import pickle
import re
import signal
import socket
import zipfile
from pathlib import Path

import numpy as np
import pytest

from impsy.dataset.npz import write_dataset
from impsy.model.errors import ModelError
from impsy.model.nll import read_performances
from tests.cli.test_run import start, wait_for_line
from tests.osc_client import free_udp_port
from tests.paths import ROOT

MAPPING = '[["note_on", 1], ["control_change", 1, 1], ["control_change", 1, 2], ' + (
    '["control_change", 1, 3], ["control_change", 1, 4], ["control_change", 1, 5], '
    '["control_change", 1, 6], ["control_change", 1, 7]]'
)

# Reviewed uses of unsafe loaders: (path, what matched) -> why it is acceptable.
ALLOWED = {
    ("impsy/dataset/npz.py", "pickle"): (
        "IMPSY's dataset .npz stores performances as an object array, which numpy "
        "writes as a pickle. It is read by a restricted unpickler that can only "
        "rebuild numpy arrays (test_a_dataset_that_asks_to_run_code_is_refused)."
    ),
}
UNSAFE = re.compile(
    r"\beval\(|\bexec\(|\bpickle\b|\bmarshal\.loads?\(|\byaml\.(unsafe_)?load\(|"
    r"allow_pickle\s*=\s*True|\bshelve\b|\b__import__\(|\bcompile\([^)]*['\"]exec['\"]"
)


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bound_addresses(table: str, port: int) -> set[str]:
    """Local IPv4 addresses of sockets on ``port`` in /proc/net/``table`` (listening for TCP)."""
    found = set()
    for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
        fields = line.split()
        address, port_hex = fields[1].split(":")
        if int(port_hex, 16) != port or (table == "tcp" and fields[3] != "0A"):
            continue  # another port, or a TCP socket that is not listening
        found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_summary_names_each_bind_address_as_configured_and_the_sockets_agree(tmp_path, host):
    osc_port, client_port, ws_port = free_udp_port(), free_udp_port(), free_tcp_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
log_input = false
[interaction]
mode = "useronly"
[model]
dimension = 9
[osc]
server_ip = "{host}"
server_port = {osc_port}
client_port = {client_port}
[websocket]
server_ip = "{host}"
server_port = {ws_port}
input = {MAPPING}
output = {MAPPING}
"""
    )
    proc = start(["run", "-c", str(config), "--no-model", "-l", str(tmp_path)], tmp_path)
    try:
        summary = "".join(wait_for_line(proc, "listening"))
        udp, tcp = bound_addresses("udp", osc_port), bound_addresses("tcp", ws_port)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    assert f"OSC in udp://{host}:{osc_port}" in summary, summary
    assert f"WebSocket ws://{host}:{ws_port}" in summary, summary
    assert udp == {host}, f"the OSC socket is bound to {udp}"
    assert tcp == {host}, f"the WebSocket server listens on {tcp}"


def test_no_code_path_turns_input_into_code():
    found = {}
    for path in sorted((ROOT / "impsy").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for match in UNSAFE.finditer(code):
                key = (relative, match.group(0).replace(" ", ""))
                if key not in ALLOWED:
                    found[f"{relative}:{number}"] = line.strip()
    assert not found, f"unreviewed unsafe loaders: {found}"


def test_every_reviewed_exception_still_exists():
    """An entry in ALLOWED whose code is gone must be removed, not left to excuse a new one."""
    for relative, matched in ALLOWED:
        text = (ROOT / relative).read_text(encoding="utf-8").replace(" ", "")
        assert matched in text, f"{relative} no longer has {matched}: remove it from ALLOWED"


class RunsCode:
    """Unpickling this calls ``Path.touch``: any call would do, it proves code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.marker,))


def test_a_dataset_that_asks_to_run_code_is_refused(tmp_path):
    marker = tmp_path / "code-ran"
    crafted = tmp_path / "training-dataset-9d.npz"
    with zipfile.ZipFile(crafted, "w") as archive, archive.open("perfs.npy", "w") as file:
        header = {"descr": "|O", "fortran_order": False, "shape": (1,)}
        np.lib.format.write_array_header_1_0(file, header)  # an object array's header...
        file.write(
            pickle.dumps(np.array([RunsCode(marker)], dtype=object), protocol=3)
        )  # ...its pickle
    with pytest.raises(ModelError, match="not a readable dataset"):
        read_performances(crafted)
    assert not marker.exists(), "nothing in the file was run"


@pytest.mark.parametrize("lengths", [(5, 7), (6, 6)], ids=["ragged", "equal lengths"])
def test_datasets_still_load_without_unrestricted_pickle(tmp_path, lengths):
    performances = [np.full((n, 9), n, np.float32) for n in lengths]
    path = write_dataset(tmp_path / "training-dataset-9d.npz", performances)
    loaded = read_performances(path)
    assert [p.shape for p in loaded] == [(n, 9) for n in lengths]
    assert all(np.array_equal(a, b) for a, b in zip(loaded, performances, strict=True))
