"""The sequencer's timing: 16ths at 120 BPM, against the ideal grid, with and without a model.

Runs impsy's sequencer adapter on impsy's event loop (``impsy.engine.loop``)
for ``--duration`` seconds per phase, every step of a 16-step track on, in
MIDI clock master mode (so 24 ticks per beat are scheduled too). Phase 1
runs the sequencer alone; phase 2 runs the engine in battle mode with the
bundled model predicting on its own (its notes land on a second track of the
grid), so inference competes for the loop. Phase ``training`` runs the
sequencer alone while ``learn/train`` trains pattern models on 121 bars, one
after another for the whole phase (issue "Learn my patterns": training runs
beside the music, in a process of its own at a lower priority).

For every note-on of the pattern's track it records when it really happened
(``loop.time()`` in the output callback) and compares it with the ideal grid
``start + n * 0.125 s``: lateness p50/p99/max, and drift = the slope of a
line fitted through the errors (ms per minute; 0 means the grid does not
wander however long it plays). The sequencer's own counters (every step,
note-off and clock tick) are printed too. Prints numbers; asserts nothing.

The host's floor is measured at the same time: a bare impsy event loop in a
process of its own (``floor.py``: the same selector and timer slack) fires a
timer at every MIDI clock tick of the same grid, half a tick after the
sequencer's, so the two never wake together but meet the same load from
other processes. Its lateness at the grid's sixteenths is the floor the
note-on lateness is compared with.

    python benchmarks/sequencer.py [--duration 600] [--phases alone,model]
                                   [--realtime]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from floor import Floor, lateness_summary  # noqa: E402
from results import record  # noqa: E402

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"
STEP_S = 60 / 120 / 4
TICK_S = STEP_S / 6
"""MIDI clock at 24 ticks per beat: six a sixteenth."""
FLOOR_LEAD_S = 1.0
"""The floor's timers start this long after it is asked (the child reads its schedule first)."""
TIMING_GOAL = "<= 1 or 1.2x floor"


def config_text(with_model: bool, bank: str = "") -> str:
    model = f'file = "{MODEL}"\nseed = 1\ntimescale = 1.0' if with_model else ""
    mode = "battle" if with_model else "useronly"
    patterns = f'patterns = "{bank}"' if bank else ""
    return f"""
log_input = false
log_predictions = false
[interaction]
mode = "{mode}"
[model]
dimension = 9
{model}
[sequencer]
tempo = 120
clock = "master"
tracks = [{{ name = "grid", port = "osc" }}, {{ name = "model", port = "osc", channel = 2 }}]
model_track = 1
{patterns}
"""


def training_patterns(count: int, seed: int = 0) -> list:
    """``count`` random two-track patterns for the pattern model to learn from."""
    from impsy.sequencer.pattern import Pattern, Step, Track

    rng = np.random.default_rng(seed)
    return [
        Pattern(
            f"train {n}",
            [
                Track(f"t{t}", [Step(on=bool(rng.random() < 0.3)) for _ in range(16)])
                for t in range(2)
            ],
        )
        for n in range(count)
    ]


async def phase(with_model: bool, duration: float, floor: Floor, training: bool = False) -> dict:
    from impsy.app import RunOptions, build
    from impsy.config import load_config_text
    from impsy.sequencer.transport import START_DELAY_S

    with tempfile.TemporaryDirectory() as logdir:
        bank = str(Path(logdir) / "bank.json") if training else ""
        config = load_config_text(config_text(with_model, bank), "bench.toml")
        performance = build(config, RunOptions(logdir=Path(logdir)))
        engine = performance.engine
        seq = performance.sequencer
        trainings = [0]
        if training:
            seq.state.bank.patterns.extend(training_patterns(120))
        for step in seq.pattern.tracks[0].steps:
            step.on = True
        loop = asyncio.get_running_loop()
        times: list[tuple[int, float]] = []  # (step number, when it sounded)
        model_notes = [0]

        def output(index: int, track, message: list[int]) -> None:  # noqa: ANN001
            if message[0] & 0xF0 == 0x90:
                if index == 0:  # the number of the step being played (skipped ones count)
                    times.append((seq.last_step_numbers[0], loop.time()))
                else:
                    model_notes[0] += 1

        seq.output = output
        await performance.start()
        await asyncio.sleep(2.0)  # warm up: model loaded and predicting, caches hot
        # The floor's ticks, half a tick after the sequencer's, for the whole phase.
        ticks = int(duration / TICK_S) - 1
        floor_at = floor.start(np.arange(ticks) * TICK_S, at=loop.time() + FLOOR_LEAD_S)
        started = asyncio.Event()

        def begin() -> None:
            seq.start()  # its grid starts START_DELAY_S from now: half a tick before the floor's
            started.set()

        loop.call_at(floor_at - TICK_S / 2 - START_DELAY_S, begin)
        await started.wait()
        cpu = time.process_time()
        start = seq.timeline.t0
        end = loop.time() + duration
        if training:  # train, one model after another, until the phase ends
            while (left := end - loop.time()) > 1.0:
                pending = performance.commands.call("learn/train", [min(10.0, left)])
                await pending.wait()
                trainings[0] += 1
        await asyncio.sleep(max(0.0, end - loop.time()))
        seq.stop()
        cpu = time.process_time() - cpu
        snapshot = seq.snapshot()
        predictions = engine.counters.outputs
        await engine.stop()
    floor_late, _ = floor.result()
    floor_steps = lateness_summary(floor_late[::6])  # the ticks on the sixteenths
    numbers = np.array([n for n, _ in times])
    actual = np.array([t for _, t in times])
    ideal = start + numbers * STEP_S
    error_ms = (actual - ideal) * 1000
    # Drift: how far the typical error moved from the first tenth of the run to the last,
    # per minute (medians, so a few late events from a busy machine do not count as drift).
    tenth = max(1, len(error_ms) // 10)
    moved = float(np.median(error_ms[-tenth:]) - np.median(error_ms[:tenth]))
    slope = moved / (duration / 60)
    name = "with model (battle)" if with_model else "sequencer alone"
    return {
        "phase": f"{name}, pattern models training" if training else name,
        "trainings": trainings[0],
        "steps": len(actual),
        "p50": float(np.percentile(error_ms, 50)),
        "p99": float(np.percentile(error_ms, 99)),
        "max": float(error_ms.max()),
        "min": float(error_ms.min()),
        "drift": slope,
        "last": float(error_ms[-1]),
        "seq": snapshot["lateness"],
        "ticks": snapshot["clock"]["lateness"],
        "skipped": snapshot["skipped"],
        "predictions": predictions,
        "model_notes": model_notes[0],
        "cpu": cpu / duration * 100,
        "floor": floor_steps,
        "floor_ticks": lateness_summary(floor_late),
        "floor_offset_ms": (floor_at - start) * 1e3,
    }


def report(result: dict) -> None:
    seq, ticks = result["seq"], result["ticks"]
    print(f"\n## {result['phase']}: {result['steps']} sixteenths")
    print(
        f"note-on vs ideal grid: p50 {result['p50']:.3f} ms, p99 {result['p99']:.3f} ms, "
        f"max {result['max']:.3f} ms (min {result['min']:.3f} ms)"
    )
    print(
        f"drift: {result['drift']:+.5f} ms/minute (error of the last step {result['last']:+.3f} ms)"
    )
    print(
        f"all scheduled events ({seq['count']}: steps, note-offs): p50 {seq['p50_ms']:.3f}, "
        f"p99 {seq['p99_ms']:.3f}, max {seq['max_ms']:.3f} ms"
    )
    print(
        f"MIDI clock ticks ({ticks['count']}): p50 {ticks['p50_ms']:.3f}, "
        f"p99 {ticks['p99_ms']:.3f}, max {ticks['max_ms']:.3f} ms; "
        f"steps skipped (> 50 ms late): {result['skipped']}"
    )
    if result["predictions"]:
        print(f"model: {result['predictions']} predictions, {result['model_notes']} on the grid")
    if result["trainings"]:
        print(f"pattern models trained meanwhile: {result['trainings']}")
    print(f"process CPU: {result['cpu']:.1f} % of one core")
    floor, ticks = result["floor"], result["floor_ticks"]
    print(
        f"host floor (a bare loop on the same ticks, {result['floor_offset_ms']:.1f} ms later, "
        f"at the same time): sixteenths p50 {floor['p50_ms']:.3f} ms, p99 {floor['p99_ms']:.3f} "
        f"ms, max {floor['max_ms']:.3f} ms; all ticks p99 {ticks['p99_ms']:.3f} ms; "
        f"note-on p99 / floor p99 = {result['p99'] / floor['p99_ms']:.2f}"
    )
    phase_name = "with the model" if result["predictions"] else "alone"
    if result["trainings"]:
        phase_name = "while a pattern model trains"
    note = f"{result['steps']} sixteenths at 120 BPM"
    record(
        f"sequencer note-on lateness p99, {phase_name}",
        result["p99"],
        "ms",
        goal=TIMING_GOAL,
        note=note,
        floor=floor["p99_ms"],
    )
    record(f"sequencer drift, {phase_name}", result["drift"], "ms/minute", goal="|x| <= 0.1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds per phase")
    parser.add_argument(
        "--phases", default="alone,model,training", help="alone, model, training (any of them)"
    )
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="run under SCHED_FIFO priority 10, as a performer runs audio software with JACK",
    )
    args = parser.parse_args()
    if args.realtime:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        except (AttributeError, PermissionError) as err:
            print(f"--realtime: not allowed here ({err}); running with normal priority")
    from impsy.engine import loop as impsy_loop

    policy = "SCHED_FIFO" if os.sched_getscheduler(0) == os.SCHED_FIFO else "normal"
    print(
        f"sequencer benchmark: 16ths at 120 BPM, {args.duration:g} s per phase, "
        f"{policy} scheduling, load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    with Floor() as floor:
        for name in args.phases.split(","):
            result = phase(name == "model", args.duration, floor, training=name == "training")
            report(impsy_loop.run(result))


if __name__ == "__main__":
    main()
