"""Bars to learn from: the sequencer's own patterns and MIDI files, as the pattern VAE reads them.

A bar is ``(tracks, steps, 3)``: per step whether it plays, its velocity
(0..1) and its micro-timing (the onset's offset from the step, -0.5..0.5 of
a step), the encoding of :mod:`impsy.sequencer.learn.vae`. Bars are four
beats, ``steps`` steps (16: sixteenths).

- A bank pattern gives one bar per four beats of its longest track; a
  shorter track repeats, as the sequencer plays it. Its steps sit on the
  grid (offset 0); a step at another resolution lands on the nearest step.
- A MIDI file gives one bar per four beats. Without a drum map each MIDI
  track and channel is a track (any note counts); with one (for example
  :data:`GM_DRUMS`), each entry is a track of the notes it lists, so a
  drum loop on one channel becomes kick, snare, hats... An onset plays the
  nearest step, keeps its offset from it, and the loudest onset on a step
  gives its velocity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from impsy.errors import ImpsyError
from impsy.sequencer.learn.vae import FEATURES
from impsy.sequencer.pattern import Pattern
from impsy.sequencer.timeline import nearest

BEATS_PER_BAR = 4
GM_DRUMS: dict[str, tuple[int, ...]] = {
    "kick": (35, 36),
    "snare": (37, 38, 39, 40),
    "closed hat": (42, 44),
    "open hat": (46,),
    "toms": (41, 43, 45, 47, 48, 50),
    "cymbals": (49, 51, 52, 53, 55, 57, 59),
}
"""General MIDI drum notes by part: a drum map for one-channel drum loops."""
MAX_BARS_PER_FILE = 256


class CorpusError(ImpsyError):
    """Material that cannot be learnt from; the message names the file and why."""


def bars_from_pattern(pattern: Pattern, steps: int = 16) -> np.ndarray:
    """Every bar of a bank pattern, ``(bars, tracks, steps, 3)``."""
    if not pattern.tracks:
        raise CorpusError(f"pattern {pattern.name!r}: no tracks")
    beats = [track.length / track.steps_per_beat for track in pattern.tracks]
    count = max(1, math.ceil(max(beats) / BEATS_PER_BAR - 1e-9))
    bars = np.zeros((count, len(pattern.tracks), steps, FEATURES))
    for t, track in enumerate(pattern.tracks):
        per_beat = track.steps_per_beat
        for bar in range(count):
            for index in range(round(BEATS_PER_BAR * per_beat)):
                step = track.steps[(bar * BEATS_PER_BAR * per_beat + index) % track.length]
                if not step.on:
                    continue
                slot = nearest(index * steps / (BEATS_PER_BAR * per_beat))
                if slot < steps:
                    bars[bar, t, slot, 0] = 1.0
                    velocity = step.velocity / 127
                    bars[bar, t, slot, 1] = max(bars[bar, t, slot, 1], velocity)
    return bars


def bars_from_midi(
    path: str | Path,
    drum_map: Mapping[str, Sequence[int]] | None = None,
    steps: int = 16,
) -> tuple[np.ndarray, list[str]]:
    """Every bar of a MIDI file and its tracks' names (see the module docstring)."""
    import mido

    from impsy.sequencer.files.smf import SmfError, note_groups, ticks_per_beat

    try:
        midi = mido.MidiFile(path)
        resolution = ticks_per_beat(midi)
        groups, file_end = note_groups(midi)
    except (OSError, ValueError, EOFError, KeyError, IndexError, SmfError) as err:
        raise CorpusError(f"{path}: not a readable Standard MIDI File ({err})") from None
    if drum_map is not None:
        names = list(drum_map)
        part = {note: i for i, name in enumerate(names) for note in drum_map[name]}
        onsets: list[list[tuple[int, int]]] = [[] for _ in names]
        for _, _, notes in groups:
            for begin, _, note, velocity in notes:
                if note in part:
                    onsets[part[note]].append((begin, velocity))
    else:
        names = [name for name, _, _ in groups]
        onsets = [[(begin, velocity) for begin, _, _, velocity in notes] for _, _, notes in groups]
    if not any(onsets):
        what = "notes of the drum map" if drum_map is not None else "notes"
        raise CorpusError(f"{path}: no {what} to learn from")
    step_ticks = resolution * BEATS_PER_BAR / steps
    count = max(1, math.ceil(file_end / (resolution * BEATS_PER_BAR) - 1e-9))
    if count > MAX_BARS_PER_FILE:
        raise CorpusError(f"{path}: {count} bars; at most {MAX_BARS_PER_FILE} per file")
    bars = np.zeros((count, len(names), steps, FEATURES))
    for t, track in enumerate(onsets):
        for begin, velocity in sorted(track):
            position = begin / step_ticks
            index = nearest(position)
            bar, slot = divmod(index, steps)
            if bar >= count:
                continue
            cell = bars[bar, t, slot]
            if velocity / 127 > cell[1]:  # the loudest onset on a step speaks for it
                cell[:] = (1.0, velocity / 127, position - index)
    return bars, names
