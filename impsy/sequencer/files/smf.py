"""Patterns to and from Standard MIDI Files, for DAWs and for sharing grooves.

Export writes a type 1 file: a conductor track (pattern name, tempo, 4/4)
and one MIDI track per sequencer track, named after it, on its channel. A
pattern is one cycle of the pattern (its longest track, rounded up to whole
bars, with shorter tracks looping inside it, as the sequencer plays it); a
song is its patterns in song order. Steps become notes at their exact tick
with their velocity and gate; step CCs are sent at the step's start.

Import reads any SMF (type 0 or 1): notes are grouped by track and channel,
each group becomes a sequencer track, and note starts are quantised to the
nearest step (``steps_per_beat``; a note exactly half way goes to the later
step); notes landing on one step become a chord (the step takes the loudest
velocity and the longest gate). A file timed in SMPTE frames (real time, not
beats) is placed on the grid through its first tempo (120 BPM when it sets
none), as a DAW importing it at that tempo would. The track
length is the file's length rounded up to whole bars, at most ``MAX_STEPS``
(64; notes past it are left out).

What an SMF cannot say (a track's steps-per-beat, length, port, mute, solo,
and step probabilities) is written in one text event per track, ``impsy
{json}``, which other programs ignore; when it is there, import restores it,
so ``pattern -> file -> pattern`` gives back the same pattern (off steps come
back as default steps: they play nothing, so the file has nothing of them).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impsy.errors import ImpsyError
from impsy.sequencer.pattern import (
    MAX_GATE,
    MAX_STEPS,
    STEPS_PER_BEAT,
    Bank,
    Pattern,
    PatternError,
    Step,
    Track,
)
from impsy.sequencer.timeline import nearest

if TYPE_CHECKING:
    import mido

TICKS_PER_BEAT = 480
"""Divisible by every resolution in ``STEPS_PER_BEAT`` (1, 2, 3, 4, 6, 8)."""
BEATS_PER_BAR = 4
META_PREFIX = "impsy "


class SmfError(ImpsyError):
    """A MIDI file that cannot be read or turned into a pattern."""


def ticks_per_step(steps_per_beat: int, ticks_per_beat: int = TICKS_PER_BEAT) -> int:
    return ticks_per_beat // steps_per_beat


def pattern_beats(pattern: Pattern) -> int:
    """A pattern's cycle in beats: its longest track, rounded up to whole bars."""
    longest = max(math.ceil(t.length / t.steps_per_beat) for t in pattern.tracks)
    return max(1, math.ceil(longest / BEATS_PER_BAR)) * BEATS_PER_BAR


# ------------------------------------------------------------------ export


def pattern_to_midi(pattern: Pattern, tempo: float) -> mido.MidiFile:
    """One cycle of ``pattern`` at ``tempo`` bpm as a type 1 MIDI file."""
    return song_to_midi([pattern], tempo, name=pattern.name)


def bank_to_midi(bank: Bank, tempo: float) -> mido.MidiFile:
    """The bank's song (or, with no song, every pattern once, in order)."""
    order = bank.song or list(range(len(bank.patterns)))
    return song_to_midi([bank.patterns[i] for i in order], tempo, name="song")


def song_to_midi(patterns: list[Pattern], tempo: float, name: str = "") -> mido.MidiFile:
    """Patterns played one after another; track i of each pattern goes to MIDI track i."""
    import mido

    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name=name or "impsy", time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    midi.tracks.append(conductor)
    count = max(len(p.tracks) for p in patterns)
    starts, start = [], 0
    for pattern in patterns:
        starts.append(start)
        start += pattern_beats(pattern) * TICKS_PER_BEAT
    for index in range(count):
        events: list[tuple[int, int, list[Any]]] = []
        first: Track | None = None
        for pattern, offset in zip(patterns, starts, strict=True):
            if index < len(pattern.tracks):
                track = pattern.tracks[index]
                first = first or track
                end = offset + pattern_beats(pattern) * TICKS_PER_BEAT
                events += _track_events(track, offset, end)
        assert first is not None
        midi.tracks.append(_midi_track(first, events, start, single=len(patterns) == 1))
    return midi


def _track_events(track: Track, start: int, end: int) -> list[tuple[int, int, list[Any]]]:
    """(tick, order, message fields) for ``track`` looping from ``start`` until ``end``.

    Order puts note-offs before CCs before note-ons on the same tick, so a
    step re-striking a note ends the previous one first.
    """
    step_ticks = ticks_per_step(track.steps_per_beat)
    channel = track.channel - 1
    events: list[tuple[int, int, list[Any]]] = []
    number = 0
    while (tick := start + number * step_ticks) < end:
        step = track.steps[number % track.length]
        number += 1
        if not step.on:
            continue
        for control, value in sorted(step.cc.items()):
            events.append((tick, 1, ["control_change", channel, control, value]))
        length = max(1, round(step.gate * step_ticks))
        for note in step.notes:
            events.append((tick, 2, ["note_on", channel, note, step.velocity]))
            events.append((tick + length, 0, ["note_off", channel, note, 0]))
    return events


def _midi_track(
    track: Track, events: list[tuple[int, int, list[Any]]], end: int, single: bool
) -> mido.MidiTrack:
    import mido

    midi_track = mido.MidiTrack()
    midi_track.append(mido.MetaMessage("track_name", name=track.name, time=0))
    midi_track.append(mido.MetaMessage("channel_prefix", channel=track.channel - 1, time=0))
    settings: dict[str, Any] = {
        "steps_per_beat": track.steps_per_beat,
        "steps": track.length,
        "port": track.port,
        "muted": track.muted,
        "solo": track.solo,
    }
    if single:
        odd = {str(i): s.probability for i, s in enumerate(track.steps) if s.probability != 1.0}
        if odd:
            settings["probability"] = odd
    midi_track.append(mido.MetaMessage("text", text=META_PREFIX + json.dumps(settings), time=0))
    now = 0
    for tick, _order, (kind, channel, data1, data2) in sorted(events, key=lambda e: e[:2]):
        delta, now = tick - now, tick
        if kind == "control_change":
            message = mido.Message(kind, channel=channel, control=data1, value=data2, time=delta)
        else:
            message = mido.Message(kind, channel=channel, note=data1, velocity=data2, time=delta)
        midi_track.append(message)
    midi_track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    return midi_track


def save_pattern(pattern: Pattern, path: str | Path, tempo: float) -> None:
    pattern_to_midi(pattern, tempo).save(path)


# ------------------------------------------------------------------ import


@dataclass
class _Group:
    """Notes of one MIDI track and channel: (start tick, end tick, note, velocity)."""

    name: str
    channel: int
    notes: list[tuple[int, int, int, int]] = field(default_factory=list)
    controls: list[tuple[int, int, int]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


def load_pattern(path: str | Path, steps_per_beat: int = 4, name: str | None = None) -> Pattern:
    """A pattern from a MIDI file (see the module docstring for how)."""
    import mido

    try:
        midi = mido.MidiFile(path)
    except (OSError, ValueError, EOFError, KeyError, IndexError) as err:
        raise SmfError(f"{path}: not a readable Standard MIDI File ({err})") from None
    try:
        return midi_to_pattern(midi, steps_per_beat, name or Path(path).stem)
    except SmfError as err:  # name the file: the reason alone does not say which
        raise SmfError(f"{path}: {err}") from None


def midi_to_pattern(midi: mido.MidiFile, steps_per_beat: int = 4, name: str = "") -> Pattern:
    if steps_per_beat not in STEPS_PER_BEAT:
        raise SmfError(
            f"steps per beat must be one of {list(STEPS_PER_BEAT)}, got {steps_per_beat}"
        )
    if midi.type == 2:
        raise SmfError("type 2 MIDI files (independent sequences) are not supported")
    resolution = ticks_per_beat(midi)
    groups, file_end, title = _read_groups(midi)
    if not groups:
        raise SmfError("the MIDI file has no notes")
    tracks = []
    for group in groups:
        spb = group.settings.get("steps_per_beat")
        spb = spb if spb in STEPS_PER_BEAT else steps_per_beat
        step_ticks = resolution / spb
        bars = max(1, math.ceil(file_end / (resolution * BEATS_PER_BAR)))
        length = group.settings.get("steps", min(MAX_STEPS, bars * BEATS_PER_BAR * spb))
        tracks.append(_group_track(group, spb, step_ticks, length))
    pattern = Pattern(name or title or "imported", tracks)
    try:
        return pattern.validate(pattern.name)
    except PatternError as err:
        raise SmfError(f"the MIDI file does not make a valid pattern: {err}") from None


DEFAULT_TEMPO_US = 500_000  # 120 BPM, the SMF default
SMPTE_RATES = {24: 24.0, 25: 25.0, 29: 30000 / 1001, 30: 30.0}
"""Frames per second by the SMPTE format byte (29: drop-frame 29.97)."""


def ticks_per_beat(midi: mido.MidiFile) -> float:
    """The file's ticks per beat; for an SMPTE division, through its first tempo.

    mido reports an SMPTE division (frames per second and ticks per frame) as
    a negative ``ticks_per_beat``; used as it is, every note would land on a
    negative step. Its ticks are real time, so a beat is as many ticks as the
    tempo's beat lasts.
    """
    division = midi.ticks_per_beat
    if division > 0:
        return float(division)
    raw = division & 0xFFFF
    frames, per_frame = 256 - (raw >> 8), raw & 0xFF
    if frames not in SMPTE_RATES or per_frame == 0:
        raise SmfError(f"an SMPTE time division this file cannot have ({frames} fps)")
    tempo = next(
        (m.tempo for track in midi.tracks for m in track if m.type == "set_tempo"),
        DEFAULT_TEMPO_US,
    )
    return SMPTE_RATES[frames] * per_frame * tempo / 1_000_000


def note_groups(midi: mido.MidiFile) -> tuple[list[tuple[str, int, list]], int]:
    """Each MIDI track and channel's notes ``(name, channel 1-16, [(start tick, end tick,
    note, velocity), ...])`` and the file's last tick: what a pattern is read from."""
    groups, file_end, _ = _read_groups(midi)
    return [(g.name, g.channel, list(g.notes)) for g in groups if g.notes], file_end


def _read_groups(midi: mido.MidiFile) -> tuple[list[_Group], int, str]:
    groups: dict[tuple[int, int], _Group] = {}
    order: list[tuple[int, int]] = []
    file_end, title = 0, ""
    for track_number, midi_track in enumerate(midi.tracks):
        tick, track_name, settings, prefix = 0, "", {}, 0
        sounding: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        for message in midi_track:
            tick += message.time
            if message.type == "track_name":
                track_name = message.name
                if track_number == 0:
                    title = message.name
            elif message.type == "channel_prefix":
                prefix = message.channel
            elif message.type == "text" and message.text.startswith(META_PREFIX):
                try:
                    settings = json.loads(message.text[len(META_PREFIX) :])
                except ValueError:
                    settings = {}
            if message.is_meta or not hasattr(message, "channel"):
                continue
            key = (track_number, message.channel)
            if key not in groups:
                label = track_name or f"track {len(groups) + 1}"
                groups[key] = _Group(label, message.channel + 1)
                order.append(key)
            group = groups[key]
            group.settings = settings
            if message.type == "note_on" and message.velocity > 0:
                sounding[(message.channel, message.note)].append((tick, message.velocity))
            elif message.type in ("note_on", "note_off"):
                started = sounding[(message.channel, message.note)]
                if started:
                    begin, velocity = started.pop(0)
                    group.notes.append((begin, tick, message.note, velocity))
            elif message.type == "control_change":
                group.controls.append((tick, message.control, message.value))
        for (channel, note), started in sounding.items():  # never ended: end of track
            for begin, velocity in started:
                groups[(track_number, channel)].notes.append((begin, tick, note, velocity))
        if settings and not any(key[0] == track_number for key in groups):
            # an impsy track with every step off: nothing but its settings
            groups[(track_number, prefix)] = _Group(track_name, prefix + 1, settings=settings)
            order.append((track_number, prefix))
        file_end = max(file_end, tick)
    found = [groups[key] for key in order if groups[key].notes or groups[key].settings]
    return found, file_end, title


def _group_track(group: _Group, spb: int, step_ticks: float, length: int) -> Track:
    settings = group.settings
    steps = [Step() for _ in range(length)]
    chords: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    for begin, end, note, velocity in group.notes:
        index = nearest(begin / step_ticks)
        if index >= length:
            continue
        gate = min(MAX_GATE, max((end - begin) / step_ticks, 0.001))
        chords[index].append((note, velocity, round(gate, 3)))
    for index, chord in chords.items():
        notes = tuple(sorted(dict.fromkeys(note for note, _, _ in chord)))
        steps[index] = Step(
            on=True,
            notes=notes,
            velocity=max(1, max(v for _, v, _ in chord)),
            gate=max(g for _, _, g in chord),
        )
    for tick, control, value in group.controls:
        index = nearest(tick / step_ticks)
        if index < length and steps[index].on:
            steps[index].cc[control] = value
    for index, probability in settings.get("probability", {}).items():
        if int(index) < length:
            steps[int(index)].probability = float(probability)
    return Track(
        name=group.name,
        steps=steps,
        port=settings.get("port", ""),
        channel=group.channel,
        steps_per_beat=spb,
        muted=settings.get("muted", False),
        solo=settings.get("solo", False),
    )
