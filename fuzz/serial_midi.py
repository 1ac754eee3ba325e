"""Raw MIDI bytes (``[serialmidi]``) into ``SerialMidiAdapter``, read by read.

Each input is a byte stream from a UART, cut into reads of varying size and
handed to the adapter's read callback; the mapping has every kind on the
lowest and highest channels, so decoded gestures are common.

Invariants: nothing raises; the stream parser's unfinished message never
exceeds one status byte and two data bytes (bounded memory, running status
and SysEx included); every decoded gesture is finite and within [0, 1].
"""

from __future__ import annotations

import numpy as np

from fuzz.harness import DIMENSION, LiveEngine, mapped_config
from impsy.io.serial.midi import SerialMidiAdapter
from impsy.mapping.midi import MidiStreamParser


def _unit(kind: str, values: np.ndarray, when: float) -> None:
    assert np.all((values >= 0.0) & (values <= 1.0)), f"decoded values outside [0, 1]: {values}"


class _Target:
    def __init__(self) -> None:
        config = mapped_config("serialmidi", port='"/nonexistent/fuzz-uart"')
        self.adapter = SerialMidiAdapter(config.serialmidi, DIMENSION)
        self.live = LiveEngine([], mode="useronly")
        self.live.engine.add_observer(_unit)
        self.adapter.engine = self.live.engine  # read path only: the port is never opened

    def read(self, data: bytes) -> None:
        self.adapter._received(data)
        parser = self.adapter._parser
        assert len(parser._pending) <= 3, f"parser holds {len(parser._pending)} bytes"


_target: _Target | None = None


def one_input(data: bytes) -> None:
    global _target
    if _target is None:
        _target = _Target()
    _target.adapter._parser = MidiStreamParser()  # what a reconnect does, without writing
    _target.live.feed_reads(_target.read, data)
