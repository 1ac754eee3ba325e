"""Bach's four-part chorales as impsy datasets: soprano, alto, tenor and bass at each chord onset.

This is the data behind the melody-to-harmony ("accompany") model: the
performer plays the soprano, the model fills alto, tenor and bass at the
same instant. The chorales come from the corpus that ships with the
``music21`` package (impsy's ``chorales`` extra). music21 is imported only
while a dataset is built (``impsy dataset --chorales``); nothing that ``impsy
run`` imports reaches this module's music21 imports.

The encoding (everything that decides what an event is lives here):

* **Event** = a chord onset: an instant at which at least one voice starts
  a note (a tied continuation is not an onset). An event is a 5-vector
  ``[dt, soprano, alto, tenor, bass]``.
* **dt** is the time since the previous event in seconds at a fixed tempo
  of :data:`TEMPO_BPM` = 60 quarter notes a minute, so it is also the gap in
  quarter-note beats (an eighth is 0.5, a half note 2.0). Fermatas do not
  lengthen anything; repeats are not expanded (the score as written). The
  first event of a performance has dt 0.
* **Pitches**: each voice's value is the MIDI note sounding in that voice at
  the event, encoded as impsy's note mapping reads a ``note_on`` (``value =
  note / 127``, stored as float32), so :func:`impsy.mapping.midi.to_seven_bit`
  plays every stored value back as exactly that note. A voice that is held
  (tied or sustained across another voice's onset) repeats its pitch; a
  voice that rests keeps its last pitch (before its first note, the first
  pitch it will play). A chord inside one part (a rare divisi) counts as its
  top note in soprano and alto and its bottom note in tenor and bass. Grace
  notes are skipped.
* **Parts**: a chorale is used only when its score has exactly four parts,
  read top to bottom as soprano, alto, tenor, bass. The corpus's chorales
  with instrumental parts (5 to 15 parts) are skipped and listed.
* **Split**, by Riemenschneider number (the numbering of music21's chorale
  iterator, 1-371): :data:`HELD_OUT` (every tenth number, 10 to 370) is the
  held-out test set, never trained on nor used to choose a model. Every
  other four-part chorale is a training chorale; ``impsy train`` then picks
  whole training chorales (seeded) as its validation set, which chooses the
  epoch. Another harmonisation of a held-out chorale's melody (Bach
  harmonised many tunes more than once) may be a training chorale: the
  held-out set is held out by harmonisation, not by tune.
* **Transposition** (training file only): each training chorale is written
  as one performance that plays it in all twelve keys one after another, at
  shifts :data:`TRANSPOSITIONS` (-6 to +5 semitones), each copy's first
  event coming the last chord's length after the previous copy's last
  event. One performance per chorale keeps ``impsy train``'s validation
  split (whole performances) free of transposed copies of its own
  chorales. The held-out file holds each chorale once, in its written key.

Files (``impsy dataset --chorales``, default stem ``chorales``):
``chorales-train-5d.npz`` and ``chorales-heldout-5d.npz`` in IMPSY's dataset
format (:mod:`impsy.dataset.npz`), and ``chorales-5d.json``, which lists for
each performance of both files its Riemenschneider number, corpus file and
key (tonic pitch class and mode, from music21's key analysis), plus the
skipped chorales and the encoding constants. Beside them, the same events in
two other encodings the benchmarks compare: relative (the lower voices as
intervals below the soprano, :func:`relative_events`) and lead (the soprano
one event ahead of the other voices, :func:`lead_events`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from impsy.dataset.npz import write_dataset

DIMENSION = 5
"""dt + soprano, alto, tenor, bass."""
VOICES = ("soprano", "alto", "tenor", "bass")
TEMPO_BPM = 60.0
"""Quarter notes per minute: dt in seconds equals dt in quarter-note beats."""
SECONDS_PER_QUARTER = 60.0 / TEMPO_BPM
NOTE_SPAN = 127
"""impsy's note mapping: ``value = note / 127``."""
FIRST_NUMBER, LAST_NUMBER = 1, 371
"""The Riemenschneider numbers music21's chorale iterator knows."""
HELD_OUT: tuple[int, ...] = tuple(range(10, LAST_NUMBER + 1, 10))
"""Riemenschneider numbers of the held-out test chorales: 10, 20, ..., 370 (37 chorales)."""
TRANSPOSITIONS: tuple[int, ...] = tuple(range(-6, 6))
"""Semitone shifts each training chorale is written at, in this order (all twelve keys)."""
MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
MINOR_STEPS = (0, 2, 3, 5, 7, 8, 9, 10, 11)
"""Natural minor plus the raised sixth and seventh: the notes Bach's minor chorales use."""


def key_steps(mode: str) -> tuple[int, ...]:
    """The pitch classes above the tonic that count as "in the key" for ``mode``."""
    return MINOR_STEPS if mode == "minor" else MAJOR_STEPS


def note_value(note: int) -> float:
    """A MIDI note as a note dimension's value (float32, as a dataset stores it)."""
    return float(np.float32(note / NOTE_SPAN))


@dataclass
class Chorale:
    """One encoded chorale: its events (N, 5), where it came from and its key."""

    number: int
    source: str
    tonic: int
    mode: str
    events: np.ndarray = field(repr=False)
    gap: float = 0.0
    """Seconds from the last onset to the end (the last chord's length)."""

    def describe(self) -> dict[str, Any]:
        return {
            "riemenschneider": self.number,
            "source": self.source,
            "key": {"tonic": self.tonic, "mode": self.mode},
            "events": int(len(self.events)),
        }


# --- the encoding ------------------------------------------------------------------------


def _voice_notes(part: Any, top: bool) -> list[tuple[Fraction, Fraction, int | None, bool]]:
    """``(start, end, midi or None for a rest, is_onset)`` for one part, in quarter notes."""
    notes = []
    for element in part.flatten().notesAndRests:
        length = Fraction(element.duration.quarterLength)
        if length == 0:  # grace notes
            continue
        start = Fraction(element.offset)
        if element.isRest:
            notes.append((start, start + length, None, False))
            continue
        pitches = [p.midi for p in element.pitches]
        midi = max(pitches) if top else min(pitches)
        tie = element.tie.type if element.tie is not None else None
        notes.append((start, start + length, int(midi), tie not in ("stop", "continue")))
    return notes


def encode_score(score: Any, soprano_onsets: bool = False) -> np.ndarray:
    """The events ``[dt, s, a, t, b]`` of a four-part music21 score (float32, shape (N, 5)).

    With ``soprano_onsets`` an event is an onset of the soprano only (what a
    performer playing the melody gives the model): the other voices are
    read at those instants, and their notes in between are not events.
    Raises ValueError unless the score has exactly four parts with notes.
    """
    parts = list(score.parts)
    if len(parts) != 4:
        raise ValueError(f"{len(parts)} parts, not 4")
    voices = [_voice_notes(part, top=index < 2) for index, part in enumerate(parts)]
    timing = voices[:1] if soprano_onsets else voices
    onsets = sorted({start for notes in timing for start, _, midi, onset in notes if onset})
    if not onsets:
        raise ValueError("no notes")
    columns = []
    for index, notes in enumerate(voices):
        pitched = [(start, end, midi) for start, end, midi, _ in notes if midi is not None]
        if not pitched:
            raise ValueError(f"the {VOICES[index]} has no notes")
        column = []
        for time in onsets:
            sounding = [midi for start, end, midi in pitched if start <= time < end]
            if sounding:
                column.append(sounding[-1])
                continue
            before = [midi for start, _, midi in pitched if start <= time]
            column.append(before[-1] if before else pitched[0][2])
        columns.append(column)
    events = np.empty((len(onsets), DIMENSION), dtype=np.float32)
    previous = onsets[0]
    for row, time in enumerate(onsets):
        events[row, 0] = float(time - previous) * SECONDS_PER_QUARTER
        previous = time
    for index, column in enumerate(columns):
        events[:, 1 + index] = np.asarray(column, dtype=np.float64) / NOTE_SPAN
    return events


def final_length(score: Any, soprano_onsets: bool = False) -> float:
    """Seconds from the last event (onset) to the end of the score: the last chord's length."""
    voices = [_voice_notes(part, top=True) for part in score.parts]
    timing = voices[:1] if soprano_onsets else voices
    last_onset = max(start for notes in timing for start, _, midi, onset in notes if onset)
    end = max(end for notes in voices for _, end, midi, _ in notes if midi is not None)
    return float(end - last_onset) * SECONDS_PER_QUARTER


def transpose_events(events: np.ndarray, semitones: int) -> np.ndarray:
    """The events with every voice moved by ``semitones`` (exact: notes are re-encoded)."""
    notes = np.floor(events[:, 1:].astype(np.float64) * NOTE_SPAN + 0.5).astype(int) + semitones
    if notes.min() < 0 or notes.max() > NOTE_SPAN:
        raise ValueError(f"a shift of {semitones} leaves the MIDI range")
    moved = events.copy()
    moved[:, 1:] = (notes / NOTE_SPAN).astype(np.float32)
    return moved


def all_keys(events: np.ndarray, gap: float, shifts: Sequence[int] = TRANSPOSITIONS) -> np.ndarray:
    """One performance playing ``events`` at each shift in turn, ``gap`` seconds between copies."""
    copies = []
    for index, shift in enumerate(shifts):
        copy = transpose_events(events, shift)
        if index:
            copy[0, 0] = gap
        copies.append(copy)
    return np.concatenate(copies)


def _notes(values: np.ndarray) -> np.ndarray:
    """Semitones (int) of note or interval values (``n / 127``): ``floor(v * 127 + 0.5)``."""
    return np.floor(np.asarray(values, dtype=np.float64) * NOTE_SPAN + 0.5).astype(int)


def relative_events(events: np.ndarray) -> np.ndarray:
    """Absolute events ``[dt, s, a, t, b]`` as relative ones ``[dt, s, s - a, s - t, s - b]``.

    Each lower voice becomes its interval below the soprano in semitones, over
    :data:`NOTE_SPAN` (``interval / 127``, float32), the same scale as a note,
    so a semitone is the same step in both encodings and the map from
    intervals to notes (for a fixed soprano) is a shift with Jacobian 1. An
    interval is negative when the voice is above the soprano (a crossing).
    Exact: :func:`absolute_events` gives the events back.
    """
    notes = _notes(events[:, 1:])
    relative = np.asarray(events, dtype=np.float32).copy()
    relative[:, 2:] = ((notes[:, :1] - notes[:, 1:]) / NOTE_SPAN).astype(np.float32)
    return relative


def absolute_events(relative: np.ndarray) -> np.ndarray:
    """Relative events ``[dt, s, s - a, s - t, s - b]`` back to absolute ``[dt, s, a, t, b]``."""
    relative = np.atleast_2d(np.asarray(relative, dtype=np.float32))
    soprano = _notes(relative[:, 1])
    intervals = _notes(relative[:, 2:])
    events = relative.copy()
    events[:, 2:] = ((soprano[:, None] - intervals) / NOTE_SPAN).astype(np.float32)
    return events


def lead_events(events: np.ndarray) -> np.ndarray:
    """Absolute events ``[dt, s, a, t, b]`` as lead rows ``[dt_i, s_i, a_(i-1), t_(i-1), b_(i-1)]``.

    In a lead row the melody is one event ahead of the lower voices, so a
    model fed row ``i`` (its soprano) predicts the next row, whose alto,
    tenor and bass are event ``i``'s: the network itself reads the soprano
    before it harmonises it, instead of the mixture's components being
    reweighted by it. The first row's lower voices are the first chord's (a
    performance has no chord before its first). One chorale at a time: the
    shift never crosses from one chorale, or transposed copy, into the next.
    The last chord's lower voices are in no row.
    """
    events = np.asarray(events, dtype=np.float32)
    lead = events.copy()
    lead[1:, 2:] = events[:-1, 2:]
    return lead


def _round(value: float) -> int:
    """One note or interval value to semitones, as :func:`_notes` (IMPSY's rounding)."""
    return int(_notes(value))


def relative_note(soprano_value: float, interval_value: float) -> int:
    """The MIDI note a relative voice plays: the soprano's note minus the interval, in 0-127.

    ``soprano_value`` is a note value (``note / 127``), ``interval_value`` an
    interval value (``semitones / 127``); both are rounded to the nearest
    semitone as the note mapping rounds a note (``floor(value * 127 + 0.5)``),
    the soprano clipped to ``[0, 1]`` as the note mapping clips it.
    This is what a relative note mapping would play.
    """
    soprano = _round(min(max(float(soprano_value), 0.0), 1.0))
    interval = _round(min(max(float(interval_value), -2.0), 2.0))  # beyond +-1 all clamp
    return min(max(soprano - interval, 0), NOTE_SPAN)


def interval_region(soprano_note: int, notes: Iterable[int]) -> list[tuple[float, float]]:
    """The interval values under ``soprano_note`` that play one of ``notes``, as closed intervals.

    For each allowed note ``n`` the interval ``soprano_note - n`` covers the
    values that round to it (``floor(value * 127 + 0.5)``); the bounds are the
    extreme floats that round to it (found one ulp at a time, as
    :func:`impsy.model.steering.note_intervals` does for notes), so a value
    drawn inside never plays a neighbouring note; as :func:`relative_note`
    clamps, note 127 extends to ``-inf`` and note 0 to ``+inf``. Pass the result to
    ``impsy.model.steering.Region`` to constrain a relative voice to a key
    while the soprano is held.
    """
    result = []
    for note in sorted(set(int(n) for n in notes)):
        if not 0 <= note <= NOTE_SPAN:
            raise ValueError(f"note {note} is outside 0..{NOTE_SPAN}")
        semitones = soprano_note - note
        low = (semitones - 0.5) / NOTE_SPAN
        while _round(low) >= semitones:
            low = math.nextafter(low, -math.inf)
        while _round(low) < semitones:
            low = math.nextafter(low, math.inf)
        high = (semitones + 0.5) / NOTE_SPAN
        while _round(high) <= semitones:
            high = math.nextafter(high, math.inf)
        while _round(high) > semitones:
            high = math.nextafter(high, -math.inf)
        if note >= NOTE_SPAN:  # relative_note clamps: every interval below plays note 127
            low = -math.inf
        if note <= 0:  # ...and every interval above plays note 0
            high = math.inf
        result.append((low, high))
    return result


def lower_voices_log_prob(
    raw: np.ndarray, event: np.ndarray, mixtures: int, scale: float = 10.0
) -> float:
    """``log p(alto, tenor, bass)`` (absolute notes) under a relative model's mixture, exact.

    ``raw`` is one step's MDN output of a dimension-5 model of relative events
    ``[dt, s, i_a, i_t, i_b]`` (means, then sigmas, then logits, as
    :mod:`impsy.model.params` lays them out, in model space = data x
    ``scale``); ``event`` an absolute event ``[dt, s, a, t, b]`` (data space).
    Within a component, ``s`` and the intervals are independent normals, so
    the absolute voices ``x_j = s - i_j`` are jointly normal with mean
    ``mu_s - mu_j`` and covariance ``sigma_s^2 11^T + diag(sigma_j^2)``
    (Jacobian 1). The marginal is a mixture of those full-covariance
    normals, evaluated here with the matrix determinant lemma and the
    Sherman-Morrison inverse. Nats in model space, as
    :func:`impsy.model.steering.log_prob`, so the conditional
    ``log_prob(all) - log_prob(dims=(0, 1))`` of the same model (the
    intervals given dt and soprano, also Jacobian 1) is in the same units.
    """
    dimension = DIMENSION
    v = np.asarray(raw, dtype=np.float64)
    kd = mixtures * dimension
    mu = v[:kd].reshape(mixtures, dimension)
    sigma = v[kd : 2 * kd].reshape(mixtures, dimension)
    logits = v[2 * kd : 2 * kd + mixtures]
    log_weights = logits - np.logaddexp.reduce(logits)
    target = np.asarray(event, dtype=np.float32).astype(np.float64)[2:] * scale
    mean = mu[:, 1:2] - mu[:, 2:]  # (K, 3)
    residual = target[None, :] - mean
    var_s = sigma[:, 1] ** 2
    inv = 1.0 / sigma[:, 2:] ** 2  # D^-1
    c = 1.0 + var_s * inv.sum(axis=1)
    log_det = np.log(sigma[:, 2:] ** 2).sum(axis=1) + np.log(c)
    weighted = (residual * inv).sum(axis=1)
    quad = (residual**2 * inv).sum(axis=1) - var_s * weighted**2 / c
    log_normal = -1.5 * math.log(2.0 * math.pi) - 0.5 * log_det - 0.5 * quad
    return float(np.logaddexp.reduce(log_weights + log_normal))


# --- the corpus --------------------------------------------------------------------------


def read_corpus(
    numbers: Iterable[int] | None = None,
    progress: Callable[[Iterable[int]], Iterable[int]] | None = None,
) -> tuple[list[Chorale], list[dict[str, Any]]]:
    """The encoded chorales (by Riemenschneider number) and the skipped ones with reasons."""
    from music21.corpus import chorales as corpus_chorales

    wanted = list(numbers) if numbers is not None else list(range(FIRST_NUMBER, LAST_NUMBER + 1))
    files = {}
    for number in wanted:
        iterator = corpus_chorales.Iterator(
            number, number, numberingSystem="riemenschneider", returnType="filename"
        )
        found = list(iterator)
        files[number] = found[0] if found else None
    encoded: list[Chorale] = []
    skipped: list[dict[str, Any]] = []
    for number in progress(wanted) if progress else wanted:
        source = files[number]
        if source is None:
            skipped.append({"riemenschneider": number, "reason": "not in the corpus"})
            continue
        from music21 import corpus

        score = corpus.parse(source)
        try:
            events = encode_score(score)
        except ValueError as err:
            skipped.append({"riemenschneider": number, "source": source, "reason": str(err)})
            continue
        key = score.analyze("key")
        tonic, mode = key.tonic.pitchClass, key.mode
        encoded.append(Chorale(number, source, tonic, mode, events, final_length(score)))
    return encoded, skipped


def split(chorales: Sequence[Chorale]) -> tuple[list[Chorale], list[Chorale]]:
    """Training chorales and held-out chorales (by :data:`HELD_OUT`), each in number order."""
    held = set(HELD_OUT)
    train = [c for c in chorales if c.number not in held]
    test = [c for c in chorales if c.number in held]
    return train, test


def output_paths(destination: str | Path, stem: str = "chorales") -> dict[str, Path]:
    folder = Path(destination)
    return {
        "train": folder / f"{stem}-train-{DIMENSION}d.npz",
        "heldout": folder / f"{stem}-heldout-{DIMENSION}d.npz",
        "manifest": folder / f"{stem}-{DIMENSION}d.json",
        "relative_train": folder / f"{stem}-relative-train-{DIMENSION}d.npz",
        "relative_heldout": folder / f"{stem}-relative-heldout-{DIMENSION}d.npz",
        "lead_train": folder / f"{stem}-lead-train-{DIMENSION}d.npz",
        "lead_heldout": folder / f"{stem}-lead-heldout-{DIMENSION}d.npz",
    }


def write_chorale_datasets(
    chorales: Sequence[Chorale], skipped: Sequence[dict[str, Any]], paths: dict[str, Path]
) -> dict[str, Any]:
    """Write the training file (all keys), the held-out file and the manifest; returns it."""
    train, test = split(chorales)
    paths["train"].parent.mkdir(parents=True, exist_ok=True)
    write_dataset(paths["train"], [all_keys(c.events, c.gap) for c in train])
    write_dataset(paths["heldout"], [c.events for c in test])
    if "relative_train" in paths:
        write_dataset(
            paths["relative_train"], [relative_events(all_keys(c.events, c.gap)) for c in train]
        )
        write_dataset(paths["relative_heldout"], [relative_events(c.events) for c in test])
    if "lead_train" in paths:  # transposing commutes with the lead shift: each copy is led alone
        write_dataset(paths["lead_train"], [all_keys(lead_events(c.events), c.gap) for c in train])
        write_dataset(paths["lead_heldout"], [lead_events(c.events) for c in test])
    manifest = {
        "encoding": {
            "dimension": DIMENSION,
            "columns": ["dt", *VOICES],
            "dt": f"seconds at {TEMPO_BPM:g} quarter notes per minute (= quarter-note beats)",
            "pitch": f"MIDI note / {NOTE_SPAN}, float32",
            "relative": "the relative files: dt, soprano, then soprano - alto, soprano - tenor, "
            f"soprano - bass in semitones / {NOTE_SPAN}, float32",
            "lead": "the lead files: dt and soprano of each event with alto, tenor and bass "
            "of the event before (the first row: its own)",
            "transpositions": list(TRANSPOSITIONS),
        },
        "held_out": list(HELD_OUT),
        "train": [c.describe() for c in train],
        "heldout": [c.describe() for c in test],
        "skipped": list(skipped),
        "files": {kind: str(path) for kind, path in paths.items()},
    }
    paths["manifest"].write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def read_manifest(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
