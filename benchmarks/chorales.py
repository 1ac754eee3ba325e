"""How well the chorale accompany model harmonises held-out Bach chorales.

Two measurements on the held-out chorales (``impsy.dataset.chorales.HELD_OUT``,
never trained on nor used to pick the epoch), each chorale replayed from a
reset state with impsy's NumPy engine:

(a) **Conditional against unconditional NLL** of alto, tenor and bass, per
    event. The model is fed Bach's events (teacher forcing); before each
    event its mixture is scored on that event's alto, tenor and bass, once
    given the event's dt and soprano (``log p(all) - log p(dt, soprano)``,
    :func:`impsy.model.steering.log_prob`) and once not (the marginal
    ``log p(alto, tenor, bass)``). Nats in model space (data x 10, the units
    of ``impsy evaluate``); the difference between the two is the same in
    data space. Goal (issue "You hold, it plays"): conditional at least 0.5
    nats lower.
(b) **Notes inside the key.** The model plays alto, tenor and bass itself:
    from Bach's first chord, at each later event dt and soprano are held at
    Bach's values and alto, tenor and bass are drawn
    (:meth:`impsy.model.steering.Steering.draw`), and the model is fed the
    whole event it played, as in ``accompany`` mode. With the key constraint
    each voice is truncated to the chorale's key
    (:meth:`Region.notes` of :func:`scale_notes`: the major scale, or natural
    minor plus the raised sixth and seventh, of music21's key analysis); without
    it the voices are free. The share of drawn notes (as
    :func:`impsy.mapping.midi.to_seven_bit` plays them) whose pitch class is
    in the key; Bach's own alto, tenor and bass for reference. Goal: 100 %
    with the constraint.

    python benchmarks/chorales.py                          # the shipped model
    python benchmarks/chorales.py --model other.keras --json out.json

Needs the held-out file and manifest of ``impsy dataset --chorales``
(default ``datasets/``); no music21, no TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "chorales-accompany-dim5-layers2-units64-mixtures5-scale10.keras"
DATASETS = ROOT / "datasets"
HELD = (0, 1)
"""dt and soprano: what the performer plays."""
FILLED = (2, 3, 4)
"""Alto, tenor and bass: what the model plays."""
TEMPERATURES = ((1.0, 1.0), (1.0, 0.01))
"""(pi, sigma) pairs sampled in (b): the model's own distribution, and impsy's defaults."""


def nll_table(model, chorales: list[np.ndarray]) -> dict:
    """(a): per-event conditional and unconditional NLL of alto, tenor and bass."""
    from impsy.model.steering import log_prob

    d, k = model.dimension, model.mixtures
    conditional, unconditional, per_chorale = [], [], []
    for rows in chorales:
        model.reset()
        cond, uncond = [], []
        for t in range(len(rows) - 1):
            raw = model.step(rows[t]).raw
            target = rows[t + 1]
            joint = log_prob(raw, target, d, k)
            cond.append(-(joint - log_prob(raw, target, d, k, dims=HELD)))
            uncond.append(-log_prob(raw, target, d, k, dims=FILLED))
        conditional += cond
        unconditional += uncond
        per_chorale.append(float(np.mean(uncond) - np.mean(cond)))
    conditional_mean = float(np.mean(conditional))
    unconditional_mean = float(np.mean(unconditional))
    return {
        "events": len(conditional),
        "chorales": len(chorales),
        "conditional_nll": conditional_mean,
        "unconditional_nll": unconditional_mean,
        "gain_nats": unconditional_mean - conditional_mean,
        "chorales_with_gain": int(sum(gain > 0 for gain in per_chorale)),
        "median_chorale_gain_nats": float(np.median(per_chorale)),
    }


def in_key(notes: np.ndarray, tonic: int, mode: str) -> np.ndarray:
    from impsy.dataset.chorales import key_steps

    classes = {(tonic + step) % 12 for step in key_steps(mode)}
    return np.isin(notes % 12, sorted(classes))


def key_table(model, chorales: list[np.ndarray], keys: list[dict], seed: int) -> list[dict]:
    """(b): the share of drawn alto, tenor and bass notes inside the chorale's key."""
    from impsy.dataset.chorales import key_steps
    from impsy.mapping.midi import to_seven_bit
    from impsy.model.steering import Region, Steering, scale_notes

    d, k = model.dimension, model.mixtures
    rows_out = []
    bach_inside = bach_total = 0
    for rows, key in zip(chorales, keys, strict=True):
        notes = np.floor(rows[1:, 2:].astype(np.float64) * 127 + 0.5).astype(int)
        bach_inside += int(in_key(notes, key["tonic"], key["mode"]).sum())
        bach_total += notes.size
    rows_out.append(
        {"sampler": "Bach (reference)", "notes": bach_total, "in_key": bach_inside / bach_total}
    )
    for pi_temp, sigma_temp in TEMPERATURES:
        for constrained in (False, True):
            inside = total = fallbacks = 0
            rng = np.random.default_rng(seed)
            for rows, key in zip(chorales, keys, strict=True):
                regions = {}
                if constrained:
                    region = Region.notes(scale_notes(key["tonic"], key_steps(key["mode"])))
                    regions = {dim: region for dim in FILLED}
                steering = Steering(d, k, held=HELD, regions=regions)
                model.reset()
                played = rows[0]
                for t in range(1, len(rows)):
                    raw = model.step(np.asarray(played, dtype=np.float32)).raw
                    played, fell_back = steering.draw(raw, rows[t], pi_temp, sigma_temp, rng)
                    fallbacks += fell_back
                    drawn = np.array([to_seven_bit(played[dim]) for dim in FILLED])
                    inside += int(in_key(drawn, key["tonic"], key["mode"]).sum())
                    total += drawn.size
            rows_out.append(
                {
                    "sampler": f"model, key constraint {'on' if constrained else 'off'}",
                    "pi_temp": pi_temp,
                    "sigma_temp": sigma_temp,
                    "notes": total,
                    "in_key": inside / total,
                    "fallbacks": fallbacks,
                }
            )
    return rows_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(MODEL), help="a .keras/.h5/.tflite, dimension 5")
    parser.add_argument(
        "--datasets", default=str(DATASETS), help="where impsy dataset --chorales wrote"
    )
    parser.add_argument("--stem", default="chorales", help="the dataset files' stem")
    parser.add_argument("--seed", type=int, default=1, help="seeds the draws of (b)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from impsy.dataset.chorales import output_paths, read_manifest
    from impsy.dataset.npz import read_npz_array
    from impsy.model import load_model

    paths = output_paths(args.datasets, args.stem)
    if not paths["heldout"].is_file() or not paths["manifest"].is_file():
        print(f"{paths['heldout']}: missing; run `impsy dataset --chorales -O {args.datasets}`")
        return 1
    chorales = [np.asarray(p, dtype=np.float32) for p in read_npz_array(paths["heldout"], "perfs")]
    manifest = read_manifest(paths["manifest"])
    keys = [entry["key"] for entry in manifest["heldout"]]
    model = load_model(args.model, engine="numpy")
    if model.dimension != 5:
        print(f"{args.model}: dimension {model.dimension}, expected 5")
        return 1
    start = time.perf_counter()
    nll = nll_table(model, chorales)
    keyed = key_table(model, chorales, keys, args.seed)
    seconds = time.perf_counter() - start
    numbers = ", ".join(str(entry["riemenschneider"]) for entry in manifest["heldout"])
    print(f"model {args.model}")
    print(f"held-out chorales (Riemenschneider): {numbers}")
    print()
    print(f"(a) NLL of alto, tenor and bass per event ({nll['events']} events, model space, nats)")
    print()
    print("| | NLL per event |")
    print("|---|---:|")
    print(f"| unconditional: p(alto, tenor, bass) | {nll['unconditional_nll']:.3f} |")
    print(f"| conditional: p(alto, tenor, bass given dt, soprano) | {nll['conditional_nll']:.3f} |")
    print(f"| conditional lower by (goal >= 0.5) | **{nll['gain_nats']:.3f}** |")
    print(
        f"| chorales where conditional is lower | {nll['chorales_with_gain']} of "
        f"{nll['chorales']} (median gain {nll['median_chorale_gain_nats']:.3f}) |"
    )
    print()
    print(f"(b) alto, tenor and bass notes inside the chorale's key (seed {args.seed})")
    print()
    print("| sampler | pi temp | sigma temp | notes | in key | fallbacks |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in keyed:
        temps = f"{row['pi_temp']:g} | {row['sigma_temp']:g}" if "pi_temp" in row else "- | -"
        print(
            f"| {row['sampler']} | {temps} | {row['notes']} | {100 * row['in_key']:.2f} % "
            f"| {row.get('fallbacks', '-')} |"
        )
    print()
    print(f"({seconds:.1f} s)")
    if args.json:
        result = {"model": args.model, "nll": nll, "in_key": keyed, "seed": args.seed}
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
