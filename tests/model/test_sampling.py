"""The sampling helpers, checked against hand-computed values and their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from impsy.model import MixtureParams
from impsy.model.sampling import mixture_weights, pick_mixture, sample_params


def test_mixture_weights_is_a_tempered_softmax():
    # softmax([0, ln 3]) = [1/4, 3/4]; at temperature 2, logits [0, ln 9] give the same
    np.testing.assert_allclose(mixture_weights(np.array([0.0, math.log(3)]), 1.0), [0.25, 0.75])
    np.testing.assert_allclose(mixture_weights(np.array([0.0, math.log(9)]), 2.0), [0.25, 0.75])


def test_mixture_weights_survive_huge_logits():
    weights = mixture_weights(np.array([1000.0, 1000.0 + math.log(3)]), 1.0)
    np.testing.assert_allclose(weights, [0.25, 0.75])


@pytest.mark.parametrize(
    ("u", "expected"), [(0.0, 0), (0.1, 0), (0.25, 0), (0.26, 1), (0.6, 1), (0.99, 2)]
)
def test_pick_mixture_takes_the_first_cumulative_weight_reaching_u(u, expected):
    assert pick_mixture(np.array([0.25, 0.5, 0.25]), u) == expected


def test_pick_mixture_falls_back_to_the_last_component_on_rounding():
    assert pick_mixture(np.array([0.3, 0.3, 0.3999999]), 0.9999999999) == 2


def _params() -> MixtureParams:
    """Two components in two dimensions with easily recognisable means."""
    mu = [1.0, 2.0, -5.0, 7.0]
    sigma = [0.5, 0.5, 2.0, 3.0]
    logits = [0.0, math.log(3.0)]  # weights 1/4, 3/4
    return MixtureParams(np.array(mu + sigma + logits, dtype=np.float32), 2, 2)


def test_sample_params_uses_one_uniform_draw_to_pick_the_component():
    params = _params()
    for seed in range(20):
        rng = np.random.default_rng(seed)
        u = np.random.default_rng(seed).random()  # the same first draw
        k = pick_mixture(mixture_weights(params.pi_logits, 1.0), u)
        sample = sample_params(params, 1.0, 0.0, rng)
        np.testing.assert_array_equal(sample, params.mu[k])


def test_sample_params_draws_a_diagonal_normal_with_tempered_std():
    params = _params()
    rng = np.random.default_rng(0)
    draws = np.array([sample_params(params, 1e-3, 0.25, rng) for _ in range(20000)])
    # pi_temp 1e-3 always picks component 1: mean (-5, 7), std sigma * sqrt(0.25) = (1, 1.5)
    np.testing.assert_allclose(draws.mean(axis=0), [-5.0, 7.0], atol=0.05)
    np.testing.assert_allclose(draws.std(axis=0), [1.0, 1.5], rtol=0.03)
    assert abs(np.corrcoef(draws.T)[0, 1]) < 0.03  # independent dimensions


def test_sample_params_component_frequencies_follow_the_weights():
    params = _params()
    rng = np.random.default_rng(1)
    draws = np.array([sample_params(params, 1.0, 0.0, rng) for _ in range(8000)])
    share_second = np.mean(draws[:, 0] == np.float32(-5.0))
    assert abs(share_second - 0.75) < 0.02


def test_same_seed_same_samples():
    params = _params()
    a = [sample_params(params, 1.5, 0.01, np.random.default_rng(42)) for _ in range(3)]
    b = [sample_params(params, 1.5, 0.01, np.random.default_rng(42)) for _ in range(3)]
    np.testing.assert_array_equal(a, b)
