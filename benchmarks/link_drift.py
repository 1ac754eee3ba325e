"""Drift of impsy's notes against an Ableton Link session's timeline, over ten minutes.

``impsy run`` plays 16ths on an OSC track with ``clock = "link"``; this
process is another Link peer (aalink, as any Link app is) that starts the
session and receives impsy's notes, stamping each arrival with
``time.monotonic()`` and a reading of its own Link timeline taken then. Each
note's error is its distance from the nearest 16th of the peer's grid; drift
is how far the median error moved from the first tenth of the run to the
last, per minute (as ``sequencer.py`` measures it against the ideal grid),
beside the least-squares slope of all errors. Goal: |drift| at most
0.1 ms a minute. Beside it, the host's floor (``floor.py``: a bare loop on
the same 16ths, half a 16th later, into the same receiver) for the notes'
p99.

Link finds its peers by multicast on every network the machine is on, so
the script runs itself inside a network namespace of its own (``unshare
-rn``: the loopback alone, multicast on; needs ``ip`` from iproute2 and
user namespaces), where nothing it does can reach another machine; impsy
is started with ``IMPSY_LINK_PRIVATE_NET`` set, so it refuses to join
outside one. Prints numbers; asserts nothing.

Also the Link scene's parts: ``tests/sequencer/link_scene.py`` uses this
module's receiver, impsy process and error arithmetic.

    python benchmarks/link_drift.py [--duration 600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from floor import DATAGRAM, FLOOR_PREFIX, RESYNC_AFTER_S, Floor  # noqa: E402
from results import record  # noqa: E402

from impsy.sequencer import linktime  # noqa: E402
from impsy.sequencer.link import PRIVATE_NET_ENV, LinkSession, private_network  # noqa: E402

PLAY_ADDRESS = "/impsy/seq/play"
PRIVATE_SHELL = 'ip link set lo up && ip link set lo multicast on && exec "$0" "$@"'
"""``sh -c`` inside ``unshare -rn``: the loopback up, multicast on, then the command."""
TIMING_GOAL = "<= 1 or 1.2x floor"


def private_command(command: list[str]) -> list[str]:
    """``command`` in a network namespace of its own (the loopback alone, multicast on)."""
    return ["unshare", "-rn", "sh", "-c", PRIVATE_SHELL, *command]


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def osc_bytes(address: str, *args: Any) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def impsy_config(
    server: int, client: int, bank: Path, steps_per_beat: int, webui: int = 0, **keys: Any
) -> str:
    """A config that plays ``bank`` on Link, its notes to ``client`` over OSC (and its web
    UI on port ``webui``, if given); ``keys``: more ``[sequencer]`` keys."""
    extra = "\n".join(f"{key} = {value}" for key, value in keys.items())
    web = f"[webui]\nport = {webui}\n" if webui else ""
    return f"""
log_input = false
log_predictions = false
[interaction]
mode = "useronly"
[model]
dimension = 9
[osc]
server_port = {server}
client_port = {client}
{web}[sequencer]
tempo = 120
clock = "link"
link_quantum = 4
link_start_stop = true
patterns = "{bank}"
tracks = [{{ name = "grid", port = "osc", steps = 16, steps_per_beat = {steps_per_beat} }}]
model_track = -1
{extra}
"""


def grid_bank(path: Path, steps: int, steps_per_beat: int) -> Path:
    """A bank of one track with every step on, half-step gates."""
    from impsy.sequencer.files.storage import save_bank
    from impsy.sequencer.pattern import Bank, Pattern, Track

    track = Track.empty("grid", steps, port="osc", steps_per_beat=steps_per_beat)
    for step in track.steps:
        step.on, step.gate = True, 0.5
    return save_bank(Bank([Pattern("grid", [track])]), path)


class Receiver(asyncio.DatagramProtocol):
    """An impsy's OSC client port (or the floor's): every datagram, stamped on arrival."""

    def __init__(self, link: LinkSession | None) -> None:
        self.link = link
        self.notes: list[tuple[float, linktime.Reading | None]] = []
        """(arrival, our Link reading then) of each note-on."""
        self.replies: list[tuple[float, str, list[Any]]] = []
        self.floor: list[tuple[float, int]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        arrived = time.monotonic()
        if data.startswith(FLOOR_PREFIX):
            self.floor.append((arrived, DATAGRAM.unpack(data)[1]))
            return
        from pythonosc.osc_message import OscMessage

        message = OscMessage(data)
        params = list(message.params)
        if message.address == PLAY_ADDRESS and len(params) == 3 and params[2] > 0:
            self.notes.append((arrived, self.link.read() if self.link else None))
        else:
            self.replies.append((arrived, message.address, params))


class ImpsyProcess:
    """One ``impsy run`` (in this namespace), its OSC ports and a receiver for its notes."""

    def __init__(self, name: str, folder: Path, config: Callable[[int, int], str]) -> None:
        self.name = name
        self.server, self.client = free_udp_port(), free_udp_port()
        path = folder / f"{name}.toml"
        path.write_text(config(self.server, self.client))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "impsy", "run", "-c", str(path), "-l", str(folder)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, PRIVATE_NET_ENV: "1"},
        )
        self.receiver: Receiver | None = None

    async def open(self, link: LinkSession, timeout: float = 30.0) -> None:
        """Wait for "listening", then receive its notes (``link`` reads the grid)."""
        assert self.proc.stdout is not None
        end = time.monotonic() + timeout
        lines = []
        while time.monotonic() < end:
            line = await asyncio.to_thread(self.proc.stdout.readline)
            if not line:
                break
            lines.append(line)
            if "listening" in line:
                loop = asyncio.get_running_loop()
                _, self.receiver = await loop.create_datagram_endpoint(
                    lambda: Receiver(link), local_addr=("127.0.0.1", self.client)
                )
                return
        raise RuntimeError(f"impsy {self.name} did not start: {''.join(lines)}")

    def send(self, address: str, *args: Any) -> None:
        assert self.receiver is not None and self.receiver.transport is not None
        self.receiver.transport.sendto(osc_bytes(address, *args), ("127.0.0.1", self.server))

    async def status(self) -> dict[str, Any]:
        """``/impsy/seq/status`` as a dict."""
        assert self.receiver is not None
        before = len(self.receiver.replies)
        self.send("/impsy/seq/status")
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            for _, address, args in self.receiver.replies[before:]:
                if address == "/impsy/seq/status":
                    return dict(zip(args[::2], args[1::2], strict=True))
            await asyncio.sleep(0.002)
        raise RuntimeError(f"impsy {self.name}: no /impsy/seq/status reply")

    def stop(self) -> str:
        """SIGINT, as a performer stops it; what it printed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out or ""


def note_errors(
    notes: list[tuple[float, linktime.Reading | None]], steps_per_beat: int
) -> tuple[np.ndarray, np.ndarray]:
    """(arrival times, each note's distance from the nearest step of the peer's grid, s)."""
    times, errors = [], []
    for arrived, reading in notes:
        if reading is None:
            continue
        position = linktime.beat_at(reading, arrived) * steps_per_beat
        times.append(arrived)
        errors.append((position - round(position)) / steps_per_beat * reading.beat_s)
    return np.asarray(times), np.asarray(errors)


def summary(errors_s: list[float] | np.ndarray, shift_s: float = 0.0) -> dict[str, float]:
    """Errors in ms: median (signed), p99 and max of |error + shift| (shift: an expected
    offset, such as a latency offset that sends notes early on purpose)."""
    error = np.asarray(errors_s, dtype=float)
    if not len(error):
        return {"n": 0}
    off = np.abs(error + shift_s) * 1e3
    return {
        "n": len(error),
        "median_ms": float(np.median(error) * 1e3),
        "p99_ms": float(np.percentile(off, 99)),
        "max_ms": float(off.max()),
    }


async def until(check: Callable[[], bool], timeout: float, step: float = 0.002) -> float | None:
    """Seconds until ``check()`` is true, None if it never was within ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        await asyncio.sleep(step)
    return None


def floor_errors(
    received: list[tuple[float, int]], start: float, offsets: np.ndarray, late_s: np.ndarray
) -> np.ndarray:
    """Each floor datagram's arrival against its deadline, in seconds.

    The floor's deadlines are ``start + offsets[k]`` until a timer fires more
    than ``RESYNC_AFTER_S`` late (a stalled machine): then, as impsy's player,
    it restarts its timeline from there, and every later deadline moves by
    that timer's lateness (``late_s``, which the floor reports).
    """
    if not received:
        return np.array([])
    late = np.asarray(late_s, dtype=float)
    moved = np.concatenate(([0.0], np.cumsum(np.where(late > RESYNC_AFTER_S, late, 0.0))))
    arrivals = np.array([t for t, _ in received])
    index = np.array([k for _, k in received], dtype=int)
    return arrivals - (start + np.asarray(offsets)[index] + moved[index])


def drift(times: np.ndarray, errors_s: np.ndarray) -> dict[str, float]:
    """ms a minute: the median error's move from the first tenth to the last, and the
    least-squares slope of every error against its time."""
    minutes = (times[-1] - times[0]) / 60
    tenth = max(1, len(errors_s) // 10)
    moved = (np.median(errors_s[-tenth:]) - np.median(errors_s[:tenth])) * 1e3
    slope = np.polyfit((times - times[0]) / 60, errors_s * 1e3, 1)[0]
    return {"medians_ms_per_min": float(moved / minutes), "slope_ms_per_min": float(slope)}


# ------------------------------------------------------------------ the run
async def measure(duration: float, folder: Path) -> dict[str, Any]:
    steps_per_beat = 4
    bank = grid_bank(folder / "bank.json", 16, steps_per_beat)
    impsy = ImpsyProcess("drift", folder, lambda s, c: impsy_config(s, c, bank, steps_per_beat))
    peer = LinkSession(120.0, 4, True, time.monotonic)
    peer.open()
    floor = Floor()
    loop = asyncio.get_running_loop()
    try:
        await impsy.open(peer)
        assert impsy.receiver is not None
        if await until(lambda: peer.peers == 1, 10.0) is None:
            raise RuntimeError("impsy and the peer did not find each other")
        _, floor_receiver = await loop.create_datagram_endpoint(
            lambda: Receiver(None), local_addr=("127.0.0.1", 0)
        )
        floor_port = floor_receiver.transport.get_extra_info("sockname")[1]
        peer.set_tempo(120.0)
        peer.start_at(time.monotonic() + 0.1)
        if await until(lambda: bool(impsy.receiver.notes), 10.0) is None:
            raise RuntimeError("impsy did not start with the session")
        reading = peer.read()
        step_s = reading.beat_s / steps_per_beat
        beat = linktime.beat_at(reading, time.monotonic())
        floor_at = linktime.time_at(reading, np.ceil(beat) + 1) + step_s / 2
        offsets = np.arange(int(duration / step_s) - 8) * step_s
        floor.start(offsets, send_port=floor_port, at=floor_at)
        await asyncio.sleep(duration)
        status = await impsy.status()
        peer.set_playing(False)
        floor_late, _ = floor.result()
    finally:
        floor.close()
        peer.close()
        log = impsy.stop()
    times, errors = note_errors(impsy.receiver.notes, steps_per_beat)
    floor_error = floor_errors(floor_receiver.floor, floor_at, offsets, floor_late)
    floor_times = np.array([t for t, _ in floor_receiver.floor])
    return {
        "duration_s": duration,
        "notes": summary(errors),
        "drift": drift(times, errors),
        "first_tenth_ms": float(np.median(errors[: max(1, len(errors) // 10)]) * 1e3),
        "last_tenth_ms": float(np.median(errors[-max(1, len(errors) // 10) :]) * 1e3),
        "floor": summary(floor_error),
        "floor_drift": drift(floor_times, floor_error),
        "floor_timer": summary(floor_late),
        "scheduler_p99_ms": status["lateness_p99_ms"],
        "log": log[-1000:],
    }


def report(result: dict[str, Any]) -> None:
    notes, d, floor = result["notes"], result["drift"], result["floor"]
    minutes = result["duration_s"] / 60
    print(f"\n## impsy's 16ths at 120 BPM against the Link peer's grid, {minutes:.3g} min")
    print(
        f"{notes['n']} notes: error median {notes['median_ms']:+.3f} ms, p99 |error| "
        f"{notes['p99_ms']:.3f} ms, max {notes['max_ms']:.3f} ms"
    )
    print(
        f"drift: {d['medians_ms_per_min']:+.5f} ms/minute (median of the first tenth "
        f"{result['first_tenth_ms']:+.3f} ms, of the last {result['last_tenth_ms']:+.3f} ms); "
        f"least-squares slope {d['slope_ms_per_min']:+.5f} ms/minute"
    )
    print(
        f"host floor (a bare loop on the same 16ths, half a 16th later, same receiver): "
        f"median {floor['median_ms']:.3f} ms, p99 {floor['p99_ms']:.3f} ms, "
        f"max {floor['max_ms']:.3f} ms; impsy's own scheduler p99 "
        f"{result['scheduler_p99_ms']:.3f} ms"
    )
    fd = result["floor_drift"]
    print(
        f"the floor's own 'drift' (its timers are on a fixed clock, so this is the host's "
        f"delivery changing with load): {fd['medians_ms_per_min']:+.5f} ms/minute, "
        f"slope {fd['slope_ms_per_min']:+.5f} ms/minute"
    )
    note = f"{notes['n']} 16ths at 120 BPM, {minutes:.3g} min"
    record("Link drift against the session", d["medians_ms_per_min"], "ms/minute",
           goal="|x| <= 0.1", note=note)  # fmt: skip
    record("Link note-on error p99", notes["p99_ms"], "ms", goal=TIMING_GOAL, note=note,
           floor=floor["p99_ms"])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of playing")
    args = parser.parse_args()
    if not private_network():
        command = private_command([sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]])
        try:
            sys.exit(subprocess.call(command))
        except FileNotFoundError as err:
            sys.exit(f"link_drift: cannot make a private network namespace ({err})")
    from impsy.engine import loop as impsy_loop

    os.environ[PRIVATE_NET_ENV] = "1"
    print(
        f"Link drift benchmark: {args.duration:g} s in a private network namespace, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as folder:
        result = impsy_loop.run(measure(args.duration, Path(folder)))
    report(result)
    print(json.dumps({k: v for k, v in result.items() if k != "log"}), flush=True)


if __name__ == "__main__":
    main()
