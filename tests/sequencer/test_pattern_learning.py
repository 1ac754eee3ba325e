"""A pattern model in a running sequencer (impsy/sequencer/learn/live.py), on a manual clock.

A model trained here on the made-up drum styles of ``test_pattern_vae`` is put
in a patterns folder; the ``learn/...`` rows run through a command table, as
OSC, the web API and controller rules run them. While the sequencer plays, a
change is written at the next bar line, never before; stopped, at once.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from impsy.clock import ManualClock
from impsy.engine.table import CommandTable
from impsy.errors import CommandError
from impsy.sequencer.commands import LEARN_COMMANDS, SEQUENCER_COMMANDS
from impsy.sequencer.learn.live import MODEL_NAME, PatternLearning
from impsy.sequencer.learn.vae import PatternVAE
from impsy.sequencer.pattern import Bank, Pattern, Step, Track
from impsy.sequencer.sequencer import Sequencer
from tests.sequencer.test_pattern_vae import STYLES, corpus


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):  # noqa: ANN001, ANN201
    bars, _ = corpus(400)
    model = PatternVAE(tracks=4, steps=16, latent=2, seed=0)
    model.fit(bars, epochs=150)
    folder = tmp_path_factory.mktemp("patterns")
    return model.save(folder / MODEL_NAME)


def style_pattern(style: int) -> Pattern:
    tracks = [
        Track(f"t{t}", [Step(on=c == "1", velocity=100) for c in STYLES[style][t]])
        for t in range(4)
    ]
    return Pattern(f"style {style}", tracks)


def rig(folder):  # noqa: ANN001, ANN201
    clock = ManualClock()
    bank = Bank([style_pattern(0), style_pattern(1), style_pattern(3)])
    seq = Sequencer(bank, clock, lambda *args: None, tempo=120.0)
    learning = PatternLearning(seq, folder, seed=1)
    table = CommandTable()
    table.register(SEQUENCER_COMMANDS, seq)
    table.register(LEARN_COMMANDS, learning)
    return clock, seq, learning, table


def on_grid(seq: Sequencer) -> np.ndarray:
    return np.array([[s.on for s in track.steps] for track in seq.pattern.tracks])


def test_stopped_a_change_is_written_at_once_and_undone_track_by_track(model_file):
    clock, seq, learning, table = rig(model_file.parent)
    before = on_grid(seq)
    table.call("learn/interpolate", [0, 1, 1.0])  # pattern 0 becomes style 1's bar
    after = on_grid(seq)
    target = np.array([[c == "1" for c in track] for track in STYLES[1]])
    assert (after != target).sum() <= 3
    for _ in range(4):
        table.call("seq/undo")
    np.testing.assert_array_equal(on_grid(seq), before)


def test_playing_a_change_waits_for_the_next_bar_line(model_file):
    clock, seq, learning, table = rig(model_file.parent)
    seq.start()
    clock.advance(0.1)  # inside the first bar (2 s at 120 bpm)
    before = on_grid(seq)
    table.call("learn/interpolate", [0, 2, 1.0])
    assert learning.pending and (on_grid(seq) == before).all(), "nothing changes mid-bar"
    assert table.call("learn/status")["pending"] == 1
    clock.advance(1.95)  # just past the bar line at 2 s
    assert not learning.pending
    target = np.array([[c == "1" for c in track] for track in STYLES[3]])
    assert (on_grid(seq) != target).sum() <= 3


def test_knobs_generate_vary_and_threshold_are_rows(model_file):
    clock, seq, learning, table = rig(model_file.parent)
    table.call("learn/knob", [1, 2.5])
    assert learning.knobs.point[1] == 2.5
    table.call("learn/generate")
    point = learning.knobs.point.copy()
    table.call("learn/vary", [0.5])
    assert not np.array_equal(point, learning.knobs.point)
    dense = on_grid(seq).sum()
    table.call("learn/threshold", [0.05])
    assert on_grid(seq).sum() >= dense
    status = table.call("learn/status")
    assert status["knobs"] == 2 and status["threshold"] == 0.05 and "knob1" in status
    with pytest.raises(CommandError, match="knob 3 does not exist; the model has 2"):
        table.call("learn/knob", [3, 0.0])
    with pytest.raises(CommandError, match="pattern must be 0-2, got 7"):
        table.call("learn/interpolate", [0, 7, 0.5])


@pytest.fixture(scope="module")
def hats_model() -> PatternVAE:
    """A model that knows only hats and claps (tracks 3 and 4): its bars are not the old's."""
    bars, _ = corpus(200, seed=5)
    bars[:, :2] = 0
    model = PatternVAE(tracks=4, steps=16, latent=2, seed=1)
    model.fit(bars, epochs=60)
    return model


def test_a_new_models_bar_takes_over_the_old_ones_at_the_bar_line(model_file, hats_model):
    """While the tracks play the old model's bar, a newly trained model brings its own at the
    next bar line (not before); once they were edited by hand, it leaves them alone."""
    clock, seq, learning, table = rig(model_file.parent)
    new = hats_model
    seq.start()
    table.call("learn/interpolate", [0, 1, 1.0])
    clock.advance(2.01)  # the old model's bar is in, at the first bar line
    old_bar = on_grid(seq)
    assert old_bar[:2].any()
    learning.arrive(new)
    clock.advance(1.0)
    assert learning.knobs.model is not new and (on_grid(seq) == old_bar).all(), "not mid-bar"
    clock.advance(1.0)  # the bar line at 4 s
    assert learning.knobs.model is new
    new_bar = on_grid(seq)
    assert not new_bar[:2].any() and new_bar[2:].any(), "the new model's bar, whole"
    np.testing.assert_array_equal(new_bar, new.decode(np.zeros((1, 2)))[0, ..., 0] > 0.5)
    table.call("seq/toggle", [3, 1])  # a hand edit: the tracks are the performer's now
    edited = on_grid(seq)
    learning.arrive(PatternVAE.load(model_file))
    clock.advance(2.0)
    assert learning.knobs.model.tracks == 4 and learning.knobs.model is not new
    np.testing.assert_array_equal(on_grid(seq), edited)


def test_a_new_models_bar_replaces_the_old_ones_proposal_until_it_is_accepted(
    model_file, hats_model
):
    clock, seq, learning, table = rig(model_file.parent)
    table.call("learn/to", ["ghost"])
    table.call("learn/knob", [0, 1.0])  # stopped: proposed at once
    assert 0 in {t for t, _ in seq.lane.proposal}, "the old model's kicks"
    learning.arrive(hats_model)  # stopped: in at once, its bar proposed in the old one's place
    assert learning.knobs.model is hats_model
    assert seq.lane.proposal and {t for t, _ in seq.lane.proposal} <= {2, 3}
    table.call("seq/accept")
    accepted = on_grid(seq)
    learning.arrive(PatternVAE.load(model_file))  # nothing waits: nothing is proposed
    assert not seq.lane.proposal and (on_grid(seq) == accepted).all()


def test_without_a_model_the_rows_say_how_to_make_one(tmp_path, caplog):
    clock, seq, learning, table = rig(tmp_path)
    with pytest.raises(CommandError, match="no pattern model: train one \\(impsy patterns train"):
        table.call("learn/generate")
    assert table.call("learn/status") == {
        "model": "",
        "knobs": 0,
        "pending": 0,
        "training": 0,
        "to": "track",
    }
    (tmp_path / MODEL_NAME).write_bytes(b"damaged")
    with caplog.at_level(logging.WARNING, logger="impsy"):
        clock, seq, learning, table = rig(tmp_path)
    assert "pattern model not loaded" in caplog.text and learning.knobs is None


def test_learn_train_trains_beside_the_music_and_swaps_in_at_the_bar_line(tmp_path):
    """A real training process (the CLI, niced) on the bank as it is; while playing, the new
    model waits for the bar line; a second train while one runs is refused."""
    import asyncio

    async def main():  # noqa: ANN202
        clock, seq, learning, table = rig(tmp_path)
        seq.start()
        clock.advance(0.1)
        pending = table.call("learn/train", [1.0, 2])
        with pytest.raises(CommandError, match="training already"):
            table.call("learn/train")
        assert table.call("learn/status")["training"] == 1
        where = await asyncio.wait_for(pending.wait(), 120)
        return clock, seq, learning, where

    clock, seq, learning, where = asyncio.run(main())
    assert where == str(tmp_path / MODEL_NAME) and (tmp_path / MODEL_NAME).is_file()
    assert learning.knobs is None, "playing: not before the bar line"
    clock.advance(2.0)
    assert learning.knobs is not None and learning.knobs.model.latent == 2
    assert learning.knobs.model.tracks == 4


def test_a_failed_training_tells_the_sender_why(tmp_path):
    import asyncio

    async def main():  # noqa: ANN202
        clock, seq, learning, table = rig(tmp_path)
        seq.state.bank.patterns[:] = [Pattern("empty", [])]  # nothing to learn from
        pending = table.call("learn/train", [1.0])
        with pytest.raises(CommandError, match="pattern training failed"):
            await asyncio.wait_for(pending.wait(), 120)

    asyncio.run(main())
