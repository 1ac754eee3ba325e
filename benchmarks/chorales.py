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

A model whose file name contains ``relative`` is read as the relative
encoding (``[dt, soprano, soprano - alto, soprano - tenor, soprano - bass]``,
:func:`impsy.dataset.chorales.relative_events`): it is fed and scored on the
relative events, its unconditional NLL is the exact marginal of the absolute
alto, tenor and bass (:func:`impsy.dataset.chorales.lower_voices_log_prob`),
its key constraint is the intervals under the held soprano that land in the
key (:func:`impsy.dataset.chorales.interval_region`), and its notes are
:func:`impsy.dataset.chorales.relative_note`. Both encodings' numbers are in
the same units (nats of the absolute voices, model space).

A model whose file name contains ``lead`` is read as the lead encoding
(``[dt_i, soprano_i, alto_(i-1), tenor_(i-1), bass_(i-1)]``,
:func:`impsy.dataset.chorales.lead_events`): the soprano reaches the network
one event before the lower voices it goes with, so the step fed event i's
soprano predicts event i's alto, tenor and bass. Its conditional NLL is that
step's marginal of alto, tenor and bass (the network conditions, no
reweighting); its unconditional NLL sums over the soprano and dt it was not
told: every (dt, soprano) pair, binned at the data's dt values and MIDI
notes (:data:`LEAD_DTS`, :data:`LEAD_NOTES`), weighted by the step before's
probability of that bin given the lower voices it just saw, is fed from the
same state and scored (pairs by falling weight until 99.99 % of it is
covered). In (b) the step fed the soprano draws the lower voices (their
marginal; the key constraint truncates it), and the next row carries them.

    python benchmarks/chorales.py                          # the shipped models
    python benchmarks/chorales.py --model other.keras --json out.json
    python benchmarks/chorales.py --model a-relative-model.keras --model other.keras
    python benchmarks/chorales.py --model chorales-lead-model.keras

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
RELATIVE_MODEL = (
    ROOT / "models" / "chorales-accompany-relative-dim5-layers2-units64-mixtures5-scale10.keras"
)
LEAD_MODEL = (
    ROOT / "models" / "chorales-accompany-lead-dim5-layers2-units64-mixtures5-scale10.keras"
)
DATASETS = ROOT / "datasets"
HELD = (0, 1)
"""dt and soprano: what the performer plays."""
FILLED = (2, 3, 4)
"""Alto, tenor and bass: what the model plays."""
LEAD_DTS = (0.0, 0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0)
"""Every dt in the chorale files (quarter-note beats): the bins of a lead model's marginal."""
LEAD_NOTES = tuple(range(36, 97))
"""Soprano notes a lead model's marginal sums over (Bach's sopranos span 51-86 in all keys)."""
LEAD_COVER = 0.9999
TEMPERATURES = ((1.0, 1.0), (1.0, 0.01))
"""(pi, sigma) pairs sampled in (b): the model's own distribution, and impsy's defaults."""


def nll_table(model, chorales: list[np.ndarray], relative: bool = False) -> dict:
    """(a): per-event conditional and unconditional NLL of alto, tenor and bass.

    ``chorales`` are absolute events. A relative model is fed and scored on
    their relative form; its unconditional NLL is the exact marginal of the
    absolute voices (:func:`impsy.dataset.chorales.lower_voices_log_prob`).
    """
    from impsy.dataset.chorales import lower_voices_log_prob, relative_events
    from impsy.model.params import SCALE
    from impsy.model.steering import log_prob

    d, k = model.dimension, model.mixtures
    per_chorale = []
    for absolute in chorales:
        rows = relative_events(absolute) if relative else absolute
        model.reset()
        cond, uncond = [], []
        for t in range(len(rows) - 1):
            raw = model.step(rows[t]).raw
            target = rows[t + 1]
            joint = log_prob(raw, target, d, k)
            cond.append(-(joint - log_prob(raw, target, d, k, dims=HELD)))
            if relative:
                uncond.append(-lower_voices_log_prob(raw, absolute[t + 1], k, SCALE))
            else:
                uncond.append(-log_prob(raw, target, d, k, dims=FILLED))
        per_chorale.append((cond, uncond))
    return _nll_summary(per_chorale)


def _nll_summary(per_chorale: list[tuple[list[float], list[float]]]) -> dict:
    """(a)'s table from each chorale's per-event (conditional, unconditional) NLLs."""
    conditional = [value for cond, _ in per_chorale for value in cond]
    unconditional = [value for _, uncond in per_chorale for value in uncond]
    gains = [float(np.mean(uncond) - np.mean(cond)) for cond, uncond in per_chorale]
    conditional_mean = float(np.mean(conditional))
    unconditional_mean = float(np.mean(unconditional))
    return {
        "events": len(conditional),
        "chorales": len(per_chorale),
        "conditional_nll": conditional_mean,
        "unconditional_nll": unconditional_mean,
        "gain_nats": unconditional_mean - conditional_mean,
        "chorales_with_gain": int(sum(gain > 0 for gain in gains)),
        "median_chorale_gain_nats": float(np.median(gains)),
    }


def _bin_edges(values: np.ndarray) -> np.ndarray:
    """Model-space bin edges around sorted data values: midpoints, open at both ends."""
    from impsy.model.params import SCALE

    scaled = np.asarray(values, dtype=np.float32).astype(np.float64) * SCALE
    return np.concatenate([[-np.inf], (scaled[1:] + scaled[:-1]) / 2, [np.inf]])


def _normal_cdf(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """The normal CDF, broadcast (NumPy has no erf; the benchmark needs no SciPy)."""
    from math import erf, sqrt

    z = (x - mu) / (sigma * sqrt(2))
    return 0.5 * (1 + np.frompyfunc(erf, 1, 1)(z).astype(np.float64))


def lead_bins(raw: np.ndarray, lower: np.ndarray, k: int) -> np.ndarray:
    """P(dt bin, soprano bin) of the next row, given its lower voices ``lower`` (data space).

    The components are reweighted by their density at ``lower`` (the lower
    voices the model already played), then each one's dt and soprano masses
    over the bins multiply (diagonal components). Shape (len(LEAD_DTS), len(LEAD_NOTES)).
    """
    from impsy.model.params import SCALE

    d = 5
    v = np.asarray(raw, dtype=np.float64)
    mu = v[: k * d].reshape(k, d)
    sigma = v[k * d : 2 * k * d].reshape(k, d)
    logits = v[2 * k * d :]
    x = np.asarray(lower, dtype=np.float32).astype(np.float64) * SCALE
    dims = list(FILLED)
    log_w = logits - 0.5 * (((x - mu[:, dims]) / sigma[:, dims]) ** 2).sum(1)
    log_w -= np.log(sigma[:, dims]).sum(1)
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    dt_edges = _bin_edges(np.array(LEAD_DTS))
    note_edges = _bin_edges(np.array(LEAD_NOTES) / 127)
    dt_mass = np.diff(_normal_cdf(dt_edges[None, :], mu[:, :1], sigma[:, :1]), axis=1)
    note_mass = np.diff(_normal_cdf(note_edges[None, :], mu[:, 1:2], sigma[:, 1:2]), axis=1)
    return np.einsum("k,ki,kj->ij", w, dt_mass, note_mass)


def lead_nll_table(model, chorales: list[np.ndarray]) -> dict:
    """(a) for a lead model: conditional by the network, unconditional summed over (dt, soprano)."""
    from impsy.dataset.chorales import lead_events
    from impsy.model.steering import log_prob

    d, k = model.dimension, model.mixtures
    per_chorale, covered = [], []
    for absolute in chorales:
        rows = lead_events(absolute)
        model.reset()
        before = model.step(rows[0]).raw.copy()
        cond, uncond = [], []
        for t in range(1, len(rows)):
            target = np.zeros(d, dtype=np.float32)
            target[list(FILLED)] = absolute[t, 2:]
            state = model.state()
            mass = lead_bins(before, rows[t, 2:], k)
            order = np.argsort(mass.ravel())[::-1]
            total = np.cumsum(mass.ravel()[order])
            keep = order[: int(np.searchsorted(total, LEAD_COVER)) + 1]
            covered.append(float(total[len(keep) - 1]))
            terms = []
            for flat in keep:
                i, j = divmod(int(flat), len(LEAD_NOTES))
                x = rows[t].copy()
                x[0], x[1] = LEAD_DTS[i], LEAD_NOTES[j] / 127
                model.set_state(state)
                raw = model.step(x).raw
                terms.append(np.log(mass.ravel()[flat]) + log_prob(raw, target, d, k, FILLED))
            model.set_state(state)
            before = model.step(rows[t]).raw.copy()
            cond.append(-log_prob(before, target, d, k, FILLED))
            top = max(terms)
            uncond.append(-(top + np.log(np.sum(np.exp(np.array(terms) - top)))))
        per_chorale.append((cond, uncond))
    return {**_nll_summary(per_chorale), "least_covered": min(covered)}


def in_key(notes: np.ndarray, tonic: int, mode: str) -> np.ndarray:
    from impsy.dataset.chorales import key_steps

    classes = {(tonic + step) % 12 for step in key_steps(mode)}
    return np.isin(notes % 12, sorted(classes))


def key_table(
    model,
    chorales: list[np.ndarray],
    keys: list[dict],
    seed: int,
    relative: bool = False,
    lead: bool = False,
) -> list[dict]:
    """(b): the share of drawn alto, tenor and bass notes inside the chorale's key.

    For a relative model the key constraint is, at each event, the intervals
    below the held soprano that land on the key's notes
    (:func:`impsy.dataset.chorales.interval_region`), and a drawn interval
    plays as :func:`impsy.dataset.chorales.relative_note`.
    """
    from impsy.dataset.chorales import (
        interval_region,
        key_steps,
        relative_events,
        relative_note,
    )
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
            for absolute, key in zip(chorales, keys, strict=True):
                rows = relative_events(absolute) if relative else absolute  # lead: absolute
                allowed = scale_notes(key["tonic"], key_steps(key["mode"]))
                regions = {}
                if constrained and not relative:
                    region = Region.notes(allowed)
                    regions = {dim: region for dim in FILLED}
                if lead:  # the lower voices are drawn from their marginal: nothing is held
                    steering = Steering(d, k, regions=regions)
                    model.reset()
                    model.step(rows[0])  # its own chord as the one before (lead_events)
                    lower = rows[0, 2:]
                    for t in range(1, len(rows)):
                        x = np.concatenate([rows[t, :2], lower]).astype(np.float32)
                        raw = model.step(x).raw
                        played, fell_back = steering.draw(raw, x, pi_temp, sigma_temp, rng)
                        fallbacks += fell_back
                        lower = np.asarray(played, dtype=np.float32)[list(FILLED)]
                        drawn = np.array([to_seven_bit(value) for value in lower])
                        inside += int(in_key(drawn, key["tonic"], key["mode"]).sum())
                        total += drawn.size
                    continue
                steering = Steering(d, k, held=HELD, regions=regions)
                model.reset()
                played = rows[0]
                for t in range(1, len(rows)):
                    raw = model.step(np.asarray(played, dtype=np.float32)).raw
                    if constrained and relative:  # the allowed intervals under this soprano
                        region = Region(interval_region(to_seven_bit(rows[t][1]), allowed))
                        steering = Steering(d, k, held=HELD, regions=dict.fromkeys(FILLED, region))
                    played, fell_back = steering.draw(raw, rows[t], pi_temp, sigma_temp, rng)
                    fallbacks += fell_back
                    if relative:
                        drawn = np.array([relative_note(played[1], played[dim]) for dim in FILLED])
                    else:
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


def encoding_of(path: str) -> str:
    """``relative``, ``lead`` or ``absolute``: a model file's encoding (its name says so)."""
    name = Path(path).name
    return "relative" if "relative" in name else "lead" if "lead" in name else "absolute"


ENCODINGS = {
    "absolute": "absolute",
    "relative": "relative: dt, soprano, intervals below it",
    "lead": "lead: dt and soprano one event ahead of alto, tenor and bass",
}


def report(path: str, nll: dict, keyed: list[dict], seed: int) -> None:
    print(f"model {path} ({ENCODINGS[encoding_of(path)]})")
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
    print(f"(b) alto, tenor and bass notes inside the chorale's key (seed {seed})")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        action="append",
        help="a .keras/.h5/.tflite, dimension 5 (repeatable; a name containing 'relative' "
        "or 'lead' is read as that encoding); default: the shipped chorale model(s)",
    )
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
    numbers = ", ".join(str(entry["riemenschneider"]) for entry in manifest["heldout"])
    print(f"held-out chorales (Riemenschneider): {numbers}")
    print()
    results = []
    shipped = [str(path) for path in (MODEL, RELATIVE_MODEL, LEAD_MODEL) if path.is_file()]
    for path in args.model or shipped:
        model = load_model(path, engine="numpy")
        if model.dimension != 5:
            print(f"{path}: dimension {model.dimension}, expected 5")
            return 1
        encoding = encoding_of(path)
        relative, lead = encoding == "relative", encoding == "lead"
        start = time.perf_counter()
        nll = lead_nll_table(model, chorales) if lead else nll_table(model, chorales, relative)
        keyed = key_table(model, chorales, keys, args.seed, relative, lead)
        seconds = time.perf_counter() - start
        report(path, nll, keyed, args.seed)
        print(f"({seconds:.1f} s)")
        print()
        results.append(
            {"model": path, "encoding": encoding, "nll": nll, "in_key": keyed, "seconds": seconds}
        )
    if args.json:
        result = {"models": results, "seed": args.seed}
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
