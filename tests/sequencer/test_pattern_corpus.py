"""Bars to learn from (impsy/sequencer/learn/corpus.py): bank patterns and MIDI files.

The MIDI files are written here with mido, notes placed at known ticks, so
each step's expected on/velocity/offset is computed from those ticks.
"""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from impsy.sequencer.learn.corpus import GM_DRUMS, CorpusError, bars_from_midi, bars_from_pattern
from impsy.sequencer.learn.material import collect
from impsy.sequencer.pattern import Pattern, Step, Track

TPB = 480  # ticks per beat
STEP = TPB // 4


def track(name: str, on: list[int], length: int = 16, velocity: int = 100, spb: int = 4) -> Track:
    steps = [Step(on=i in on, velocity=velocity) for i in range(length)]
    return Track(name, steps, steps_per_beat=spb)


def test_a_bank_pattern_is_a_bar_per_four_beats_and_short_tracks_repeat():
    pattern = Pattern(
        "p",
        [
            track("kick", [0, 8, 16, 28], length=32, velocity=127),  # two bars
            track("hat", [2, 6, 10, 14], velocity=64),  # one bar: plays again in bar 2
            track("half", [0, 2], length=8, spb=2),  # eighths: 8 steps a bar
        ],
    )
    bars = bars_from_pattern(pattern)
    assert bars.shape == (2, 3, 16, 3)
    assert np.flatnonzero(bars[0, 0, :, 0]).tolist() == [0, 8]
    assert np.flatnonzero(bars[1, 0, :, 0]).tolist() == [0, 12]
    assert np.flatnonzero(bars[0, 1, :, 0]).tolist() == [2, 6, 10, 14]
    np.testing.assert_array_equal(bars[0, 1], bars[1, 1])
    assert np.flatnonzero(bars[0, 2, :, 0]).tolist() == [0, 4]  # eighth 2 = sixteenth 4
    assert bars[0, 0, 0, 1] == 1.0 and bars[0, 1, 2, 1] == pytest.approx(64 / 127)
    assert not bars[..., 2].any(), "bank steps sit on the grid"


def write_midi(path, notes, channel=9, bars=1):  # noqa: ANN001, ANN201
    """``notes``: (tick, note, velocity); each note lasts 30 ticks."""
    midi = mido.MidiFile(ticks_per_beat=TPB)
    midi_track = mido.MidiTrack()
    midi.tracks.append(midi_track)
    events = []
    for tick, note, velocity in notes:
        events.append(
            (tick, mido.Message("note_on", channel=channel, note=note, velocity=velocity))
        )
        events.append((tick + 30, mido.Message("note_off", channel=channel, note=note)))
    events.sort(key=lambda e: e[0])
    now = 0
    for tick, message in events:
        midi_track.append(message.copy(time=tick - now))
        now = tick
    midi_track.append(mido.MetaMessage("end_of_track", time=bars * 4 * TPB - now))
    midi.save(path)
    return path


def test_a_drum_loop_becomes_tracks_by_the_drum_map_with_micro_timing(tmp_path):
    path = write_midi(
        tmp_path / "loop.mid",
        [
            (0, 36, 127),  # kick on step 0
            (8 * STEP + 12, 36, 100),  # kick late by 12/120 of a step on step 8
            (4 * STEP - 30, 38, 90),  # snare early by a quarter step on step 4
            (4 * STEP + 5, 40, 120),  # a louder snare hit on the same step: it speaks
            (16 * STEP + 2 * STEP, 42, 64),  # closed hat, bar 2, step 2
            (3 * STEP, 60, 100),  # not a drum of the map: ignored
        ],
        bars=2,
    )
    bars, names = bars_from_midi(path, GM_DRUMS)
    assert names == list(GM_DRUMS)
    assert bars.shape == (2, len(GM_DRUMS), 16, 3)
    kick, snare, hat = bars[:, 0], bars[:, 1], bars[:, 2]
    assert np.flatnonzero(kick[0, :, 0]).tolist() == [0, 8]
    assert kick[0, 8, 2] == pytest.approx(12 / STEP)
    assert kick[0, 0, 1] == 1.0 and kick[0, 8, 1] == pytest.approx(100 / 127)
    assert np.flatnonzero(snare[0, :, 0]).tolist() == [4]
    assert snare[0, 4, 1] == pytest.approx(120 / 127) and snare[0, 4, 2] == pytest.approx(5 / STEP)
    assert np.flatnonzero(hat[1, :, 0]).tolist() == [2] and not hat[0, :, 0].any()
    assert bars[:, 3:, :, 0].sum() == 0


def test_without_a_drum_map_each_channel_is_a_track(tmp_path):
    midi = mido.MidiFile(ticks_per_beat=TPB)
    for channel, tick in ((0, 0), (1, 2 * STEP)):
        midi_track = mido.MidiTrack()
        midi_track.append(mido.Message("note_on", channel=channel, note=50, velocity=80, time=tick))
        midi_track.append(mido.Message("note_off", channel=channel, note=50, time=60))
        midi.tracks.append(midi_track)
    midi.save(tmp_path / "two.mid")
    bars, names = bars_from_midi(tmp_path / "two.mid")
    assert bars.shape == (1, 2, 16, 3) and len(names) == 2
    assert np.flatnonzero(bars[0, 0, :, 0]).tolist() == [0]
    assert np.flatnonzero(bars[0, 1, :, 0]).tolist() == [2]


def test_material_without_notes_is_refused_naming_the_file(tmp_path):
    path = write_midi(tmp_path / "melody.mid", [(0, 60, 100)], channel=0)
    with pytest.raises(CorpusError, match="melody.mid: no notes of the drum map"):
        bars_from_midi(path, GM_DRUMS)
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"MThd but not really")
    with pytest.raises(CorpusError, match="junk.mid: not a readable Standard MIDI File"):
        bars_from_midi(junk)


def train_cli(folder, out, *options: str) -> str:  # noqa: ANN001
    """``impsy patterns train FOLDER -o OUT OPTIONS...`` as a user runs it; its output."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "impsy", "patterns", "train", str(folder), "-o", str(out), *options],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_impsy_patterns_train_learns_a_folder_of_loops_and_skips_the_broken(tmp_path):
    from impsy.sequencer.learn.vae import PatternVAE

    loops = tmp_path / "loops"
    loops.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        hits = [
            (b * 16 * STEP + s * STEP + int(rng.integers(0, 20)), 36, 100)
            for b in range(2)
            for s in (0, 8)
        ]
        hits += [(b * 16 * STEP + s * STEP, 42, 70) for b in range(2) for s in range(0, 16, 2)]
        write_midi(loops / f"loop{i}.mid", hits, bars=2)
    (loops / "broken.mid").write_bytes(b"nope")
    out = tmp_path / "patterns.npz"
    printed = train_cli(loops, out, "--epochs", "40", "--latent", "2")
    assert "skipped" in printed and "broken.mid: not a readable" in printed
    assert "24 bars of 6 tracks x 16 steps" in printed
    model = PatternVAE.load(out)
    assert (model.tracks, model.steps, model.latent) == (6, 16, 2)
    bar = model.decode(np.zeros((1, 2)))[0]
    assert (bar[2, ::2, 0] > 0.5).all(), "the hats on every other step"
    # The map of the training bars (for the web UI): every bar's point and its file.
    corpus = model.corpus
    assert corpus is not None and corpus.means.shape == (24, 2)
    assert corpus.sources == [f"loop{i}.mid" for i in (0, 1, 10, 11, *range(2, 10))]
    assert corpus.source.tolist() == [i for i in range(12) for _ in range(2)]
    np.testing.assert_allclose(corpus.means, model.encode(collect([loops]).bars), atol=1e-5)


def test_a_file_left_out_of_a_folder_is_not_read(tmp_path):
    """A running sequencer's bank file inside its patterns folder: training is given the bank
    as it is now, so its saved (maybe stale) copy is left out and counts once, not twice."""
    folder = tmp_path / "patterns"
    folder.mkdir()
    for name, bars in (("kept.mid", 2), ("bank.mid", 1)):
        write_midi(folder / name, [(b * 16 * STEP, 36, 100) for b in range(bars)], bars=bars)
    assert [Path(p).name for p, _ in collect([folder]).sources] == ["bank.mid", "kept.mid"]
    material = collect([folder], exclude=[folder / "bank.mid"])
    assert [Path(p).name for p, _ in material.sources] == ["kept.mid"]
    assert len(material.bars) == 2
    printed = train_cli(
        folder, tmp_path / "p.npz", "--epochs", "2", "--exclude", str(folder / "bank.mid")
    )
    assert "bank.mid" not in printed and "2 bars of" in printed
