"""What the web UI draws of a pattern model (impsy/sequencer/learn/view.py): the latent map,
the decoded bar, an audio loop's waveform with its onsets; and the map in the model file."""

from __future__ import annotations

import numpy as np
import pytest

from impsy.sequencer.learn.knobs import PatternKnobs
from impsy.sequencer.learn.vae import CorpusMap, PatternVAE
from impsy.sequencer.learn.view import COLUMNS, knobs_view, loop_view, map_axes, map_view
from tests.sequencer.test_pattern_audio import STEP_S, TEMPO, synth_loop, write_wav
from tests.sequencer.test_pattern_vae import corpus


@pytest.fixture(scope="module")
def trained() -> tuple[PatternVAE, np.ndarray, np.ndarray]:
    bars, styles = corpus(300)
    model = PatternVAE(tracks=4, steps=16, latent=4, seed=0)
    model.fit(bars, epochs=60)
    model.remember(bars, [("banks/a.json", 100), ("loops/b.mid", 200)])
    return model, bars, styles


def test_the_map_of_the_training_bars_goes_with_the_model_file(trained, tmp_path):
    model, bars, _ = trained
    loaded = PatternVAE.load(model.save(tmp_path / "patterns.npz"))
    assert loaded.corpus.sources == ["a.json", "b.mid"], "names only, no folders"
    assert loaded.corpus.source.tolist() == [0] * 100 + [1] * 200
    np.testing.assert_allclose(loaded.corpus.means, model.encode(bars), atol=1e-5)
    np.testing.assert_allclose(loaded.corpus.spreads, model.posterior(bars)[1], rtol=1e-5)
    np.testing.assert_allclose(loaded.corpus.density, bars[..., 0].mean(axis=(1, 2)), atol=1e-6)
    data = dict(np.load(tmp_path / "patterns.npz"))
    data["corpus_source"] = data["corpus_source"] + 5  # names a file that is not listed
    np.savez(tmp_path / "lying.npz", **data)
    with pytest.raises(ValueError, match="lying.npz: .*corpus_source must index the 2"):
        PatternVAE.load(tmp_path / "lying.npz")
    data = dict(np.load(tmp_path / "patterns.npz"))
    data["corpus_density"] = data["corpus_density"] * 5  # more steps than a bar has
    np.savez(tmp_path / "lying.npz", **data)
    with pytest.raises(ValueError, match="corpus_density must be 300 numbers from 0 to 1"):
        PatternVAE.load(tmp_path / "lying.npz")
    bare = PatternVAE(4, 16)
    assert PatternVAE.load(bare.save(tmp_path / "bare.npz")).corpus is None
    assert map_view(bare)["points"] == [] and map_view(bare)["total"] == 0


def test_two_knobs_are_the_maps_axes(trained):
    bars = trained[1]
    model = PatternVAE(tracks=4, steps=16, latent=2, seed=0)
    model.remember(bars[:50])
    view = map_view(model)
    assert view["axes"] == [[1.0, 0.0], [0.0, 1.0]] and view["plane"] == "knobs 1 and 2"
    np.testing.assert_allclose(view["points"], model.encode(bars[:50]), atol=1e-3)


def test_more_knobs_are_shown_in_the_plane_the_training_bars_spread_most_in():
    """Knobs 1 and 2 nearly unused (as a VAE leaves some knobs): the map is knobs 3 and 4."""
    rng = np.random.default_rng(0)
    means = np.column_stack(
        [rng.normal(0, 0.01, 200), rng.normal(0, 0.01, 200), rng.normal(0, 1, 200),
         rng.normal(0, 0.5, 200)]
    )  # fmt: skip
    model = PatternVAE(tracks=1, steps=16, latent=4)
    model.corpus = CorpusMap(
        means, np.full((200, 4), 0.3), np.full(200, 0.2), ["x"], np.zeros(200, int)
    )
    axes, explained = map_axes(model)
    np.testing.assert_allclose(axes.T @ axes, np.eye(2), atol=1e-9)
    assert np.abs(axes[:2]).max() < 0.05, "the unused knobs hardly move the point"
    assert explained > 0.99
    centred = means - means.mean(0)
    spread = ((centred @ axes) ** 2).sum()
    for i in range(4):
        for j in range(i + 1, 4):
            assert spread >= (centred[:, [i, j]] ** 2).sum() - 1e-9, "no pair of knobs shows more"
    assert map_axes(model)[0].tolist() == axes.tolist(), "the same map every time"


def test_every_training_bar_is_on_the_map_and_a_huge_corpus_is_thinned_evenly(trained):
    model, bars, _ = trained
    view = map_view(model)
    axes = np.array(view["axes"])
    assert view["total"] == len(view["points"]) == len(view["source"]) == 300
    np.testing.assert_allclose(view["points"], model.encode(bars) @ axes, atol=2e-3)
    assert view["sources"] == ["a.json", "b.mid"] and 0 < view["explained"] <= 1
    thinned = map_view(model, limit=40)
    assert thinned["total"] == 300 and len(thinned["points"]) == 40
    assert thinned["points"][0] == view["points"][0] and thinned["points"][-1] == view["points"][-1]


def test_the_knobs_point_moves_on_the_map_and_decodes_to_probabilities(trained):
    model = trained[0]
    knobs = PatternKnobs(model, threshold=0.4)
    axes = map_axes(model)[0]
    before = knobs_view(knobs, axes)
    knobs.set_knob(2, 1.0)
    after = knobs_view(knobs, axes)
    np.testing.assert_allclose(np.subtract(after["at"], before["at"]), axes[2], atol=2e-3)
    probability = np.array(after["probability"])
    assert probability.shape == (4, 16) and ((probability >= 0) & (probability <= 1)).all()
    np.testing.assert_allclose(probability, model.decode(knobs.point)[0, ..., 0], atol=1e-3)
    assert after["threshold"] == 0.4
    assert (np.array(after["on"]) == (model.decode(knobs.point)[0, ..., 0] > 0.4)).all()


def test_a_loops_view_shows_its_waveform_onsets_and_the_steps_they_landed_on(tmp_path):
    samples, truth = synth_loop(2)
    view = loop_view(write_wav(tmp_path / "beat.wav", samples), TEMPO)
    assert (view["bars"], view["steps"], view["problem"]) == (2, 16, None)
    assert view["step_s"] == pytest.approx(STEP_S)
    assert len(view["envelope"]["high"]) == len(view["envelope"]["low"]) == COLUMNS
    written = np.clip(samples, -1, 1)  # as the 16-bit file holds them
    assert max(view["envelope"]["high"]) == pytest.approx(written.max(), abs=1e-3)
    assert min(view["envelope"]["low"]) == pytest.approx(written.min(), abs=1e-3)
    for b, name in enumerate(("low", "mid", "high")):
        band = view["bands"][b]
        assert band["name"] == name and max(band["flux"]) > band["threshold"] > 0
        found = [o for o in view["onsets"] if o["band"] == b]
        times = np.array([o["time"] for o in found])
        assert len(times) == len(truth[name])
        assert np.abs(times - truth[name]).max() < 0.008
        expected_steps = [round(t / STEP_S) for t in truth[name]]
        assert [o["step"] for o in found] == expected_steps
        for o in found:
            assert o["offset"] == pytest.approx(o["time"] / STEP_S - o["step"], abs=1e-3)
    short = loop_view(write_wav(tmp_path / "short.wav", samples[: int(1.3 * 44100)]), TEMPO)
    assert short["problem"].startswith("1.30 s is not a whole number of bars at 120 BPM")
    assert short["bars"] == 1 and short["onsets"], "drawn anyway, so the user sees why"
