"""Between the model's [0, 1] vectors and the sequencer's notes, both ways.

One mapping list (the same kind as ``[midi] input``) says what each model
value means on the grid: the ``note_on`` entry is the pitch, the
``note_velocity`` entry the velocity, ``control_change`` entries become the
step's CC values. ``pitch_bend`` entries are ignored on the grid (a step has
no bend). Without a ``[sequencer] mapping`` the default is x1 = note (channel
1), x2 = velocity, x3... = CC 20, 21, ... on channel 1.

Predictions become notes folded by octaves into ``note_low..note_high``;
human actions become MIDI messages decoded by ``impsy.mapping.midi`` into the
engine's sparse updates, exactly as a keyboard on ``[midi] input`` would be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from impsy.mapping.midi import CONTROL_CHANGE, NOTE_ON, MidiDecoder, to_seven_bit
from impsy.mapping.spec import ControlChange, Mapping, NoteOn, NoteVelocity

FIRST_DEFAULT_CC = 20
DEFAULT_VELOCITY = 100


def default_mapping(dimension: int) -> tuple[Mapping, ...]:
    """x1 = note, x2 = velocity, the rest CCs 20, 21, ... (all channel 1)."""
    entries: list[Mapping] = []
    for index in range(dimension - 1):
        if index == 0:
            entries.append(NoteOn(1))
        elif index == 1:
            entries.append(NoteVelocity(1))
        else:
            entries.append(ControlChange(1, FIRST_DEFAULT_CC + index - 2))
    return tuple(entries)


@dataclass(frozen=True)
class GridNote:
    """What one prediction plays on the grid."""

    note: int
    velocity: int
    cc: dict[int, int]


def fold(note: int, low: int, high: int) -> int:
    """Move a note by octaves into low..high (a range of at least an octave)."""
    while note < low:
        note += 12
    while note > high:
        note -= 12
    return note


class GridMapping:
    """Encodes predictions as grid notes and decodes human notes into engine updates."""

    def __init__(self, mapping: Sequence[Mapping], note_low: int = 0, note_high: int = 127) -> None:
        self.mapping = tuple(mapping)
        self.note_low = note_low
        self.note_high = note_high
        self.decoder = MidiDecoder(self.mapping)
        self.note_channel = next((m.channel for m in self.mapping if isinstance(m, NoteOn)), 1)
        self.cc_channel = next(
            (m.channel for m in self.mapping if isinstance(m, ControlChange)), self.note_channel
        )

    def to_grid(self, values: Sequence[float]) -> GridNote | None:
        """A prediction's values as a note; None when the mapping has no note entry."""
        note = None
        velocity = None
        cc: dict[int, int] = {}
        for entry, value in zip(self.mapping, values, strict=False):
            if isinstance(entry, NoteOn):
                if note is None:
                    note = to_seven_bit(value)
                    if entry.velocity is not None and velocity is None:
                        velocity = entry.velocity
            elif isinstance(entry, NoteVelocity):
                velocity = max(1, to_seven_bit(value))
            elif isinstance(entry, ControlChange):
                raw = entry.low + round(min(max(float(value), 0.0), 1.0) * (entry.high - entry.low))
                cc[entry.control] = raw
        if note is None:
            return None
        return GridNote(fold(note, self.note_low, self.note_high), velocity or DEFAULT_VELOCITY, cc)

    def to_updates(
        self, note: int, velocity: int, cc: dict[int, int] | None = None
    ) -> list[tuple[int, float]]:
        """A human note (and CCs) as the engine's (index, value) updates."""
        updates: dict[int, float] = {}
        messages = [(NOTE_ON | (self.note_channel - 1), note, velocity)]
        for control, value in (cc or {}).items():
            messages.append((CONTROL_CHANGE | (self.cc_channel - 1), control, value))
        for message in messages:
            for index, value in self.decoder.decode(message) or ():
                updates[index] = value
        return sorted(updates.items())
