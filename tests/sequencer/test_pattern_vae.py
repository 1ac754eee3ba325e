"""The pattern VAE (impsy/sequencer/learn/vae.py): its gradients, what it learns, its files.

The corpus here is made up for the test: four drum styles (four tracks, 16
steps), each bar a style with a few steps flipped, velocities and
micro-timing jittered, so what a bar should decode to is known.
"""

from __future__ import annotations

import numpy as np
import pytest

from impsy.sequencer.learn.vae import LATENT_RANGE, PatternVAE

STYLES = np.array(
    [
        # kick, snare, hat, clap: 16 steps each
        ["1000100010001000", "0000100000001000", "1010101010101010", "0000000000000000"],
        ["1000000010100000", "0000100000001000", "1111111111111111", "0000000000000001"],
        ["1001001000100100", "0000100100001000", "0010001000100010", "0000100000001000"],
        ["1000000000000000", "0000000010000000", "1000100010001000", "0000000000000000"],
    ]
)


def corpus(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` bars (N, 4, 16, 3) and the style each was made from."""
    rng = np.random.default_rng(seed)
    grids = np.array([[[int(c) for c in track] for track in style] for style in STYLES])
    styles = rng.integers(0, len(grids), count)
    bars = np.zeros((count, 4, 16, 3))
    for i, style in enumerate(styles):
        on = grids[style].copy()
        flips = rng.integers(0, 64, 2)
        on.reshape(-1)[flips] ^= 1
        bars[i, ..., 0] = on
        bars[i, ..., 1] = np.where(on, np.clip(0.7 + 0.1 * rng.standard_normal((4, 16)), 0, 1), 0)
        bars[i, ..., 2] = np.where(on, np.clip(0.05 * rng.standard_normal((4, 16)), -0.5, 0.5), 0)
    return bars, styles


def test_the_gradients_are_the_derivatives_of_the_loss():
    model = PatternVAE(tracks=2, steps=4, latent=2, hidden=5, seed=3)
    bars, _ = corpus(6)
    x = model.flat(bars[:, :2, :4])
    eps = np.random.default_rng(1).standard_normal((len(x), 2))
    _, _, _, grads = model.loss_and_grads(x, eps)
    rng = np.random.default_rng(2)
    for name, param in model.params.items():
        for _ in range(4):
            index = tuple(rng.integers(0, s) for s in param.shape)
            keep = param[index]
            param[index] = keep + 1e-6
            up = model.loss_and_grads(x, eps)[0]
            param[index] = keep - 1e-6
            down = model.loss_and_grads(x, eps)[0]
            param[index] = keep
            numeric = (up - down) / 2e-6
            assert grads[name][index] == pytest.approx(numeric, rel=1e-4, abs=1e-7), name


def test_it_learns_the_styles_and_decodes_a_bar_close_to_itself():
    bars, styles = corpus(500)
    model = PatternVAE(tracks=4, steps=16, latent=4, seed=0)
    history = model.fit(bars, epochs=150)
    assert history.loss[-1] < 0.5 * history.loss[0]
    test, test_styles = corpus(100, seed=9)  # bars it never saw
    decoded = model.decode(model.encode(test))
    played = decoded[..., 0] > 0.5
    truth = test[..., 0] > 0.5
    assert (played == truth).mean() > 0.95, "steps right, of bars never seen"
    grids = np.array([[[c == "1" for c in t] for t in s] for s in STYLES])
    nearest = [np.argmin([(p != g).sum() for g in grids]) for p in played]
    assert (np.array(nearest) == test_styles).mean() > 0.95
    on = truth & played
    assert np.abs(decoded[..., 1][on] - test[..., 1][on]).mean() < 0.1, "velocities"


def test_the_styles_are_apart_in_the_latent_space_and_inside_the_knobs_range():
    bars, styles = corpus(400)
    model = PatternVAE(tracks=4, steps=16, latent=2, seed=0)
    model.fit(bars, epochs=150)
    points = model.encode(bars)
    assert np.abs(points).max() < LATENT_RANGE
    centres = np.array([points[styles == s].mean(0) for s in range(4)])
    spread = max(np.linalg.norm(points[styles == s] - centres[s], axis=1).mean() for s in range(4))
    gaps = [np.linalg.norm(a - b) for i, a in enumerate(centres) for b in centres[i + 1 :]]
    assert min(gaps) > 2 * spread


def test_the_same_seed_gives_the_same_model_and_files_round_trip(tmp_path):
    bars, _ = corpus(64)
    a, b = PatternVAE(4, 16, seed=5), PatternVAE(4, 16, seed=5)
    a.fit(bars, epochs=5)
    b.fit(bars, epochs=5)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    path = a.save(tmp_path / "patterns.npz")
    c = PatternVAE.load(path)
    z = np.array([[0.5, -1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(a.decode(z), c.decode(z))


def test_bad_input_and_bad_files_are_refused_clearly(tmp_path):
    model = PatternVAE(4, 16)
    with pytest.raises(ValueError, match=r"expected patterns of shape \(N, 4, 16, 3\)"):
        model.encode(np.zeros((2, 4, 8, 3)))
    with pytest.raises(ValueError, match="finite"):
        model.encode(np.full((1, 4, 16, 3), np.nan))
    with pytest.raises(ValueError, match="finite points of 4 numbers"):
        model.decode(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="latent must be 2 to 4"):
        PatternVAE(4, 16, latent=8)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a pattern model"):
        PatternVAE.load(junk)
    good = model.save(tmp_path / "good.npz")
    data = dict(np.load(good))
    data["W3"] = data["W3"][:, :5]
    np.savez(tmp_path / "cut.npz", **data)
    with pytest.raises(ValueError, match="W3 has shape"):
        PatternVAE.load(tmp_path / "cut.npz")
