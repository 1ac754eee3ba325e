"""A training corpus from files: banks, MIDI files, audio loops and folders of them, one array.

Every source gives bars (:mod:`impsy.sequencer.learn.corpus`); sources with
fewer tracks than the widest are padded with silent tracks, so a bank of
four-track patterns and six-part drum loops learn together. Unusable files
are skipped and listed with the reason, never fatal: one broken loop must
not cost the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from impsy.sequencer.learn.audio import AUDIO_SUFFIXES, bars_from_audio
from impsy.sequencer.learn.corpus import GM_DRUMS, CorpusError, bars_from_midi, bars_from_pattern
from impsy.sequencer.learn.vae import FEATURES

BANK_SUFFIXES = (".json", ".toml")
MIDI_SUFFIXES = (".mid", ".midi")
SUFFIXES = BANK_SUFFIXES + MIDI_SUFFIXES + AUDIO_SUFFIXES
MAX_BARS = 20_000


@dataclass
class Material:
    """The bars found, where they came from, and what was skipped and why."""

    bars: np.ndarray
    sources: list[tuple[str, int]] = field(default_factory=list)
    """(file, bars it gave)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(file, why)."""


def _files(sources: Iterable[str | Path], exclude: Iterable[str | Path] = ()) -> list[Path]:
    """The files of ``sources`` (folders searched), less those of ``exclude``."""
    left_out = {Path(path).resolve() for path in exclude}
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES)
        else:
            found.append(path)
    return [path for path in found if path.resolve() not in left_out]


def collect(
    sources: Iterable[str | Path],
    drums: bool = True,
    steps: int = 16,
    tempo: float = 120.0,
    exclude: Iterable[str | Path] = (),
) -> Material:
    """Every bar of every source but the files of ``exclude``; MIDI files through the General
    MIDI drum map with ``drums``; audio loops (three bands: low, mid, high) at ``tempo``.

    ``exclude`` is for a running sequencer's bank file inside its patterns folder: the bank
    as played is given separately, and its saved copy may be stale, so it would count twice."""
    from impsy.sequencer.files.storage import BankFileError, load_bank

    parts: list[np.ndarray] = []
    material = Material(np.zeros((0, 1, steps, FEATURES)))
    for path in _files(sources, exclude):
        suffix = path.suffix.lower()
        try:
            if suffix in BANK_SUFFIXES:
                bank = load_bank(path)
                bars = [bars_from_pattern(p, steps) for p in bank.patterns if p.tracks]
                if not bars:
                    raise CorpusError(f"{path}: no patterns with tracks")
                found = _stack(bars)
            elif suffix in MIDI_SUFFIXES:
                found, _ = bars_from_midi(path, GM_DRUMS if drums else None, steps)
            elif suffix in AUDIO_SUFFIXES:
                found, _ = bars_from_audio(path, tempo, steps)
            else:
                raise CorpusError(
                    f"{path}: not a bank (.json, .toml), MIDI file (.mid) or audio loop "
                    "(.wav, .flac, .ogg)"
                )
        except (CorpusError, BankFileError) as err:
            material.skipped.append((str(path), str(err)))
            continue
        parts.append(found)
        material.sources.append((str(path), len(found)))
    if parts:
        material.bars = _stack(parts)[:MAX_BARS]
    return material


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    """Bars of different track counts as one array, silent tracks added where fewer."""
    tracks = max(p.shape[1] for p in parts)
    padded = []
    for part in parts:
        if part.shape[1] < tracks:
            extra = np.zeros((len(part), tracks - part.shape[1], *part.shape[2:]))
            part = np.concatenate([part, extra], axis=1)
        padded.append(part)
    return np.concatenate(padded)
