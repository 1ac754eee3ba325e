"""IMPSY's MIDI feedback protection: drop impsy's own notes coming back in.

A synth or controller with MIDI thru (or "local on" echo) sends impsy's
output straight back to impsy's input, where the model would take its own
notes for the performer's. IMPSY 1.2.1 (``MIDIServer.handle_port``) drops
an incoming message when all of these hold, and impsy keeps the rule:

- ``feedback_protection`` is on;
- less than ``feedback_threshold`` seconds have passed since impsy last sent
  any MIDI message (on any port);
- the message is a note-on (any velocity, as mido's ``note_on`` type);
- an output port with the *same config name* as the input port (the device
  listed in both ``in_device`` and ``out_device``) last sent a note-on with
  this note number on this channel.

Dropped messages are neither gestures nor forwarded by ``thru_matrix``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

_NOTE_ON = 0x90


class FeedbackGuard:
    """Remembers impsy's last note per (output port, channel) and when it last sent."""

    def __init__(self, enabled: bool, threshold: float) -> None:
        self.enabled = enabled
        self.threshold = threshold
        self.dropped = 0
        self._last_sent: float | None = None
        self._last_note: dict[str, dict[int, int]] = {}

    def sent(self, port: str, messages: Iterable[Sequence[int]], when: float) -> None:
        """Record messages impsy just sent on output ``port`` at ``when`` (seconds)."""
        if not self.enabled:
            return
        notes = self._last_note.setdefault(port, {})
        any_sent = False
        for message in messages:
            any_sent = True
            if len(message) == 3 and message[0] & 0xF0 == _NOTE_ON:
                notes[message[0] & 0x0F] = message[1]
        if any_sent:
            self._last_sent = when

    def is_echo(self, port: str, message: Sequence[int], when: float) -> bool:
        """Whether ``message``, arriving on input ``port`` at ``when``, is impsy's own note."""
        if not self.enabled or self._last_sent is None:
            return False
        if len(message) != 3 or message[0] & 0xF0 != _NOTE_ON:
            return False
        if when - self._last_sent >= self.threshold:
            return False
        if self._last_note.get(port, {}).get(message[0] & 0x0F) != message[1]:
            return False
        self.dropped += 1
        return True
