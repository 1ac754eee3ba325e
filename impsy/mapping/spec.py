"""The mapping entries IMPSY configs use, parsed once into typed values.

A config lists one entry per model dimension (dt excluded), e.g.
``["control_change", 1, 42]``. Parsing here, not in each adapter, means a
bad entry is reported once at load time with its position, and the hot
paths never re-check types. Channels stay 1-based as the config writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("note_on", "note_velocity", "control_change", "pitch_bend")


class MappingError(ValueError):
    """A mapping entry that cannot be used; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class NoteOn:
    """A note dimension: value = note / 127; ``velocity`` fixes the output velocity."""

    channel: int
    velocity: int | None = None

    def to_list(self) -> list[Any]:
        return ["note_on", self.channel] + ([] if self.velocity is None else [self.velocity])


@dataclass(frozen=True, slots=True)
class NoteVelocity:
    """The velocity of note-ons on ``channel``: value = velocity / 127."""

    channel: int

    def to_list(self) -> list[Any]:
        return ["note_velocity", self.channel]


@dataclass(frozen=True, slots=True)
class ControlChange:
    """A CC dimension; raw values ``low..high`` cover the unit range."""

    channel: int
    control: int
    low: int = 0
    high: int = 127

    def to_list(self) -> list[Any]:
        extra = [] if (self.low, self.high) == (0, 127) else [self.low, self.high]
        return ["control_change", self.channel, self.control, *extra]


@dataclass(frozen=True, slots=True)
class PitchBend:
    """A 14-bit pitch bend dimension: value = raw / 16383."""

    channel: int

    def to_list(self) -> list[Any]:
        return ["pitch_bend", self.channel]


Mapping = NoteOn | NoteVelocity | ControlChange | PitchBend

_SHAPES = {
    "note_on": '["note_on", channel] or ["note_on", channel, velocity]',
    "note_velocity": '["note_velocity", channel]',
    "control_change": '["control_change", channel, controller] or '
    '["control_change", channel, controller, min, max]',
    "pitch_bend": '["pitch_bend", channel]',
}


def _int_in(value: Any, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"{what} must be an integer {low}-{high}, got {value!r}")
    if not low <= value <= high:
        raise MappingError(f"{what} must be {low}-{high}, got {value}")
    return value


def parse_mapping(entry: Any) -> Mapping:
    """Parse one config entry such as ``["control_change", 1, 42]``."""
    if not isinstance(entry, list | tuple) or not entry:
        raise MappingError(f"expected a list like {_SHAPES['control_change']}, got {entry!r}")
    kind, *args = entry
    if kind not in KINDS:
        raise MappingError(f"unknown mapping kind {kind!r}; expected one of {', '.join(KINDS)}")
    shape = _SHAPES[kind]
    try:
        if kind == "note_on" and len(args) in (1, 2):
            channel = _int_in(args[0], 1, 16, "channel")
            velocity = _int_in(args[1], 0, 127, "velocity") if len(args) == 2 else None
            return NoteOn(channel, velocity)
        if kind == "note_velocity" and len(args) == 1:
            return NoteVelocity(_int_in(args[0], 1, 16, "channel"))
        if kind == "pitch_bend" and len(args) == 1:
            return PitchBend(_int_in(args[0], 1, 16, "channel"))
        if kind == "control_change" and len(args) in (2, 4):
            channel = _int_in(args[0], 1, 16, "channel")
            control = _int_in(args[1], 0, 127, "controller")
            if len(args) == 2:
                return ControlChange(channel, control)
            low = _int_in(args[2], 0, 127, "min")
            high = _int_in(args[3], 0, 127, "max")
            if low >= high:
                raise MappingError(f"min ({low}) must be less than max ({high})")
            return ControlChange(channel, control, low, high)
    except MappingError as err:
        raise MappingError(f"{err} in {entry!r}; expected {shape}") from None
    raise MappingError(f"wrong number of values in {entry!r}; expected {shape}")


def parse_mapping_list(entries: Any, length: int | None = None) -> list[Mapping]:
    """Parse a whole mapping list; ``length`` is the model dimension minus one."""
    if not isinstance(entries, list):
        raise MappingError(f"expected a list of mapping entries, got {entries!r}")
    parsed = []
    for index, entry in enumerate(entries):
        try:
            parsed.append(parse_mapping(entry))
        except MappingError as err:
            raise MappingError(f"entry {index + 1}: {err}") from None
    if length is not None and len(parsed) != length:
        raise MappingError(
            f"has {len(parsed)} entries but the model has {length} values per event "
            f"(dimension {length + 1} minus dt); expected exactly {length}"
        )
    return parsed
