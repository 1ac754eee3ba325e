"""Playing a pattern model (impsy/sequencer/learn/knobs.py): knobs, generate, vary,
interpolate, and how smoothly a knob changes the bar."""

from __future__ import annotations

import numpy as np
import pytest

from impsy.sequencer.learn.knobs import PatternKnobs, steps_changed_per_tenth
from impsy.sequencer.learn.vae import PatternVAE
from tests.sequencer.test_pattern_vae import STYLES, corpus


@pytest.fixture(scope="module")
def trained() -> tuple[PatternVAE, np.ndarray, np.ndarray]:
    bars, styles = corpus(400)
    model = PatternVAE(tracks=4, steps=16, latent=2, seed=0)
    model.fit(bars, epochs=150)
    return model, bars, styles


def grid(style: int) -> np.ndarray:
    return np.array([[c == "1" for c in track] for track in STYLES[style]])


def test_interpolating_between_two_bars_goes_from_one_to_the_other(trained):
    model, bars, styles = trained
    knobs = PatternKnobs(model)
    a, b = bars[np.flatnonzero(styles == 0)[0]], bars[np.flatnonzero(styles == 1)[0]]
    knobs.interpolate(a, b, 0.0)
    assert (knobs.bar().on != grid(0)).sum() <= 3
    knobs.interpolate(a, b, 1.0)
    assert (knobs.bar().on != grid(1)).sum() <= 3
    knobs.interpolate(a, b, 0.5)
    middle = knobs.bar().on
    assert (middle != grid(0)).sum() > 3 or (middle != grid(1)).sum() > 3, "somewhere between"


def test_a_knob_moves_the_point_and_the_bar_follows_it(trained):
    model, bars, styles = trained
    knobs = PatternKnobs(model)
    point = model.encode(bars[np.flatnonzero(styles == 2)[:1]])[0]
    knobs.set_knob(0, point[0])
    knobs.set_knob(1, point[1])
    assert (knobs.bar().on != grid(2)).sum() <= 3
    knobs.set_knob(0, 99.0)  # clipped into the knobs' range
    assert knobs.point[0] == 3.0
    with pytest.raises(ValueError, match="knob 2 does not exist; the model has 2"):
        knobs.set_knob(2, 0.0)


def test_generate_and_vary_are_seeded_and_vary_stays_near(trained):
    model, _, _ = trained
    a, b = PatternKnobs(model), PatternKnobs(model)
    np.testing.assert_array_equal(
        a.generate(np.random.default_rng(4)), b.generate(np.random.default_rng(4))
    )
    start = a.point.copy()
    moved = a.vary(np.random.default_rng(5), amount=1.0)
    assert 0 < np.linalg.norm(moved - start) < 1.5


@pytest.fixture(scope="module")
def small() -> tuple[PatternVAE, np.ndarray, np.ndarray]:
    """A model of only 100 bars, 4 knobs, with its map: where the prior reaches past the bars."""
    bars, styles = corpus(100, seed=4)
    model = PatternVAE(tracks=4, steps=16, latent=4, seed=0)
    model.fit(bars, epochs=300)
    model.remember(bars)
    return model, bars, styles


def test_generated_bars_are_as_dense_as_the_training_bars_and_as_varied(small):
    """1,000 bars from ``generate``: every one's density (steps that play, at threshold 0.5)
    within the training bars' lowest and highest, the styles in about the corpus's shares."""
    model, bars, styles = small
    knobs = PatternKnobs(model)
    rng = np.random.default_rng(7)
    points = np.array([knobs.generate(rng).copy() for _ in range(1000)])
    on = model.decode(points)[..., 0] > 0.5
    density = on.mean(axis=(1, 2))
    trained = bars[..., 0].mean(axis=(1, 2))
    assert trained.min() <= density.min() and density.max() <= trained.max()
    assert len(np.unique(points, axis=0)) == 1000, "a new point every time"
    grids = np.array([grid(s) for s in range(len(STYLES))])
    nearest = np.array([np.argmin([(bar != g).sum() for g in grids]) for bar in on])
    for style in range(len(STYLES)):
        assert abs((nearest == style).mean() - (styles == style).mean()) < 0.1, style
    bare = PatternVAE(tracks=4, steps=16, latent=4, seed=0)  # saved without its map: the prior
    bare.params = model.params
    drawn = PatternKnobs(bare).generate(np.random.default_rng(7))
    np.testing.assert_array_equal(drawn, np.random.default_rng(7).standard_normal(4))


def test_the_threshold_makes_bars_sparser_or_denser(trained):
    model, _, _ = trained
    knobs = PatternKnobs(model)
    knobs.generate(np.random.default_rng(1))
    dense = knobs.bar().on.sum()
    knobs.set_threshold(0.9)
    assert knobs.bar().on.sum() <= dense
    knobs.set_threshold(0.1)
    assert knobs.bar().on.sum() >= dense
    with pytest.raises(ValueError, match="between 0 and 1"):
        knobs.set_threshold(1.0)


def test_moving_a_knob_slowly_changes_few_steps(trained):
    """Smoothness, measured: steps that turn on or off per 0.1 of a knob's travel."""
    model, _, _ = trained
    knobs = PatternKnobs(model)
    rates = [steps_changed_per_tenth(knobs, knob) for knob in (0, 1)]
    assert max(rates) < 2.0, rates
