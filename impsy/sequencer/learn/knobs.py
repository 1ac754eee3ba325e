"""Playing a pattern model: latent knobs, generate, vary, interpolate, and the decoded steps.

The performer moves a point in the model's latent space (2 to 4 knobs, each
-3..3, the range the prior covers); the point decodes to a bar: per step the
probability that it plays, a velocity and a micro-timing offset. A step plays
when its probability is above ``threshold`` (0.5 by default: a knob for
sparser or denser bars). ``generate`` draws a point where the training bars
are (see ``PatternKnobs.generate``), ``vary`` moves a little from the current point,
``interpolate`` walks between two bars' points (two patterns of the bank,
encoded). Pure logic: a generator comes in for randomness, nothing here
knows the clock or the sequencer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impsy.sequencer.learn.vae import LATENT_RANGE, PatternVAE

VARY_SCALE = 0.3
"""How far ``vary`` moves at amount 1: 0.3 of the prior's standard deviation per knob."""
GENERATE_TRIES = 16
"""Points ``generate`` draws at once, the first whose bar is as dense as a training bar kept."""
GENERATE_REACH = 2.0
"""...each at most this many of its bar's posterior standard deviations from that bar's mean."""


@dataclass
class DecodedBar:
    """One bar as the sequencer takes it: which steps play, their velocities and offsets."""

    on: np.ndarray
    """``(tracks, steps)`` booleans."""
    velocity: np.ndarray
    """``(tracks, steps)`` MIDI velocities 1-127 (meaningful where ``on``)."""
    offset: np.ndarray
    """``(tracks, steps)`` micro-timing, -0.5..0.5 of a step."""
    probability: np.ndarray
    """``(tracks, steps)``: what the model gave each step (for showing it)."""


class PatternKnobs:
    """A pattern model and the point the performer has put its knobs at."""

    def __init__(self, model: PatternVAE, threshold: float = 0.5) -> None:
        self.model = model
        self.point = np.zeros(model.latent)
        self.threshold = threshold

    def set_knob(self, index: int, value: float) -> None:
        if not 0 <= index < self.model.latent:
            raise ValueError(f"knob {index} does not exist; the model has {self.model.latent}")
        if not np.isfinite(value):
            raise ValueError(f"knob {index}: a value must be finite, got {value!r}")
        point = self.point.copy()
        point[index] = float(np.clip(value, -LATENT_RANGE, LATENT_RANGE))
        self.point = point

    def set_threshold(self, value: float) -> None:
        if not 0.0 < value < 1.0:
            raise ValueError(f"a threshold is between 0 and 1, got {value!r}")
        self.threshold = float(value)

    def generate(self, rng: np.random.Generator) -> np.ndarray:
        """A new point at random, where the training bars are.

        A random training bar's posterior: its mean plus noise of its own
        standard deviation, cut off at ``GENERATE_REACH`` of them. Together
        the bars' posteriors are the aggregate posterior, the places the
        decoder was trained to read; the prior N(0, I) is only their rough
        outline, and with a few hundred bars it reaches places none of them
        encodes to, which decode to bars denser or sparser than any you gave
        it (a quarter of the prior's draws, with 100 bars). Of
        ``GENERATE_TRIES`` such points, the first whose bar (at the model's
        own call, a probability above 0.5: the threshold stays the
        performer's knob for density) is no denser and no sparser than the
        training bars is kept; if none is (rare), the bars' own points are
        tried, then the nearest to that range is taken. A model saved without
        its map draws from the prior, as Deep Steps did.
        """
        latent = self.model.latent
        corpus = self.model.corpus
        if corpus is None or not len(corpus.means):
            self.point = np.clip(rng.standard_normal(latent), -LATENT_RANGE, LATENT_RANGE)
            return self.point
        rows = rng.integers(0, len(corpus.means), GENERATE_TRIES)
        noise = np.clip(
            rng.standard_normal((GENERATE_TRIES, latent)), -GENERATE_REACH, GENERATE_REACH
        )
        drawn = corpus.means[rows] + corpus.spreads[rows] * noise
        candidates = np.clip(
            np.concatenate([drawn, corpus.means[rows]]), -LATENT_RANGE, LATENT_RANGE
        )
        density = self.model.plays(candidates).mean(axis=(1, 2))
        low, high = corpus.density.min(), corpus.density.max()
        outside = np.maximum(low - density, 0.0) + np.maximum(density - high, 0.0)
        self.point = candidates[int(np.argmin(outside))]  # the first inside, or the nearest
        return self.point

    def vary(self, rng: np.random.Generator, amount: float = 1.0) -> np.ndarray:
        """A small move around the current point: ``amount`` x 0.3 standard deviations."""
        step = rng.standard_normal(self.model.latent) * VARY_SCALE * amount
        self.point = np.clip(self.point + step, -LATENT_RANGE, LATENT_RANGE)
        return self.point

    def interpolate(self, a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
        """The point ``t`` of the way from bar ``a``'s point to bar ``b``'s (bars as the model
        reads them, ``(tracks, steps, 3)``)."""
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"t is between 0 and 1, got {t!r}")
        ends = self.model.encode(np.stack([a, b]))
        self.point = np.clip((1 - t) * ends[0] + t * ends[1], -LATENT_RANGE, LATENT_RANGE)
        return self.point

    def bar(self, point: np.ndarray | None = None) -> DecodedBar:
        """The bar the point (default: the knobs') decodes to."""
        decoded = self.model.decode(self.point if point is None else point)[0]
        probability = decoded[..., 0]
        velocity = np.clip(np.rint(decoded[..., 1] * 127), 1, 127).astype(int)
        return DecodedBar(probability > self.threshold, velocity, decoded[..., 2], probability)


def steps_changed_per_tenth(knobs: PatternKnobs, knob: int = 0, points: int = 61) -> float:
    """How smooth a knob is: steps that turn on or off per 0.1 of its travel, on average.

    Sweeps ``knob`` across -3..3 (the others where they are) and counts the
    steps whose on/off changes between neighbouring positions.
    """
    sweep = np.linspace(-LATENT_RANGE, LATENT_RANGE, points)
    base = knobs.point.copy()
    previous = None
    changed = 0
    for value in sweep:
        point = base.copy()
        point[knob] = value
        on = knobs.bar(point).on
        if previous is not None:
            changed += int((on != previous).sum())
        previous = on
    return changed / ((sweep[-1] - sweep[0]) / 0.1)
