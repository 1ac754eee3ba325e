"""Raw MIDI bytes over a serial port (``[serialmidi]``): a UART wired to DIN MIDI sockets.

Input is a continuous byte stream, cut into messages by ``MidiStreamParser``:
running status, several messages in one read, realtime bytes (clock,
active sensing) interleaved anywhere, SysEx skipped. Each channel message
the ``[serialmidi] input`` mapping knows is one gesture; everything else
(note-offs, unmapped channels and controllers, realtime) is ignored, as
IMPSY ignores it. IMPSY reads one 3-byte chunk per poll, so running status
or a clock byte puts it out of step with the stream.

Output goes through ``MidiEncoder`` with the ``output`` mapping: a note
dimension turns its previous note off before the next, unchanged CCs are
not resent (at 31250 baud each 3-byte message takes ~1 ms of wire time),
and ``release`` sends note-offs for whatever is sounding. When the device
cannot keep up, whole output vectors are dropped, but a note-off for a
note whose note-on went out is still sent, so a backlog never leaves a
note hanging. Such note-offs falling due while the port is unplugged are
kept and sent on reconnecting, with note-offs for everything sounding;
every CC is sent again on the next output, as the synth may have been
power-cycled while the cable was out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from impsy.io.midi.messages import SoundingNotes, note_off
from impsy.io.serial.port import SerialAdapter
from impsy.mapping.midi import (
    Message,
    MidiDecoder,
    MidiEncoder,
    MidiStreamParser,
)

if TYPE_CHECKING:
    from impsy.config import SerialMidiConfig


def midi_bytes(messages: list[Message]) -> bytes:
    """Messages as they go on the wire, each with its own status byte."""
    return bytes(byte for message in messages for byte in message)


class SerialMidiAdapter(SerialAdapter):
    """The ``[serialmidi]`` section: mapped MIDI messages in, the model's notes and CCs out."""

    name = "serialmidi"

    def __init__(self, config: SerialMidiConfig, dimension: int, **retry: float) -> None:
        self.config = config
        self.dimension = dimension
        super().__init__(config.port, config.baudrate, config.latency_ms, **retry)
        self._parser = MidiStreamParser()
        self._decoder = MidiDecoder(config.input)
        self._encoder = MidiEncoder(config.output)
        self._on_wire = SoundingNotes()  # notes whose note-on really went out
        self._owed: dict[tuple[int, int], Message] = {}  # note-offs waiting for a reconnect

    def describe(self) -> str:
        return (
            f"serial MIDI {self.config.port} at {self.config.baudrate} baud{self._waiting_note()}"
        )

    def send(self, values: np.ndarray) -> None:
        self._write(self._encoder.encode(values))

    def release(self) -> None:
        self._write(self._encoder.all_notes_off())

    def _write(self, messages: list[Message]) -> None:
        """Send ``messages``; if they can't go, make sure the note-offs the synth needs do, or will.

        A note needs turning off only if its note-on really went out, which
        ``_on_wire`` tracks; so what is forced past a full buffer, or kept
        while unplugged, is bounded by the notes sounding, not by the backlog.
        """
        if not messages:
            return
        if self.link.write(midi_bytes(messages)):
            self._track(messages)
            return
        needed = [m for m in messages if note_off(m) in self._on_wire]
        if not needed:
            return
        if self.link.connected and self.link.write(midi_bytes(needed), force=True):
            self._track(needed)
            return
        for message in needed:  # unplugged: owed to the synth when it is back
            self._owed[(message[0] & 0x0F, message[1])] = message

    def _track(self, messages: list[Message]) -> None:
        for message in messages:
            self._on_wire.update(message)

    def _connected(self) -> None:
        self._parser = MidiStreamParser()  # a half-received message is from the old link
        owed = list(self._owed.values())
        self._owed.clear()
        if self.link.connections > 1:
            owed += self._encoder.all_notes_off()
        if owed and self.link.write(midi_bytes(owed), force=True):
            self._track(owed)

    def _received(self, data: bytes) -> None:
        engine = self.engine
        assert engine is not None
        for message in self._parser.feed(data):
            updates = self._decoder.decode(message)
            if updates:
                engine.user_input(updates, "serialmidi")
