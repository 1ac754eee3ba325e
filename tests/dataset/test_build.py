"""``impsy dataset``: logs and MIDI files to IMPSY's training ``.npz``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import mido
import numpy as np
import pytest
from click.testing import CliRunner

from impsy.cli.dataset import dataset
from impsy.dataset.logs import format_log_line
from impsy.dataset.midi_files import midi_rows, read_midi_file
from impsy.dataset.npz import performances_array, write_dataset
from impsy.mapping.spec import ControlChange, NoteOn, NoteVelocity
from impsy.model.nll import read_performances

T0 = dt.datetime(2026, 9, 26, 10, 0, 0)
CONFIG_3D = """
[model]
dimension = 3
[midi]
in_device = ["Test Keys"]
out_device = []
[midi.input]
"Test Keys" = [["note_on", 1], ["control_change", 2, 7]]
"""


def write_log(path: Path, rows: list[tuple[float, str, list[float]]]) -> None:
    lines = [format_log_line(T0 + dt.timedelta(seconds=t), src, vals) for t, src, vals in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(*args: str, cwd: Path):
    runner = CliRunner()
    config = cwd / "config.toml"
    if not config.exists():
        config.write_text(CONFIG_3D, encoding="utf-8")
    return runner.invoke(dataset, ["-c", str(config), *map(str, args)], catch_exceptions=False)


def load_perfs(path: Path) -> list[np.ndarray]:
    with np.load(path, allow_pickle=True) as archive:
        assert archive.files == ["perfs"]
        perfs = archive["perfs"]
    assert perfs.dtype == object and perfs.ndim == 1
    return list(perfs)


def test_round_trip_keeps_interface_rows_with_dt_and_drops_each_first_row(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    write_log(
        logs / "2026-09-26T10-00-00-3d-mdrnn.log",
        [
            (0.0, "interface", [0.5, 0.25]),
            (0.5, "interface", [60 / 127, 0.25]),
            (0.6, "rnn", [0.1, 0.2]),
            (1.25, "interface", [60 / 127, 1.0]),
            (3.25, "interface", [0.0, 1.0]),
        ],
    )
    result = run("-S", logs, "-O", tmp_path / "out", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    output = tmp_path / "out" / "training-dataset-3d.npz"
    (perf,) = load_perfs(output)
    assert perf.dtype == np.float32
    expected = [[0.5, 60 / 127, 0.25], [0.75, 60 / 127, 1.0], [2.0, 0.0, 1.0]]
    np.testing.assert_allclose(perf, np.array(expected, np.float32), rtol=0, atol=0)
    assert re.search(r"^performances +1$", result.output, re.MULTILINE)


def test_equal_length_performances_stay_a_1d_object_array(tmp_path):
    perfs = [np.full((4, 3), i, np.float32) for i in range(3)]
    assert performances_array(perfs).shape == (3,)
    path = write_dataset(tmp_path / "d.npz", perfs)
    loaded = load_perfs(path)
    assert [p.shape for p in loaded] == [(4, 3)] * 3
    assert [float(p[0, 0]) for p in read_performances(path)] == [0.0, 1.0, 2.0]


def test_files_are_read_in_sorted_order_and_only_the_dimension_s(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    names = ["2026-09-28T09-00-00", "2026-09-26T09-00-00", "2026-09-27T09-00-00"]
    for name in names:  # written out of order; each file marks itself by its first value
        day = float(name[8:10])
        write_log(
            logs / f"{name}-3d-mdrnn.log", [(t, "interface", [day / 100, 0.5]) for t in (0, 1, 2)]
        )
    write_log(logs / "2026-09-25T09-00-00-4d-mdrnn.log", [(0, "interface", [0.1, 0.2, 0.3])] * 3)
    result = run("-S", logs, "-O", tmp_path, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    perfs = load_perfs(tmp_path / "training-dataset-3d.npz")
    assert [round(float(p[0, 1]) * 100) for p in perfs] == [26, 27, 28]


def test_summary_counts_skipped_rows_by_reason_and_empty_files(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    good = logs / "2026-09-26T10-00-00-3d-mdrnn.log"
    write_log(good, [(t, "interface", [0.1, 0.2]) for t in (0, 1, 2)])
    with good.open("a") as file:
        file.write("2026-09-26T10:00:09,interface,0.1\n")  # too few values
        file.write("2026-09-26T10:00:10,interface,0.1,0.2,0.3\n")  # too many
        file.write("2026-09-26T10:00:11,interface,0.1,abc\n")  # unparseable number
        file.write("not-a-time,interface,0.1,0.2\n")  # unparseable timestamp
    write_log(logs / "2026-09-27T10-00-00-3d-mdrnn.log", [(0, "interface", [0.1, 0.2])])
    result = run("-S", logs, "-O", tmp_path, "-F", "mine.npz", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    table = {line[:26].strip(): line[26:].strip() for line in lines if len(line) > 26}
    assert table["files read"] == "2"
    assert table["performances"] == "1"
    assert table["events (rows)"] == "2"
    assert table["total time"] == "0:00:02"
    assert table["empty files (dropped)"] == "1"
    assert table["skipped rows"] == "4"
    for reason in (
        "too few values",
        "too many values",
        "unparseable number",
        "unparseable timestamp",
    ):
        assert table[reason] == "1"
    assert (tmp_path / "mine.npz").exists()


def test_dimension_defaults_to_the_config_and_output_is_not_overwritten(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    write_log(logs / "a-3d-mdrnn.log", [(t, "interface", [0.1, 0.2]) for t in (0, 1)])
    assert run("-S", logs, "-O", tmp_path, cwd=tmp_path).exit_code == 0
    again = run("-S", logs, "-O", tmp_path, cwd=tmp_path)
    assert again.exit_code == 2 and "--force" in again.output
    assert run("-S", logs, "-O", tmp_path, "--force", cwd=tmp_path).exit_code == 0


def test_no_rows_is_an_error_that_names_the_dimension(tmp_path):
    (tmp_path / "logs").mkdir()
    result = run("-S", tmp_path / "logs", "-O", tmp_path, "-D", "5", cwd=tmp_path)
    assert result.exit_code == 2
    assert "-5d-mdrnn.log" in result.output


MAPPING = (NoteOn(channel=1), NoteVelocity(channel=1), ControlChange(channel=2, control=7))


def test_midi_rows_match_the_live_pipeline_by_hand():
    messages = [
        (0.0, (0x90, 60, 100)),  # first interaction: only starts the clock
        (0.5, (0x80, 60, 0)),  # note-off: ignored, does not reset dt
        (0.75, (0x90, 64, 0)),  # velocity-0 note-on: ignored
        (1.0, (0xB1, 7, 127)),  # CC 7 on channel 2
        (1.5, (0xB1, 8, 50)),  # unmapped controller: ignored
        (2.5, (0x90, 67, 64)),
    ]
    rows = midi_rows(messages, MAPPING)
    expected = [[1.0, 60 / 127, 100 / 127, 1.0], [1.5, 67 / 127, 64 / 127, 1.0]]
    np.testing.assert_allclose(rows, np.array(expected, np.float32))


def _write_midi(path: Path) -> None:
    """Two tracks at 120 bpm, 480 ticks per beat: 480 ticks = 0.5 s."""
    midi = mido.MidiFile(ticks_per_beat=480)
    keys, knobs = mido.MidiTrack(), mido.MidiTrack()
    midi.tracks += [keys, knobs]
    keys.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    keys.append(mido.Message("note_on", channel=0, note=60, velocity=100, time=0))
    keys.append(mido.Message("note_off", channel=0, note=60, velocity=0, time=480))  # 0.5 s
    keys.append(mido.Message("note_on", channel=0, note=62, velocity=80, time=480))  # 1.0 s
    knobs.append(mido.Message("control_change", channel=1, control=7, value=0, time=720))  # 0.75 s
    knobs.append(mido.Message("program_change", channel=1, program=3, time=240))  # 1.0 s, ignored
    midi.save(path)


def test_midi_file_import_through_the_config_mapping(tmp_path):
    midi_dir = tmp_path / "midi"
    midi_dir.mkdir()
    _write_midi(midi_dir / "take1.mid")
    rows = read_midi_file(midi_dir / "take1.mid", MAPPING[0:1] + MAPPING[2:])
    # first note-on starts the clock; CC at 0.75 s; note 62 at 1.0 s.
    expected = [[0.75, 60 / 127, 0.0], [0.25, 62 / 127, 0.0]]
    np.testing.assert_allclose(rows, np.array(expected, np.float32), atol=1e-6)
    result = run("-S", tmp_path / "nologs", "-O", tmp_path, "--midi", midi_dir, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    (perf,) = load_perfs(tmp_path / "training-dataset-3d.npz")
    np.testing.assert_allclose(perf, np.array(expected, np.float32), atol=1e-6)


def test_midi_mapping_must_match_the_dimension(tmp_path):
    midi = tmp_path / "take.mid"
    _write_midi(midi)
    result = run("-S", tmp_path, "-O", tmp_path, "-D", "4", "--midi", midi, cwd=tmp_path)
    assert result.exit_code == 2
    assert "dimension 3" in result.output and "dimension 4" in result.output


@pytest.mark.parametrize("source", ["websocket", "serialmidi"])
def test_mapping_from_a_missing_section_says_so(tmp_path, source):
    midi = tmp_path / "take.mid"
    _write_midi(midi)
    result = run(
        "-S", tmp_path, "-O", tmp_path, "--midi", midi, "--mapping-from", source, cwd=tmp_path
    )
    assert result.exit_code == 2 and f"[{source}]" in result.output


def test_training_reads_both_npz_shapes(tmp_path):
    from impsy.training.trainer import load_performances

    three_d = tmp_path / "3d.npz"
    np.savez_compressed(three_d, perfs=np.zeros((3, 60, 4), np.float32))  # equal lengths
    ragged = write_dataset(tmp_path / "ragged.npz", [np.zeros((n, 4), np.float32) for n in (5, 9)])
    assert [p.shape for p in load_performances(three_d, 4)] == [(60, 4)] * 3
    assert [p.shape for p in load_performances(ragged, None)] == [(5, 4), (9, 4)]
    with pytest.raises(Exception, match="dimension 4"):
        load_performances(ragged, 9)


def _no_notes(path: Path) -> None:
    """A valid MIDI file with a tempo and a track name but not one note or control."""
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack(
        [mido.MetaMessage("track_name", name="silence"), mido.MetaMessage("set_tempo")]
    )
    midi.tracks.append(track)
    midi.save(path)


def test_unusable_midi_files_are_listed_and_the_good_ones_kept(tmp_path):
    midi_dir = tmp_path / "midi"
    midi_dir.mkdir()
    _write_midi(midi_dir / "a-good.mid")
    (midi_dir / "b-junk.mid").write_bytes(b"not a MIDI file" * 10)
    _no_notes(midi_dir / "c-silent.mid")
    result = run("-S", tmp_path / "nologs", "-O", tmp_path, "--midi", midi_dir, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert len(load_perfs(tmp_path / "training-dataset-3d.npz")) == 1
    assert "unusable: b-junk.mid: not a readable Standard MIDI File" in result.output
    assert "empty: c-silent.mid" in result.output
    assert "unusable files (skipped)" in result.output


def test_only_midi_files_without_notes_is_an_error_that_says_so(tmp_path):
    _no_notes(tmp_path / "silent.mid")
    result = run(
        "-S", tmp_path / "nologs", "-O", tmp_path, "--midi", tmp_path / "silent.mid", cwd=tmp_path
    )
    assert result.exit_code != 0
    assert "empty: silent.mid" in result.output
    assert "no MIDI file (1 read, listed above)" in result.output
