"""Pattern models (issue "Learn my patterns"): training time and quality, how smooth a knob
is, what a knob move costs the loop, and onset detection on synthesised loops.

    python benchmarks/patterns.py            # corpora of 100, 500 and 2,000 bars; 90 loops
    python benchmarks/patterns.py --quick    # 100 and 500 bars; 36 loops

**Corpus.** Made-up drum styles (eight styles of four tracks x 16 steps); each bar is a
style with two steps flipped, velocities and micro-timing jittered; 500 held-out bars
come from the same generator with another seed. Training is what ``impsy patterns
train`` does by default: 4 latent knobs, 300 epochs or 10 s, whichever ends first.

- reconstruction onset F1: held-out bars encoded and decoded (threshold 0.5), every
  step that plays counted as an onset;
- densities: the share of steps that play in 1,000 bars from ``generate`` (a random
  training bar's posterior, kept within the training bars' densities), against the
  training bars' lowest and highest; and, for comparison, in 1,000 bars decoded from
  the bare prior N(0, I) (what ``generate`` drew before);
- smoothness: ``steps_changed_per_tenth`` for each knob, swept across -3..3 from 20
  points drawn from the prior: steps turning on or off per 0.1 of a knob's travel;
- a knob move on the loop: ``learn/knob`` on a stopped sequencer (the bar written into
  the tracks, or proposed as ghost steps) and the web UI's poll (``GET /api/patterns``:
  the view and its JSON), timed one by one.

**Onsets.** Loops synthesised with hits at known times, two bars each, at 90, 120 and
150 BPM, with white noise at 0, 1 % and 3 % of full scale: "drums" (a decaying 55 Hz
kick, a 300 Hz tone with a noise burst for the snare, high-passed noise for hats, on
random steps of random patterns, hats up to 15 ms off the grid, levels 0.4-1) and
"clicks" (5 ms bursts of noise on random sixteenths, every band hearing them). A found
onset matches a true one of its band within 25 ms (each used once); precision = found
that match / found, recall = true that were found. Steps: the cells (bar, step) the
loop's bars have against the truth's; micro-timing: the error of each matched onset's
offset from its step, in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import wave
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
from results import record
from tables import percentile

STYLES = [
    ["1000100010001000", "0000100000001000", "1010101010101010", "0000000000000000"],
    ["1000000010100000", "0000100000001000", "1111111111111111", "0000000000000001"],
    ["1001001000100100", "0000100100001000", "0010001000100010", "0000100000001000"],
    ["1000000000000000", "0000000010000000", "1000100010001000", "0000000000000000"],
    ["1000000110000010", "0000100000001001", "1011101110111011", "0000000000100000"],
    ["1010000000100000", "0000100001001000", "0000000000000000", "1000100010001000"],
    ["1000100000101000", "0001000000010000", "1101101101101101", "0000000000000000"],
    ["1100000011000000", "0000101000001010", "1000000010000000", "0010001000100010"],
]
RATE = 44100


def corpus(count: int, seed: int) -> np.ndarray:
    """``count`` bars (N, 4, 16, 3): a style each, two steps flipped, jittered."""
    rng = np.random.default_rng(seed)
    grids = np.array([[[int(c) for c in track] for track in style] for style in STYLES])
    bars = np.zeros((count, 4, 16, 3))
    for i, style in enumerate(rng.integers(0, len(grids), count)):
        on = grids[style].copy()
        on.reshape(-1)[rng.integers(0, 64, 2)] ^= 1
        bars[i, ..., 0] = on
        bars[i, ..., 1] = np.where(on, np.clip(0.7 + 0.1 * rng.standard_normal((4, 16)), 0, 1), 0)
        bars[i, ..., 2] = np.where(on, np.clip(0.05 * rng.standard_normal((4, 16)), -0.5, 0.5), 0)
    return bars


def f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    tp = int((predicted & truth).sum())
    return (
        2 * tp / max(1, 2 * tp + int((predicted & ~truth).sum()) + int((~predicted & truth).sum()))
    )


def within(model, points: np.ndarray, trained: np.ndarray) -> tuple[np.ndarray, float]:  # noqa: ANN001
    """The densities of the bars ``points`` decode to, and the share inside ``trained``'s range."""
    density = (model.decode(points)[..., 0] > 0.5).mean(axis=(1, 2))
    return density, float(((density >= trained.min()) & (density <= trained.max())).mean())


def model_quality(counts: list[int]) -> list[dict]:
    from impsy.sequencer.learn.knobs import PatternKnobs, steps_changed_per_tenth
    from impsy.sequencer.learn.vae import PatternVAE

    held_out = corpus(500, seed=99)
    rows = []
    for count in counts:
        bars = corpus(count, seed=1)
        model = PatternVAE(tracks=4, steps=16, latent=4, seed=0)
        history = model.fit(bars, epochs=300, seconds=10.0)
        model.remember(bars)  # as `impsy patterns train` does: the map goes with the model
        decoded = model.decode(model.encode(held_out))[..., 0] > 0.5
        score = f1(decoded, held_out[..., 0] > 0.5)
        rng = np.random.default_rng(5)
        knobs = PatternKnobs(model)
        start = time.perf_counter()
        points = np.array([knobs.generate(rng).copy() for _ in range(1000)])
        generate_us = (time.perf_counter() - start) * 1e3
        trained = (bars[..., 0] > 0.5).mean(axis=(1, 2))
        density, inside = within(model, points, trained)
        _, prior_inside = within(model, rng.standard_normal((1000, 4)), trained)
        smooth = []
        for _ in range(20):
            knobs.generate(rng)
            base = knobs.point.copy()
            for k in range(4):
                knobs.point = base.copy()
                smooth.append(steps_changed_per_tenth(knobs, k))
        rows.append(
            {
                "bars": count,
                "seconds": history.seconds,
                "epochs": len(history.loss),
                "f1": score,
                "density": (float(density.min()), float(density.max())),
                "trained": (float(trained.min()), float(trained.max())),
                "inside": inside,
                "prior_inside": prior_inside,
                "generate_us": generate_us,
                "smooth_mean": float(np.mean(smooth)),
                "smooth_max": float(np.max(smooth)),
                "model": model,
            }
        )
    return rows


def knob_costs(model, moves: int) -> dict[str, list[float]]:  # noqa: ANN001
    """µs per knob move (written, proposed) and per web UI poll, on a stopped sequencer."""
    from impsy.clock import ManualClock
    from impsy.sequencer.learn.live import PatternLearning
    from impsy.sequencer.pattern import Bank, Pattern, Track
    from impsy.sequencer.sequencer import Sequencer
    from impsy.web.responses import dumps

    out: dict[str, list[float]] = {"track": [], "ghost": [], "poll": []}
    with TemporaryDirectory() as folder:
        model.save(Path(folder) / "patterns.npz")
        bank = Bank([Pattern("p", [Track.empty(f"t{t}", 16) for t in range(4)])])
        seq = Sequencer(bank, ManualClock(), lambda *args: None, tempo=120.0)
        learning = PatternLearning(seq, Path(folder), seed=0)
        values = np.random.default_rng(0).uniform(-3, 3, moves)
        for target in ("track", "ghost"):
            learning.set_to(target)
            for i, value in enumerate(values):
                start = time.perf_counter()
                learning.knob(i % 4, float(value))
                out[target].append((time.perf_counter() - start) * 1e6)
        for _ in range(moves):
            start = time.perf_counter()
            dumps(learning.view())
            out["poll"].append((time.perf_counter() - start) * 1e6)
    return out


# ---------------------------------------------------------------------------- onsets


def write_wav(path: Path, samples: np.ndarray) -> Path:
    ints = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes(ints.tobytes())
    return path


def synth(kind: str, tempo: float, noise: float, seed: int) -> tuple[np.ndarray, list[list]]:
    """Two bars; per band the true (time, step) of every hit."""
    rng = np.random.default_rng(seed)
    step_s = 60.0 / tempo / 4
    n = int(32 * step_s * RATE)
    out = rng.standard_normal(n) * noise

    def add(t: float, sig: np.ndarray) -> None:
        i = int(round(t * RATE))
        out[i : i + len(sig)] += sig[: n - i]

    truth: list[list] = [[], [], []]
    if kind == "clicks":
        tc = np.arange(int(0.005 * RATE)) / RATE  # a metronome's click: 5 ms of noise
        click = rng.standard_normal(len(tc)) * 0.5 * np.exp(-tc * 900)
        for step in sorted(rng.choice(32, 10, replace=False)):
            t = step * step_s
            add(t, click * rng.uniform(0.4, 1.0))
            for band in range(3):
                truth[band].append((t, int(step)))
        return out, truth
    tk = np.arange(int(0.2 * RATE)) / RATE
    kick = np.sin(2 * np.pi * (55 + 60 * np.exp(-tk * 40)) * tk) * np.exp(-tk * 20)
    ts = np.arange(int(0.12 * RATE)) / RATE
    snare_noise = rng.standard_normal(len(ts))
    snare = (np.sin(2 * np.pi * 300 * ts) * 0.6 + snare_noise * 0.25) * np.exp(-ts * 30)
    th = np.arange(int(0.04 * RATE)) / RATE
    hat = np.diff(rng.standard_normal(len(th) + 1)) * 0.35 * np.exp(-th * 120)
    kicks = [s for s in range(16) if s in (0, 8) or (s not in (4, 12) and rng.random() < 0.15)]
    snares = [s for s in range(16) if s in (4, 12) or (rng.random() < 0.1 and s not in kicks)]
    hats = [s for s in range(16) if rng.random() < 0.6]
    for bar in range(2):
        for band, (steps, sound, jitter) in enumerate(
            ((kicks, kick, 0.0), (snares, snare, 0.005), (hats, hat, 0.015))
        ):
            for s in steps:
                step = bar * 16 + s
                t = max(0.0, step * step_s + rng.uniform(-jitter, jitter))
                add(t, sound * rng.uniform(0.4, 1.0))
                truth[band].append((t, step))
    return out * 0.8, truth


def match(found: np.ndarray, truth: np.ndarray, tolerance: float) -> list[tuple[int, int]]:
    """Pairs (found, true), nearest first, each used once, within ``tolerance`` s."""
    pairs = sorted(
        (abs(f - t), i, j)
        for i, f in enumerate(found)
        for j, t in enumerate(truth)
        if abs(f - t) <= tolerance
    )
    used_f, used_t, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
            out.append((i, j))
    return out


def merged(times: list[np.ndarray] | list[list[float]], gap: float = 0.03) -> np.ndarray:
    """Onsets of every band as one list, those within ``gap`` of the one before dropped."""
    every = np.sort(np.concatenate([np.asarray(t, dtype=float) for t in times]))
    keep = [t for i, t in enumerate(every) if i == 0 or t - every[i - 1] > gap]
    return np.array(keep)


class Tally:
    """Found, true and matched onsets (or steps), summed over loops."""

    def __init__(self) -> None:
        self.found = self.true = self.matched = 0

    def add(self, found: int, true: int, matched: int) -> None:
        self.found += found
        self.true += true
        self.matched += matched

    @property
    def precision(self) -> float:
        return self.matched / max(1, self.found)

    @property
    def recall(self) -> float:
        return self.matched / max(1, self.true)


def onsets(loops_per_case: int) -> dict[str, object]:
    """Detection (any band), attribution (per band), steps and micro-timing, per kind and
    noise level (see the module docstring)."""
    from impsy.sequencer.learn.audio import bar_count, bars_from_audio, detect, place, read_audio

    any_band: dict[tuple[str, float], Tally] = {}
    per_band = [Tally() for _ in range(3)]
    steps = [Tally() for _ in range(3)]
    timing: list[float] = []
    seed = 0
    with TemporaryDirectory() as folder:
        for kind in ("drums", "clicks"):
            for noise in (0.0, 0.01, 0.03):
                tally = any_band[(kind, noise)] = Tally()
                for tempo in (90.0, 120.0, 150.0):
                    for _ in range(loops_per_case):
                        seed += 1
                        samples, truth = synth(kind, tempo, noise, seed)
                        path = write_wav(Path(folder) / f"loop{seed}.wav", samples)
                        data, rate = read_audio(path)
                        found = detect(data, rate)
                        found_all = merged(found.times)
                        true_all = merged([[t for t, _ in band] for band in truth])
                        pairs = match(found_all, true_all, 0.025)
                        tally.add(len(found_all), len(true_all), len(pairs))
                        if kind != "drums":
                            continue
                        step_s = 60.0 / tempo / 4
                        bars, _ = bars_from_audio(path, tempo)
                        hits = place(found, bar_count(found.seconds, tempo)[0], tempo)
                        for band in range(3):
                            true_t = np.array([t for t, _ in truth[band]])
                            pairs = match(found.times[band], true_t, 0.025)
                            per_band[band].add(len(found.times[band]), len(true_t), len(pairs))
                            cells = set(zip(*np.nonzero(bars[:, band, :, 0] > 0), strict=True))
                            truth_cells = {divmod(step, 16) for _, step in truth[band]}
                            steps[band].add(len(cells), len(truth_cells), len(cells & truth_cells))
                            band_hits = [h for h in hits if h.band == band]
                            for i, j in pairs:
                                t, step = truth[band][j]
                                if band_hits[i].step == step:
                                    error = band_hits[i].offset - (t / step_s - step)
                                    timing.append(abs(error) * step_s * 1000)
    return {"any": any_band, "bands": per_band, "steps": steps, "timing": timing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer bars and loops")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}, cores: {os.cpu_count()}")

    counts = [100, 500] if args.quick else [100, 500, 2000]
    rows = model_quality(counts)
    print(
        "\n| bars | training | epochs | held-out onset F1 | generated densities (training) | "
        "in range (bare prior) | generate | steps changed per 0.1, mean / max |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['bars']} | {r['seconds']:.2f} s | {r['epochs']} | {r['f1']:.3f} | "
            f"{r['density'][0]:.2f}-{r['density'][1]:.2f} ({r['trained'][0]:.2f}-"
            f"{r['trained'][1]:.2f}) | {r['inside']:.1%} ({r['prior_inside']:.1%}) | "
            f"{r['generate_us']:.0f} µs | {r['smooth_mean']:.2f} / "
            f"{r['smooth_max']:.2f} |"
        )
    five = next(r for r in rows if r["bars"] == 500)
    record("pattern model: training on 500 bars", five["seconds"], "s", goal="<= 10")
    record(
        "pattern model: held-out onset F1, 4 knobs", five["f1"], "", goal=">= 0.9", better="higher"
    )
    record("pattern model: steps changed per 0.1 of a knob", five["smooth_mean"], "steps")
    record(
        "pattern model: generated bars as dense as training bars (fewest, of 100/500/2,000)",
        min(r["inside"] for r in rows),
        "",
        goal=">= 1",
        better="higher",
    )

    costs = knob_costs(five["model"], 300 if args.quick else 2000)
    print("\n| on the loop | median | p99 | max |\n| --- | --- | --- | --- |")
    for name, label in (
        ("track", "learn/knob, bar written into the tracks"),
        ("ghost", "learn/knob, bar proposed as ghost steps"),
        ("poll", "GET /api/patterns: view + JSON"),
    ):
        values = costs[name]
        print(
            f"| {label} | {np.median(values):.0f} µs | {percentile(values, 99):.0f} µs | "
            f"{max(values):.0f} µs |"
        )
    record(
        "pattern model: a knob move on the loop, p99",
        percentile(costs["track"], 99),
        "µs",
        goal="<= 1000",
    )

    found = onsets(2 if args.quick else 5)
    print("\nOnsets in any band (a hit found at all):\n")
    print("| loops | noise | hits true / found | precision | recall |")
    print("| --- | --- | --- | --- | --- |")
    for (kind, noise), t in found["any"].items():
        print(
            f"| {kind} | {noise:.0%} | {t.true} / {t.found} | {t.precision:.3f} | {t.recall:.3f} |"
        )
    for kind in ("drums", "clicks"):  # the worst noise level of each (all tempi together)
        cases = [t for (k, _), t in found["any"].items() if k == kind]
        for name in ("precision", "recall"):
            worst = min(getattr(t, name) for t in cases)
            record(
                f"onsets ({kind}, any band): {name}, worst of 0/1/3 % noise",
                worst,
                "",
                goal=">= 0.95",
                better="higher",
            )
    print("\nDrums, band by band (kick in low, snare in mid, hats in high), all noise levels:\n")
    print("| band | onsets true / found | precision | recall | steps precision | steps recall |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, onset, step in zip(
        ("low", "mid", "high"), found["bands"], found["steps"], strict=True
    ):
        print(
            f"| {name} | {onset.true} / {onset.found} | {onset.precision:.3f} | "
            f"{onset.recall:.3f} | {step.precision:.3f} | {step.recall:.3f} |"
        )
    timing = found["timing"]
    print(
        f"\nmicro-timing of the drums' onsets on their right step: error median "
        f"{np.median(timing):.1f} ms, p95 {percentile(timing, 95):.1f} ms, max "
        f"{max(timing):.1f} ms ({len(timing)} onsets)"
    )
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        keep = [{k: v for k, v in r.items() if k != "model"} for r in rows]
        Path(args.json).write_text(json.dumps({"models": keep}, default=float))


if __name__ == "__main__":
    main()
