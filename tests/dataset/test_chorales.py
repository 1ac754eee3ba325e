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
MODELS = ROOT / "models"
CONFIG = ROOT / "configs" / "accompany-example.toml"


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


def test_shipped_summary_lists_disjoint_training_and_held_out_chorales() -> None:
    manifest = json.loads((MODELS / f"{MODEL_STEM}-dataset.json").read_text())
    trained = {entry["riemenschneider"] for entry in manifest["train"]}
    held = {entry["riemenschneider"] for entry in manifest["heldout"]}
    assert manifest["held_out"] == list(chorales.HELD_OUT)
    assert held <= set(chorales.HELD_OUT) and not trained & set(chorales.HELD_OUT)
    summary = json.loads((MODELS / f"{MODEL_STEM}.json").read_text())
    validation = {manifest["train"][i]["riemenschneider"] for i in summary["split"]["validation"]}
    assert validation <= trained  # model selection used training chorales only
    assert summary["split"]["test"] == []


@pytest.mark.parametrize(("suffix", "engine"), [(".keras", "numpy"), (".tflite", "auto")])
def test_shipped_model_loads_at_dimension_5(suffix: str, engine: str) -> None:
    """The .keras on the NumPy engine; the .tflite as impsy run loads it (LiteRT or the .keras)."""
    from impsy.model import load_model

    model = load_model(MODELS / f"{MODEL_STEM}{suffix}", engine=engine)
    assert model.dimension == 5
    event = np.array([0.5, 67 / 127, 64 / 127, 60 / 127, 48 / 127], dtype=np.float32)
    assert np.all(np.isfinite(model.step(event).raw))


def test_example_config_passes_check_config() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "impsy", "check-config", str(CONFIG)],
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
