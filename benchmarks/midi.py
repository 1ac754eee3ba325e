"""MIDI in -> MIDI out through JACK, and the MIDI adapter's own cost inside impsy.

Starts a private JACK server (dummy driver, as the tests do; needs jackd2),
runs impsy in this process with the MIDI adapter, and a "device" in a child
process: a controller port that plays a note and a synth port whose
callback times the first note-on impsy sends back. Round trips are measured
by the device (perf_counter in one process) and reported with the JACK
period, which dominates them: a message leaves the device at the next
period and impsy's answer at the one after.

Inside impsy it measures, per gesture: callback entry (RtMidi's thread) ->
``engine.user_input`` done on the loop, split into the hop to the loop and
the work on it; and ``MidiAdapter.send`` per output vector (paced 1 ms
apart, like model steps). Gestures arrive 10-30 ms apart, so these are
cold-cache timings: on a busy machine they are several times the same
code's hot-loop cost. Prints numbers; asserts nothing.

    python benchmarks/midi.py [--notes 300] [--period 256]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from results import record  # noqa: E402
from tables import percentile  # noqa: E402

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"
MAPPING = """[
  ["note_on", 1], ["note_velocity", 1], ["control_change", 1, 1], ["control_change", 1, 2],
  ["control_change", 1, 3], ["control_change", 1, 4], ["control_change", 1, 5], ["pitch_bend", 1]
]"""


# --------------------------------------------------------------- the device


def device(notes: int) -> None:
    """Child process: play ``notes`` notes into impsy, time each answer, print them as JSON."""
    import rtmidi

    jack = rtmidi.API_UNIX_JACK
    keys = rtmidi.MidiOut(rtapi=jack, name="bench-keys")
    keys.open_virtual_port("out")
    synth = rtmidi.MidiIn(rtapi=jack, name="bench-synth")
    synth.open_virtual_port("in")
    arrived = threading.Event()
    stamp = [0.0]

    def on_message(event: tuple[list[int], float], data: object) -> None:
        message = event[0]
        if message[0] & 0xF0 == 0x90 and message[2] > 0 and not arrived.is_set():
            stamp[0] = time.perf_counter()
            arrived.set()

    synth.set_callback(on_message)
    print("ready", flush=True)
    sys.stdin.readline()  # impsy is connected

    def round_trip(note: int, timeout: float) -> float | None:
        arrived.clear()
        sent = time.perf_counter()
        keys.send_message([0x90, note, 100])
        return stamp[0] - sent if arrived.wait(timeout) else None

    while round_trip(60, 0.1) is None:  # until JACK has applied impsy's connections
        pass
    for _ in range(10):
        round_trip(60, 1.0)
    latencies = []
    for i in range(notes):
        latencies.append(round_trip(40 + i % 40, 1.0))
        time.sleep(random.uniform(0.01, 0.03))  # land anywhere in the JACK period
    print(json.dumps(latencies), flush=True)
    sys.stdin.readline()  # impsy has finished with the synth
    synth.cancel_callback()
    time.sleep(0.01)
    for port in (synth, keys):
        port.close_port()
        port.delete()


# ------------------------------------------------------------------- impsy


def percentiles(values: list[float], scale: float = 1e6) -> tuple[float, float]:
    """Median and p99 of ``values`` times ``scale`` (seconds to µs by default)."""
    scaled = np.asarray(values) * scale
    return percentile(scaled, 50), percentile(scaled, 99)


async def measure(mode: str, notes: int, server, logdir: str) -> dict:  # noqa: ANN001
    from impsy.app import RunOptions, build_engine
    from impsy.config import load_config_text
    from impsy.io.midi.adapter import MidiAdapter
    from impsy.mapping.midi import MidiEncoder

    class TimedMidiAdapter(MidiAdapter):
        """The real adapter, timing each gesture from callback entry to user_input done."""

        hop: list[float] = []
        on_loop: list[float] = []

        def _receive(self, port, message, when):  # noqa: ANN001, ANN202
            start = time.monotonic()
            super()._receive(port, message, when)
            done = time.monotonic()
            if message[0] & 0xF0 == 0x90:
                self.hop.append(start - when)
                self.on_loop.append(done - start)

    model = f'file = "{MODEL}"\ntimescale = 0.000001' if mode == "polyphony" else ""
    config = load_config_text(
        f"""
log_input = true
[interaction]
mode = "{mode}"
input_thru = {"true" if mode == "useronly" else "false"}
[model]
dimension = 9
{model}
[midi]
in_device = ["bench-keys"]
out_device = ["bench-synth"]
input."bench-keys" = {MAPPING}
output."bench-synth" = {MAPPING}
""",
        "bench.toml",
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--device",
        "--notes",
        str(notes),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, **server.environment()},
    )
    await child.stdout.readline()
    engine = build_engine(config, RunOptions(logdir=Path(logdir)))
    adapter = TimedMidiAdapter(config.midi, engine.dimension)
    await engine.start([adapter])
    user_input_times: list[float] = []
    user_input = engine.user_input

    def timed_user_input(updates, source=""):  # noqa: ANN001, ANN202
        start = time.monotonic()
        user_input(updates, source)
        user_input_times.append(time.monotonic() - start)

    engine.user_input = timed_user_input
    sends, encodes = [], []
    try:
        child.stdin.write(b"go\n")
        latencies = json.loads(await child.stdout.readline())
        if mode == "polyphony":
            rng = np.random.default_rng(1)
            encoder = MidiEncoder(config.midi.output["bench-synth"])  # the codec alone
            for _ in range(2000):  # paced like a model step: a full ringbuffer would make
                await asyncio.sleep(0.001)  # sendMessage wait for JACK, which isn't send's cost
                values = rng.random(8)
                start = time.perf_counter()
                adapter.send(values)
                sends.append(time.perf_counter() - start)
                start = time.perf_counter()
                encoder.encode(values)
                encodes.append(time.perf_counter() - start)
        gesture_user_input = list(user_input_times)  # before the hot loop adds its own
        hot_total, hot_engine = [], []
        if mode == "useronly":  # the same handler back to back: hot caches, no JACK
            engine.settings.input_thru = False
            port = adapter.inputs["bench-keys"].port
            for i in range(10_000):
                before = len(user_input_times)
                start = time.monotonic()
                MidiAdapter._receive(adapter, port, [0xB0, 1 + i % 5, i % 128], start)
                hot_total.append(time.monotonic() - start)
                hot_engine.append(user_input_times[before])
    finally:
        await engine.stop()
        child.stdin.write(b"exit\n")
        await child.wait()
    lost = sum(latency is None for latency in latencies)
    measured = [latency for latency in latencies if latency is not None]
    return {
        "round_trip": percentiles(measured, 1e3),
        "lost": lost,
        "hop": percentiles(adapter.hop[-len(measured) :]),
        "on_loop": percentiles(adapter.on_loop[-len(measured) :]),
        "user_input": percentiles(gesture_user_input[-len(measured) :]),
        "entry_to_done": percentiles(
            [h + o for h, o in zip(adapter.hop, adapter.on_loop, strict=True)][-len(measured) :]
        ),
        "send": percentiles(sends) if sends else None,
        "hot": percentiles(hot_total) if hot_total else None,
        "hot_engine": percentiles(hot_engine) if hot_engine else None,
        "encode": percentiles(encodes) if encodes else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notes", type=int, default=300)
    parser.add_argument("--period", type=int, default=256, help="JACK frames per period")
    parser.add_argument("--device", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device:
        device(args.notes)
        return

    from impsy.engine import loop as impsy_loop
    from tests.jack import SAMPLE_RATE, JackServer

    server = JackServer(period=args.period).start()
    os.environ.update(server.environment())
    try:
        print(
            f"JACK dummy driver (sync mode, no realtime): {SAMPLE_RATE} Hz, "
            f"period {args.period} frames = {server.period_ms:.2f} ms; {args.notes} notes"
        )
        with tempfile.TemporaryDirectory() as logdir:
            for mode, what in (
                ("polyphony", "polyphony, dim-9 model, timescale 1e-6"),
                ("useronly", "useronly + input_thru, no model"),
            ):
                result = impsy_loop.run(measure(mode, args.notes, server, logdir))
                p50, p99 = result["round_trip"]
                period = server.period_ms
                print(
                    f"MIDI in -> MIDI out ({what}): median {p50:.2f} ms, p99 {p99:.2f} ms "
                    f"= {p50 / period:.2f} / {p99 / period:.2f} periods; lost {result['lost']}"
                )
                record(
                    f"MIDI in → MIDI out through JACK, {mode}, median",
                    p50,
                    "ms",
                    note=f"{p50 / period:.2f} JACK periods of {period:.2f} ms",
                )
                e50, e99 = result["entry_to_done"]
                h50, h99 = result["hop"]
                l50, l99 = result["on_loop"]
                u50, u99 = result["user_input"]
                print(
                    f"  in impsy, callback entry -> engine.user_input done: median {e50:.1f} us, "
                    f"p99 {e99:.1f} us\n"
                    f"    hop to the loop {h50:.1f} / {h99:.1f} us; on the loop {l50:.1f} / "
                    f"{l99:.1f} us, of which engine.user_input {u50:.1f} / {u99:.1f} us"
                )
                if result["hot"]:
                    t50, t99 = result["hot"]
                    g50, g99 = result["hot_engine"]
                    print(
                        f"  hot loop, 10,000 CCs straight into the loop-side handler: median "
                        f"{t50:.1f} us, p99 {t99:.1f} us, of which engine.user_input "
                        f"{g50:.1f} / {g99:.1f} us"
                    )
                if result["send"]:
                    s50, s99 = result["send"]
                    c50, c99 = result["encode"]
                    print(
                        f"  MidiAdapter.send (8 values, 1 port, random vectors): median "
                        f"{s50:.1f} us, p99 {s99:.1f} us; of which encode {c50:.1f} / {c99:.1f} us"
                    )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
