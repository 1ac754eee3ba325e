"""What the web UI draws of a pattern model: the latent map, the decoded bar, an audio loop.

Pure functions of a model, its knobs and a loop file, answering plain JSON-ready
dicts; nothing here knows the web server or the clock.

**The map.** A model has 2 to 4 knobs and a screen two dimensions. With two
knobs the map's axes are the knobs themselves. With three or four, the map
is the plane of the two principal components of the training bars' points
(their posterior means, kept in the model file when it was trained): the
plane in which the training bars differ most. Why not simply knobs 1 and 2:
a VAE trained on a small corpus often leaves a knob or two nearly unused
(their posterior collapses to the prior, so every bar sits near 0 on them);
if those were knobs 1 and 2, every pattern would be drawn in one blob. A
linear projection, unlike t-SNE or UMAP, places the knobs' point on the same
map exactly (the same projection, no refitting), keeps distances honest
(two bars far apart on the map are far apart in the model), and shows each
knob as an arrow: moving knob k by 1 moves the point along that arrow. How
much of the bars' spread the plane shows is given (``explained``).

**The decoded bar** is per track and step the probability that the step
plays, with the threshold above which it does.

**An audio loop** is drawn as its waveform (a min/max envelope per column),
per band the detection function (the level's rise) with the threshold it
had to pass, the onsets found, and the step grid at the loop's tempo with
the steps the onsets landed on: why each step was found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from impsy.sequencer.learn.audio import BANDS, bar_count, detect, place, read_audio
from impsy.sequencer.learn.knobs import PatternKnobs
from impsy.sequencer.learn.vae import PatternVAE

MAX_MAP_POINTS = 5000
"""At most this many training bars are drawn (evenly chosen); a corpus may have 20,000."""
COLUMNS = 1000
"""Columns of a loop's waveform and detection functions."""


def _rounded(values: np.ndarray, places: int = 3) -> list[Any]:
    return np.round(np.asarray(values, dtype=np.float64), places).tolist()


def map_axes(model: PatternVAE) -> tuple[np.ndarray, float]:
    """``(latent, 2)``: how a point of the knobs becomes a point of the map, and the share
    of the training points' variance the map shows (see the module docstring)."""
    latent = model.latent
    means = model.corpus.means if model.corpus is not None else np.zeros((0, latent))
    spread = means - means.mean(axis=0) if len(means) else means
    total = float((spread**2).sum())
    if latent == 2 or len(means) < 2 or total <= 0.0:
        axes = np.eye(latent)[:, :2]
    else:
        values, vectors = np.linalg.eigh(spread.T @ spread)  # ascending
        axes = vectors[:, ::-1][:, :2].copy()
        for k in range(2):  # a sign that does not flip between two runs of the same model
            if axes[np.argmax(np.abs(axes[:, k])), k] < 0:
                axes[:, k] *= -1
    shown = float(((spread @ axes) ** 2).sum()) / total if total > 0 else 1.0
    return axes, shown


def map_view(model: PatternVAE, limit: int = MAX_MAP_POINTS) -> dict[str, Any]:
    """Every training bar on the map (at most ``limit``, evenly chosen), the knobs as
    arrows, and the files the bars came from."""
    axes, explained = map_axes(model)
    corpus = model.corpus
    if corpus is None:
        points, source, sources, total = np.zeros((0, 2)), np.zeros(0, int), [], 0
    else:
        total = len(corpus.means)
        chosen = np.arange(total)
        if total > limit:
            chosen = np.linspace(0, total - 1, limit).round().astype(int)
        points = corpus.means[chosen] @ axes
        source, sources = corpus.source[chosen], corpus.sources
    label = "knobs 1 and 2" if model.latent == 2 else "the training bars' two main directions"
    return {
        "knobs": model.latent,
        "axes": _rounded(axes),
        "plane": label,
        "explained": round(explained, 3),
        "points": _rounded(points),
        "source": np.asarray(source, dtype=int).tolist(),
        "sources": list(sources),
        "total": total,
    }


def knobs_view(knobs: PatternKnobs, axes: np.ndarray) -> dict[str, Any]:
    """Where the knobs are (on the map too) and the bar they decode to, as probabilities."""
    bar = knobs.bar()
    return {
        "point": _rounded(knobs.point),
        "at": _rounded(knobs.point @ axes),
        "threshold": knobs.threshold,
        "probability": _rounded(bar.probability),
        "velocity": bar.velocity.tolist(),
        "on": bar.on.tolist(),
    }


def _columns(values: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``columns`` the lowest and highest of ``values`` (a waveform's envelope)."""
    starts = np.linspace(0, len(values), columns + 1)[:-1].astype(int)  # columns <= values
    low = np.minimum.reduceat(values, starts)
    high = np.maximum.reduceat(values, starts)
    return low, high


def loop_view(path: str | Path, tempo: float, steps: int = 16, columns: int = COLUMNS) -> dict:
    """A loop as the web UI draws it (see the module docstring); a CorpusError for a file
    that cannot be read, naming it."""
    samples, rate = read_audio(path)
    onsets = detect(samples, rate)
    count, problem = bar_count(onsets.seconds, tempo)
    columns = max(1, min(columns, len(samples)))
    low, high = _columns(samples, columns)
    frames = onsets.flux.shape[1]
    flux_columns = max(1, min(columns, frames))
    flux = [_columns(band, flux_columns)[1] for band in onsets.flux]
    hits = place(onsets, count, tempo, steps)
    step_s = 4 * 60.0 / tempo / steps
    return {
        "name": Path(path).name,
        "seconds": round(onsets.seconds, 4),
        "rate": rate,
        "tempo": tempo,
        "bars": count,
        "steps": steps,
        "step_s": step_s,
        "problem": problem,
        "envelope": {"low": _rounded(low), "high": _rounded(high)},
        "bands": [
            {
                "name": name,
                "flux": _rounded(values, 2),
                "flux_start": round(float(onsets.frame_time(0)), 5),
                "flux_end": round(float(onsets.frame_time(frames - 1)), 5),
                "threshold": round(onsets.thresholds[b], 2),
            }
            for b, ((name, _, _), values) in enumerate(zip(BANDS, flux, strict=True))
        ],
        "onsets": [
            {
                "band": hit.band,
                "time": round(hit.time, 4),
                "strength": round(hit.strength, 3),
                "step": hit.step,
                "offset": round(hit.offset, 3),
            }
            for hit in hits
        ],
    }
