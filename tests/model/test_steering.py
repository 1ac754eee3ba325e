"""Steering a step's mixture, checked against brute force on fixed weights.

The references here never use the formulas under test: conditioning is
checked against rejection (keep unconditioned draws whose held values land in
a tiny window) and against importance weighting; truncation against rejection
from IMPSY's tempered draw; the dt tilt against importance weights
``exp(-lambda dt)``. Agreement is asked within five standard errors, on fixed
seeds, so the tests are deterministic. The surprise is checked against
``impsy evaluate`` on the bundled model and a log written here.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

from impsy.cli.evaluate import evaluate as evaluate_command
from impsy.dataset.logs import INTERFACE, RNN, format_log_line, read_log_file
from impsy.dataset.npz import write_dataset
from impsy.mapping.midi import to_seven_bit
from impsy.model import load_model, nll
from impsy.model.params import SCALE
from impsy.model.sampling import draw as plain_draw
from impsy.model.steering import (
    MIN_MASS,
    Region,
    Steering,
    _CompiledRegion,
    interval_log_mass,
    log_prob,
    log_upper_tail,
    note_intervals,
    scale_notes,
    surprise,
    truncated_standard_normal,
    upper_tail_quantile,
)
from tests.paths import ROOT

BUNDLED = ROOT / "impsy" / "data" / "models"
MODEL = BUNDLED / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.keras"

# A fixed mixture in model space (data x 10): 3 components over [dt, x1, x2, x3].
# x3's means are far apart (7 stds), so a draw's x3 tells its component.
MU = np.array(
    [
        [1.0, 2.0, 5.0, 2.0],
        [2.0, 6.0, 4.0, 6.0],
        [0.5, 4.0, 8.0, 4.0],
    ]
)
SIGMA = np.array(
    [
        [0.5, 1.0, 0.8, 0.25],
        [0.7, 0.6, 1.2, 0.3],
        [0.3, 1.5, 0.9, 0.25],
    ]
)
LOGITS = np.array([0.2, -0.3, 0.5])
K, D = MU.shape
RAW = np.concatenate([MU.ravel(), SIGMA.ravel(), LOGITS])


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def reference_draws(
    n: int, pi_temp: float, sigma_temp: float, seed: int, keep=None
) -> tuple[np.ndarray, np.ndarray]:
    """IMPSY's tempered draw, vectorised: (components, data-space events).

    ``keep`` (events -> mask) filters each chunk as it is drawn, so a rejection
    reference of millions of draws never holds them all at once.
    """
    rng = np.random.default_rng(seed)
    weights = softmax(LOGITS / pi_temp)
    ks, xs = [], []
    for size in [500_000] * (n // 500_000) + [n % 500_000]:
        k = rng.choice(K, size=size, p=weights)
        x = (MU[k] + SIGMA[k] * math.sqrt(sigma_temp) * rng.standard_normal((size, D))) / SCALE
        if keep is not None:
            mask = keep(x)
            k, x = k[mask], x[mask]
        ks.append(k)
        xs.append(x)
    return np.concatenate(ks), np.concatenate(xs)


def steered_draws(
    steering: Steering, n: int, pi_temp: float, sigma_temp: float, seed: int, held=None
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    held = np.zeros(D) if held is None else held
    out = [steering.draw(RAW, held, pi_temp, sigma_temp, rng) for _ in range(n)]
    return np.array([x for x, _ in out]), np.array([f for _, f in out])


def component_of(x3: np.ndarray) -> np.ndarray:
    """The component a draw came from, read off its well-separated x3."""
    return np.abs(x3[:, None] * SCALE - MU[:, 3][None, :]).argmin(axis=1)


def weighted_moments(x: np.ndarray, w: np.ndarray):
    """Self-normalised mean, variance, and the standard errors of both (delta method)."""
    w = w / w.sum()
    mean = (w[:, None] * x).sum(axis=0)
    centred = x - mean
    var = (w[:, None] * centred**2).sum(axis=0)
    ess = 1.0 / (w**2).sum()
    fourth = (w[:, None] * centred**4).sum(axis=0)
    return mean, var, np.sqrt(var / ess), np.sqrt(np.maximum(fourth - var**2, 0) / ess)


def assert_same_distribution(samples: np.ndarray, reference: np.ndarray, weights=None, dims=None):
    """Means and variances agree within five standard errors (both sides' errors)."""
    dims = list(range(samples.shape[1])) if dims is None else dims
    ref_w = np.ones(len(reference)) if weights is None else weights
    m1, v1, se_m1, se_v1 = weighted_moments(samples[:, dims], np.ones(len(samples)))
    m2, v2, se_m2, se_v2 = weighted_moments(reference[:, dims], ref_w)
    assert np.all(np.abs(m1 - m2) < 5 * np.hypot(se_m1, se_m2)), (m1, m2)
    assert np.all(np.abs(v1 - v2) < 5 * np.hypot(se_v1, se_v2)), (v1, v2)


def assert_same_frequencies(p: np.ndarray, counts_or_weights: np.ndarray, n_eff: float):
    se = np.sqrt(np.maximum(p * (1 - p), 1e-12) / n_eff)
    assert np.all(np.abs(p - counts_or_weights) < 5 * se + 1e-12), (p, counts_or_weights)


# --- conditioning ---------------------------------------------------------------------------


def test_conditioning_on_one_dimension_matches_rejection_from_the_unconditioned_mixture():
    held = np.array([0.0, 0.45, 0.0, 0.0])  # x1 held at 0.45 (model space 4.5)
    # the brute force: keep the unconditioned draws whose x1 lands next to 0.45
    k, x = reference_draws(
        4_000_000, 1.0, 1.0, seed=1, keep=lambda x: np.abs(x[:, 1] - 0.45) < 0.002
    )
    assert len(k) > 15_000
    steering = Steering(D, K, held=[1])
    weighing = steering.weigh(RAW, held, 1.0, 1.0)
    frequencies = np.bincount(k, minlength=K) / len(k)
    assert_same_frequencies(np.array(weighing.probabilities), frequencies, len(k))
    samples, fallbacks = steered_draws(steering, 40_000, 1.0, 1.0, seed=2, held=held)
    assert not fallbacks.any()
    assert np.all(samples[:, 1] == 0.45)  # returned exactly
    assert_same_distribution(samples, x, dims=[0, 2, 3])
    picked = np.bincount(component_of(samples[:, 3]), minlength=K) / len(samples)
    assert_same_frequencies(frequencies, picked, min(len(k), len(samples)) / 2)


def test_conditioning_on_two_dimensions_matches_importance_sampling():
    held = np.array([0.09, 0.0, 0.55, 0.0])  # dt and x2 held
    k, x = reference_draws(2_000_000, 1.0, 1.0, seed=3)
    # importance weight of each unconditioned draw: its component's density at the held values
    h = held[[0, 2]] * SCALE
    z = (h - MU[k][:, [0, 2]]) / SIGMA[k][:, [0, 2]]
    w = np.exp(-0.5 * (z**2).sum(axis=1)) / SIGMA[k][:, [0, 2]].prod(axis=1)
    steering = Steering(D, K, held=[2, 0])
    probabilities = np.array(steering.weigh(RAW, held, 1.0, 1.0).probabilities)
    reference = np.bincount(k, weights=w, minlength=K) / w.sum()
    ess = w.sum() ** 2 / (w**2).sum()
    assert_same_frequencies(probabilities, reference, ess)
    samples, _ = steered_draws(steering, 40_000, 1.0, 1.0, seed=4, held=held)
    assert np.all(samples[:, 0] == 0.09) and np.all(samples[:, 2] == 0.55)
    assert_same_distribution(samples, x, weights=w, dims=[1, 3])


def test_conditioning_then_temperatures_is_softmax_of_conditional_logits():
    held = np.array([0.0, 0.3, 0.0, 0.62])
    steering = Steering(D, K, held=[1, 3])
    loglik = -np.log(SIGMA[:, [1, 3]]).sum(axis=1) - 0.5 * (
        ((held[[1, 3]] * SCALE - MU[:, [1, 3]]) / SIGMA[:, [1, 3]]) ** 2
    ).sum(axis=1)
    for pi_temp in (0.5, 1.0, 3.0):
        expected = softmax((LOGITS + loglik) / pi_temp)
        got = steering.weigh(RAW, held, pi_temp, 0.3).probabilities
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_held_values_come_back_bit_for_bit():
    rng = np.random.default_rng(5)
    steering = Steering(D, K, held=[0, 2], regions={1: Region.between(0.1, 0.3)}, dt_tilt=2.0)
    for value in rng.normal(0.0, 3.0, (50, D)):
        out, _ = steering.draw(RAW, value, 1.3, 0.05, rng)
        assert out[0] == value[0] and out[2] == value[2]
        assert 0.1 <= out[1] <= 0.3


def test_held_values_no_component_explains_fall_back_to_the_plain_weights():
    steering = Steering(D, K, held=[1])
    held = np.array([0.0, 1e200, 0.0, 0.0])
    weighing = steering.weigh(RAW, held, 1.0, 1.0)
    assert weighing.fallback
    np.testing.assert_allclose(weighing.probabilities, softmax(LOGITS), rtol=1e-12)
    out, fallback = steering.draw(RAW, held, 1.0, 1.0, np.random.default_rng(0))
    assert fallback and out[1] == 1e200
    with pytest.raises(ValueError, match="finite"):
        steering.draw(RAW, np.array([0.0, math.nan, 0, 0]), 1.0, 1.0, np.random.default_rng(0))


def test_nothing_steered_is_impsys_draw_exactly():
    steering = Steering(D, K)
    assert steering.plain
    for seed in range(20):
        got, fallback = steering.draw(RAW, np.zeros(D), 1.5, 0.1, np.random.default_rng(seed))
        expected = plain_draw(RAW, D, K, 1.5, 0.1, np.random.default_rng(seed), 1 / SCALE)
        assert not fallback
        np.testing.assert_array_equal(got, expected)


def test_held_only_draws_what_impsy_draws_from_the_conditional_weights():
    """Same random stream as IMPSY: one uniform for the component, D normals."""
    held = np.array([0.0, 0.52, 0.0, 0.0])
    steering = Steering(D, K, held=[1])
    p = np.array(steering.weigh(RAW, held, 0.7, 0.2).probabilities)
    for seed in range(20):
        got, _ = steering.draw(RAW, held, 0.7, 0.2, np.random.default_rng(seed))
        rng = np.random.default_rng(seed)
        k = int(np.searchsorted(np.cumsum(p), rng.random()))
        expected = (MU[k] + SIGMA[k] * rng.normal(0.0, math.sqrt(0.2), D)) / SCALE
        expected[1] = 0.52
        np.testing.assert_allclose(got, expected, rtol=1e-15, atol=1e-15)


# --- truncation -----------------------------------------------------------------------------


def test_truncation_matches_rejection_from_the_tempered_draw():
    regions = {
        0: Region.between(0.02, 0.12),
        2: Region.between(0.45, 0.62),
        3: Region([(0.15, 0.22), (0.38, 0.45), (0.58, 0.9)]),
    }
    steering = Steering(D, K, regions=regions)
    pi_temp, sigma_temp = 0.8, 0.5

    def inside(x):
        mask = np.ones(len(x), dtype=bool)
        for d, region in regions.items():
            mask &= np.any([(x[:, d] >= lo) & (x[:, d] <= hi) for lo, hi in region.intervals], 0)
        return mask

    n = 3_000_000
    k, x_in = reference_draws(n, pi_temp, sigma_temp, seed=6, keep=inside)
    weighing = steering.weigh(RAW, np.zeros(D), pi_temp, sigma_temp)
    assert not weighing.fallback
    share = len(k) / n  # the region's probability, by rejection
    assert math.exp(weighing.region_log_mass) == pytest.approx(
        share, abs=5 * math.sqrt(share * (1 - share) / n)
    )
    frequencies = np.bincount(k, minlength=K) / len(k)
    assert_same_frequencies(np.array(weighing.probabilities), frequencies, len(k))
    samples, fallbacks = steered_draws(steering, 40_000, pi_temp, sigma_temp, seed=7)
    assert not fallbacks.any()
    for d, region in regions.items():
        assert all(region.contains(value) for value in samples[:, d])
    assert_same_distribution(samples, x_in)
    picked = np.bincount(component_of(samples[:, 3]), minlength=K) / len(samples)
    reference_picked = np.bincount(component_of(x_in[:, 3]), minlength=K) / len(x_in)
    assert_same_frequencies(reference_picked, picked, len(samples) / 2)


def test_truncation_with_held_dimensions_and_a_pitch_set():
    """Conditioning and truncation together, against rejection with a window."""
    notes = scale_notes(60, (0, 2, 4, 5, 7, 9, 11))
    regions = {2: Region.notes(notes), 3: Region.between(0.3, 0.7)}
    held = np.array([0.0, 0.5, 0.0, 0.0])
    steering = Steering(D, K, held=[1], regions=regions)

    def keep(x):
        mask = np.abs(x[:, 1] - 0.5) < 0.002
        mask &= np.isin(np.floor(np.clip(x[:, 2], 0, 1) * 127 + 0.5), notes)
        return mask & (x[:, 3] >= 0.3) & (x[:, 3] <= 0.7)

    k, x = reference_draws(4_000_000, 1.0, 1.0, seed=8, keep=keep)
    assert len(k) > 5000
    probabilities = np.array(steering.weigh(RAW, held, 1.0, 1.0).probabilities)
    assert_same_frequencies(probabilities, np.bincount(k, minlength=K) / len(k), len(k))
    samples, fallbacks = steered_draws(steering, 30_000, 1.0, 1.0, seed=9, held=held)
    assert not fallbacks.any()
    assert {to_seven_bit(v) for v in samples[:, 2]} <= set(notes)
    assert_same_distribution(samples, x, dims=[0, 2, 3])


@pytest.mark.parametrize("min_mass", [MIN_MASS, 0.3])
def test_several_intervals_pick_components_exactly(min_mass):
    """Regions of several intervals pick the component by rejection tries first: still exact.

    With ``min_mass`` 0.3 most accepted tries cannot prove the region is above
    it, so the step weighs every component as well and must keep its pick.
    """
    region = Region([(0.3, 0.45), (0.75, 0.85)])
    steering = Steering(D, K, regions={2: region}, min_mass=min_mass)
    weighing = steering.weigh(RAW, np.zeros(D), 1.0, 1.0)
    assert not weighing.fallback and math.exp(weighing.region_log_mass) > 0.3
    k, _ = reference_draws(
        2_000_000,
        1.0,
        1.0,
        seed=19,
        keep=lambda x: (
            ((x[:, 2] >= 0.3) & (x[:, 2] <= 0.45)) | ((x[:, 2] >= 0.75) & (x[:, 2] <= 0.85))
        ),
    )
    p = np.array(weighing.probabilities)
    assert_same_frequencies(p, np.bincount(k, minlength=K) / len(k), len(k))
    samples, fallbacks = steered_draws(steering, 30_000, 1.0, 1.0, seed=20)
    assert not fallbacks.any() and all(region.contains(v) for v in samples[:, 2])
    assert_same_frequencies(
        p, np.bincount(component_of(samples[:, 3]), minlength=K) / 30_000, 30_000
    )


def test_far_tail_ranges_are_sampled_exactly_not_clipped():
    """A range 50 stds from every mean (mass e^-1400): the truncated normal itself, not its edge."""
    region = Region.between(0.95, 1.0)  # x2 means are 0.5, 0.4, 0.8
    steering = Steering(D, K, regions={2: region}, min_mass=0.0)  # 0: never fall back
    weighing = steering.weigh(RAW, np.zeros(D), 1.0, 0.001)
    assert weighing.region_log_mass < -1300
    assert not weighing.fallback and weighing.probabilities[2] == pytest.approx(1.0)
    samples, _ = steered_draws(steering, 4000, 1.0, 0.001, seed=10)
    x2 = samples[:, 2]
    assert np.all((x2 >= 0.95) & (x2 <= 1.0))
    assert len(set(x2)) == len(x2)  # spread inside, not piled on the edge
    # component 2 (mean 8): the truncated CDF of every draw is uniform
    std = 0.9 * math.sqrt(0.001)
    a, b = (9.5 - 8.0) / std, (10.0 - 8.0) / std
    total = interval_log_mass(a, b)
    cdf = np.sort([math.exp(interval_log_mass(a, (v * SCALE - 8.0) / std) - total) for v in x2])
    ks = np.max(np.abs(cdf - (np.arange(len(cdf)) + 0.5) / len(cdf)))
    assert ks < 1.63 / math.sqrt(len(cdf))  # Kolmogorov-Smirnov at 1 %


@pytest.mark.parametrize(
    ("a", "b"),
    [(-1.0, 2.0), (0.0, 0.5), (3.0, 3.5), (-4.0, -3.9), (8.0, math.inf), (40.0, 40.5)]
    + [(300.0, 300.001), (-math.inf, -60.0), (-math.inf, math.inf), (-0.2, 1e-9)],
)
def test_truncated_normal_is_the_inverse_of_its_cdf(a, b):
    total = interval_log_mass(a, b)
    for u in (0.0, 1e-12, 0.1, 0.5, 0.9, 1 - 2**-53):
        z = truncated_standard_normal(a, b, u)
        assert a <= z <= b and math.isfinite(z)
        if 1e-9 < u < 1 - 1e-9:
            got = math.exp(interval_log_mass(a, z) - total) if z > a else 0.0
            assert got == pytest.approx(u, rel=1e-7, abs=1e-12)


def test_normal_tail_in_log_space():
    for z in (30.0, 33.0, 34.9, 35.1, 37.0):  # erfc and the continued fraction overlap
        direct = math.log(0.5 * math.erfc(z / math.sqrt(2)))
        assert log_upper_tail(z) == pytest.approx(direct, rel=1e-14)
    for z in (100.0, 1e4):  # Q(z) ~ phi(z)/z (1 - 1/z^2 + 3/z^4 - 15/z^6 + 105/z^8)
        y = 1 / z**2
        series = math.log1p(-y + 3 * y**2 - 15 * y**3 + 105 * y**4)
        expected = -0.5 * z * z - 0.5 * math.log(2 * math.pi) - math.log(z) + series
        assert log_upper_tail(z) == pytest.approx(expected, rel=1e-15)
    assert log_upper_tail(0.0) == pytest.approx(math.log(0.5), rel=1e-15)
    assert log_upper_tail(math.inf) == -math.inf and log_upper_tail(-math.inf) == 0.0
    for z in (0.0, 0.3, 5.0, 20.0, 37.4, 38.0, 50.0, 1e3, 1e6):
        assert upper_tail_quantile(log_upper_tail(z)) == pytest.approx(z, rel=1e-13, abs=1e-14)


def test_pitch_set_mass_equals_the_sum_over_every_interval():
    region = _CompiledRegion(Region.notes(scale_notes(62, (0, 2, 4, 7, 9))))
    for m, s in [(5.0, 0.01), (5.04, 0.3), (0.2, 1.5), (9.9, 0.05), (-3.0, 0.2), (14.0, 0.02)]:
        terms = []
        for lo, hi in zip(region.lo_m, region.hi_m, strict=True):
            terms.append(interval_log_mass((lo - m) / s, (hi - m) / s))
        top = max(terms)
        expected = top + math.log(math.fsum(math.exp(t - top) for t in terms))
        assert region.log_mass(m, s) == pytest.approx(expected, rel=1e-12)
        if expected > -600:
            assert math.log(region.mass(m, s)) == pytest.approx(expected, rel=1e-12)


# --- density (dt tilt) ----------------------------------------------------------------------


@pytest.mark.parametrize("tilt", [6.0, -4.0])
def test_dt_tilt_matches_importance_weights(tilt):
    k, x = reference_draws(2_000_000, 1.0, 0.6, seed=11)
    w = np.exp(-tilt * x[:, 0])
    steering = Steering(D, K, dt_tilt=tilt)
    probabilities = np.array(steering.weigh(RAW, np.zeros(D), 1.0, 0.6).probabilities)
    reference = np.bincount(k, weights=w, minlength=K) / w.sum()
    assert_same_frequencies(probabilities, reference, w.sum() ** 2 / (w**2).sum())
    samples, fallbacks = steered_draws(steering, 30_000, 1.0, 0.6, seed=12)
    assert not fallbacks.any()
    assert_same_distribution(samples, x, weights=w)
    mean_dt = samples[:, 0].mean()
    plain_mean = (softmax(LOGITS) * MU[:, 0]).sum() / SCALE
    assert (mean_dt < plain_mean) == (tilt > 0)  # denser for a positive tilt


def test_dt_tilt_with_a_dt_range():
    k, x = reference_draws(2_000_000, 1.0, 1.0, seed=13)
    w = np.exp(-5.0 * x[:, 0]) * ((x[:, 0] >= 0.0) & (x[:, 0] <= 0.1))
    steering = Steering(D, K, dt_tilt=5.0, regions={0: Region.between(0.0, 0.1)})
    samples, _ = steered_draws(steering, 30_000, 1.0, 1.0, seed=14)
    assert np.all((samples[:, 0] >= 0.0) & (samples[:, 0] <= 0.1))
    assert_same_distribution(samples, x, weights=w)


def test_dt_tilt_is_ignored_when_dt_is_held():
    steering = Steering(D, K, held=[0], dt_tilt=10.0)
    plain = Steering(D, K, held=[0])
    held = np.array([0.08, 0, 0, 0])
    assert steering.weigh(RAW, held, 1, 1) == plain.weigh(RAW, held, 1, 1)


# --- fallback -------------------------------------------------------------------------------


def test_fallback_is_reported_exactly_when_the_region_mass_is_below_the_threshold():
    sigma_temp = 0.04
    weights = softmax(LOGITS)
    std = SIGMA[:, 2] * math.sqrt(sigma_temp)
    seen = set()
    for low in np.linspace(0.85, 1.1, 60):
        z = (low * SCALE - MU[:, 2]) / std
        mass = float(np.sum(weights * 0.5 * np.array([math.erfc(v / math.sqrt(2)) for v in z])))
        if abs(math.log(mass / MIN_MASS)) < 1e-6:
            continue
        steering = Steering(D, K, regions={2: Region.between(low, math.inf)})
        weighing = steering.weigh(RAW, np.zeros(D), 1.0, sigma_temp)
        assert weighing.region_log_mass == pytest.approx(math.log(mass), rel=1e-10)
        assert weighing.fallback == (mass < MIN_MASS)
        _, fallback = steering.draw(RAW, np.zeros(D), 1.0, sigma_temp, np.random.default_rng(0))
        assert fallback == (mass < MIN_MASS)
        seen.add(fallback)
    assert seen == {True, False}


def test_fallback_gives_the_allowed_value_nearest_the_picked_components_mean():
    # x2: component 1 (mean 4, std 0.012) sees the low part 40 stds away, component 2
    # (mean 8, std 0.009) the high part 40 stds away; component 0 is hopeless for both.
    region = Region([(-math.inf, 0.352), (0.836, math.inf)])
    steering = Steering(D, K, regions={2: region})
    weighing = steering.weigh(RAW, np.zeros(D), 1.0, 0.0001)
    assert weighing.fallback and weighing.region_log_mass < math.log(MIN_MASS)
    samples, fallbacks = steered_draws(steering, 3000, 1.0, 0.0001, seed=15)
    assert fallbacks.all()
    picked = component_of(samples[:, 3])
    nearest = np.array([region.nearest(mean) for mean in MU[:, 2] / SCALE])
    np.testing.assert_array_equal(samples[:, 2], nearest[picked])
    assert set(samples[:, 2]) == {0.352, 0.836}
    frequencies = np.bincount(picked, minlength=K) / len(picked)
    assert_same_frequencies(np.array(weighing.probabilities), frequencies, len(picked))


def test_sigma_temp_zero_keeps_the_mean_when_allowed_and_falls_back_when_not():
    inside = Steering(D, K, regions={2: Region.between(0.45, 0.55)})  # holds comp 0's 0.5
    out, fallback = inside.draw(RAW, np.zeros(D), 1.0, 0.0, np.random.default_rng(0))
    assert not fallback and out[2] == 0.5 and out[3] == 0.2
    outside = Steering(D, K, regions={2: Region.between(0.6, 0.7)})
    nearest = [0.6, 0.6, 0.7]  # to each component's x2 mean
    seen = set()
    for seed in range(30):
        out, fallback = outside.draw(RAW, np.zeros(D), 1.0, 0.0, np.random.default_rng(seed))
        k = int(component_of(out[3:4])[0])
        assert fallback and out[2] == nearest[k]
        seen.add(k)
    assert seen == {0, 1, 2}


# --- regions and notes ----------------------------------------------------------------------


def test_note_intervals_are_exactly_the_values_that_play_each_note():
    notes = [0, 1, 5, 60, 64, 126, 127]
    intervals = note_intervals(notes)
    assert intervals[0][0] == -math.inf and intervals[-1][1] == math.inf
    for note, (lo, hi) in zip(notes, intervals, strict=True):
        for value in (lo, hi):
            if math.isfinite(value):
                assert to_seven_bit(value) == note
        if math.isfinite(lo):
            assert to_seven_bit(math.nextafter(lo, -math.inf)) == note - 1
        if math.isfinite(hi):
            assert to_seven_bit(math.nextafter(hi, math.inf)) == note + 1
    region = Region.notes(notes)  # touching notes merge
    assert len(region.intervals) == 5
    assert region.intervals[0] == (-math.inf, intervals[1][1])


def test_regions_normalise_and_answer_nearest():
    region = Region([(0.75, 0.875), (0.125, 0.25), (0.1875, 0.375)])
    assert region.intervals == ((0.125, 0.375), (0.75, 0.875))
    assert region.nearest(0.5) == 0.375 and region.nearest(0.625) == 0.75
    assert region.nearest(0.5625) == 0.375  # a tie goes low
    assert region.nearest(0.0) == 0.125 and region.nearest(0.9) == 0.875
    assert region.nearest(0.8) == 0.8 and region.contains(0.375) and not region.contains(0.38)
    with pytest.raises(ValueError):
        Region([(0.3, 0.2)])
    with pytest.raises(ValueError):
        Region([])
    with pytest.raises(ValueError):
        Steering(D, K, held=[D])
    assert scale_notes(62, (0, 4, 7), low=60, high=72) == [62, 66, 69]
    assert scale_notes(62, (0, 4, 7), low=50, high=62) == [50, 54, 57, 62]


def test_a_wide_pitch_set_never_plays_a_note_outside_it():
    notes = scale_notes(61, (0, 3, 5, 7, 10))
    steering = Steering(D, K, regions={1: Region.notes(notes), 2: Region.notes(notes)})
    for sigma_temp in (0.01, 1.0, 25.0):
        samples, _ = steered_draws(steering, 3000, 1.0, sigma_temp, seed=16)
        played = {to_seven_bit(v) for v in samples[:, 1:3].ravel()}
        assert played <= set(notes)


# --- likelihoods ----------------------------------------------------------------------------


def test_log_prob_matches_nll_and_conditional_log_prob_matches_the_steering_weights():
    x = np.array([0.12, 0.41, 0.52, 0.33])
    target = x.astype(np.float32).astype(np.float64) * SCALE  # as nll forms it from a dataset
    expected = nll.mixture_log_prob(RAW[None, :], target[None, :], D, K)
    assert log_prob(RAW, x, D, K) == pytest.approx(float(expected[0]), abs=1e-12)
    # log p(free | held) two ways: marginals, and the conditional mixture's weights
    conditional = log_prob(RAW, x, D, K) - log_prob(RAW, x, D, K, dims=[1, 3])
    p = Steering(D, K, held=[1, 3]).weigh(RAW, x.astype(np.float32), 1.0, 1.0).probabilities
    free = [0, 2]
    t = x.astype(np.float32).astype(np.float64)[free] * SCALE
    density = sum(
        p[k]
        * np.prod(np.exp(-0.5 * ((t - MU[k, free]) / SIGMA[k, free]) ** 2))
        / np.prod(SIGMA[k, free] * math.sqrt(2 * math.pi))
        for k in range(K)
    )
    assert conditional == pytest.approx(math.log(density), rel=1e-12)


def test_surprise_over_a_log_equals_impsy_evaluate(tmp_path):
    """An engine's per-gesture surprise, replayed over a log, is ``impsy evaluate``'s NLL.

    The listener model sees only the performer's rows (as the dataset does), from
    a reset state, and takes dt from the logged timestamps.
    """
    player = load_model(MODEL, seed=17)
    player.sigma_temp = 1.0
    rng = np.random.default_rng(18)
    logs = []
    for number in range(3):
        lines = []
        clock = dt.datetime(2025, 5, 1, 20, number, 0, 123456)
        x = rng.random(9)
        for row in range(30 + 10 * number):
            values = player.predict(x) if row % 4 else rng.random(9)
            clock += dt.timedelta(seconds=abs(float(values[0])) + 0.001)
            lines.append(format_log_line(clock, INTERFACE, values[1:]))
            if row % 5 == 0:
                lines.append(format_log_line(clock, RNN, rng.random(8)))
            x = values
        path = tmp_path / f"2025-05-01T20-0{number}-00-9d-mdrnn.log"
        path.write_text("\n".join(lines) + "\n")
        logs.append((path, lines))
    performances = [read_log_file(path, 9).rows for path, _ in logs]
    dataset = write_dataset(tmp_path / "training-dataset-9d.npz", performances)

    listener = load_model(MODEL)
    surprises = []
    for _, lines in logs:  # what the engine does as each performer gesture arrives
        listener.reset()
        previous_time = raw = None
        for line in lines:
            fields = line.split(",")
            if fields[1] != INTERFACE:
                continue
            timestamp = dt.datetime.fromisoformat(fields[0])
            if previous_time is not None:
                gap = (timestamp - previous_time).total_seconds()
                event = np.array([gap, *(float(value) for value in fields[2:])])
                if raw is not None:
                    surprises.append(surprise(raw, event, 9, 5))
                raw = listener.step(event).raw.copy()
            previous_time = timestamp

    result = nll.evaluate(load_model(MODEL), nll.read_performances(dataset))
    assert result.steps == len(surprises)
    assert float(np.mean(surprises)) == pytest.approx(result.mean_nll, abs=1e-6)
    per_step = np.concatenate([nll.performance_nll(load_model(MODEL), p) for p in performances])
    np.testing.assert_allclose(surprises, per_step, rtol=0, atol=1e-6)
    printed = CliRunner().invoke(evaluate_command, [str(MODEL), str(dataset)])
    assert printed.exit_code == 0, printed.output
    mean = float(re.search(r"mean NLL per step: (-?\d+\.\d+)", printed.stdout).group(1))
    assert mean == pytest.approx(float(np.mean(surprises)), abs=5e-5)  # printed to 4 places
