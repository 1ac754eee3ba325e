"""IMPSY's WebSocket text format, as a thin layer over the MIDI codec.

The strings are MIDI messages spelt out (``/channel/1/noteon/60/100``), so
they are translated to and from MIDI tuples and the MIDI codec does the
mapping. That way both transports decode and encode identically by
construction, which is what IMPSY's web clients rely on. Channels in the
strings are 1-based, like the config.

Formats: ``/channel/{ch}/noteon/{note}/{vel}``, ``/channel/{ch}/noteoff/{note}/{vel}``,
``/channel/{ch}/cc/{control}/{value}`` and ``/channel/{ch}/pitchbend/{raw}``
with ``raw`` the 14-bit value 0-16383.
"""

from __future__ import annotations

from collections.abc import Sequence

from impsy.mapping.midi import (
    CONTROL_CHANGE,
    NOTE_OFF,
    NOTE_ON,
    PITCH_BEND,
    PITCH_BEND_MAX,
    Message,
    MidiDecoder,
    MidiEncoder,
    Update,
)
from impsy.mapping.spec import Mapping

_STATUS = {"noteon": NOTE_ON, "noteoff": NOTE_OFF, "cc": CONTROL_CHANGE}
_WORD = {status: word for word, status in _STATUS.items()}


def _number(text: str, high: int) -> int | None:
    """A plain decimal 0..high; anything else (signs, spaces, other digits) is None."""
    if not (text.isascii() and text.isdigit()) or len(text) > 5:
        return None  # also keeps int() away from its 4300-digit limit
    value = int(text)
    return value if value <= high else None


def text_to_midi(text: str) -> Message | None:
    """The MIDI message a WebSocket string stands for, or None if it is malformed."""
    parts = text.split("/")
    if len(parts) < 5 or parts[0] != "" or parts[1] != "channel":
        return None
    channel = _number(parts[2], 16)
    if channel is None or channel < 1:
        return None
    word, args = parts[3], parts[4:]
    if word == "pitchbend":
        raw = _number(args[0], PITCH_BEND_MAX) if len(args) == 1 else None
        if raw is None:
            return None
        return (PITCH_BEND | (channel - 1), raw & 0x7F, raw >> 7)
    status = _STATUS.get(word)
    if status is None or len(args) != 2:
        return None
    data1, data2 = _number(args[0], 127), _number(args[1], 127)
    if data1 is None or data2 is None:
        return None
    return (status | (channel - 1), data1, data2)


def midi_to_text(message: Sequence[int]) -> str | None:
    """The WebSocket string for a MIDI message, or None for types the format lacks."""
    if len(message) != 3:
        return None
    status, data1, data2 = message
    channel = (status & 0x0F) + 1
    kind = status & 0xF0
    if kind == PITCH_BEND:
        return f"/channel/{channel}/pitchbend/{(data2 << 7) | data1}"
    word = _WORD.get(kind)
    if word is None:
        return None
    return f"/channel/{channel}/{word}/{data1}/{data2}"


class WebSocketDecoder:
    """Decodes incoming WebSocket strings to input-vector updates via the MIDI decoder."""

    def __init__(self, mapping: Sequence[Mapping]) -> None:
        self._midi = MidiDecoder(mapping)

    def decode(self, text: str) -> list[Update] | None:
        """The ``(index, value)`` updates for one string, or None when ignored or malformed."""
        message = text_to_midi(text)
        return None if message is None else self._midi.decode(message)


class WebSocketEncoder:
    """Encodes output vectors to WebSocket strings with the MIDI encoder's note state."""

    def __init__(self, mapping: Sequence[Mapping]) -> None:
        self._midi = MidiEncoder(mapping)

    def encode(self, values: Sequence[float]) -> list[str]:
        """The strings to send for one output vector x_1..x_n."""
        return _texts(self._midi.encode(values))

    def all_notes_off(self) -> list[str]:
        """Note-offs for all sounding notes (see ``MidiEncoder.all_notes_off``)."""
        return _texts(self._midi.all_notes_off())


def _texts(messages: list[Message]) -> list[str]:
    texts = (midi_to_text(message) for message in messages)
    return [text for text in texts if text is not None]
