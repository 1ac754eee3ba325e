"""Temperature guidance: the W1 distance, the features, free running and the recommendation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from impsy.engine.playback import plan_playback
from impsy.model import ModelError, load_model
from impsy.model.guidance import (
    MIN_DT,
    Distances,
    Features,
    Reference,
    SortedSample,
    as_played,
    free_run,
    guide,
    normalised_distance,
    seed_states,
    split_steps,
    spread,
    wasserstein_1d,
)
from impsy.model.nll import read_performances
from impsy.model.params import MixtureParams
from tests.paths import DATA, MODELS

MODEL = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.keras"
DATA_9D = DATA / "training-dataset-9d.npz"


# ------------------------------------------------------------------ distances
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0.0], [1.0], 1.0),
        ([0.0, 1.0], [0.0, 1.0], 0.0),
        ([1.0, 2.0, 3.0], [3.5, 4.5, 5.5], 2.5),  # a shift moves every quantile by it
        # quantiles of a: 0 on [0, 2/3), 3 on [2/3, 1]; b is 1: 2/3 * 1 + 1/3 * 2
        ([0.0, 0.0, 3.0], [1.0], 4.0 / 3.0),
        # a: 0 on [0, 1/2), 1 after; b: 0, 0.5, 1 by thirds: they differ by 0.5 on [1/3, 2/3)
        ([0.0, 1.0], [0.0, 0.5, 1.0], 1.0 / 6.0),
        # F_a - F_b: 1/2 on [0, 1), 0 on [1, 2), -1/2 on [2, 4)... by hand: 0.5 + 0 + 0.5 * 2
        ([0.0, 2.0], [1.0, 4.0], 1.5),
    ],
)
def test_wasserstein_against_hand_computed_values(a, b, expected):
    assert wasserstein_1d(a, b) == pytest.approx(expected, abs=1e-12)
    assert wasserstein_1d(b, a) == pytest.approx(expected, abs=1e-12)
    assert SortedSample(b).distance(a) == pytest.approx(expected, abs=1e-12)
    assert SortedSample(a).distance(b) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (5, 3), (7, 13), (400, 9461), (100, 100)])
def test_the_fast_distance_is_the_definition(n, m):
    rng = np.random.default_rng(n * 1000 + m)
    a, b = rng.standard_normal(n), rng.exponential(size=m)
    assert SortedSample(b).distance(a) == pytest.approx(wasserstein_1d(a, b), rel=1e-12, abs=1e-12)
    a, b = np.round(a * 2) / 2, np.round(b * 2) / 2  # ties, within and across the samples
    assert SortedSample(b).distance(a) == pytest.approx(wasserstein_1d(a, b), rel=1e-12, abs=1e-12)


def test_empty_samples_are_refused():
    with pytest.raises(ValueError):
        wasserstein_1d([], [1.0])
    with pytest.raises(ValueError):
        SortedSample([1.0]).distance([])
    with pytest.raises(ValueError):
        spread([])


def test_spread_is_the_distance_to_the_median_and_normalises():
    data = [0.0, 0.0, 3.0]
    assert spread(data) == pytest.approx(1.0)  # median 0: (0 + 0 + 3) / 3
    assert spread(data) == pytest.approx(wasserstein_1d(data, [np.median(data)]))
    assert normalised_distance([1.0], data) == pytest.approx(4.0 / 3.0)  # W1 4/3 over spread 1
    assert normalised_distance([0.0, 0.0, 3.0], data) == 0.0
    assert normalised_distance([2.0], [5.0, 5.0]) == pytest.approx(3.0)  # no spread: W1 itself


def test_the_total_weighs_the_three_groups_equally():
    d = Distances(0.3, (0.1, 0.3), (0.5, 0.7))
    assert d.change == pytest.approx(0.2) and d.value == pytest.approx(0.6)
    assert d.total == pytest.approx((0.3 + 0.2 + 0.6) / 3)
    assert Distances(0.4, (), ()).total == 0.4  # dimension 1: dt alone


# ------------------------------------------------------------------- features
def test_as_played_matches_the_engine():
    rows = np.array([[-0.5, 1.5, -0.2], [np.nan, 0.3, 0.7], [0.25, 1.0, 0.0]])
    played = as_played(rows)
    for row, out in zip(rows, played, strict=True):
        np.testing.assert_array_equal(out, plan_playback(row, 1.0).next_model_input)
    assert rows[0, 0] == -0.5, "the input is not changed"


def test_features_take_changes_within_performances_only():
    a = np.array([[0.01, 0.0, 1.0], [0.1, 0.5, 1.0]])
    b = np.array([[1.0, 1.0, 0.0], [0.0, 0.75, 0.0], [10.0, 0.5, 0.0]])
    f = Features.of([a, b])
    np.testing.assert_allclose(f.log_dt, [-2, -1, 0, -3, 1])  # dt 0 played as 1 ms
    np.testing.assert_allclose(f.changes[0], [0.5, -0.25, -0.25])  # not 0.5 -> 1.0 across
    np.testing.assert_allclose(f.changes[1], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(f.values[0], [0.0, 0.5, 1.0, 0.75, 0.5])


def test_the_data_is_at_distance_zero_from_itself():
    performances = read_performances(DATA_9D)[:6]
    reference = Reference(performances)
    d = reference.distances(Features.of(performances))
    assert d.total == pytest.approx(0.0, abs=1e-12)
    assert len(d.changes) == len(d.values) == 8


# ---------------------------------------------------------------- free running
class TwoComponents:
    """A stateless mixture: every step predicts the same two components (weights 4:1 at pi 1).

    In data space: dt 0.05 s or 0.2 s, x 0.3 or 0.7, each with std 0.1 * sqrt(sigma_temp).
    """

    dimension, mixtures = 2, 2

    def __init__(self) -> None:
        self.raw = np.array([0.5, 3.0, 2.0, 7.0, 1.0, 1.0, 1.0, 1.0, math.log(4.0), 0.0])
        self.steps = 0

    def reset(self) -> None:
        pass

    def step(self, x: np.ndarray) -> MixtureParams:
        self.steps += 1
        return MixtureParams(self.raw.copy(), self.dimension, self.mixtures)


def played_by(model, truth, states, steps, seed):
    return [
        free_run(model, s.rows, steps, *truth, np.random.default_rng([seed, i]))
        for i, s in enumerate(states)
    ]


def test_free_run_is_seeded_plays_as_the_engine_and_feeds_back():
    model = TwoComponents()
    prime = np.array([[0.1, 0.5], [0.2, 0.6]])
    a = free_run(model, prime, 300, 1.0, 4.0, np.random.default_rng(5))
    b = free_run(model, prime, 300, 1.0, 4.0, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (300, 2) and model.steps == 2 * (2 + 300)
    assert a[:, 0].min() >= MIN_DT and (a[:, 0] == MIN_DT).any()  # sigma 4: dt often below 0
    assert 0.0 <= a[:, 1].min() and a[:, 1].max() <= 1.0


def test_seed_states_are_seeded_and_fit_in_their_performances():
    performances = [np.zeros((1, 2)), np.ones((5, 2)), np.ones((100, 2))]
    states = seed_states(performances, 6, 10, np.random.default_rng(1))
    again = seed_states(performances, 6, 10, np.random.default_rng(1))
    assert [(s.performance, s.start) for s in states] == [(s.performance, s.start) for s in again]
    assert {s.performance for s in states} <= {1, 2}  # one row cannot seed a run
    for s in states:
        assert len(s.rows) == min(10, len(performances[s.performance]))
        assert s.start + len(s.rows) <= len(performances[s.performance])
    assert split_steps(10, 4) == [3, 3, 2, 2]


@pytest.mark.parametrize("truth", [(1.0, 1.0), (0.5, 4.0), (2.0, 0.25), (0.5, 0.25), (2.0, 4.0)])
def test_a_dataset_played_at_a_known_pair_gets_that_pair(truth):
    model = TwoComponents()
    states = seed_states([np.array([[0.1, 0.5], [0.1, 0.5]])], 4, 1, np.random.default_rng(0))
    data = played_by(model, truth, states, 500, seed=99)
    result = guide(model, data, (0.5, 1.0, 2.0), (0.25, 1.0, 4.0), steps=2000, seeds=4, prime=1)
    assert (result.best.pi_temp, result.best.sigma_temp) == truth
    assert result.close_to_best() == [result.best], "the others are well outside the noise"


@pytest.mark.parametrize("truth", [(1.0, 0.01), (4.0, 0.1)])
def test_the_bundled_model_recognises_its_own_playing(truth):
    model = load_model(MODEL)
    real = read_performances(DATA_9D)
    states = seed_states(real, 8, 20, np.random.default_rng(7))
    data = played_by(model, truth, states, 500, seed=7)
    result = guide(model, data, (0.25, 1.0, 4.0), (0.001, 0.01, 0.1), 2000, seeds=8, prime=20)
    assert result.best.pi_temp == truth[0]
    assert any((c.pi_temp, c.sigma_temp) == truth for c in result.close_to_best())


def test_guide_is_deterministic_and_leaves_the_model_alone():
    model = TwoComponents()
    data = [np.array([[0.05, 0.3], [0.2, 0.7], [0.05, 0.3]])] * 3
    a = guide(model, data, (0.5, 1.0), (1.0,), steps=40, seeds=2, prime=2, seed=3)
    b = guide(model, data, (0.5, 1.0), (1.0,), steps=40, seeds=2, prime=2, seed=3)
    assert [c.distances for c in a.cells] == [c.distances for c in b.cells]
    assert [(c.pi_temp, c.sigma_temp) for c in a.cells] == [(0.5, 1.0), (1.0, 1.0)]
    assert a.edges() in (["pi 0.5 is the lowest tried"], ["pi 1 is the highest tried"])
    real = load_model(MODEL, seed=1)
    before = real.rng.bit_generator.state
    guide(real, read_performances(DATA_9D)[:3], (1.0,), (0.01,), steps=20, seeds=2, prime=5)
    assert real.rng.bit_generator.state == before
    assert (real.pi_temp, real.sigma_temp) == (1.0, 0.01)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pi_temps": ()}, "grid is empty"),
        ({"pi_temps": (0.0,)}, "pi temperature"),
        ({"sigma_temps": (float("nan"),)}, "sigma temperature"),
        ({"sigma_temps": (0.0,)}, "sigma temperature"),
        ({"steps": 3, "seeds": 2}, "2 steps per seed state"),
    ],
)
def test_bad_grids_are_model_errors(kwargs, message):
    data = [np.zeros((3, 2))]
    with pytest.raises(ModelError, match=message):
        guide(TwoComponents(), data, **kwargs)


def test_data_of_the_wrong_dimension_or_too_short_is_a_model_error():
    with pytest.raises(ModelError, match="data has dimension 3 but the model is dimension 2"):
        guide(TwoComponents(), [np.zeros((4, 3))])
    with pytest.raises(ModelError, match="two or more rows"):
        guide(TwoComponents(), [np.zeros((1, 2))])
