"""The sequencer adapter end to end over real UDP: Pure Data's view of it.

A real OSC peer (``tests/osc_client.py``) sends ``/impsy/seq/...`` commands,
with whole numbers as floats as Pure Data does, and receives the notes of
OSC-played tracks as ``/impsy/seq/play track note velocity``.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import mido
import pytest

from impsy.app import RunOptions, build, build_adapters
from impsy.config import load_config_text
from impsy.engine import loop as impsy_loop
from impsy.engine.table import CommandTable
from impsy.sequencer.files.session_export import export_session
from impsy.sequencer.files.storage import save_bank
from impsy.sequencer.files.tempo_log import MIN_INTERVAL_S, read_tempo_file, tempo_path
from impsy.sequencer.pattern import Bank, Pattern, Track
from tests.io.test_midi_jack import until
from tests.osc_client import OscPeer, free_udp_port
from tests.paths import ROOT

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"


def make_config(server: int, client: int, mode: str = "useronly", sequencer: str = "") -> object:
    model = f'file = "{MODEL}"\ntimescale = 0.3\nseed = 5' if mode != "useronly" else ""
    text = f"""
log_input = true
[interaction]
mode = "{mode}"
threshold = 0.1
[model]
dimension = 9
{model}
[osc]
server_port = {server}
client_port = {client}
[sequencer]
tempo = 240
{sequencer}
"""
    return load_config_text(text, "test.toml")


def play(scenario, tmp_path: Path, **options):  # noqa: ANN001, ANN003, ANN201
    async def main():  # noqa: ANN202
        server, client = free_udp_port(), free_udp_port()
        config = make_config(server, client, **options)
        performance = build(config, RunOptions(logdir=tmp_path))
        engine = performance.engine
        await performance.start()
        # As ``impsy run`` does once everything is loaded: a full collection of the
        # test session's heap (hundreds of ms) would stall the grid and skip steps.
        gc.freeze()
        peer = await OscPeer.open(client, server)
        adapter = performance.adapters[-1]
        try:
            return await scenario(engine, adapter, peer)
        finally:
            peer.close()
            await engine.stop()
            gc.unfreeze()

    return impsy_loop.run(main())


def test_default_config_has_an_osc_played_sequencer_stopped_until_started() -> None:
    config = load_config_text((ROOT / "configs" / "default.toml").read_text(), "default.toml")
    assert config.sequencer is not None
    assert not config.sequencer.autostart
    assert [t.port for t in config.sequencer.tracks] == [""]
    names = [type(a).__name__ for a in build_adapters(config, 9, CommandTable())]
    assert names == ["OSCAdapter", "SequencerAdapter"]


def test_pd_starts_edits_and_hears_notes_with_note_offs_in_order(tmp_path) -> None:
    async def scenario(engine, adapter, peer):  # noqa: ANN001, ANN202
        assert adapter.sequencer.playing is False
        peer.send("/impsy/seq/toggle", 0.0, 0.0)
        peer.send("/impsy/seq/note", 0.0, 0.0, 64.0)
        peer.send("/impsy/seq/velocity", 0.0, 0.0, 90.0)
        peer.send("/impsy/seq/step", 0.0, 8.0, 1.0)
        peer.send("/impsy/seq/start")
        plays = await peer.wait_for("/impsy/seq/play", 8, timeout=5.0)
        peer.send("/impsy/seq/stop")
        await until(lambda: not adapter.sequencer.playing)
        return plays

    plays = play(scenario, tmp_path)
    assert plays[:4] == [[0, 64, 90], [0, 64, 0], [0, 60, 100], [0, 60, 0]]
    assert plays[4:8] == plays[:4]  # the pattern loops


def test_human_edits_are_logged_as_gestures_and_playback_is_not(tmp_path) -> None:
    async def scenario(engine, adapter, peer):  # noqa: ANN001, ANN202
        peer.send("/impsy/seq/key", 67.0, 127.0)  # step mode: writes step 0
        await until(lambda: engine.counters.events_in == 1)
        peer.send("/impsy/seq/start")
        await peer.wait_for("/impsy/seq/play", 4, timeout=5.0)
        return engine.counters.events_in, adapter.sequencer.pattern.tracks[0].steps[0]

    events_in, step = play(scenario, tmp_path)
    assert events_in == 1
    assert step.on and step.notes == (67,) and step.velocity == 127
    (log_file,) = tmp_path.glob("*.log")
    rows = [line.split(",") for line in log_file.read_text().splitlines()]
    assert [r[1] for r in rows] == ["interface"]
    # time, kind, x1 (note) = 67/127, x2 (velocity) = 1, the rest unchanged
    assert abs(float(rows[0][2]) - 67 / 127) < 1e-9 and float(rows[0][3]) == 1.0


def test_bad_commands_are_counted_and_the_sequencer_carries_on(tmp_path) -> None:
    async def scenario(engine, adapter, peer):  # noqa: ANN001, ANN202
        peer.send("/impsy/seq/tempo", 1000.0)
        peer.send("/impsy/seq/toggle", 0.0, 99.0)
        peer.send("/impsy/seq/mode", "jam")
        peer.send("/impsy/seq/toggle")
        peer.send("/impsy/seq/save", "/tmp/not-a-bank.sh")
        peer.send("/impsy/seq/tempo", 90.0)
        await until(lambda: adapter.sequencer.tempo == 90.0)
        return engine.counters.bad_input

    assert play(scenario, tmp_path) == 5
    assert not Path("/tmp/not-a-bank.sh").exists()


def test_save_and_load_a_bank_over_osc(tmp_path) -> None:
    bank = tmp_path / "bank.toml"

    async def scenario(engine, adapter, peer):  # noqa: ANN001, ANN202
        seq = adapter.sequencer
        peer.send("/impsy/seq/toggle", 0.0, 3.0)
        await until(lambda: seq.pattern.tracks[0].steps[3].on)
        peer.send("/impsy/seq/save")
        await until(bank.exists)
        peer.send("/impsy/seq/toggle", 0.0, 3.0)
        await until(lambda: not seq.pattern.tracks[0].steps[3].on)
        peer.send("/impsy/seq/load")
        await until(lambda: seq.pattern.tracks[0].steps[3].on)
        return True

    assert play(scenario, tmp_path, sequencer=f'patterns = "{bank}"')


def test_callresponse_model_plays_on_the_grid_and_hands_back_at_a_bar_line(tmp_path) -> None:
    async def scenario(engine, adapter, peer):  # noqa: ANN001, ANN202
        seq = adapter.sequencer
        seq.start()
        seq.record_note(60, 100)  # the call
        await until(lambda: engine.responding, timeout=3.0)
        started = seq.next_bar
        heard = len(peer.messages("/impsy/seq/play"))
        await until(lambda: not engine.responding, timeout=4.0)  # nobody played: a bar line
        ended = seq.next_bar
        return started, ended, len(peer.messages("/impsy/seq/play")) - heard

    started, ended, model_notes = play(
        scenario, tmp_path, mode="callresponse", sequencer="response_bars = 1"
    )
    assert ended == started + 2  # handed back at the bar line after one whole bar
    assert model_notes > 0


def test_status_reports_lateness_over_osc(tmp_path) -> None:
    async def scenario(engine, adapter, peer):  # noqa: ANN001, ANN202
        peer.send("/impsy/seq/toggle", 0.0, 0.0)
        peer.send("/impsy/seq/start")
        await peer.wait_for("/impsy/seq/play", 2, timeout=5.0)
        peer.send("/impsy/seq/status")
        (status,) = await peer.wait_for("/impsy/seq/status")
        (histogram,) = await peer.wait_for("/impsy/seq/histogram")
        return dict(zip(status[::2], status[1::2], strict=True)), histogram

    status, histogram = play(scenario, tmp_path)
    assert status["playing"] == 1 and status["tempo"] == 240.0
    assert status["lateness_count"] >= 2
    assert sum(histogram) == status["lateness_count"]


# ----------------------------------------------------------------- MIDI files


def plain_midi(path: Path, notes: list[tuple[int, int]]) -> Path:
    """A MIDI file as a DAW writes it (no impsy text events): (beat, note) quarter notes."""
    midi = mido.MidiFile(type=1, ticks_per_beat=96)
    track = mido.MidiTrack()
    now = 0
    for beat, note in notes:
        track.append(mido.Message("note_on", note=note, velocity=100, time=beat * 96 - now))
        track.append(mido.Message("note_off", note=note, velocity=0, time=48))
        now = beat * 96 + 48
    midi.tracks.append(track)
    midi.save(path)
    return path


def test_patterns_go_to_and_come_from_midi_files_over_osc(tmp_path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    plain_midi(folder / "daw.midi", [(0, 40), (1, 43), (3, 47)])

    async def scenario(engine, adapter, peer):  # noqa: ANN001, ANN202
        seq = adapter.sequencer
        peer.send("/impsy/seq/toggle", 0.0, 0.0)
        peer.send("/impsy/seq/note", 0.0, 0.0, 64.0)
        peer.send("/impsy/seq/toggle", 0.0, 6.0)
        await until(lambda: seq.pattern.tracks[0].steps[6].on)
        peer.send("/impsy/seq/export_midi", "groove.mid")
        await until((folder / "groove.mid").exists)
        peer.send("/impsy/seq/import_midi", "groove.mid")
        await until(lambda: len(seq.bank.patterns) == 2)
        groove = (seq.selected_pattern, seq.pattern.copy())
        peer.send("/impsy/seq/import_midi", "daw.midi")
        await until(lambda: len(seq.bank.patterns) == 3)
        daw = (seq.selected_pattern, seq.pattern.copy())
        peer.send("/impsy/seq/song", 0.0, 1.0, 2.0)
        peer.send("/impsy/seq/export_midi", "song.mid")
        await until((folder / "song.mid").exists)
        return groove, daw, seq.bank.patterns[0], engine.counters.bad_input

    groove, daw, first, bad = play(scenario, tmp_path, sequencer=f'patterns = "{folder}/b.json"')
    assert bad == 0
    assert groove[0] == 1 and groove[1].name == "groove"
    assert groove[1].tracks[0].steps == first.tracks[0].steps  # the same pattern came back
    assert daw[0] == 2
    on = {i: s.notes for i, s in enumerate(daw[1].tracks[0].steps) if s.on}
    assert on == {0: (40,), 4: (43,), 12: (47,)}  # quarter notes quantised onto 16ths
    song = mido.MidiFile(folder / "song.mid")
    assert song.length == pytest.approx(3.0, abs=0.01)  # three one-bar patterns at 240 bpm


def test_file_names_from_osc_never_leave_the_patterns_folder(tmp_path) -> None:
    folder = tmp_path / "set"  # patterns = "set/bank.toml", beside the set's config.toml
    folder.mkdir()
    (folder / "a").mkdir()
    config = folder / "config.toml"
    config.write_text("[osc]\nserver_port = 6000\n")
    (folder / "broken.mid").write_bytes(b"MThd not really")
    (folder / "link.json").symlink_to(tmp_path / "linked.json")
    outside = Bank([Pattern("p", [Track.empty("t", 16)]), Pattern("q", [Track.empty("t", 16)])])
    save_bank(outside, tmp_path / "outside.json")
    plain_midi(tmp_path / "outside.mid", [(0, 60)])
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    attempts = [
        ("save", "../escape.json"),
        ("save", str(tmp_path / "absolute.json")),
        ("save", "a/b.json"),
        ("save", "a\\b.json"),
        ("save", ".hidden.json"),
        ("save", "config.toml"),  # in the folder, but not a bank: never overwritten
        ("save", "link.json"),  # a link out of the folder
        ("save", "notes.txt"),
        ("save", 3.0),
        ("load", "../outside.json"),
        ("load", str(tmp_path / "outside.json")),
        ("load", "config.toml"),
        ("export_midi", "../escape.mid"),
        ("export_midi", str(tmp_path / "absolute.mid")),
        ("export_midi", "config.toml"),
        ("export_midi", ".mid"),
        ("import_midi", "../outside.mid"),
        ("import_midi", str(tmp_path / "outside.mid")),
        ("import_midi", "broken.mid"),
        ("import_midi", "missing.mid"),
    ]

    async def scenario(engine, adapter, peer):  # noqa: ANN001, ANN202
        for command, name in attempts:
            peer.send(f"/impsy/seq/{command}", name)
        peer.send("/impsy/seq/save", "good.toml")  # a bare name is fine
        await until((folder / "good.toml").exists)
        await until(lambda: engine.counters.bad_input == len(attempts))
        await asyncio.sleep(0.05)  # nothing else arrives
        return engine.counters.bad_input, len(adapter.sequencer.bank.patterns)

    bad, patterns = play(scenario, tmp_path, sequencer=f'patterns = "{folder}/bank.toml"')
    assert bad == len(attempts)
    assert patterns == 1
    assert config.read_text() == "[osc]\nserver_port = 6000\n"
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == sorted([*before, Path("set/good.toml")])  # nothing else written anywhere


def test_without_a_patterns_file_names_go_to_patterns_in_the_working_directory(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)

    async def scenario(engine, adapter, peer):  # noqa: ANN001, ANN202
        seq = adapter.sequencer
        peer.send("/impsy/seq/toggle", 0.0, 5.0)
        peer.send("/impsy/seq/save", "mine.json")
        await until((tmp_path / "patterns" / "mine.json").exists)
        (tmp_path / "patterns" / "notes.json").write_text("{}\n")
        peer.send("/impsy/seq/save", "notes.json")  # exists and is not a bank
        peer.send("/impsy/seq/toggle", 0.0, 5.0)
        peer.send("/impsy/seq/load", "mine.json")
        await until(lambda: seq.pattern.tracks[0].steps[5].on)
        peer.send("/impsy/seq/save")  # no name and no [sequencer] patterns
        await until(lambda: engine.counters.bad_input == 2)
        return engine.counters.bad_input

    assert play(scenario, tmp_path) == 2
    assert (tmp_path / "patterns" / "notes.json").read_text() == "{}\n"


# ----------------------------------------------------------------- tempo map


def test_the_runs_tempo_is_recorded_beside_its_log_for_export_session(tmp_path) -> None:
    async def scenario(engine, adapter, peer):  # noqa: ANN001, ANN202
        peer.send("/impsy/seq/key", 60.0, 100.0)  # a gesture: the log's first row
        await until(lambda: engine.counters.events_in == 1)
        sidecar = tempo_path(engine.event_log.path)
        assert not sidecar.exists()  # not playing: no tempo in effect
        peer.send("/impsy/seq/start")
        await until(sidecar.exists)
        await asyncio.sleep(MIN_INTERVAL_S + 0.1)
        for bpm in (90.0, 91.0, 92.0):  # a knob turned: coalesced
            peer.send("/impsy/seq/tempo", bpm)
        await until(lambda: adapter.sequencer.tempo == 92.0)
        await asyncio.sleep(MIN_INTERVAL_S + 0.1)
        peer.send("/impsy/seq/key", 62.0, 100.0)
        await until(lambda: engine.counters.events_in == 2)
        peer.send("/impsy/seq/stop")
        await until(lambda: not adapter.sequencer.playing)
        peer.send("/impsy/seq/tempo", 120.0)  # stopped: not part of the performance
        await until(lambda: adapter.sequencer.tempo == 120.0)
        return engine.event_log.path, sidecar

    log, sidecar = play(scenario, tmp_path)
    tempos = [bpm for _, bpm in read_tempo_file(sidecar)[0]]
    assert tempos[0] == 240.0 and tempos[-1] == 92.0
    assert 2 <= len(tempos) <= 4 and set(tempos) <= {240.0, 90.0, 91.0, 92.0}
    written, rows = export_session(log, tmp_path / "run.mid")
    heard = [m.tempo for m in mido.MidiFile(written) if m.type == "set_tempo"]
    assert heard[0] == mido.bpm2tempo(240.0) and heard[-1] == mido.bpm2tempo(92.0)


def test_whoever_asks_for_an_import_hears_how_it_ended_whatever_the_rate_limit(tmp_path) -> None:
    """Two failed imports within 5 s: the warning is rate-limited, the answers are not."""
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "junk.mid").write_bytes(b"not a MIDI file at all" * 10)
    (folder / "empty.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x00\x00\x00\x01\xe0")
    plain_midi(folder / "good.mid", [(0, 40), (2, 43)])

    async def scenario(engine, adapter, peer):  # noqa: ANN001, ANN202
        for name in ("junk.mid", "empty.mid", "good.mid"):
            peer.send("/impsy/seq/import_midi", name)
        answers = await peer.wait_for("/impsy/seq/import_midi", 3)
        peer.send("/impsy/seq/export_midi", "out.mid")
        (exported,) = await peer.wait_for("/impsy/seq/export_midi", 1)
        return answers, exported, engine.counters.bad_input

    answers, exported, bad = play(scenario, tmp_path, sequencer=f'patterns = "{folder}/b.json"')
    failed = sorted(a[1] for a in answers if a[0] == "failed")
    assert len(failed) == 2 and bad == 2
    assert "junk.mid" in failed[0] + failed[1] and "empty.mid" in failed[0] + failed[1]
    assert ["done", "1"] in answers, "the good file became pattern 1"
    assert exported[0] == "done" and exported[1].endswith("out.mid")
    assert (folder / "out.mid").exists()
