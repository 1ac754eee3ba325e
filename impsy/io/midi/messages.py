"""What kind of MIDI message arrived, before the mapping looks at it.

Transport messages (clock, start, continue, stop, song position) drive a
sequencer, never the model: a clock alone arrives 48 times a second at
120 bpm. Everything else that is well formed goes to the mapping, which
ignores what it does not map. Only malformed messages (a JACK client can
write any bytes) count as bad input.
"""

from __future__ import annotations

from collections.abc import Sequence

from impsy.mapping.midi import NOTE_OFF, NOTE_ON, data_length

CLOCK = 0xF8
START = 0xFA
CONTINUE = 0xFB
STOP = 0xFC
SONG_POSITION = 0xF2
TRANSPORT = frozenset({CLOCK, START, CONTINUE, STOP, SONG_POSITION})

SYSEX = 0xF0
END_OF_SYSEX = 0xF7


def malformed(message: Sequence[int]) -> str | None:
    """Why ``message`` is not one complete MIDI message, or None when it is."""
    if not message:
        return "empty message"
    status = message[0]
    if not 0x80 <= status <= 0xFF:
        return f"no status byte: {list(message)}"
    if status == SYSEX:
        return None  # sysex bodies are opaque; they are never gestures
    if len(message) != 1 + data_length(status):
        # The fixed part comes before ": ": it is the warning's rate-limit key.
        return f"wrong length for its status byte: 0x{status:02X} {list(message)}"
    if any(not 0 <= byte <= 0x7F for byte in message[1:]):
        return f"data byte out of range: {list(message)}"
    return None


def is_transport(message: Sequence[int]) -> bool:
    return message[0] in TRANSPORT


def note_on(message: Sequence[int]) -> tuple[int, int] | None:
    """``(channel, note)`` of a sounding note-on (velocity > 0), else None."""
    if len(message) == 3 and message[0] & 0xF0 == NOTE_ON and message[2] > 0:
        return message[0] & 0x0F, message[1]
    return None


def note_off(message: Sequence[int]) -> tuple[int, int] | None:
    """``(channel, note)`` of a note-off, or of a note-on with velocity 0, else None."""
    if len(message) != 3:
        return None
    kind = message[0] & 0xF0
    if kind == NOTE_OFF or (kind == NOTE_ON and message[2] == 0):
        return message[0] & 0x0F, message[1]
    return None


class SoundingNotes:
    """The (channel, note) pairs a stream of forwarded messages has left sounding.

    Thru forwards the performer's notes raw, so the encoder does not know
    them; if impsy stops while a key is held, its note-off would never reach
    the synth. This tracks them so that stopping can release them.
    """

    def __init__(self) -> None:
        self._notes: set[tuple[int, int]] = set()

    def __contains__(self, channel_note: tuple[int, int] | None) -> bool:
        return channel_note in self._notes

    def update(self, message: Sequence[int]) -> None:
        if (on := note_on(message)) is not None:
            self._notes.add(on)
        elif (off := note_off(message)) is not None:
            self._notes.discard(off)

    def release(self) -> list[tuple[int, int, int]]:
        """Note-offs for everything sounding, and forget it."""
        offs = [(NOTE_OFF | channel, note, 0) for channel, note in sorted(self._notes)]
        self._notes.clear()
        return offs
