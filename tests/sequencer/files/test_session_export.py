"""``impsy export-session``: performance logs to one MIDI file, read back with mido.

The logs are written by impsy's own log writer (``impsy.engine.eventlog``
and ``impsy.dataset.logs.format_log_line``, what ``impsy run`` uses), with
chosen timestamps so the expected MIDI times are exact.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import mido
import pytest
from click.testing import CliRunner

from impsy.cli import main
from impsy.dataset.logs import format_log_line
from impsy.engine.eventlog import EventLog, log_file_name
from impsy.mapping.spec import ControlChange, NoteOn, NoteVelocity
from impsy.sequencer.files.session_export import (
    ExportError,
    default_mapping,
    export_session,
    find_logs,
)
from impsy.sequencer.files.tempo_log import format_tempo_line, tempo_path

START = dt.datetime(2026, 11, 21, 20, 30, 0, 250000)


def write_log(directory: Path, rows: list[tuple[float, str, list[float]]], start=START) -> Path:  # noqa: ANN001
    """A log as ``impsy run`` names and writes it; ``rows`` are (seconds, source, values)."""
    path = directory / log_file_name(len(rows[0][2]) + 1, start)
    lines = [format_log_line(start + dt.timedelta(seconds=s), src, v) for s, src, v in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


PERFORMANCE = [
    (0.0, "interface", [60 / 127, 100 / 127]),
    (0.5, "interface", [62 / 127, 90 / 127]),
    (1.0, "rnn", [64 / 127, 80 / 127]),
    (1.25, "interface", [67 / 127, 110 / 127]),
    (1.5, "rnn", [65 / 127, 70 / 127]),
]


def timeline(path: Path) -> dict[str, list[tuple[float, list[int]]]]:
    """Track name -> (seconds, message bytes) of its channel messages, via the tempo map."""
    midi = mido.MidiFile(path)
    tempo = next(m.tempo for m in midi.tracks[0] if m.type == "set_tempo")
    result = {}
    for track in midi.tracks[1:]:
        tick, events = 0, []
        for message in track:
            tick += message.time
            if not message.is_meta:
                seconds = mido.tick2second(tick, midi.ticks_per_beat, tempo)
                events.append((round(seconds, 3), message.bytes()))  # to the tick
        result[track.name] = events
    return result


def test_human_and_model_go_to_their_own_tracks_at_their_real_times(tmp_path):
    log = write_log(tmp_path, PERFORMANCE)
    written, rows = export_session(log, tmp_path / "set.mid", tempo=90)
    assert written == tmp_path / "set.mid" and len(rows.rows) == 5
    midi = mido.MidiFile(written)
    assert midi.type == 1
    assert [t.name for t in midi.tracks] == [log.stem, "human", "model"]
    tempos = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
    assert [mido.tempo2bpm(t) for t in tempos] == [pytest.approx(90.0, abs=1e-3)]
    tracks = timeline(written)
    assert tracks["human"] == [
        (0.0, [0x90, 60, 100]),
        (0.5, [0x80, 60, 0]),
        (0.5, [0x90, 62, 90]),
        (1.25, [0x80, 62, 0]),
        (1.25, [0x90, 67, 110]),
        (2.5, [0x80, 67, 0]),  # the last note ends a second after the last row
    ]
    assert tracks["model"] == [
        (1.0, [0x90, 64, 80]),
        (1.5, [0x80, 64, 0]),
        (1.5, [0x90, 65, 70]),
        (2.5, [0x80, 65, 0]),
    ]
    assert midi.length == pytest.approx(2.5, abs=0.01)


def test_the_configs_output_mapping_is_used(tmp_path):
    log = write_log(tmp_path, PERFORMANCE)
    config = tmp_path / "config.toml"
    config.write_text(
        '[model]\ndimension = 3\n[midi]\nout_device = ["synth"]\n'
        'output."synth" = [["note_on", 2], ["control_change", 2, 74]]\n'
    )
    result = CliRunner().invoke(
        main, ["export-session", str(log), "-c", str(config), "-o", str(tmp_path / "out.mid")]
    )
    assert result.exit_code == 0, result.output
    assert "3 human and 2 model rows" in result.output and 'output."synth"' in result.output
    human = timeline(tmp_path / "out.mid")["human"]
    assert human[:2] == [(0.0, [0x91, 60, 127]), (0.0, [0xB1, 74, 100])]
    assert (0.5, [0xB1, 74, 90]) in human


def test_a_mapping_of_the_wrong_length_is_refused(tmp_path):
    log = write_log(tmp_path, PERFORMANCE)
    config = tmp_path / "config.toml"
    config.write_text(
        '[model]\ndimension = 4\n[midi]\nout_device = ["synth"]\n'
        'output."synth" = [["note_on", 1], ["note_velocity", 1], ["control_change", 1, 1]]\n'
    )
    result = CliRunner().invoke(main, ["export-session", str(log), "-c", str(config)])
    assert result.exit_code == 2
    assert "has 3 entries but the log's rows have 2 values" in result.output


def test_the_default_output_is_next_to_the_log(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config.toml here: the default mapping
    log = write_log(tmp_path, PERFORMANCE)
    result = CliRunner().invoke(main, ["export-session", str(log)])
    assert result.exit_code == 0, result.output
    assert "default mapping" in result.output and "120 bpm" in result.output
    assert log.with_suffix(".mid").is_file()


def test_a_directory_means_its_newest_run_and_a_prefix_all_matching_runs(tmp_path):
    first = write_log(tmp_path, PERFORMANCE[:2])
    later = START + dt.timedelta(minutes=5)
    second = write_log(tmp_path, PERFORMANCE[2:], start=later)
    other = write_log(tmp_path, PERFORMANCE, start=START + dt.timedelta(days=1))
    assert find_logs(tmp_path) == [other]
    assert find_logs(first) == [first]
    prefix = tmp_path / "2026-11-21T20"
    assert find_logs(prefix) == [first, second]
    written, rows = export_session(prefix)
    assert written == Path(f"{prefix}.mid")
    model = timeline(written)["model"]
    assert model[0] == (301.0, [0x90, 64, 80]), "5 minutes later, 1 s into that run"
    with pytest.raises(ExportError, match="not a log file, a directory of logs"):
        find_logs(tmp_path / "1999")


def test_a_log_written_by_eventlog_exports(tmp_path):
    log = EventLog(tmp_path, dimension=4)
    for values in ([0.5, 0.8, 0.1], [0.6, 0.7, 0.2]):
        log.write("interface", values)
    log.write("rnn", [0.4, 0.5, 0.3])
    log.close()
    written, rows = export_session(tmp_path)
    assert rows.files == [log.path]
    tracks = timeline(written)
    assert [m for _, m in tracks["human"] if m[0] == 0x90] == [[0x90, 64, 102], [0x90, 76, 89]]
    assert [m for _, m in tracks["human"] if m[0] == 0xB0] == [[0xB0, 20, 13], [0xB0, 20, 25]]
    assert [m for _, m in tracks["model"] if m[0] == 0x90] == [[0x90, 51, 64]]
    seconds = [s for s, _ in tracks["human"] + tracks["model"]]
    assert min(seconds) == 0.0 and max(seconds) < 5.0


def test_malformed_rows_are_skipped_and_counted(tmp_path):
    log = write_log(tmp_path, PERFORMANCE)
    with open(log, "a") as file:
        file.write("not a time,interface,0.1,0.2\n2026-11-21T20:30:03,interface,0.1\n\n")
    written, rows = export_session(log)
    assert rows.skipped == 2 and len(rows.rows) == 5


def test_the_default_mapping():
    assert default_mapping(1) == [NoteOn(1)]
    assert default_mapping(4) == [
        NoteOn(1),
        NoteVelocity(1),
        ControlChange(1, 20),
        ControlChange(1, 21),
    ]


def test_a_log_with_nothing_to_export_is_an_error(tmp_path):
    empty = tmp_path / "2026-01-01T00-00-00-3d-mdrnn.log"
    empty.write_text("garbage\n")
    with pytest.raises(ExportError, match="no interface or rnn rows"):
        export_session(empty)


def test_without_midi_output_the_sequencer_mapping_and_tempo_are_used(tmp_path):
    log = write_log(tmp_path, PERFORMANCE)
    config = tmp_path / "seq.toml"
    config.write_text(
        "[model]\ndimension = 3\n[sequencer]\ntempo = 96\n"
        'mapping = [["note_on", 3], ["note_velocity", 3]]\n'
    )
    out = tmp_path / "seq.mid"
    result = CliRunner().invoke(
        main, ["export-session", str(log), "-c", str(config), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "[sequencer] mapping" in result.output and "96 bpm" in result.output
    assert timeline(out)["human"][0] == (0.0, [0x92, 60, 100])
    tempos = [m.tempo for m in mido.MidiFile(out).tracks[0] if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(96)]


def write_tempos(log: Path, changes: list[tuple[float, float]], start=START) -> Path:  # noqa: ANN001
    """The tempo file the sequencer writes beside ``log``: (seconds, bpm) rows."""
    path = tempo_path(log)
    lines = [format_tempo_line(start + dt.timedelta(seconds=s), bpm) for s, bpm in changes]
    path.write_text("\n".join(lines) + "\n")
    return path


IRREGULAR = [  # every row a new note, so every row is a note-on
    (0.0, "interface", [60 / 127, 100 / 127]),
    (0.37, "interface", [62 / 127, 90 / 127]),
    (1.111, "rnn", [64 / 127, 80 / 127]),
    (2.003, "interface", [67 / 127, 110 / 127]),
    (2.9, "rnn", [65 / 127, 70 / 127]),
    (3.7, "interface", [69 / 127, 70 / 127]),
    (5.55, "rnn", [71 / 127, 70 / 127]),
]


def playback(path: Path) -> list[tuple[float, mido.Message]]:
    """(seconds, message) as a player hears the file: mido applies every set_tempo."""
    now, heard = 0.0, []
    for message in mido.MidiFile(path):
        now += message.time
        heard.append((now, message))
    return heard


def test_a_recorded_tempo_map_is_written_and_every_note_keeps_its_real_time(tmp_path):
    log = write_log(tmp_path, IRREGULAR)
    # the sequencer started 2 s before the first gesture, then changed tempo twice
    write_tempos(log, [(-2.0, 100.0), (1.5, 140.0), (3.2, 75.5)])
    written, rows = export_session(log, tmp_path / "set.mid")
    assert rows.tempos == [(-2.0, 100.0), (1.5, 140.0), (3.2, 75.5)]
    heard = playback(written)
    note_ons = [t for t, m in heard if m.type == "note_on" and m.velocity > 0]
    assert note_ons == pytest.approx([s for s, _, _ in IRREGULAR], abs=0.001)
    assert heard[-1][0] == pytest.approx(5.55 + 1.0, abs=0.001)  # the tail, in real time
    tempos = [(t, m.tempo) for t, m in heard if m.type == "set_tempo"]
    assert [tempo for _, tempo in tempos] == [mido.bpm2tempo(b) for b in (100.0, 140.0, 75.5)]
    assert [t for t, _ in tempos] == pytest.approx([0.0, 1.5, 3.2], abs=0.001)
    ticks, tick = [], 0
    for message in mido.MidiFile(written).tracks[0]:
        tick += message.time
        if message.type == "set_tempo":
            ticks.append(tick)
    # 1.5 s at 100 bpm is 2.5 beats; then 1.7 s at 140 bpm is 3.9667 beats (480 ticks each)
    assert ticks == [0, 1200, 1200 + round(1.7 * 140 / 60 * 480)]


def test_tempo_flag_overrides_the_recorded_map_and_without_it_the_map_is_used(tmp_path):
    log = write_log(tmp_path, IRREGULAR)
    sidecar = write_tempos(log, [(0.5, 90.0), (2.0, 180.0)])
    mapped, fixed = tmp_path / "map.mid", tmp_path / "fixed.mid"
    result = CliRunner().invoke(main, ["export-session", str(log), "-o", str(mapped)])
    assert result.exit_code == 0, result.output
    assert f"with the tempo map of {sidecar}" in result.output
    # before the first recorded change, the first recorded tempo
    assert [m.tempo for _, m in playback(mapped) if m.type == "set_tempo"] == [
        mido.bpm2tempo(90.0),
        mido.bpm2tempo(180.0),
    ]
    result = CliRunner().invoke(
        main, ["export-session", str(log), "-o", str(fixed), "--tempo", "96"]
    )
    assert result.exit_code == 0, result.output
    assert "at 96 bpm" in result.output
    heard = playback(fixed)
    assert [m.tempo for _, m in heard if m.type == "set_tempo"] == [mido.bpm2tempo(96.0)]
    note_ons = [t for t, m in heard if m.type == "note_on" and m.velocity > 0]
    assert note_ons == pytest.approx([s for s, _, _ in IRREGULAR], abs=0.001)


def test_several_runs_each_bring_their_own_tempo_file(tmp_path):
    first = write_log(tmp_path, IRREGULAR[:3])
    write_tempos(first, [(0.0, 100.0)])
    later = START + dt.timedelta(seconds=10)
    second = write_log(tmp_path, IRREGULAR[3:], start=later)
    write_tempos(second, [(0.0, 150.0)], start=later)
    written, rows = export_session(tmp_path / "2026-11-21T20")
    assert rows.tempo_files == [tempo_path(first), tempo_path(second)]
    tempos = [(t, m.tempo) for t, m in playback(written) if m.type == "set_tempo"]
    assert tempos == [(0.0, mido.bpm2tempo(100.0)), (pytest.approx(10.0, abs=0.001), 400000)]
    note_ons = [t for t, m in playback(written) if m.type == "note_on" and m.velocity > 0]
    expected = [s for s, _, _ in IRREGULAR[:3]] + [10.0 + s for s, _, _ in IRREGULAR[3:]]
    assert note_ons == pytest.approx(expected, abs=0.001)
