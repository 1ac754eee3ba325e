"""Standard MIDI Files as performances, exactly as if played live into impsy.

Each file becomes one performance. Every message goes through the same
:class:`~impsy.mapping.midi.MidiDecoder` and
:class:`~impsy.mapping.pipeline.InputState` the live MIDI input uses, at the
message's absolute time in the file (mido applies the tempo map), so a
recording imported here and the same notes played through a controller give
the same rows: messages the mapping ignores (note-offs, other channels,
clock) produce no row and do not restart dt; untouched values start at 0.5;
and, as with a log, the first interaction only starts the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from impsy.errors import ImpsyError
from impsy.mapping.midi import MidiDecoder
from impsy.mapping.pipeline import InputState
from impsy.mapping.spec import Mapping

MIDI_SUFFIXES = (".mid", ".midi", ".smf")
INITIAL_VALUE = 0.5
"""What a dimension holds before its first message, as in ``impsy run``."""


def find_midi_files(locations: Iterable[str | Path]) -> list[Path]:
    """Files given directly, plus ``.mid``/``.midi``/``.smf`` files in given folders, sorted."""
    found: list[Path] = []
    for location in map(Path, locations):
        if location.is_dir():
            found += sorted(
                p for p in location.iterdir() if p.suffix.lower() in MIDI_SUFFIXES and p.is_file()
            )
        elif location.is_file():
            found.append(location)
        else:
            raise ImpsyError(f"--midi {location}: no such file or folder")
    return found


FLOAT32_MAX = 3.4028234e38


def timed_messages(path: Path) -> list[tuple[float, tuple[int, ...]]]:
    """``(absolute seconds, message bytes)`` for every channel message, all tracks merged."""
    import mido

    now = 0.0
    messages = []
    try:
        midi = mido.MidiFile(path)
        if midi.ticks_per_beat <= 0:  # mido would count time backwards
            raise ValueError("SMPTE time division; save it with ticks per beat")
        for message in midi:  # merged tracks, times in seconds since the previous message
            now += message.time
            if not message.is_meta and message.type != "sysex":
                messages.append((now, tuple(message.bytes())))
    except Exception as err:  # mido raises its own kinds too (KeySignatureError, ...)
        raise ImpsyError(f"{path}: not a readable Standard MIDI File ({err})") from None
    if not now <= FLOAT32_MAX:  # a damaged delta time: the dataset's float32 dt would be inf
        raise ImpsyError(f"{path}: not a readable Standard MIDI File (it lasts {now:.3g} s)")
    return messages


def midi_rows(
    messages: Iterable[tuple[float, Sequence[int]]], mapping: Sequence[Mapping]
) -> np.ndarray:
    """Dataset rows ``[dt, x_1..x_n]`` from timed messages, first interaction dropped."""
    decoder = MidiDecoder(mapping)
    dimension = len(mapping) + 1
    state = InputState(dimension, [INITIAL_VALUE] * (dimension - 1), 0.0)
    rows = []
    first = True
    for time, message in messages:
        interaction = state.apply(decoder.decode(message), time)
        if interaction is None:
            continue
        if first:
            first = False  # like a log's first row, it only starts the clock
            continue
        rows.append(interaction.model_input)
    return np.array(rows, dtype=np.float32).reshape(len(rows), dimension)


def read_midi_file(path: Path, mapping: Sequence[Mapping]) -> np.ndarray:
    """One file's performance rows (see :func:`midi_rows`)."""
    return midi_rows(timed_messages(path), mapping)
