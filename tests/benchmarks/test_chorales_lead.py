"""The chorale benchmark's arithmetic for lead-encoded models (``benchmarks/chorales.py``).

A lead model's unconditional NLL sums its own predictions over every binned
(dt, soprano) it was not told. Two checks that can fail: the bins of a
mixture built by hand go where its components are, and a real network made
blind to dt and soprano (their input weights zeroed) gains nothing from
being told them. The numbers of the shipped or trial models are measured by
the benchmark, never asserted here.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from tests.paths import BENCHMARKS, MODELS

sys.path.insert(0, str(BENCHMARKS))

import chorales as bench  # noqa: E402

MODEL = MODELS / "chorales-accompany-dim5-layers2-units64-mixtures5-scale10.keras"


def _raw(components: list[tuple[list[float], list[float], float]]) -> np.ndarray:
    """A raw MDN output (model space: data x 10) from (means, sigmas, logit) per component."""
    mu = np.concatenate([np.asarray(m, dtype=np.float64) * 10 for m, _, _ in components])
    sigma = np.concatenate([np.asarray(s, dtype=np.float64) for _, s, _ in components])
    return np.concatenate([mu, sigma, [logit for *_, logit in components]])


def test_the_bins_follow_the_component_the_lower_voices_pick() -> None:
    lower_0 = [64 / 127, 60 / 127, 48 / 127]
    lower_1 = [67 / 127, 64 / 127, 43 / 127]
    sharp = [0.01] * 5
    raw = _raw(
        [
            ([0.5, 72 / 127, *lower_0], sharp, 0.0),
            ([1.0, 60 / 127, *lower_1], sharp, 0.0),
        ]
    )
    for lower, dt, note in ((lower_0, 0.5, 72), (lower_1, 1.0, 60)):
        mass = bench.lead_bins(raw, np.array(lower, dtype=np.float32), 2)
        assert mass.shape == (len(bench.LEAD_DTS), len(bench.LEAD_NOTES))
        assert abs(mass.sum() - 1) < 1e-12
        i, j = bench.LEAD_DTS.index(dt), bench.LEAD_NOTES.index(note)
        assert mass[i, j] > 0.999, (dt, note, mass.max())


def test_a_broad_component_spreads_over_neighbouring_notes_symmetrically() -> None:
    lower = [64 / 127, 60 / 127, 48 / 127]
    raw = _raw([([0.5, 72 / 127, *lower], [0.01, 10 / 127, 0.01, 0.01, 0.01], 0.0)])
    mass = bench.lead_bins(raw, np.array(lower, dtype=np.float32), 1)
    row = mass[bench.LEAD_DTS.index(0.5)]
    j = bench.LEAD_NOTES.index(72)
    assert row[j] > row[j + 1] > row[j + 2] > 0
    assert abs(row[j + 1] - row[j - 1]) < 1e-5, "equal mass a semitone either side"
    assert abs(row[j] - 0.3829) < 1e-3, "within half a semitone of a one-semitone sigma"


def _blind_model():  # noqa: ANN202
    """The shipped chorale network with layer 0's weights from dt and soprano zeroed."""
    from impsy.model.formats import read_keras
    from impsy.model.mdrnn import MDRNN
    from impsy.model.numpy_engine import NumpyEngine

    weights = read_keras(MODEL)
    first = weights.lstm[0]
    kernel = first.kernel.copy()
    kernel[:2] = 0.0
    lstm = (dataclasses.replace(first, kernel=kernel), *weights.lstm[1:])
    blind = dataclasses.replace(weights, lstm=lstm)
    return MDRNN(NumpyEngine(blind, "sigmoid"), MODEL, seed=1)


def test_a_network_blind_to_dt_and_soprano_gains_nothing_from_them() -> None:
    model = _blind_model()
    events = [
        np.array(
            [
                [0.0, 67, 64, 60, 48],
                [1.0, 69, 65, 60, 53],
                [1.0, 71, 67, 62, 55],
                [0.5, 72, 67, 64, 48],
                [0.5, 71, 67, 62, 55],
                [2.0, 72, 67, 64, 48],
            ],
            dtype=np.float64,
        )
    ]
    events[0][:, 1:] /= 127
    table = bench.lead_nll_table(model, [e.astype(np.float32) for e in events])
    assert table["events"] == 5
    # Told nothing it can use, the sum over bins is the conditional times the mass covered.
    assert table["least_covered"] >= bench.LEAD_COVER
    assert 0 <= table["gain_nats"] <= -np.log(bench.LEAD_COVER) + 1e-9
