"""The chorale encoding, its held-out split, and the shipped accompany model and config."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from impsy.dataset import chorales
from impsy.mapping.midi import to_seven_bit
from tests.paths import ROOT

MODEL_STEM = "chorales-accompany-dim5-layers2-units64-mixtures5-scale10"
LEAD_STEM = "chorales-accompany-lead-dim5-layers2-units64-mixtures5-scale10"
STEMS = (MODEL_STEM, LEAD_STEM)
MODELS = ROOT / "models"
CONFIGS = (
    ROOT / "configs" / "accompany-example.toml",
    ROOT / "configs" / "accompany-lead-example.toml",
)


def _part(items):
    """A music21 part from ``(midi or None, quarter length, tie type or None)`` items."""
    from music21 import note, stream, tie

    part = stream.Part()
    for midi, length, tied in items:
        element = note.Rest(quarterLength=length) if midi is None else note.Note(midi)
        element.quarterLength = length
        if tied:
            element.tie = tie.Tie(tied)
        part.append(element)
    return part


def tiny_score():
    """Four bars' worth of beats exercising onsets, ties, rests and an eighth-note run."""
    from music21 import stream

    score = stream.Score()
    soprano = [(67, 1, None), (69, 2, None), (71, 0.5, "start"), (71, 0.5, "stop")]
    alto = [(64, 2, None), (None, 1, None), (62, 1, None)]
    tenor = [(60, 1, "start"), (60, 1, "stop"), (59, 0.5, None), (57, 0.5, None), (55, 1, None)]
    bass = [(None, 1, None), (43, 2, None), (48, 1, None)]
    for items in (soprano, alto, tenor, bass):
        score.insert(0, _part(items))
    return score


def test_a_tiny_score_encodes_to_the_documented_events() -> None:
    pytest.importorskip("music21")
    events = chorales.encode_score(tiny_score())
    expected_notes = [
        # onsets at beats 0 (S A T), 1 (S; tenor tie and bass after its rest), 2 (T), 2.5 (T),
        # 3 (all); the soprano's tied eighth at 3.5 is no onset, so no event
        (0.0, 67, 64, 60, 43),  # the bass rests: the first pitch it will play
        (1.0, 69, 64, 60, 43),  # tenor tied over, alto sustained
        (1.0, 69, 64, 59, 43),  # the alto rests: its last pitch
        (0.5, 69, 64, 57, 43),
        (0.5, 71, 62, 55, 48),
    ]
    expected = np.array(
        [[dt, *(note / 127 for note in notes)] for dt, *notes in expected_notes], dtype=np.float32
    )
    assert events.dtype == np.float32 and events.shape == (5, 5)
    np.testing.assert_array_equal(events, expected)
    played = [[to_seven_bit(value) for value in row[1:]] for row in events]
    assert played == [list(notes) for _, *notes in expected_notes]
    assert chorales.final_length(tiny_score()) == 1.0


def test_only_four_part_scores_are_encoded() -> None:
    pytest.importorskip("music21")
    from music21 import stream

    score = tiny_score()
    score.insert(0, stream.Part([]))
    with pytest.raises(ValueError, match="5 parts, not 4"):
        chorales.encode_score(score)


def test_every_note_value_plays_as_its_note() -> None:
    assert [to_seven_bit(chorales.note_value(note)) for note in range(128)] == list(range(128))


def test_transposition_moves_every_voice_exactly_and_keeps_dt() -> None:
    events = np.array([[0.0, 67, 64, 60, 43], [1.0, 69, 62, 59, 50]], dtype=np.float64)
    events[:, 1:] /= 127
    events = events.astype(np.float32)
    moved = chorales.transpose_events(events, -6)
    np.testing.assert_array_equal(moved[:, 0], events[:, 0])
    notes = np.vectorize(to_seven_bit)(moved[:, 1:])
    np.testing.assert_array_equal(notes, [[61, 58, 54, 37], [63, 56, 53, 44]])
    whole = chorales.all_keys(events, gap=2.0)
    assert whole.shape == (2 * len(chorales.TRANSPOSITIONS), 5)
    assert whole[0, 0] == 0.0 and whole[2, 0] == 2.0  # the next key starts after the last chord
    assert sorted({to_seven_bit(v) % 12 for v in whole[::2, 1]}) == list(range(12))


def test_held_out_chorales_are_never_training_chorales() -> None:
    assert chorales.HELD_OUT == tuple(range(10, 371, 10))
    made = [chorales.Chorale(n, f"bach/{n}", 0, "major", np.zeros((2, 5))) for n in range(1, 372)]
    train, test = chorales.split(made)
    assert {c.number for c in test} == set(chorales.HELD_OUT)
    assert not {c.number for c in train} & set(chorales.HELD_OUT)
    assert len(train) + len(test) == 371


@pytest.mark.parametrize("stem", STEMS)
def test_shipped_summary_lists_disjoint_training_and_held_out_chorales(stem: str) -> None:
    manifest = json.loads((MODELS / f"{stem}-dataset.json").read_text())
    trained = {entry["riemenschneider"] for entry in manifest["train"]}
    held = {entry["riemenschneider"] for entry in manifest["heldout"]}
    assert manifest["held_out"] == list(chorales.HELD_OUT)
    assert held <= set(chorales.HELD_OUT) and not trained & set(chorales.HELD_OUT)
    summary = json.loads((MODELS / f"{stem}.json").read_text())
    validation = {manifest["train"][i]["riemenschneider"] for i in summary["split"]["validation"]}
    assert validation <= trained  # model selection used training chorales only
    assert summary["split"]["test"] == []


@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize(("suffix", "engine"), [(".keras", "numpy"), (".tflite", "auto")])
def test_shipped_model_loads_at_dimension_5(stem: str, suffix: str, engine: str) -> None:
    """The .keras on the NumPy engine; the .tflite as impsy run loads it (LiteRT or the .keras)."""
    from impsy.model import load_model

    model = load_model(MODELS / f"{stem}{suffix}", engine=engine)
    assert model.dimension == 5
    event = np.array([0.5, 67 / 127, 64 / 127, 60 / 127, 48 / 127], dtype=np.float32)
    assert np.all(np.isfinite(model.step(event).raw))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.name)
def test_example_config_passes_check_config(config) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "impsy", "check-config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dimension 5" in result.stdout


def test_impsy_run_never_imports_music21() -> None:
    script = (
        "import sys, impsy.cli.run, impsy.cli.dataset, impsy.app, impsy.engine.loop; "
        "print('music21' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


# --- the relative encoding: dt, soprano, and each lower voice's interval below the soprano ---

TINY_NOTES = [(0.0, 67, 64, 60, 43), (1.0, 69, 64, 60, 43), (0.5, 71, 72, 55, 48)]


def _absolute(rows) -> np.ndarray:
    events = np.array(rows, dtype=np.float64)
    events[:, 1:] /= 127
    return events.astype(np.float32)


def test_relative_events_are_intervals_below_the_soprano_and_invert_exactly() -> None:
    events = _absolute(TINY_NOTES)
    relative = chorales.relative_events(events)
    expected = np.array(
        [
            [0.0, 67 / 127, 3 / 127, 7 / 127, 24 / 127],
            [1.0, 69 / 127, 5 / 127, 9 / 127, 26 / 127],
            [0.5, 71 / 127, -1 / 127, 16 / 127, 23 / 127],  # the alto crosses above
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(relative, expected)
    np.testing.assert_array_equal(chorales.absolute_events(relative), events)
    played = [[chorales.relative_note(row[1], value) for value in row[2:]] for row in relative]
    assert played == [list(notes[2:]) for notes in TINY_NOTES]
    # transposing moves the soprano only: the intervals are the same in every key
    moved = chorales.relative_events(chorales.transpose_events(events, 5))
    np.testing.assert_array_equal(moved[:, 2:], relative[:, 2:])


def test_a_tiny_score_encodes_relatively() -> None:
    pytest.importorskip("music21")
    relative = chorales.relative_events(chorales.encode_score(tiny_score()))
    notes = [(67, 64, 60, 43), (69, 64, 60, 43), (69, 64, 59, 43), (69, 64, 57, 43)]
    notes.append((71, 62, 55, 48))
    intervals = [[round(v * 127) for v in row[2:]] for row in relative]
    assert intervals == [[s - a, s - t, s - b] for s, a, t, b in notes]


def test_relative_notes_stay_in_the_midi_range() -> None:
    assert chorales.relative_note(10 / 127, 20 / 127) == 0
    assert chorales.relative_note(120 / 127, -20 / 127) == 127
    assert chorales.relative_note(60 / 127, 2.49 / 127) == 58
    assert chorales.relative_note(60 / 127, 2.51 / 127) == 57


def test_interval_regions_play_exactly_the_allowed_notes() -> None:
    import math

    from impsy.model.steering import Region, scale_notes

    allowed = scale_notes(2, (0, 2, 4, 5, 7, 9, 11))  # D major
    soprano = 74
    region = Region(chorales.interval_region(soprano, allowed))
    for low, high in chorales.interval_region(soprano, allowed):
        finite = [v for v in (low, high) if math.isfinite(v)]
        inside = {chorales.relative_note(soprano / 127, v) for v in finite}
        inside.add(chorales.relative_note(soprano / 127, sum(finite) / len(finite)))
        assert len(inside) == 1 and inside <= set(allowed)
        for outside in (math.nextafter(low, -math.inf), math.nextafter(high, math.inf)):
            if not region.contains(outside):
                assert chorales.relative_note(soprano / 127, outside) not in allowed
    values = np.linspace(-60 / 127, 80 / 127, 20001)
    for value in values:
        note = chorales.relative_note(soprano / 127, value)
        assert region.contains(value) == (note in allowed)


def _mixture(seed: int, mixtures: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mu = rng.normal(5.0, 0.5, (mixtures, 5))
    mu[:, 2:] = rng.normal(1.0, 0.5, (mixtures, 3))  # intervals of a few semitones, x 10
    sigma = rng.uniform(0.1, 0.6, (mixtures, 5))
    return np.concatenate([mu.ravel(), sigma.ravel(), rng.normal(0.0, 1.0, mixtures)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lower_voices_marginal_matches_numeric_integration(seed: int) -> None:
    """p(a, t, b) = integral over s of sum_k w_k N(s) prod_j N(s - x_j): a 1-D integral."""
    import math

    raw, k = _mixture(seed), 3
    mu = raw[: 5 * k].reshape(k, 5)
    sigma = raw[5 * k : 10 * k].reshape(k, 5)
    logits = raw[10 * k :]
    weights = np.exp(logits - np.logaddexp.reduce(logits))
    event = _absolute([(0.5, 0, 60, 55, 45)])[0]  # the soprano is marginalised: its value unused
    x = event[2:].astype(np.float64) * 10
    s = np.linspace(-10.0, 20.0, 600_001)

    def normal(z, m, sd):
        return np.exp(-0.5 * ((z - m) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))

    density = np.zeros_like(s)
    for c in range(k):
        term = weights[c] * normal(s, mu[c, 1], sigma[c, 1])
        for j in range(3):
            term = term * normal(s - x[j], mu[c, 2 + j], sigma[c, 2 + j])
        density += term
    expected = math.log(np.trapezoid(density, s))
    assert chorales.lower_voices_log_prob(raw, event, k) == pytest.approx(expected, abs=1e-8)


def test_lower_voices_marginal_matches_full_covariance_normals_and_integrates_to_one() -> None:
    """Against slogdet/solve of each component's 3x3 covariance, and a Monte Carlo integral."""
    raw, k = _mixture(5), 3
    mu = raw[: 5 * k].reshape(k, 5)
    sigma = raw[5 * k : 10 * k].reshape(k, 5)
    logits = raw[10 * k :]
    weights = np.exp(logits - np.logaddexp.reduce(logits))
    rng = np.random.default_rng(7)
    n = 20_000
    # proposal: a broad normal around the absolute voices' mixture mean (model space)
    centre = (weights[:, None] * (mu[:, 1:2] - mu[:, 2:])).sum(axis=0)
    spread = 2.0
    points = rng.normal(centre, spread, (n, 3))
    events = np.zeros((n, 5))
    events[:, 2:] = points / 10
    events = events.astype(np.float32)
    points = events[:, 2:].astype(np.float64) * 10  # exactly what the function scores
    got = np.array([chorales.lower_voices_log_prob(raw, e, k) for e in events])
    exact = []
    for x in points[:200]:
        terms = []
        for c in range(k):
            cov = sigma[c, 1] ** 2 * np.ones((3, 3)) + np.diag(sigma[c, 2:] ** 2)
            r = x - (mu[c, 1] - mu[c, 2:])
            _, logdet = np.linalg.slogdet(cov)
            quad = r @ np.linalg.solve(cov, r)
            terms.append(np.log(weights[c]) - 1.5 * np.log(2 * np.pi) - 0.5 * (logdet + quad))
        exact.append(np.logaddexp.reduce(terms))
    np.testing.assert_allclose(got[:200], exact, rtol=1e-12, atol=1e-12)
    log_q = (-0.5 * ((points - centre) / spread) ** 2).sum(axis=1) - 3 * np.log(
        spread * np.sqrt(2 * np.pi)
    )
    ratio = np.exp(got - log_q)
    total, error = ratio.mean(), ratio.std() / np.sqrt(n)
    assert abs(total - 1.0) < 4 * error, (total, error)


def test_the_relative_files_hold_the_same_events_relatively(tmp_path) -> None:
    from impsy.dataset.npz import read_npz_array

    events = _absolute(TINY_NOTES)
    made = [chorales.Chorale(n, f"bach/{n}", 0, "major", events, gap=1.0) for n in (9, 10)]
    paths = chorales.output_paths(tmp_path)
    chorales.write_chorale_datasets(made, [], paths)
    for kind in ("train", "heldout"):
        absolute = read_npz_array(paths[kind], "perfs")
        relative = read_npz_array(paths[f"relative_{kind}"], "perfs")
        assert len(absolute) == len(relative) == 1
        np.testing.assert_array_equal(relative[0], chorales.relative_events(absolute[0]))
    assert paths["relative_train"].name == "chorales-relative-train-5d.npz"


def test_lead_events_put_the_soprano_one_event_ahead_of_the_lower_voices() -> None:
    rows = [(0.0, 67, 64, 60, 43), (1.0, 69, 65, 60, 41), (2.0, 71, 62, 55, 48)]
    events = _absolute(rows)
    lead = chorales.lead_events(events)
    expected = _absolute([(0.0, 67, 64, 60, 43), (1.0, 69, 64, 60, 43), (2.0, 71, 65, 60, 41)])
    np.testing.assert_array_equal(lead, expected)
    assert lead.dtype == np.float32
    np.testing.assert_array_equal(events, _absolute(rows))  # the events themselves unchanged


def test_the_lead_files_lead_each_transposed_copy_on_its_own(tmp_path) -> None:
    from impsy.dataset.npz import read_npz_array

    events = _absolute(TINY_NOTES)
    made = [chorales.Chorale(n, f"bach/{n}", 0, "major", events, gap=1.0) for n in (9, 10)]
    paths = chorales.output_paths(tmp_path)
    chorales.write_chorale_datasets(made, [], paths)
    (train,) = read_npz_array(paths["lead_train"], "perfs")
    (absolute,) = read_npz_array(paths["train"], "perfs")
    copies = np.split(absolute, len(chorales.TRANSPOSITIONS))
    led = np.split(train, len(chorales.TRANSPOSITIONS))
    for copy, lead in zip(copies, led, strict=True):
        np.testing.assert_array_equal(lead[:, :2], copy[:, :2])
        np.testing.assert_array_equal(lead[1:, 2:], copy[:-1, 2:])
        np.testing.assert_array_equal(lead[0, 2:], copy[0, 2:])  # never the copy before's chord
    (heldout,) = read_npz_array(paths["lead_heldout"], "perfs")
    np.testing.assert_array_equal(heldout, chorales.lead_events(events))
    assert paths["lead_train"].name == "chorales-lead-train-5d.npz"


def test_soprano_onsets_only_read_the_other_voices_at_the_melody_notes() -> None:
    pytest.importorskip("music21")
    events = chorales.encode_score(tiny_score(), soprano_onsets=True)
    expected = _absolute([(0.0, 67, 64, 60, 43), (1.0, 69, 64, 60, 43), (2.0, 71, 62, 55, 48)])
    np.testing.assert_array_equal(events, expected)
    assert chorales.final_length(tiny_score(), soprano_onsets=True) == 1.0
