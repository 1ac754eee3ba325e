"""Does watching the web UI's live page slow the performance down?

Starts ``impsy run`` (useronly with ``input_thru``, so each /interface is echoed
straight back) with ``[webui]`` as a real process, plays paced OSC gestures at
it and times each echo, first with nobody watching, then with live WebSocket
clients attached (each its own process, reading every frame), then with a
client that never reads. A second part runs battle mode and reads the
engine's own playback lateness from /api/status, with nobody watching and
with one live client watching throughout. Each battle run alternates with
the host's floor every ``CHUNK_S``: impsy is paused (``/impsy/pause 1``), a
bare impsy event loop in a process of its own (``floor.py``) fires timers on
the schedule impsy's predictions just arrived on (received here on the
client port), impsy resumes; so both meet the same load from other processes.

    .venv/bin/python benchmarks/webui.py            # about 1.5 minutes
    .venv/bin/python benchmarks/webui.py --quick    # about 20 s
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from floor import Floor, lateness_summary
from processes import impsy_run
from results import record
from tables import markdown_table, percentile
from wire import HOST, free_tcp_port, free_udp_port, interface_message, osc_message, parse_osc

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
GESTURE = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
CHUNK_S = 2.0
"""Battle runs alternate with the host's floor this often (about 500 events at timescale 0.02):
bursts of load from other processes come and go within seconds."""

WATCHER = r"""
import asyncio, json, sys, time, aiohttp
async def main(url, seconds, read):
    frames = rows = 0
    stamps = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            print("connected", flush=True)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                if not read:
                    await asyncio.sleep(0.1)
                    continue
                try:
                    message = await asyncio.wait_for(ws.receive(), 0.5)
                except asyncio.TimeoutError:
                    continue
                frame = json.loads(message.data)
                frames += 1
                got = len(frame.get("inputs", [])) + len(frame.get("outputs", []))
                if got:
                    rows += got
                    stamps.append(time.monotonic())
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    rate = (len(stamps) - 1) / span if span else 0.0
    print(json.dumps({"frames": frames, "rows": rows, "rate": rate}), flush=True)
asyncio.run(main(sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1"))
"""


def start_impsy(tmp: Path, mode: str) -> tuple[subprocess.Popen, int, int, int]:
    server, client, web = free_udp_port(), free_udp_port(), free_tcp_port()
    config = tmp / f"{mode}.toml"
    config.write_text(
        f"""
log_input = false
[interaction]
mode = "{mode}"
input_thru = {"true" if mode == "useronly" else "false"}
[model]
file = "{MODEL}"
timescale = 0.02
[osc]
server_port = {server}
client_port = {client}
[webui]
port = {web}
"""
    )
    proc = impsy_run(config, tmp, tmp)
    while True:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("impsy did not start")
        if "listening" in line:
            return proc, server, client, web


def watchers(web: int, count: int, seconds: float, read: bool = True) -> list[subprocess.Popen]:
    procs = []
    for _ in range(count):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WATCHER,
                f"ws://127.0.0.1:{web}/api/live",
                str(seconds),
                "1" if read else "0",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "connected"
        procs.append(proc)
    return procs


def round_trips(server: int, client: int, count: int, rate: float) -> list[float]:
    """Echo times (seconds) of ``count`` gestures paced at ``rate`` per second."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, client))
        sock.settimeout(1.0)
        data = interface_message(GESTURE)
        times = []
        start = time.perf_counter()
        for i in range(count):
            while time.perf_counter() < start + i / rate:
                time.sleep(max(0.0, start + i / rate - time.perf_counter() - 0.0005))
            sent = time.perf_counter()
            sock.sendto(data, (HOST, server))
            try:
                reply = sock.recv(65536)
            except TimeoutError:
                continue
            if parse_osc(reply)[0] == "/impsy":
                times.append(time.perf_counter() - sent)
        return times


def receive(sock: socket.socket, seconds: float) -> list[float]:
    """When each datagram reached ``sock`` during ``seconds`` (``time.perf_counter``)."""
    got: list[float] = []
    end = time.perf_counter() + seconds
    while (left := end - time.perf_counter()) > 0:
        sock.settimeout(min(left, 0.5))
        try:
            sock.recv(65536)
        except TimeoutError:
            continue
        got.append(time.perf_counter())
    return got


def battle(tmp: Path, watched: bool, chunks: int, floor: Floor) -> tuple[dict, dict]:
    """One battle run in ``chunks`` stretches, each followed by the floor on its schedule.

    (impsy's /api/status at the end, the floor's pooled lateness summary).
    """
    proc, server, client, web = start_impsy(tmp, "battle")
    watching = watchers(web, 1, chunks * (CHUNK_S * 2 + 2) + 10) if watched else []
    late = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((HOST, client))
            for chunk in range(chunks):
                if chunk:
                    sock.sendto(osc_message("/impsy/pause", 0), (HOST, server))
                played = receive(sock, CHUNK_S)
                sock.sendto(osc_message("/impsy/pause", 1), (HOST, server))
                played += receive(sock, 0.1)  # sent before the pause arrived
                late.append(floor.run(np.asarray(played) - played[0])[0])
        body = status(web)
    finally:
        for w in watching:
            w.terminate()
            w.communicate(timeout=30)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    return body, lateness_summary(np.concatenate(late))


def pct(values: list[float], q: float) -> float:
    """The sample nearest the ``q``-th percentile from above, not interpolated."""
    return percentile(values, q, method="higher")


def status(web: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/status", timeout=5) as response:
        return json.load(response)


def feed_costs() -> list[str]:
    """In-process cost of the feed's own work on the loop, which load barely moves."""
    from impsy.app import RunOptions, build_engine
    from impsy.config import load_config_text
    from impsy.web.context import WebContext
    from impsy.web.live import MAX_ROWS, LiveFeed

    config = load_config_text(f'[interaction]\nmode = "useronly"\n[model]\nfile = "{MODEL}"\n', "b")
    with tempfile.TemporaryDirectory() as tmp:
        engine = build_engine(config, RunOptions(logdir=Path(tmp)))
    for i in range(10_000):  # full timing rings: the status percentiles at their dearest
        engine.counters.lateness.add(i * 1e-6)
        engine.counters.inference.add(i * 1e-6)
    feed = LiveFeed(WebContext.create(config, engine, port=0))
    values = np.random.default_rng(0).random(8)
    count = 20_000
    start = time.perf_counter()
    for _ in range(count):
        feed.observe("interface", values, 1.0)
    lines = [f"observer (per engine event): {(time.perf_counter() - start) / count * 1e6:.2f} µs"]
    feed.frame(0.0, False)
    for rows in (3, MAX_ROWS):
        for with_status in (False, True):
            times = []
            for _ in range(300):
                for i in range(rows):
                    feed.observe("rnn", values, float(i))
                start = time.perf_counter()
                feed.frame(1.0, with_status)
                times.append(time.perf_counter() - start)
            label = f"frame, {rows} rows" + (" + status" if with_status else "")
            lines.append(
                f"{label}: p50 {pct(times, 50) * 1e6:.0f} µs, p99 {pct(times, 99) * 1e6:.0f} µs"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 400 if args.quick else 2000
    rate = 200.0
    seconds = count / rate + 2
    rows: list[tuple[str, str, str, str, str]] = []
    p99s = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, server, client, web = start_impsy(Path(tmp), "useronly")
        try:
            round_trips(server, client, 100, rate)  # warm-up
            for label, clients, read in (
                ("no live client", 0, True),
                ("1 live client", 1, True),
                ("3 live clients", 3, True),
                ("1 client that never reads", 1, False),
            ):
                watching = watchers(web, clients, seconds, read)
                times = round_trips(server, client, count, rate)
                seen = [json.loads(w.communicate(timeout=30)[0]) for w in watching]
                fps = statistics.mean(s["rate"] for s in seen) if seen else 0
                got = sum(s["rows"] for s in seen[:1])
                p99s[label] = pct(times, 99) * 1e6
                rows.append(
                    (
                        label,
                        f"{pct(times, 50) * 1e6:,.0f}",
                        f"{pct(times, 99) * 1e6:,.0f}",
                        f"{len(times)}/{count}",
                        f"{fps:.1f} frames/s with data, {got} rows" if seen and read else "—",
                    )
                )
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=10)
        chunks = 4 if args.quick else 12
        with Floor() as floor:
            runs = {watched: battle(Path(tmp), watched, chunks, floor) for watched in (False, True)}
    print(
        f"OSC echo round trip through `impsy run` (useronly + input_thru), {count} gestures "
        f"at {rate:.0f}/s"
    )
    print()
    header = ("watching", "p50 µs", "p99 µs", "echoed", "live feed")
    for line in markdown_table(header, rows):
        print(line)
    print()
    print("The feed's work on the engine's loop (in-process, 30 frames/s, status twice a second):")
    for line in feed_costs():
        print(f"  {line}")
    print()
    print(
        f"Battle mode, {chunks} stretches of {CHUNK_S:g} s per run, each followed by the host's "
        "floor (a bare loop on the deadlines just played, impsy paused); the engine's own "
        "playback lateness from /api/status, and the floor's (p50 / p99 / max, ms):"
    )
    for watched, (b, f) in runs.items():
        label = "1 live client" if watched else "nobody watching"
        print(
            f"  {label}: {b['lateness_p50_ms']:.3f} / {b['lateness_p99_ms']:.3f} / "
            f"{b['lateness_max_ms']:.3f} ({b['outputs']} events); floor {f['p50_ms']:.3f} / "
            f"{f['p99_ms']:.3f} / {f['max_ms']:.3f}; p99 / floor p99 = "
            f"{b['lateness_p99_ms'] / f['p99_ms']:.2f}"
        )
    record(
        "OSC echo p99 with 3 live web UI clients",
        p99s["3 live clients"],
        "µs",
        note=f"nobody watching: {p99s['no live client']:,.0f} µs",
    )
    (watched, watched_floor), (alone, alone_floor) = runs[True], runs[False]
    record(
        "playback lateness p99 with a live web UI client",
        watched["lateness_p99_ms"],
        "ms",
        goal="<= 1 or 1.2x floor",
        note=f"nobody watching: {alone['lateness_p99_ms']:.2f} ms (floor "
        f"{alone_floor['p99_ms']:.2f} ms)",
        floor=watched_floor["p99_ms"],
    )


if __name__ == "__main__":
    main()
