"""What steering adds to a step: conditioned, truncated and tilted draws against a plain one.

A step is one network step plus one draw. Steering changes only the draw, so
the network step is run once per event to make a realistic stream of raw MDN
outputs (the bundled s model playing on its own output at impsy's default
temperatures), and then every variant draws from the same outputs, the
variants interleaved event by event so drift on a shared machine hits them
alike. The cost a variant adds to a step is its median draw minus the plain
draw's median (``impsy.model.sampling.draw``, what a step does today); the
plain step itself (``model.predict``) is timed too, for scale.

    python benchmarks/steering.py                 # 5000 timed events per variant
    python benchmarks/steering.py --count 1000    # quicker

Goals (issue "You hold, it plays"): a conditioned step at most 5 µs and a
truncated step at most 10 µs more than a plain step, s model.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from results import record
from tables import markdown_table, percentile

ROOT = Path(__file__).resolve().parent.parent
MODEL = (
    ROOT
    / "impsy"
    / "data"
    / "models"
    / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.keras"
)


def stream(model, count: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Raw MDN outputs and the events drawn from them, the model playing on its own output."""
    model.seed(seed)
    model.reset()
    x = np.random.default_rng(seed).random(model.dimension)
    raws, events = [], []
    for _ in range(count):
        params = model.step(x)
        raws.append(params.raw.copy())
        x = model.sample(params)
        events.append(x)
    return raws, np.array(events)


def variants(dimension: int, mixtures: int) -> list[tuple[str, object, str]]:
    """(label, steering, goal) for every variant timed; the first is the plain draw."""
    from impsy.model.steering import Region, Steering, scale_notes

    c_major = Region.notes(scale_notes(60, (0, 2, 4, 5, 7, 9, 11)))
    return [
        ("plain (IMPSY's draw)", Steering(dimension, mixtures), ""),
        ("conditioned: x1 held", Steering(dimension, mixtures, held=[1]), "<= 5"),
        ("conditioned: dt, x1 held", Steering(dimension, mixtures, held=[0, 1]), "<= 5"),
        (
            "conditioned: dt, x1..x4 held",
            Steering(dimension, mixtures, held=[0, 1, 2, 3, 4]),
            "",
        ),
        (
            "truncated: x4, x5 ranges",
            Steering(
                dimension,
                mixtures,
                regions={4: Region.between(0.0, 0.5), 5: Region.between(0.25, 0.75)},
            ),
            "<= 10",
        ),
        (
            "truncated: x5 range",
            Steering(dimension, mixtures, regions={5: Region.between(0.25, 0.75)}),
            "",
        ),
        (
            "density: dt range [0, 0.5] + tilt 2/s",
            Steering(dimension, mixtures, regions={0: Region.between(0.0, 0.5)}, dt_tilt=2.0),
            "",
        ),
        ("density: tilt 2/s", Steering(dimension, mixtures, dt_tilt=2.0), ""),
        (
            "pitch set: x4 in C major",
            Steering(dimension, mixtures, regions={4: c_major}),
            "",
        ),
        (
            "accompany: dt, x1 held; x2..x4 in C major",
            Steering(
                dimension,
                mixtures,
                held=[0, 1],
                regions={2: c_major, 3: c_major, 4: c_major},
            ),
            "",
        ),
    ]


def time_variants(rows, raws, events, pi_temp, sigma_temp, warmup):
    """Nanoseconds per draw, per variant, interleaved event by event."""
    clock = time.perf_counter_ns
    rngs = [np.random.default_rng(i) for i in range(len(rows))]
    draws = [steering.draw for _, steering, _ in rows]
    times = np.zeros((len(rows), len(raws) - warmup), dtype=np.int64)
    fallbacks = np.zeros(len(rows), dtype=np.int64)
    for i, (raw, held) in enumerate(zip(raws, events, strict=True)):
        for v, (draw, rng) in enumerate(zip(draws, rngs, strict=True)):
            start = clock()
            _, fell_back = draw(raw, held, pi_temp, sigma_temp, rng)
            elapsed = clock() - start
            if i >= warmup:
                times[v, i - warmup] = elapsed
                fallbacks[v] += fell_back
    return times, fallbacks


def time_surprise(raws, events, warmup) -> np.ndarray:
    from impsy.model.steering import surprise

    clock = time.perf_counter_ns
    dimension = events.shape[1]
    mixtures = len(raws[0]) // (2 * dimension + 1)
    times = []
    for i, (raw, x) in enumerate(zip(raws[:-1], events[1:], strict=True)):
        start = clock()
        surprise(raw, x, dimension, mixtures)
        if i >= warmup:
            times.append(clock() - start)
    return np.array(times)


def time_plain_steps(model, events, warmup) -> np.ndarray:
    clock = time.perf_counter_ns
    times = []
    for i, x in enumerate(events):
        start = clock()
        model.predict(x)
        if i >= warmup:
            times.append(clock() - start)
    return np.array(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="timed events per variant")
    parser.add_argument("--warmup", type=int, default=500, help="untimed events first")
    parser.add_argument("--sigma-temp", type=float, default=0.01, help="impsy's default 0.01")
    parser.add_argument("--pi-temp", type=float, default=1.0, help="impsy's default 1.0")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from impsy.model import load_model

    model = load_model(MODEL, seed=0)
    model.sigma_temp, model.pi_temp = args.sigma_temp, args.pi_temp
    total = args.count + args.warmup
    raws, events = stream(model, total, seed=0)
    rows = variants(model.dimension, model.mixtures)
    times, fallbacks = time_variants(rows, raws, events, args.pi_temp, args.sigma_temp, args.warmup)
    model.reset()
    steps = time_plain_steps(model, events, args.warmup)
    surprises = time_surprise(raws, events, args.warmup)

    plain = percentile(times[0], 50) / 1e3
    step = percentile(steps, 50) / 1e3
    print(
        f"bundled s model ({MODEL.name}), {args.count} events, "
        f"pi_temp {args.pi_temp}, sigma_temp {args.sigma_temp}\n"
    )
    table = []
    for (label, _, goal), row, fell in zip(rows, times, fallbacks, strict=True):
        median = percentile(row, 50) / 1e3
        p99 = percentile(row, 99) / 1e3
        extra = median - plain
        table.append(
            (
                label,
                f"{median:.2f}",
                f"{p99:.2f}",
                "" if row is times[0] else f"{extra:+.2f}",
                goal,
                f"{100 * fell / args.count:.1f} %",
            )
        )
        if goal:
            record(
                f"steering: {label}, extra per step over a plain step, median",
                extra,
                "µs",
                goal=goal,
                note=f"plain step {step:.1f} µs",
            )
    table.append(("plain step (`model.predict`: network + draw)", f"{step:.2f}", "", "", "", ""))
    median_surprise = percentile(surprises, 50) / 1e3
    table.append(("surprise (`surprise`, per gesture)", f"{median_surprise:.2f}", "", "", "", ""))
    header = ("draw", "median µs", "p99 µs", "extra µs", "goal", "fell back")
    print("\n".join(markdown_table(header, table, "lrrrrr")))
    record("steering: surprise per gesture, median", median_surprise, "µs")


if __name__ == "__main__":
    main()
