"""Patterns, tracks and steps: the data a step sequencer edits and plays.

Plain mutable dataclasses, so the sequencer, the controllers and the web UI
all edit the same objects. ``to_dict``/``from_dict`` give a human-readable,
JSON- and TOML-friendly form used to save banks and to show them in a browser;
``from_dict`` validates everything and raises ``PatternError`` naming the
offending field, so a hand-edited file fails with a useful message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

MAX_STEPS = 64
MAX_GATE = 16.0
MAX_PATTERNS = 128
STEPS_PER_BEAT = (1, 2, 3, 4, 6, 8)


class PatternError(ValueError):
    """A pattern value out of range; the message names the field."""


def _table(where: str, data: Any, known: set[str]) -> dict[str, Any]:
    """``data`` as a table with only ``known`` keys, or a PatternError naming the first other."""
    if not isinstance(data, dict):
        raise PatternError(f"{where}: expected a table, got {data!r}")
    unknown = set(data) - known
    if unknown:
        raise PatternError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    return data


def _check_int(where: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PatternError(f"{where}: expected an integer {low}..{high}, got {value!r}")
    if not low <= value <= high:
        raise PatternError(f"{where}: expected {low}..{high}, got {value}")
    return value


def _check_float(
    where: str, value: Any, low: float, high: float, *, open_low: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PatternError(f"{where}: expected a number, got {value!r}")
    value = float(value)
    too_low = value <= low if open_low else value < low
    if not math.isfinite(value) or too_low or value > high:
        bound = f"more than {low:g}" if open_low else f"{low:g}"
        raise PatternError(f"{where}: expected {bound} up to {high:g}, got {value:g}")
    return value


def _check_bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise PatternError(f"{where}: expected true or false, got {value!r}")
    return value


def check_notes(where: str, notes: Any) -> tuple[int, ...]:
    """One MIDI note or a chord of them, as a tuple."""
    if isinstance(notes, int) and not isinstance(notes, bool):
        notes = (notes,)
    if not isinstance(notes, list | tuple) or not notes:
        raise PatternError(f"{where}: expected a note 0..127 or a non-empty list, got {notes!r}")
    return tuple(_check_int(f"{where}[{i}]", n, 0, 127) for i, n in enumerate(notes))


def check_cc(where: str, cc: Any) -> dict[int, int]:
    if not isinstance(cc, dict):
        raise PatternError(f"{where}: expected a table of controller = value, got {cc!r}")
    checked = {}
    for key, value in cc.items():
        try:
            number = int(key)
        except (TypeError, ValueError):
            raise PatternError(f"{where}: controller {key!r} is not a number 0..127") from None
        _check_int(f"{where}.{key}", number, 0, 127)
        checked[number] = _check_int(f"{where}.{key}", value, 0, 127)
    return checked


@dataclass
class Step:
    """One step: on or off, the notes it plays and how."""

    on: bool = False
    notes: tuple[int, ...] = (60,)
    velocity: int = 100
    gate: float = 0.5
    """Note length in steps: 0.5 = half a step, 4 = a whole beat of 16ths."""
    probability: float = 1.0
    cc: dict[int, int] = field(default_factory=dict)

    def validate(self, where: str = "step") -> Step:
        _check_bool(f"{where}.on", self.on)
        self.notes = check_notes(f"{where}.notes", self.notes)
        _check_int(f"{where}.velocity", self.velocity, 1, 127)
        self.gate = _check_float(f"{where}.gate", self.gate, 0.0, MAX_GATE, open_low=True)
        self.probability = _check_float(f"{where}.probability", self.probability, 0.0, 1.0)
        self.cc = check_cc(f"{where}.cc", self.cc)
        return self

    def copy(self) -> Step:
        return Step(
            self.on, tuple(self.notes), self.velocity, self.gate, self.probability, dict(self.cc)
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "on": self.on,
            "notes": list(self.notes),
            "velocity": self.velocity,
            "gate": self.gate,
            "probability": self.probability,
        }
        if self.cc:
            data["cc"] = {str(k): v for k, v in sorted(self.cc.items())}
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "step") -> Step:
        _table(where, data, {"on", "notes", "velocity", "gate", "probability", "cc"})
        step = cls(
            on=data.get("on", False),
            notes=data.get("notes", (60,)),
            velocity=data.get("velocity", 100),
            gate=data.get("gate", 0.5),
            probability=data.get("probability", 1.0),
            cc=dict(data.get("cc", {})) if isinstance(data.get("cc", {}), dict) else data["cc"],
        )
        return step.validate(where)


@dataclass
class Track:
    """A row of steps with its own output, channel and resolution."""

    name: str
    steps: list[Step]
    port: str = ""
    """A MIDI output port name; "" or "osc" plays through OSC (``/impsy/seq/play``)."""
    channel: int = 1
    steps_per_beat: int = 4
    muted: bool = False
    solo: bool = False

    @property
    def length(self) -> int:
        return len(self.steps)

    @property
    def plays_osc(self) -> bool:
        return self.port in ("", "osc")

    def validate(self, where: str = "track") -> Track:
        if not isinstance(self.name, str):
            raise PatternError(f"{where}.name: expected a string, got {self.name!r}")
        if not isinstance(self.steps, list) or not 1 <= len(self.steps) <= MAX_STEPS:
            count = len(self.steps) if isinstance(self.steps, list) else self.steps
            raise PatternError(f"{where}.steps: expected 1..{MAX_STEPS} steps, got {count!r}")
        for i, step in enumerate(self.steps):
            if not isinstance(step, Step):
                raise PatternError(f"{where}.steps[{i}]: not a Step")
            step.validate(f"{where}.steps[{i}]")
        if not isinstance(self.port, str):
            raise PatternError(f"{where}.port: expected a port name string, got {self.port!r}")
        _check_int(f"{where}.channel", self.channel, 1, 16)
        if self.steps_per_beat not in STEPS_PER_BEAT:
            raise PatternError(
                f"{where}.steps_per_beat: expected one of {list(STEPS_PER_BEAT)}, "
                f"got {self.steps_per_beat!r}"
            )
        _check_bool(f"{where}.muted", self.muted)
        _check_bool(f"{where}.solo", self.solo)
        return self

    def copy(self) -> Track:
        return Track(
            self.name,
            [s.copy() for s in self.steps],
            self.port,
            self.channel,
            self.steps_per_beat,
            self.muted,
            self.solo,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "port": self.port,
            "channel": self.channel,
            "steps_per_beat": self.steps_per_beat,
            "muted": self.muted,
            "solo": self.solo,
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "track") -> Track:
        _table(
            where,
            data,
            {
                "name",
                "port",
                "channel",
                "steps_per_beat",
                "muted",
                "solo",
                "steps",
            },
        )
        raw_steps = data.get("steps", 16)
        if isinstance(raw_steps, int) and not isinstance(raw_steps, bool):
            _check_int(f"{where}.steps", raw_steps, 1, MAX_STEPS)
            steps = [Step() for _ in range(raw_steps)]
        elif isinstance(raw_steps, list):
            steps = [Step.from_dict(s, f"{where}.steps[{i}]") for i, s in enumerate(raw_steps)]
        else:
            raise PatternError(f"{where}.steps: expected a list of steps or a count")
        track = cls(
            name=data.get("name", ""),
            steps=steps,
            port=data.get("port", ""),
            channel=data.get("channel", 1),
            steps_per_beat=data.get("steps_per_beat", 4),
            muted=data.get("muted", False),
            solo=data.get("solo", False),
        )
        return track.validate(where)

    @classmethod
    def empty(cls, name: str, steps: int = 16, **kwargs: Any) -> Track:
        return cls(name, [Step() for _ in range(steps)], **kwargs).validate(name)


@dataclass
class Pattern:
    """Tracks that play together; the unit switched at a bar line."""

    name: str
    tracks: list[Track]

    def validate(self, where: str = "pattern") -> Pattern:
        if not isinstance(self.name, str):
            raise PatternError(f"{where}.name: expected a string, got {self.name!r}")
        if not isinstance(self.tracks, list) or not self.tracks:
            raise PatternError(f"{where}.tracks: expected at least one track")
        for i, track in enumerate(self.tracks):
            if not isinstance(track, Track):
                raise PatternError(f"{where}.tracks[{i}]: not a Track")
            track.validate(f"{where}.tracks[{i}]")
        return self

    def copy(self) -> Pattern:
        return Pattern(self.name, [t.copy() for t in self.tracks])

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "tracks": [t.to_dict() for t in self.tracks]}

    @classmethod
    def from_dict(cls, data: Any, where: str = "pattern") -> Pattern:
        _table(where, data, {"name", "tracks"})
        tracks = data.get("tracks")
        if not isinstance(tracks, list):
            raise PatternError(f"{where}.tracks: expected a list of tracks")
        return cls(
            name=data.get("name", ""),
            tracks=[Track.from_dict(t, f"{where}.tracks[{i}]") for i, t in enumerate(tracks)],
        ).validate(where)


@dataclass
class Bank:
    """Several patterns and a song: the order they are chained in (pattern indexes)."""

    patterns: list[Pattern]
    song: list[int] = field(default_factory=list)

    def validate(self, where: str = "bank") -> Bank:
        if not isinstance(self.patterns, list) or not 1 <= len(self.patterns) <= MAX_PATTERNS:
            raise PatternError(f"{where}.patterns: expected 1..{MAX_PATTERNS} patterns")
        for i, pattern in enumerate(self.patterns):
            if not isinstance(pattern, Pattern):
                raise PatternError(f"{where}.patterns[{i}]: not a Pattern")
            pattern.validate(f"{where}.patterns[{i}]")
        if not isinstance(self.song, list):
            raise PatternError(f"{where}.song: expected a list of pattern indexes")
        for i, index in enumerate(self.song):
            _check_int(f"{where}.song[{i}]", index, 0, len(self.patterns) - 1)
        return self

    def copy(self) -> Bank:
        return Bank([p.copy() for p in self.patterns], list(self.song))

    def to_dict(self) -> dict[str, Any]:
        return {"song": list(self.song), "patterns": [p.to_dict() for p in self.patterns]}

    @classmethod
    def from_dict(cls, data: Any, where: str = "bank") -> Bank:
        _table(where, data, {"patterns", "song"})
        patterns = data.get("patterns")
        if not isinstance(patterns, list):
            raise PatternError(f"{where}.patterns: expected a list of patterns")
        return cls(
            patterns=[
                Pattern.from_dict(p, f"{where}.patterns[{i}]") for i, p in enumerate(patterns)
            ],
            song=list(data.get("song", []))
            if isinstance(data.get("song", []), list)
            else data["song"],
        ).validate(where)
