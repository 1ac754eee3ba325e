"""Controller rules: which incoming MIDI messages do what to the sequencer.

A controller profile is a list of rules. Each rule is a *chain* of one or
more message patterns that must arrive in order (a single message is a chain
of one), and an *action* fired when the last one arrives. Chains are what
multi-message controls need: an NRPN is CC 99, CC 98, CC 6 (and CC 38), and
only the whole sequence means anything.

Why a rule engine instead of code per device: the same sequencer is played
from a Launchpad grid, a BeatStep's pads and encoders, or a DAW sending
NRPNs, and a musician with another device should only have to write a TOML
file. Rules are compiled once when the profile loads (all validation
happens there, see ``impsy.sequencer.profile``), so ``RuleEngine.feed`` does
no parsing and never raises on odd input: a message that matches nothing is
ignored.

Chain semantics:

- every rule sees every message; every rule whose chain completes fires,
  in file order;
- a chain in progress restarts when the next message does not match its
  next element (the message may start the chain again), or when more than
  ``timeout`` seconds passed since its previous element; realtime messages
  (clock, active sensing) never interrupt a chain;
- values a chain element captures (``capture = "msb"``) and the last
  message's fields are what action parameters read (``Source``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Message types a rule can match, with the name of their first data byte (None: none).
TYPES: dict[str, str | None] = {
    "note_on": "note",
    "note_off": "note",
    "control_change": "control",
    "program_change": "program",
    "polytouch": "note",
    "aftertouch": None,
    "pitchwheel": None,
    "start": None,
    "stop": None,
    "continue": None,
}
SEVEN_BIT = 127
FOURTEEN_BIT = 16383
DEFAULT_TIMEOUT_S = 0.5
REALTIME_FIRST = 0xF8


@dataclass(frozen=True, slots=True)
class Message:
    """One incoming message, decoded once: ``channel`` is 1-16 (0 for system messages)."""

    type: str
    channel: int = 0
    number: int | None = None
    """The note, controller or program number."""
    value: int = 0
    """Velocity, controller value, pressure, or the 14-bit pitch wheel (0-16383)."""


def decode(raw: Sequence[int]) -> Message | None:
    """A raw MIDI message as a ``Message``, or None for types rules cannot match."""
    if not raw:
        return None
    status = raw[0]
    if status == 0xFA:
        return Message("start")
    if status == 0xFB:
        return Message("continue")
    if status == 0xFC:
        return Message("stop")
    kind, channel = status & 0xF0, (status & 0x0F) + 1
    if kind == 0xC0 and len(raw) == 2:
        return Message("program_change", channel, raw[1], 0)
    if kind == 0xD0 and len(raw) == 2:
        return Message("aftertouch", channel, None, raw[1])
    if len(raw) != 3:
        return None
    if kind == 0x90:
        return Message("note_on" if raw[2] else "note_off", channel, raw[1], raw[2])
    if kind == 0x80:
        return Message("note_off", channel, raw[1], raw[2])
    if kind == 0xB0:
        return Message("control_change", channel, raw[1], raw[2])
    if kind == 0xA0:
        return Message("polytouch", channel, raw[1], raw[2])
    if kind == 0xE0:
        return Message("pitchwheel", channel, None, (raw[2] << 7) | raw[1])
    return None


@dataclass(frozen=True, slots=True)
class MessagePattern:
    """What one message must be; ``None`` bounds match anything. Ranges are inclusive."""

    type: str
    channels: tuple[int, int] | None = None
    numbers: tuple[int, int] | None = None
    values: tuple[int, int] | None = None
    capture: str | None = None
    """Name under which this message's value is kept for the action's parameters."""

    def matches(self, message: Message) -> bool:
        if message.type != self.type:
            return False
        if self.channels is not None and not _within(message.channel, self.channels):
            return False
        if self.numbers is not None and (
            message.number is None or not _within(message.number, self.numbers)
        ):
            return False
        return self.values is None or _within(message.value, self.values)


def _within(value: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= value <= bounds[1]


@dataclass(frozen=True)
class Grid:
    """Buttons laid out in rows: button ``first + row * row_step + column`` is index
    ``row * columns + column``. A Launchpad's programmer mode is ``first = 81,
    row_step = -10, columns = 8, rows = 8`` (top-left pad first)."""

    first: int
    row_step: int
    columns: int
    rows: int

    def index(self, number: int) -> int | None:
        for row in range(self.rows):
            column = number - (self.first + row * self.row_step)
            if 0 <= column < self.columns:
                return row * self.columns + column
        return None

    def number(self, index: int) -> int | None:
        if not 0 <= index < self.rows * self.columns:
            return None
        row, column = divmod(index, self.columns)
        return self.first + row * self.row_step + column

    @property
    def size(self) -> int:
        return self.rows * self.columns


@dataclass(frozen=True)
class Source:
    """An action parameter read from the message, transformed in this order:

    ``read`` (a message field or captures, two captures = one 14-bit value),
    then ``grid`` or ``index_of`` (a button number to an index; a button
    outside them means the rule does not fire), then ``to`` (the full 7- or
    14-bit range mapped linearly onto ``[low, high]``), then ``* scale +
    offset``.
    """

    read: tuple[str, ...]
    grid: Grid | None = None
    index_of: tuple[int, ...] | None = None
    to: tuple[float, float] | None = None
    scale: float = 1.0
    offset: float = 0.0

    def value(self, message: Message, captured: dict[str, int]) -> float | None:
        raw = self._raw(message, captured)
        if raw is None:
            return None
        if self.grid is not None:
            raw = self.grid.index(raw)
            if raw is None:
                return None
        if self.index_of is not None:
            if raw not in self.index_of:
                return None
            raw = self.index_of.index(raw)
        result = float(raw)
        if self.to is not None:
            top = FOURTEEN_BIT if self._fourteen_bit(message) else SEVEN_BIT
            low, high = self.to
            result = low + (high - low) * result / top
        return result * self.scale + self.offset

    def _fourteen_bit(self, message: Message) -> bool:
        return len(self.read) == 2 or (self.read == ("value",) and message.type == "pitchwheel")

    def _raw(self, message: Message, captured: dict[str, int]) -> int | None:
        if len(self.read) == 2:
            high, low = (captured.get(name) for name in self.read)
            return None if high is None or low is None else (high << 7) | low
        name = self.read[0]
        if name in ("note", "control", "program", "number"):
            return message.number
        if name == "value":
            return message.value
        if name == "channel":
            return message.channel
        if name == "relative":  # encoders in "binary offset" mode: 64 = no change
            return message.value - 64
        return captured.get(name)


Parameter = Any  # a constant (int, float, str, bool) or a Source


@dataclass(frozen=True)
class Rule:
    """A chain of patterns and the command it runs, with its arguments by name.

    ``action`` is a row of the command table (``impsy.engine.table``);
    ``whole`` names the arguments that take integers, so a knob's value read
    through ``to`` or ``scale`` is rounded to the nearest one.
    """

    name: str
    chain: tuple[MessagePattern, ...]
    action: str
    params: dict[str, Parameter]
    timeout: float = DEFAULT_TIMEOUT_S
    whole: frozenset[str] = frozenset()

    def resolve(self, message: Message, captured: dict[str, int]) -> dict[str, Any] | None:
        """The command's arguments for this message; None when one is out of its grid."""
        values: dict[str, Any] = {}
        for key, param in self.params.items():
            if isinstance(param, Source):
                value = param.value(message, captured)
                if value is None:
                    return None
                values[key] = round(value) if key in self.whole else value
            else:
                values[key] = param
        return values


@dataclass
class _Progress:
    position: int = 0
    last: float = 0.0
    captured: dict[str, int] = field(default_factory=dict)


Fire = Callable[[Rule, dict[str, Any]], None]


class RuleEngine:
    """Feeds messages through every rule's chain; ``fire(rule, params)`` on completion."""

    def __init__(self, rules: Sequence[Rule], fire: Fire) -> None:
        self.rules = tuple(rules)
        self._fire = fire
        self._progress = [_Progress() for _ in self.rules]

    def feed(self, raw: Sequence[int], now: float) -> int:
        """One message at monotonic time ``now``; returns how many rules fired."""
        if raw and raw[0] >= REALTIME_FIRST and raw[0] not in (0xFA, 0xFB, 0xFC):
            return 0  # clock and active sensing: never matched, never break a chain
        message = decode(raw)
        if message is None:
            return 0
        fired = 0
        for rule, progress in zip(self.rules, self._progress, strict=True):
            if progress.position and now - progress.last > rule.timeout:
                progress.position, progress.captured = 0, {}
            if not rule.chain[progress.position].matches(message):
                progress.position, progress.captured = 0, {}
                if not rule.chain[0].matches(message):
                    continue
            element = rule.chain[progress.position]
            if element.capture:
                progress.captured[element.capture] = message.value
            progress.position += 1
            progress.last = now
            if progress.position < len(rule.chain):
                continue
            captured, progress.position, progress.captured = progress.captured, 0, {}
            params = rule.resolve(message, captured)
            if params is not None:
                self._fire(rule, params)
                fired += 1
        return fired

    def reset(self) -> None:
        """Forget every chain in progress (e.g. the controller was reconnected)."""
        for progress in self._progress:
            progress.position, progress.captured = 0, {}
