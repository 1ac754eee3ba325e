"""Patterns to Standard MIDI Files and back, checked with mido on real files."""

from __future__ import annotations

import mido
import pytest

from impsy.sequencer.files.smf import (
    TICKS_PER_BEAT,
    SmfError,
    bank_to_midi,
    load_pattern,
    save_pattern,
)
from impsy.sequencer.pattern import Bank, Pattern, Step, Track


def groove() -> Pattern:
    drums = Track.empty("drums", 16, channel=10, port="Drum Machine")
    drums.steps[0] = Step(on=True, notes=(36,), velocity=120, gate=0.25)
    drums.steps[4] = Step(on=True, notes=(38, 42), velocity=90, gate=0.5, probability=0.5)
    drums.steps[15] = Step(on=True, notes=(42,), velocity=40, gate=1.0, cc={74: 100})
    bass = Track.empty("bass", 12, channel=2, steps_per_beat=3, muted=True)
    bass.steps[0] = Step(on=True, notes=(40,), velocity=100, gate=2.5)
    bass.steps[11] = Step(on=True, notes=(40, 47, 52), velocity=64, gate=0.3)
    empty = Track.empty("spare", 8, channel=5, solo=True)
    return Pattern("groove", [drums, bass, empty]).validate()


def notes(path) -> list[tuple[int, int, int, int, int]]:  # noqa: ANN001
    """(track, absolute tick, channel, note, velocity) of each note-on in a file."""
    found = []
    for number, track in enumerate(mido.MidiFile(path).tracks):
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity:
                found.append((number, tick, message.channel + 1, message.note, message.velocity))
    return found


def test_a_pattern_survives_a_round_trip_through_a_midi_file(tmp_path):
    path = tmp_path / "groove.mid"
    pattern = groove()
    save_pattern(pattern, path, tempo=96)
    assert load_pattern(path) == pattern


def test_an_exported_pattern_has_tempo_tracks_channels_chords_and_gates(tmp_path):
    path = tmp_path / "groove.mid"
    save_pattern(groove(), path, tempo=96)
    midi = mido.MidiFile(path)
    assert midi.type == 1 and midi.ticks_per_beat == TICKS_PER_BEAT
    tempos = [m for m in midi.tracks[0] if m.type == "set_tempo"]
    assert [round(mido.tempo2bpm(m.tempo), 6) for m in tempos] == [96.0]
    assert [t.name for t in midi.tracks] == ["groove", "drums", "bass", "spare"]
    step16, step12 = TICKS_PER_BEAT // 4, TICKS_PER_BEAT // 3
    played = notes(path)
    assert (1, 0, 10, 36, 120) in played
    assert (1, 4 * step16, 10, 38, 90) in played and (1, 4 * step16, 10, 42, 90) in played
    # the 12-step bass at 3 steps a beat lasts one bar: one cycle, its last step a triad
    assert [n for n in played if n[0] == 2] == [
        (2, 0, 2, 40, 100),
        (2, 11 * step12, 2, 40, 64),
        (2, 11 * step12, 2, 47, 64),
        (2, 11 * step12, 2, 52, 64),
    ]
    # gate 2.5 steps: the note-off 2.5 triplet-eighths after the note-on
    tick, offs = 0, []
    for message in midi.tracks[2]:
        tick += message.time
        if message.type == "note_off" or (message.type == "note_on" and not message.velocity):
            offs.append((tick, message.note))
    assert offs[0] == (round(2.5 * step12), 40)
    assert midi.length == pytest.approx(4 * 60 / 96), "one 4/4 bar at 96 bpm"


def test_shorter_tracks_loop_to_fill_the_pattern(tmp_path):
    pulse = Track.empty("pulse", 4)
    pulse.steps[0].on = True
    long = Track.empty("long", 32)
    path = tmp_path / "loop.mid"
    save_pattern(Pattern("p", [pulse, long]), path, tempo=120)
    ticks = [tick for track, tick, *_ in notes(path) if track == 1]
    assert ticks == [i * TICKS_PER_BEAT for i in range(8)], "a beat-long track, 2 bars"


def test_a_song_is_its_patterns_in_order(tmp_path):
    a, b = Track.empty("x", 16), Track.empty("x", 16)
    a.steps[0].on, b.steps[8].on = True, True
    b.steps[8].notes = (72,)
    bank = Bank([Pattern("A", [a]), Pattern("B", [b])], song=[0, 1, 1])
    path = tmp_path / "song.mid"
    bank_to_midi(bank, 120).save(path)
    bar = 4 * TICKS_PER_BEAT
    assert [(tick, note) for _, tick, _, note, _ in notes(path)] == [
        (0, 60),
        (bar + bar // 2, 72),
        (2 * bar + bar // 2, 72),
    ]


def test_a_plain_midi_file_is_quantised_onto_steps(tmp_path):
    """A file from elsewhere: type 0, no impsy metadata, slightly off the grid, two bars."""
    midi = mido.MidiFile(type=0, ticks_per_beat=96)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    events = [
        (0, "note_on", 9, 36, 100),
        (2, "note_on", 0, 60, 80),  # 2 ticks late: step 0 of channel 1
        (20, "note_off", 9, 36, 0),
        (22, "note_off", 0, 60, 0),
        (46, "note_on", 0, 64, 70),  # 2 ticks early: step 2 (24 ticks a step)
        (50, "note_on", 0, 67, 90),  # same step: a chord
        (94, "note_off", 0, 64, 0),
        (98, "note_off", 0, 67, 0),
        (4 * 96 + 7 * 24, "note_on", 9, 38, 127),  # bar 2, step 8 of the bar
        (4 * 96 + 8 * 24, "note_off", 9, 38, 0),
    ]
    now = 0
    for tick, kind, channel, note, velocity in events:
        track.append(
            mido.Message(kind, channel=channel, note=note, velocity=velocity, time=tick - now)
        )
        now = tick
    path = tmp_path / "plain.mid"
    midi.save(path)
    pattern = load_pattern(path)
    assert pattern.name == "plain"
    drums, keys = pattern.tracks
    assert (drums.channel, keys.channel) == (10, 1)
    assert drums.length == keys.length == 32, "two bars of 16ths"
    assert [i for i, s in enumerate(drums.steps) if s.on] == [0, 23]
    assert [i for i, s in enumerate(keys.steps) if s.on] == [0, 2]
    chord = keys.steps[2]
    assert chord.notes == (64, 67) and chord.velocity == 90
    assert chord.gate == pytest.approx(48 / 24), "the longest note of the chord"
    assert drums.steps[0].gate == pytest.approx(20 / 24, abs=1e-3)


def test_unreadable_and_empty_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    with pytest.raises(SmfError, match="bad.mid: not a readable Standard MIDI File"):
        load_pattern(bad)
    empty = tmp_path / "empty.mid"
    mido.MidiFile().save(empty)
    with pytest.raises(SmfError, match="no notes"):
        load_pattern(empty)


def smpte_file(path, seconds: list[float], tempo_bpm: float | None = None):  # noqa: ANN001, ANN201
    """A type 0 file timed in SMPTE frames: 25 fps x 40 ticks = 1000 ticks a second.

    mido cannot write an SMPTE division, so the file is written with ticks per
    beat 1000 and the two division bytes are then set to SMPTE's (-25, 40).
    """
    midi = mido.MidiFile(type=0, ticks_per_beat=1000)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    if tempo_bpm is not None:
        track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    now = 0
    for second in seconds:
        tick = round(second * 1000)
        track.append(mido.Message("note_on", note=60, velocity=100, time=tick - now))
        track.append(mido.Message("note_off", note=60, velocity=0, time=100))
        now = tick + 100
    midi.save(path)
    raw = bytearray(path.read_bytes())
    raw[12:14] = bytes([0xE7, 40])  # -25 frames per second, 40 ticks per frame
    path.write_bytes(bytes(raw))
    assert mido.MidiFile(path).ticks_per_beat < 0, "mido reports SMPTE as negative"
    return path


def on_steps(pattern: Pattern) -> list[int]:
    return [i for i, step in enumerate(pattern.tracks[0].steps) if step.on]


def test_an_smpte_file_is_placed_on_the_grid_through_its_tempo(tmp_path):
    # 120 BPM (no tempo event): a beat is 0.5 s, a 16th 0.125 s
    pattern = load_pattern(smpte_file(tmp_path / "a.mid", [0.0, 0.5, 1.125, 3.875]))
    assert on_steps(pattern) == [0, 4, 9, 31] and pattern.tracks[0].length == 32
    # the same seconds at 60 BPM: a 16th is 0.25 s
    slow = load_pattern(smpte_file(tmp_path / "b.mid", [0.0, 0.5, 1.0, 2.75], tempo_bpm=60))
    assert on_steps(slow) == [0, 2, 4, 11]


def test_a_long_smpte_file_keeps_what_fits_instead_of_failing(tmp_path):
    """40 s at 120 BPM is 20 bars; a track holds 64 steps, later notes are left out."""
    seconds = [i * 0.5 for i in range(80)]  # one note a beat for 40 s
    pattern = load_pattern(smpte_file(tmp_path / "long.mid", seconds))
    assert pattern.tracks[0].length == 64
    assert on_steps(pattern) == list(range(0, 64, 4))


def test_a_note_exactly_half_a_step_off_goes_to_the_later_step(tmp_path):
    """Half up, not half to even: 1.5 -> 2 and 2.5 -> 3, never a chord on 2."""
    half = TICKS_PER_BEAT // 8  # half a 16th
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    now = 0
    for step in (1, 2, 5):
        tick = step * TICKS_PER_BEAT // 4 + half
        track.append(mido.Message("note_on", note=60 + step, velocity=100, time=tick - now))
        track.append(mido.Message("note_off", note=60 + step, velocity=0, time=10))
        now = tick + 10
    midi.save(tmp_path / "half.mid")
    steps = load_pattern(tmp_path / "half.mid").tracks[0].steps
    assert [(i, s.notes) for i, s in enumerate(steps) if s.on] == [
        (2, (61,)),
        (3, (62,)),
        (6, (65,)),
    ]
