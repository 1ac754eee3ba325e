"""OSC time tags sent ahead: what a receiver that honours them hears through a jittery network.

impsy's sequencer plays 32nds at 300 BPM (25 ms apart, every step on) on a
track played over OSC, on impsy's own event loop, for ``--duration`` seconds
per look-ahead (``[sequencer] osc_timetag_ahead_ms``: ``--aheads``, default
0 = off, 10 and 25 ms). It sends to a relay in a process of its own (this
script with ``--relay``) that holds each datagram a random 0 to
``--max-delay-ms`` (20) before passing it to a receiver, which notes its
arrival on the wall clock. For each look-ahead:

- tag error: each tag against the grid instant of its step, from the bar's
  start read from impsy's transport plus whole steps at the tempo, mapped to
  the wall clock by this script's own reading (not impsy's);
- heard: when a receiver that honours time tags plays each note-on (at its
  tag, or on arrival if it came later; an untagged one on arrival), against
  the grid: p50, p99, max, and the share more than 1 ms off;
- sent ahead: how long before its instant each note left (when the relay got it).

    python benchmarks/timetags.py [--duration 20] [--aheads 0,10,25] [--max-delay-ms 20]

Goals (issue "Play with the band"): tag error p99 at most 0.5 ms while the
arrivals spread over ~20 ms; with the look-ahead above the network's worst
delay, nothing heard late.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from results import record  # noqa: E402

from tests.io.test_osc_timetags import Relay, decode, unix_ns, wall_offset_ns  # noqa: E402
from tests.osc_client import free_udp_port  # noqa: E402

TEMPO, STEPS_PER_BEAT = 300, 8
STEP_S = 60 / TEMPO / STEPS_PER_BEAT


def relay_main(max_delay_s: float) -> None:
    """The child: the relay and the receiver; port on stdout, arrivals as JSON at stdin's end."""
    with Relay(max_delay_s=max_delay_s) as relay:
        print(relay.port, flush=True)
        sys.stdin.read()
    arrivals = [(a.data.hex(), a.relayed_ns, a.arrived_ns) for a in relay.arrivals]
    print(json.dumps(arrivals), flush=True)


def config_text(relay_port: int, ahead_ms: float) -> str:
    return f"""
log_input = false
[interaction]
mode = "useronly"
[osc]
server_port = {free_udp_port()}
client_port = {relay_port}
[sequencer]
tempo = {TEMPO}
model_track = -1
tracks = [{{ name = "grid", port = "", steps = 16, steps_per_beat = {STEPS_PER_BEAT} }}]
osc_timetag_ahead_ms = {ahead_ms}
"""


async def play(relay_port: int, ahead_ms: float, duration: float) -> tuple[float, int, int]:
    """impsy's sequencer for ``duration`` s; (the bar's start, wall offset, when it stopped)."""
    from impsy.app import RunOptions, build
    from impsy.config import load_config_text

    config = load_config_text(config_text(relay_port, ahead_ms), "timetags-bench.toml")
    performance = build(config, RunOptions())
    seq = performance.sequencer
    for step in range(16):
        seq.set_step(0, step, on=True)
    await performance.start()
    gc.freeze()  # as `impsy run` does once everything is loaded
    await asyncio.sleep(0.5)
    seq.start()
    start = seq.timeline.time_at(0)
    offset = wall_offset_ns()
    await asyncio.sleep(duration)
    stopped = time.time_ns()
    seq.stop()
    await performance.engine.stop()
    gc.unfreeze()
    return start, offset, stopped


def measure(ahead_ms: float, duration: float, max_delay_ms: float) -> dict:
    from impsy.engine import loop as impsy_loop

    child = subprocess.Popen(
        [sys.executable, __file__, "--relay", "--max-delay-ms", str(max_delay_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    port = int(child.stdout.readline())
    start, offset, stopped = impsy_loop.run(play(port, ahead_ms, duration))
    child.stdin.close()
    arrivals = json.loads(child.stdout.readline())
    child.wait(10)
    errors, heard, ahead = [], [], []
    plain_ons = 0
    for data_hex, relayed_ns, arrived_ns in sorted(arrivals, key=lambda a: a[2]):
        if relayed_ns >= stopped:
            continue  # the note-off of stopping
        tag, _, (_, _, velocity) = decode(bytes.fromhex(data_hex))
        gate = 0.0 if velocity else 0.5
        if tag is None:  # untagged: on-grid note-ons arrive in order (steps > the max delay)
            if not velocity:
                continue
            slot, plain_ons = plain_ons, plain_ons + 1
        else:
            slot = round(((unix_ns(tag) - offset) / 1e9 - start - gate * STEP_S) / STEP_S)
        due_ns = round((start + (slot + gate) * STEP_S) * 1e9) + offset
        if tag is not None:
            errors.append(abs(unix_ns(tag) - due_ns) / 1e9)
        if velocity:
            played_ns = arrived_ns if tag is None else max(arrived_ns, unix_ns(tag))
            heard.append((played_ns - due_ns) / 1e9)
            ahead.append((due_ns - relayed_ns) / 1e9)
    heard_s, ahead_s = np.array(heard), np.array(ahead)
    return {
        "ahead_ms": ahead_ms,
        "notes": len(heard_s),
        "tag_p50_us": float(np.percentile(errors, 50) * 1e6) if errors else None,
        "tag_p99_us": float(np.percentile(errors, 99) * 1e6) if errors else None,
        "tag_max_us": float(np.max(errors) * 1e6) if errors else None,
        "heard_p50_ms": float(np.percentile(heard_s, 50) * 1e3),
        "heard_p99_ms": float(np.percentile(heard_s, 99) * 1e3),
        "heard_max_ms": float(heard_s.max() * 1e3),
        "heard_off_1ms": float(np.mean(np.abs(heard_s) > 0.001) * 100),
        "sent_ahead_p50_ms": float(np.median(ahead_s) * 1e3),
        "sent_ahead_min_ms": float(ahead_s.min() * 1e3),
    }


def show(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per look-ahead")
    parser.add_argument("--aheads", default="0,10,25", help="look-aheads in ms, 0 = off")
    parser.add_argument("--max-delay-ms", type=float, default=20.0, help="the relay's worst")
    parser.add_argument("--relay", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        relay_main(args.max_delay_ms / 1000)
        return
    print(
        f"time tags: 32nds at {TEMPO} BPM over OSC, {args.duration:g} s per look-ahead, through a "
        f"relay delaying each datagram 0-{args.max_delay_ms:g} ms"
    )
    print(
        "| look-ahead | notes | tag error p50 / p99 / max (µs) | heard vs grid p50 / p99 / max "
        "(ms) | heard > 1 ms off | sent ahead p50 / min (ms) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    results = [measure(float(a), args.duration, args.max_delay_ms) for a in args.aheads.split(",")]
    for r in results:
        print(
            f"| {r['ahead_ms']:g} ms | {r['notes']} | {show(r['tag_p50_us'])} / "
            f"{show(r['tag_p99_us'])} / {show(r['tag_max_us'])} | {r['heard_p50_ms']:.2f} / "
            f"{r['heard_p99_ms']:.2f} / {r['heard_max_ms']:.2f} | {r['heard_off_1ms']:.1f} % | "
            f"{r['sent_ahead_p50_ms']:.2f} / {r['sent_ahead_min_ms']:.2f} |"
        )
    tagged = [r for r in results if r["tag_p99_us"] is not None]
    if tagged:
        best = max(tagged, key=lambda r: r["ahead_ms"])
        record(
            f"OSC time tags: tag error p99 ({best['ahead_ms']:g} ms ahead)",
            best["tag_p99_us"],
            "µs",
            goal="<= 500",
        )
        record(
            f"OSC time tags: heard late p99 through 0-{args.max_delay_ms:g} ms jitter "
            f"({best['ahead_ms']:g} ms ahead)",
            best["heard_p99_ms"],
            "ms",
            goal="<= 1",
        )


if __name__ == "__main__":
    main()
