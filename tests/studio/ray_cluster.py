"""A real Ray cluster on this machine for the studio tests: ``ray start --head``, bound to
127.0.0.1, two CPUs, no dashboard; stopped by killing exactly the processes it started.

Ray replaces a loopback node address with the machine's routable one unless
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, so that variable is set for the
cluster, this test process and every ``impsy`` process the tests start: all
of the cluster's traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

KEEP_LOGS_ENV = "IMPSY_TEST_KEEP_RAY"
"""Set (to anything) to keep the cluster's temp folder, with its logs, after the tests."""
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def cluster_pids(temp_dir: str, address: str = "") -> list[int]:
    """The cluster's processes: those naming its temp folder or its GCS ``address`` (Ray
    Client's servers name only the address, and outlive a killed head for minutes), and
    all their descendants."""
    marks = [temp_dir] + ([f"--address={address} "] if address else [])
    roots = [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and any(mark in _cmdline(int(p.name)) for mark in marks)
    ]
    seen: list[int] = []
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in seen and pid != os.getpid():
            seen.append(pid)
            todo += _children(pid)
    return seen


class RayCluster:
    """``start()`` a head node; ``address`` is its GCS; ``stop()`` ends its processes."""

    def __init__(self, cpus: int = 2) -> None:
        self.cpus = cpus
        self.port = free_tcp_port()
        self.address = f"127.0.0.1:{self.port}"
        self.client_port = free_tcp_port()
        self.client_address = f"ray://127.0.0.1:{self.client_port}"
        """Its Ray Client server: how a machine outside the cluster (a Raspberry Pi) submits."""
        self.temp_dir = tempfile.mkdtemp(prefix="impsyray", dir="/tmp")  # short: socket paths
        self.ray = str(Path(sys.executable).with_name("ray"))

    def start(self) -> None:
        os.environ.update(LOOPBACK_ENV)
        command = [
            self.ray, "start", "--head", "--node-ip-address", "127.0.0.1",
            "--port", str(self.port), "--num-cpus", str(self.cpus),
            "--include-dashboard", "false", "--disable-usage-stats",
            "--temp-dir", self.temp_dir, "--ray-client-server-port", str(self.client_port),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"ray start failed:\n{done.stdout}\n{done.stderr}")

    def stop(self) -> None:
        try:
            import ray

            if ray.is_initialized():
                ray.shutdown()
        except ImportError:
            pass
        # a throwaway cluster: nothing to save, no waiting
        pids = cluster_pids(self.temp_dir, self.address)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not os.environ.get(KEEP_LOGS_ENV):
            shutil.rmtree(self.temp_dir, ignore_errors=True)
