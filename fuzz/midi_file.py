"""Standard MIDI Files into the dataset step (``impsy dataset --midi``), one file per input.

The input is written as a ``.mid`` file and read with the mapping every
MIDI-shaped target uses, as ``impsy dataset --midi`` reads each file.

Invariants: the only exception is ``ImpsyError`` naming the file, on one
line; the rows are a finite float32 array of shape (N, dimension) whose dt
never goes backwards.
"""

from __future__ import annotations

import numpy as np

from fuzz.harness import DIMENSION, mapped_config, quiet, scratch_dir
from impsy.dataset.midi_files import read_midi_file
from impsy.errors import ImpsyError

_state: tuple | None = None


def one_input(data: bytes) -> None:
    global _state
    if _state is None:
        quiet()
        mapping = mapped_config("websocket", server_port="5001").websocket.input
        _state = (scratch_dir() / "fuzz.mid", mapping)
    path, mapping = _state
    path.write_bytes(data)
    try:
        rows = read_midi_file(path, mapping)
    except ImpsyError as err:
        message = str(err)
        assert message.startswith(str(path)) and "\n" not in message, message
        return
    assert rows.dtype == np.float32 and rows.shape[1:] == (DIMENSION,)
    assert np.all(np.isfinite(rows)), "non-finite values reached the dataset"
    assert np.all(rows[:, 0] >= 0), "time ran backwards"
