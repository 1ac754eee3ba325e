"""MIDI learn: the controls a person moves, in the order moved, as a ``[midi] input`` list.

The config wizard's learn step (and ``impsy ports --learn``) saves the
musician from looking up which controller number each knob sends: they move
the controls they want the model to hear, one after another, and get the
mapping list (entries as ``impsy.mapping.spec`` parses them):

- a control change is ``["control_change", channel, controller]``;
- a note is two values, ``["note_on", channel]`` (which key) and
  ``["note_velocity", channel]`` (how hard), the way IMPSY's configs map a
  keyboard; every key of a channel is the same control; when only one value
  is left, the note alone;
- pitch bend is ``["pitch_bend", channel]``.

Everything else (note-offs, aftertouch, program changes, clock, sysex) is
no mapping kind and is ignored. Each control is listed once, at its first
move. Learning ends when the list has one entry per model value (dimension
- 1), after the time given, or when stopped. A shorter list is completed
with controllers nobody moved (channel 1 from CC 1 up, skipping those
learned) and says how many (``filled``), so that a config made from it loads;
the musician can edit them.

The port is read in RtMidi's queue mode, polled every ``POLL_S``, with no
Python callback: nothing on the MIDI system's thread ever waits for the GIL,
so opening and closing the port cannot deadlock (see ``backend``). Like a
listing, learning runs in a process of its own (``impsy ports --learn``),
never beside a performance.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from impsy.errors import ImpsyError
from impsy.io.midi.backend import (
    MidiIn,
    api_label,
    dispose,
    midi_errors,
    new_input,
    open_port,
    selected_api,
)
from impsy.io.midi.listing import midi_problem, quiet_stderr
from impsy.io.midi.ports import OWN_PORT, match_port

POLL_S = 0.002
"""How often the port's queue is read: far below a person's reaction time."""
MAX_SECONDS = 60.0
"""The longest a learn may listen (the web UI holds the port meanwhile)."""
PORT_NAME = "learn"
"""impsy's end of the connection while learning (on JACK: ``impsy:learn``)."""

CONTROL_CHANGE, NOTE_ON, PITCH_BEND = 0xB0, 0x90, 0xE0

Entry = list[Any]
"""A mapping entry as the config writes it: ``["control_change", 1, 20]``."""


def describe(entry: Sequence[Any]) -> str:
    """The dashboard's short name for a mapping entry: ``CC 1:20``, ``note 1``, ``bend 1``."""
    kind, channel = entry[0], entry[1]
    if kind == "control_change":
        return f"CC {channel}:{entry[2]}"
    if kind == "note_velocity":
        return f"velocity {channel}"
    if kind == "pitch_bend":
        return f"bend {channel}"
    return f"note {channel}"


class Learner:
    """Turns messages into mapping entries: each new control once, up to ``slots`` entries."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots = slots
        self.learned: list[Entry] = []
        self._seen: set[tuple[int, ...]] = set()

    @property
    def full(self) -> bool:
        """Every model value has a control."""
        return len(self.learned) >= self.slots

    def feed(self, message: Sequence[int]) -> list[Entry]:
        """The entries ``message`` adds: none for a control already learned or unmappable."""
        if self.full or len(message) != 3:
            return []
        status, data1, data2 = message
        if not (0x80 <= status <= 0xEF and 0 <= data1 <= 127 and 0 <= data2 <= 127):
            return []
        kind, channel = status & 0xF0, (status & 0x0F) + 1
        if kind == CONTROL_CHANGE:
            key, entries = (kind, channel, data1), [["control_change", channel, data1]]
        elif kind == NOTE_ON and data2 > 0:
            key, entries = (kind, channel), [["note_on", channel], ["note_velocity", channel]]
        elif kind == PITCH_BEND:
            key, entries = (kind, channel), [["pitch_bend", channel]]
        else:
            return []
        if key in self._seen:
            return []
        self._seen.add(key)
        entries = entries[: self.slots - len(self.learned)]
        self.learned.extend(entries)
        return entries


def proposal(learned: Sequence[Entry], slots: int) -> tuple[list[Entry], int]:
    """``learned`` completed to ``slots`` entries with unused CCs, and how many were added."""
    mapping = [list(entry) for entry in learned[:slots]]
    used = {(e[1], e[2]) for e in mapping if e[0] == "control_change"}
    spare = ((ch, cc) for ch in range(1, 17) for cc in range(1, 128) if (ch, cc) not in used)
    filled = slots - len(mapping)
    mapping += [["control_change", ch, cc] for ch, cc in itertools.islice(spare, filled)]
    return mapping, filled


@dataclass(frozen=True)
class LearnResult:
    """What a learn heard, and the mapping list it proposes."""

    device: str
    """The port listened to (the system's full name)."""
    api: str
    learned: list[Entry]
    """One entry per control moved, in the order first moved."""
    mapping: list[Entry]
    """``learned`` completed to ``slots`` entries (see ``proposal``)."""
    filled: int
    """How many entries at the end of ``mapping`` were not learned."""
    reason: str
    """Why it ended: ``"full"``, ``"time"`` or ``"stopped"``."""

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "api": self.api,
            "learned": self.learned,
            "labels": [describe(entry) for entry in self.learned],
            "mapping": self.mapping,
            "filled": self.filled,
            "reason": self.reason,
        }


def _open(name: str, api: int) -> tuple[MidiIn, str, int]:
    """The input ``name`` picks (IMPSY's rule), opened in queue mode; ImpsyError if none."""
    midi: MidiIn | None = None
    with quiet_stderr():
        try:
            scanner = new_input(api)
            try:
                names = scanner.get_ports()
                api = scanner.get_current_api()
            finally:
                scanner.delete()
            device = match_port(name, names)
            if device is None:
                shown = ", ".join(repr(n) for n in names if not OWN_PORT.match(n)) or "none"
                raise ImpsyError(f"no MIDI input matches {name!r} (inputs: {shown})")
            midi = new_input(api)
            midi.ignore_types(sysex=True, timing=True, active_sense=True)
            open_port(midi, device, PORT_NAME)
        except LookupError:
            with contextlib.suppress(*midi_errors()):
                dispose(midi)
            raise ImpsyError(f"MIDI input {name!r} disappeared before it could be opened") from None
        except midi_errors() as err:
            with contextlib.suppress(*midi_errors()):
                dispose(midi)
            raise ImpsyError(midi_problem(err, api)) from None
    return midi, device, api


def learn(
    name: str,
    seconds: float,
    slots: int,
    api: str | None = None,
    *,
    on_listening: Callable[[str, str], None] = lambda device, api: None,
    on_entry: Callable[[Entry], None] = lambda entry: None,
    stopped: Callable[[], bool] = lambda: False,
) -> LearnResult:
    """Listen to the MIDI input ``name`` picks for up to ``seconds``, learning ``slots`` values.

    ``on_listening(device, api)`` is called once the port is open (messages
    sent before may be lost: a JACK connection starts at a later period),
    ``on_entry(entry)`` for each entry learned, and ``stopped()`` is asked
    between reads. A missing binding, MIDI system or port is an ImpsyError.
    """
    if not 0 < seconds <= MAX_SECONDS:
        raise ImpsyError(f"seconds must be more than 0 and at most {MAX_SECONDS:g}, got {seconds}")
    learner = Learner(slots)
    midi, device, number = _open(name, selected_api(api))
    reason = "time"
    try:
        on_listening(device, api_label(number))
        deadline = time.monotonic() + seconds
        while True:
            if stopped():
                reason = "stopped"
                break
            if time.monotonic() >= deadline:
                break
            event = midi.get_message()
            if event is None:
                time.sleep(POLL_S)
                continue
            for entry in learner.feed(event[0]):
                on_entry(entry)
            if learner.full:
                reason = "full"
                break
    finally:
        with quiet_stderr(), contextlib.suppress(*midi_errors()):
            dispose(midi)
    mapping, filled = proposal(learner.learned, slots)
    return LearnResult(device, api_label(number), learner.learned, mapping, filled, reason)
