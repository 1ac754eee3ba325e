"""A pure MIDI codec between raw messages and the model's [0, 1] value vectors.

Nothing here touches a port: adapters (rtmidi, serial, WebSocket) hand in raw
bytes and send out the tuples this module returns. Keeping the codec pure is
what lets the IMPSY conformance vectors be checked byte for byte, and keeps
the decoding path a couple of dictionary look-ups long, because it runs for
every message a performer sends.

Messages are tuples of ints, ``(status, data1, data2)`` for channel messages;
channels inside them are 0-based as on the wire, while the mapping (like the
config) is 1-based.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from impsy.mapping.spec import ControlChange, Mapping, NoteOn, NoteVelocity, PitchBend

Message = tuple[int, ...]
Update = tuple[int, float]

NOTE_OFF = 0x80
NOTE_ON = 0x90
CONTROL_CHANGE = 0xB0
PITCH_BEND = 0xE0
PITCH_BEND_MAX = 16383


def round_half_up(value: float) -> int:
    """``floor(value + 0.5)``: IMPSY 1.2.1's rounding, so n/127 encodes to n in any precision."""
    return math.floor(value + 0.5)


def unit_clip(value: float) -> float:
    """Clip to [0, 1]; NaN becomes 0 so a bad model output can't crash the output path."""
    value = float(value)
    if not value >= 0.0:  # also catches NaN
        return 0.0
    return 1.0 if value > 1.0 else value


def to_seven_bit(value: float) -> int:
    """A [0, 1] value as a 0-127 MIDI data byte, clipped first."""
    return round_half_up(unit_clip(value) * 127)


class MidiDecoder:
    """Turns incoming MIDI messages into ``(index, value)`` updates of the input vector.

    The mapping is folded into look-up tables once, keyed by status byte (and
    controller for CCs), so ``decode`` does no searching. Indices are 0-based
    over x_1..x_n (dt excluded) and each result lists them in ascending order.
    """

    def __init__(self, mapping: Sequence[Mapping]) -> None:
        notes: dict[int, list[tuple[int, bool]]] = {}
        controls: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        bends: dict[int, list[int]] = {}
        for index, entry in enumerate(mapping):
            channel = entry.channel - 1
            if isinstance(entry, NoteOn):
                notes.setdefault(NOTE_ON | channel, []).append((index, False))
            elif isinstance(entry, NoteVelocity):
                notes.setdefault(NOTE_ON | channel, []).append((index, True))
            elif isinstance(entry, ControlChange):
                key = (CONTROL_CHANGE | channel, entry.control)
                controls.setdefault(key, []).append((index, entry.low, entry.high))
            elif isinstance(entry, PitchBend):
                bends.setdefault(PITCH_BEND | channel, []).append(index)
            else:
                raise TypeError(f"not a mapping entry: {entry!r}")
        self._notes = {status: tuple(targets) for status, targets in notes.items()}
        self._controls = {key: tuple(targets) for key, targets in controls.items()}
        self._bends = {status: tuple(targets) for status, targets in bends.items()}

    def decode(self, message: Sequence[int]) -> list[Update] | None:
        """The updates one message makes, or None when the mapping ignores it.

        Ignored: note-offs (including velocity-0 note-ons), unmapped channels
        or controllers, other message types, and malformed messages.
        """
        if len(message) != 3:
            return None
        status, data1, data2 = message[0], message[1], message[2]
        if not (0 <= data1 <= 127 and 0 <= data2 <= 127):
            return None
        kind = status & 0xF0
        if kind == NOTE_ON:
            targets = self._notes.get(status)
            if targets is None or data2 == 0:
                return None
            note, velocity = data1 / 127, data2 / 127
            return [(index, velocity if is_velocity else note) for index, is_velocity in targets]
        if kind == CONTROL_CHANGE:
            ranges = self._controls.get((status, data1))
            if ranges is None:
                return None
            return [
                (index, (min(max(data2, low), high) - low) / (high - low))
                for index, low, high in ranges
            ]
        if kind == PITCH_BEND:
            indices = self._bends.get(status)
            if indices is None:
                return None
            value = ((data2 << 7) | data1) / PITCH_BEND_MAX
            return [(index, value) for index in indices]
        return None


class MidiEncoder:
    """Turns output vectors into MIDI messages, remembering what is sounding.

    State carried between steps: the note each note dimension last played (so
    it can be turned off before the next) and the last value sent to each CC
    and pitch-bend target (so unchanged values are not resent, which would
    flood slow serial links and synths' automation).
    """

    def __init__(self, mapping: Sequence[Mapping]) -> None:
        self._mapping = tuple(mapping)
        for entry in self._mapping:
            if not isinstance(entry, NoteOn | NoteVelocity | ControlChange | PitchBend):
                raise TypeError(f"not a mapping entry: {entry!r}")
        velocity_dims: dict[int, int] = {}
        for index, entry in enumerate(self._mapping):
            if isinstance(entry, NoteVelocity):
                velocity_dims.setdefault(entry.channel, index)
        # For each dimension, the index of the note_velocity dimension that sets its velocity.
        self._velocity_source = [
            velocity_dims.get(entry.channel) if isinstance(entry, NoteOn) else None
            for entry in self._mapping
        ]
        # For each note dimension, the other note dimensions on its channel.
        self._peers = [
            tuple(
                other
                for other, peer in enumerate(self._mapping)
                if other != index and isinstance(peer, NoteOn) and peer.channel == entry.channel
            )
            for index, entry in enumerate(self._mapping)
        ]
        self._sounding: list[int | None] = [None] * len(self._mapping)
        self._last_sent: dict[tuple[int, ...], int] = {}

    def encode(self, values: Sequence[float]) -> list[Message]:
        """The messages for one output vector x_1..x_n (values are clipped to [0, 1])."""
        if len(values) != len(self._mapping):
            raise ValueError(
                f"expected {len(self._mapping)} output values for the mapping, got {len(values)}"
            )
        messages: list[Message] = []
        for index, entry in enumerate(self._mapping):
            if isinstance(entry, NoteOn):
                self._encode_note(index, entry, values, messages)
            elif isinstance(entry, ControlChange):
                scaled = entry.low + unit_clip(values[index]) * (entry.high - entry.low)
                self._send_changed(
                    (CONTROL_CHANGE | (entry.channel - 1), entry.control),
                    round_half_up(scaled),
                    messages,
                )
            elif isinstance(entry, PitchBend):
                raw = round_half_up(unit_clip(values[index]) * PITCH_BEND_MAX)
                self._send_changed((PITCH_BEND | (entry.channel - 1),), raw, messages)
        return messages

    def all_notes_off(self) -> list[Message]:
        """Note-offs for every sounding (channel, note), and forget sent CC/bend values.

        Called on disconnect or when the performer takes over; after it the
        next ``encode`` sends every CC and bend again, because the receiver
        may have been reset in between.
        """
        messages: list[Message] = []
        seen: set[tuple[int, int]] = set()
        for index, note in enumerate(self._sounding):
            if note is None:
                continue
            channel = self._mapping[index].channel - 1
            if (channel, note) not in seen:
                seen.add((channel, note))
                messages.append((NOTE_OFF | channel, note, 0))
        self._sounding = [None] * len(self._mapping)
        self._last_sent.clear()
        return messages

    def _encode_note(
        self, index: int, entry: NoteOn, values: Sequence[float], messages: list[Message]
    ) -> None:
        channel = entry.channel - 1
        previous = self._sounding[index]
        if previous is not None and not self._held_elsewhere(index, previous):
            messages.append((NOTE_OFF | channel, previous, 0))
        note = to_seven_bit(values[index])
        self._sounding[index] = note
        messages.append((NOTE_ON | channel, note, self._velocity(index, entry, values)))

    def _held_elsewhere(self, index: int, note: int) -> bool:
        """Whether another note dimension on this one's channel is holding ``note`` now."""
        return any(self._sounding[other] == note for other in self._peers[index])

    def _velocity(self, index: int, entry: NoteOn, values: Sequence[float]) -> int:
        source = self._velocity_source[index]
        if source is not None:
            return max(1, to_seven_bit(values[source]))
        if entry.velocity is not None:
            return min(max(entry.velocity, 1), 127)
        return 127

    def _send_changed(self, target: tuple[int, ...], raw: int, messages: list[Message]) -> None:
        if self._last_sent.get(target) == raw:
            return
        self._last_sent[target] = raw
        status = target[0]
        if status & 0xF0 == PITCH_BEND:
            messages.append((status, raw & 0x7F, raw >> 7))
        else:
            messages.append((status, target[1], raw))


def data_length(status: int) -> int:
    """Data bytes after a (non-realtime, non-sysex) status byte; undefined ones have none."""
    kind = status & 0xF0
    if kind in (0xC0, 0xD0):
        return 1
    if kind != 0xF0:
        return 2
    return {0xF1: 1, 0xF2: 2, 0xF3: 1}.get(status, 0)


class MidiStreamParser:
    """Splits a raw MIDI byte stream (e.g. from a serial port) into messages.

    Serial reads arrive in arbitrary chunks, so the parser keeps its state
    between ``feed`` calls. It follows the MIDI 1.0 wire rules: running
    status for channel messages, realtime bytes (0xF8-0xFF) may appear
    anywhere, even inside another message, and are returned as one-byte
    messages; system exclusive data is skipped; stray data bytes are dropped.
    """

    def __init__(self) -> None:
        self._running: int | None = None  # status reused by running status
        self._pending: list[int] = []  # the message being assembled, status first
        self._needed = 0  # data bytes still missing from _pending
        self._in_sysex = False

    def feed(self, data: Iterable[int]) -> list[Message]:
        """Parse more bytes; returns the messages completed by them, in order."""
        messages: list[Message] = []
        for byte in data:
            if byte >= 0xF8:
                messages.append((byte,))
            elif byte >= 0x80:
                self._start(byte, messages)
            elif self._in_sysex:
                continue
            elif self._pending:
                self._pending.append(byte)
                self._needed -= 1
                if self._needed == 0:
                    messages.append(tuple(self._pending))
                    self._pending = []
            elif self._running is not None:
                self._pending = [self._running, byte]
                self._needed = data_length(self._running) - 1
                if self._needed == 0:
                    messages.append(tuple(self._pending))
                    self._pending = []
        return messages

    def _start(self, status: int, messages: list[Message]) -> None:
        """A new status byte: drops any unfinished message and begins the next."""
        self._pending = []
        self._in_sysex = status == 0xF0
        if status == 0xF7 or self._in_sysex:
            self._running = None
            return
        needed = data_length(status)
        self._running = status if status < 0xF0 else None
        if needed == 0:
            messages.append((status,))
        else:
            self._pending = [status]
            self._needed = needed
