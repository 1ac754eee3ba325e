"""The host's lateness floor: a bare impsy event loop firing timers on a given schedule.

A lateness figure taken on a shared 2-core VM is mostly the machine's: how
late its scheduler wakes a sleeping process. To tell impsy's own lateness
from the host's, every timing benchmark measures this floor in the same run:
a process of its own (as the server is) with nothing in it but the event
loop impsy runs on (``impsy.engine.loop.new_event_loop``: the same
``select()`` selector, the same 1 µs timer slack) and a chain of timers on
absolute deadlines, each armed when the previous one fires, as impsy's
player and sequencer arm theirs (with the player's resync rule). Each timer
notes how late it fired; with ``send_port`` it also sends one UDP datagram,
so a receiver can time the floor exactly as it times impsy.

The floor process stays up for a whole benchmark and fires one schedule
("chunk") each time it is asked, so a benchmark can alternate impsy and the
floor every few seconds and both meet the same load from other processes::

    with Floor() as floor:
        late, resyncs = floor.run(offsets)                 # seconds late, one per deadline
        late, resyncs = floor.run(offsets, send_port=PORT, on_go=receive)
        floor.start(offsets, at=t0)    # absolute start (loop.time()): runs beside you
        late, resyncs = floor.result()

``offsets`` are the deadlines in seconds after the start. The child is this
file run as a script (``python floor.py``); nothing here is imported by impsy.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LEAD_S = 0.3
"""A chunk without ``at`` starts this long after the child got it."""
RESYNC_AFTER_S = 0.05
"""As impsy's player: a deadline missed by more than this restarts the timeline from now."""
DATAGRAM = struct.Struct(">8si")
FLOOR_PREFIX = b"/floor\0\0"
"""How a floor datagram starts; the event's index follows."""


def lateness_summary(late_s: Sequence[float] | np.ndarray) -> dict[str, float]:
    """p50 / p99 / max of lateness given in seconds, in ms."""
    late = np.asarray(late_s, dtype=float) * 1e3
    if not len(late):
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan"), "n": 0}
    return {
        "p50_ms": float(np.percentile(late, 50)),
        "p99_ms": float(np.percentile(late, 99)),
        "max_ms": float(late.max()),
        "n": len(late),
    }


# ------------------------------------------------------------------ the child
def _fire_chunk(loop, spec: dict) -> dict:  # noqa: ANN001 - an asyncio loop
    """One schedule on ``loop``: a chain of timers, each noting how late it fired."""
    offsets = [float(x) for x in spec["offsets"]]
    port = spec.get("send_port")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM) if port else None
    target = ("127.0.0.1", int(port)) if port else None
    late = [0.0] * len(offsets)
    done = loop.create_future()
    state = {"k": 0, "start": 0.0, "resyncs": 0}

    def fire() -> None:
        k = state["k"]
        deadline = state["start"] + offsets[k]
        now = loop.time()
        late[k] = max(0.0, now - deadline)
        if sock is not None:
            sock.sendto(DATAGRAM.pack(FLOOR_PREFIX, k), target)
        if now - deadline > RESYNC_AFTER_S:  # as the player: restart the timeline from now
            state["resyncs"] += 1
            state["start"] = now - offsets[k]
        state["k"] = k = k + 1
        if k < len(offsets):
            loop.call_at(state["start"] + offsets[k], fire)
        elif not done.done():
            done.set_result(None)

    at = spec.get("at")
    state["start"] = float(at) if at is not None else loop.time() + LEAD_S
    print(json.dumps({"started": state["start"]}), flush=True)
    if offsets:
        loop.call_at(state["start"] + offsets[0], fire)
        loop.run_until_complete(done)
    if sock is not None:
        sock.close()
    return {"late": late, "resyncs": state["resyncs"]}


def _child() -> None:
    sys.path.insert(0, str(ROOT))
    from impsy.engine.loop import new_event_loop

    loop = new_event_loop()
    print("ready", flush=True)
    for line in sys.stdin:  # idle, outside the loop, between chunks
        spec = json.loads(line)
        if spec.get("quit"):
            break
        print(json.dumps(_fire_chunk(loop, spec)), flush=True)
    loop.close()


# ------------------------------------------------------------------ the parent
class Floor:
    """A bare impsy loop in a process of its own, firing one schedule per request."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._readline() != "ready":
            self.close()
            raise RuntimeError("the floor process did not start")

    def _readline(self) -> str:
        """The child's next line ("" once it has exited); a hung child is the caller's
        timeout to handle (report.py runs each script under one)."""
        assert self._proc.stdout is not None
        return self._proc.stdout.readline().strip()

    def start(
        self,
        offsets: Sequence[float] | np.ndarray,
        *,
        send_port: int | None = None,
        at: float | None = None,
    ) -> float:
        """Begin one schedule and return its start (``loop.time()``, that is monotonic).

        ``at`` is an absolute start on ``time.monotonic()`` (the event loop's
        clock, the same in every process); without it the schedule starts
        ``LEAD_S`` from now. The child runs it while this process carries on.
        """
        offsets = np.asarray(offsets, dtype=float)
        spec = {"offsets": offsets.tolist(), "send_port": send_port, "at": at}
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(spec) + "\n")
        self._proc.stdin.flush()
        line = self._readline()
        if not line:
            raise RuntimeError(f"the floor process failed (exit {self._proc.poll()})")
        return float(json.loads(line)["started"])

    def result(self) -> tuple[np.ndarray, int]:
        """(seconds late per deadline, resyncs) of the schedule begun by ``start``."""
        line = self._readline()
        if not line:
            raise RuntimeError(f"the floor process failed (exit {self._proc.poll()})")
        done = json.loads(line)
        return np.asarray(done["late"], dtype=float), int(done["resyncs"])

    def run(
        self,
        offsets: Sequence[float] | np.ndarray,
        *,
        send_port: int | None = None,
        on_go: Callable[[], None] | None = None,
    ) -> tuple[np.ndarray, int]:
        """One schedule, start to end; ``on_go`` runs here meanwhile (a receiver)."""
        self.start(offsets, send_port=send_port)
        if on_go is not None:
            on_go()
        return self.result()

    def close(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.write(json.dumps({"quit": True}) + "\n")
                proc.stdin.close()
                proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()

    def __enter__(self) -> Floor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_floor(
    offsets: Sequence[float] | np.ndarray,
    *,
    send_port: int | None = None,
    on_go: Callable[[], None] | None = None,
) -> tuple[np.ndarray, int]:
    """One schedule in a floor process of its own: (seconds late per deadline, resyncs)."""
    with Floor() as floor:
        return floor.run(offsets, send_port=send_port, on_go=on_go)


def receive_floor(sock: socket.socket, count: int, limit_s: float) -> list[tuple[float, int]]:
    """(arrival time on ``time.perf_counter``, event index) of up to ``count`` floor datagrams."""
    got: list[tuple[float, int]] = []
    end = time.perf_counter() + limit_s
    while len(got) < count and (left := end - time.perf_counter()) > 0:
        sock.settimeout(min(left, 0.5))
        try:
            data = sock.recv(64)
        except TimeoutError:
            continue
        arrived = time.perf_counter()
        if data.startswith(FLOOR_PREFIX) and len(data) == DATAGRAM.size:
            got.append((arrived, DATAGRAM.unpack(data)[1]))
    return got


if __name__ == "__main__":
    _child()
