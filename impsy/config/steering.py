"""The ``[steering]`` section: roles, held values, allowed regions, density, the surprise meter.

::

    [steering]
    roles = ["human", "model", "model", "model"]  # x1..xn: human, model or both
    dt = "both"                                    # dt's role
    scale = ["D", "major"]                         # root (a note name or MIDI note), scale
    scale_dimensions = [2, 3, 4]                   # default: every dimension played as notes
    ranges = { 1 = [0.2, 0.8] }                    # dimension = [low, high]; 0 is dt (seconds)
    notes = { 2 = [60, 62, 64] }                   # dimension = allowed MIDI notes
    hold = { 1 = 0.5 }                             # dimension = value (it becomes human)
    density = 0.0                                  # dt tilt per second: > 0 denser
    surprise = false                               # the surprise meter

Everything is checked here, against the model's dimension and the output
mappings, so ``check-config``, the web UI's editor and ``impsy run`` refuse
the same files with the same messages; the engine then applies it with the
same code the live commands use (``impsy.engine.steering``).
"""

from __future__ import annotations

import math
from typing import Any

from impsy.clock import MIN_DT
from impsy.config.reader import Table, shown
from impsy.config.schema import SteeringConfig
from impsy.mapping.note_values import notes_in_range

ROLES = ("both", "human", "model")
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic_minor": (0, 2, 3, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "whole_tone": (0, 2, 4, 6, 8, 10),
    "chromatic": tuple(range(12)),
}
"""Scales by name: semitones above the root."""
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"Db": 1, "Eb": 3, "Gb": 6, "Ab": 8, "Bb": 10, "Cb": 11, "Fb": 4, "E#": 5, "B#": 0}
MAX_DENSITY = 1000.0
"""The largest density tilt, per second (either sign): beyond it the dt distribution is a
spike at its smallest or largest component mean, which a range says more plainly."""


MAX_HELD_DT = 60.0
"""The longest dt a hold may fix, in seconds."""


def check_role(dim: int, role: str) -> str | None:
    """Why ``role`` cannot be given to ``dim``, or None."""
    if role not in ROLES:
        return f"unknown role {role!r}; expected one of {', '.join(ROLES)}"
    if dim == 0 and role == "model":
        return "dt (dimension 0) can be human or both: the model always hears a gesture's timing"
    return None


def check_hold(dim: int, value: float) -> str | None:
    """Why ``dim`` cannot be held at ``value``, or None."""
    if not math.isfinite(value):
        return f"the value must be a finite number, got {value!r}"
    if dim == 0 and not MIN_DT <= value <= MAX_HELD_DT:
        return f"dt (dimension 0) must be {MIN_DT:g} to {MAX_HELD_DT:g} seconds, got {value!r}"
    if dim > 0 and not 0.0 <= value <= 1.0:
        return f"x{dim} must be 0 to 1, got {value!r}"
    return None


def check_range(dim: int, low: float, high: float) -> str | None:
    """Why ``low..high`` cannot be ``dim``'s range, or None (either end may be infinite)."""
    if math.isnan(low) or math.isnan(high) or not low <= high:
        return f"low {low:g} is above high {high:g}"
    if dim == 0 and high < MIN_DT:
        return f"dt (dimension 0) must be allowed more than {MIN_DT:g} s, got at most {high:g}"
    if dim > 0 and (high < 0.0 or low > 1.0):
        return f"x{dim} plays 0 to 1; {low:g}-{high:g} leaves nothing to play"
    return None


def pitch_class(root: int | str) -> int:
    """A scale root as a pitch class: a MIDI note (its octave ignored) or a name (``"F#"``)."""
    if isinstance(root, str):
        name = root.strip()
        name = name[:1].upper() + name[1:]
        if name in NOTE_NAMES:
            return NOTE_NAMES.index(name)
        if name in _FLATS:
            return _FLATS[name]
        raise ValueError(f"not a note name: {root!r} (C, C#, Db, ... B)")
    if not 0 <= int(root) <= 127:
        raise ValueError(f"a root is a MIDI note 0-127 or a note name, got {root!r}")
    return int(root) % 12


KEYS = (
    "roles",
    "dt",
    "scale",
    "scale_dimensions",
    "ranges",
    "notes",
    "hold",
    "density",
    "surprise",
)


def read_steering(table: Table, dimension: int, note_dimensions: tuple[int, ...]) -> SteeringConfig:
    """The checked section; ``note_dimensions`` are the outputs' note dimensions (1-based)."""
    table.warn_unknown(KEYS)
    values = dimension - 1
    roles = table.value("roles", ["both"] * values, "an array of roles")
    if not isinstance(roles, list) or len(roles) != values:
        table.fail(
            "roles",
            f"expected an array of {values} roles (one per x1..x{values}), got {shown(roles)}",
        )
    for index, role in enumerate(roles):
        problem = check_role(index + 1, role)
        if problem:
            table.fail("roles", f"item {index + 1}: {problem}")
    dt_role = table.string("dt", "both", choices=ROLES)
    problem = check_role(0, dt_role)
    if problem:
        table.fail("dt", problem)
    scale = None
    if table.has("scale"):
        raw = table.data["scale"]
        if not (isinstance(raw, list) and len(raw) == 2 and isinstance(raw[1], str)):
            table.fail("scale", f'expected [root, name] like ["D", "major"], got {shown(raw)}')
        root, name = raw
        try:
            if isinstance(root, bool) or not isinstance(root, str | int):
                raise ValueError(f"a root is a note name or a MIDI note, got {shown(root)}")
            root_class = pitch_class(root)
        except ValueError as err:
            table.fail("scale", str(err))
        if name not in SCALES:
            table.fail("scale", f"unknown scale {shown(name)}; expected one of {', '.join(SCALES)}")
        scale = (root_class, name)
    scale_dims = _dimensions(table, "scale_dimensions", values, default=note_dimensions)
    if scale is not None and not scale_dims:
        table.fail(
            "scale",
            "no output plays notes; list the note dimensions in [steering] scale_dimensions",
        )
    ranges = {}
    for dim, bounds in _per_dimension(table, "ranges", dimension).items():
        ok = isinstance(bounds, list) and len(bounds) == 2 and all(_number(v) for v in bounds)
        if not ok or not bounds[0] <= bounds[1]:
            table.fail(
                f"ranges.{dim}", f"expected [low, high] with low <= high, got {shown(bounds)}"
            )
        problem = check_range(dim, float(bounds[0]), float(bounds[1]))
        if problem:
            table.fail(f"ranges.{dim}", problem)
        ranges[dim] = (float(bounds[0]), float(bounds[1]))
    notes = {}
    for dim, chosen in _per_dimension(table, "notes", dimension).items():
        good = (
            isinstance(chosen, list)
            and chosen
            and all(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 127 for n in chosen
            )
        )
        if not good:
            table.fail(
                f"notes.{dim}", f"expected an array of MIDI notes 0-127, got {shown(chosen)}"
            )
        if dim == 0:
            table.fail("notes.0", "dimension 0 is dt (seconds), not a note")
        notes[dim] = tuple(chosen)
    for dim in sorted(set(ranges) & set(notes)):
        if not notes_in_range(notes[dim], *ranges[dim]):
            low, high = ranges[dim]
            table.fail(f"notes.{dim}", f"no note lies inside ranges.{dim} ({low:g}-{high:g})")
    if scale is not None:
        steps = SCALES[scale[1]]
        in_scale = [n for n in range(128) if (n - scale[0]) % 12 in steps]
        for dim in sorted(set(ranges) & set(scale_dims)):
            if not notes_in_range(in_scale, *ranges[dim]):
                low, high = ranges[dim]
                table.fail(
                    "scale", f"no note of the scale lies inside ranges.{dim} ({low:g}-{high:g})"
                )
    hold = {}
    for dim, value in _per_dimension(table, "hold", dimension).items():
        problem = check_hold(dim, value) if _number(value) else f"not a number: {shown(value)}"
        if problem:
            table.fail(f"hold.{dim}", problem)
        hold[dim] = float(value)
    density = table.number("density", 0.0)
    if abs(density) > MAX_DENSITY:
        table.fail(
            "density",
            f"expected a number from {-MAX_DENSITY:g} to {MAX_DENSITY:g}, got {density:g}",
        )
    return SteeringConfig(
        roles=(dt_role, *roles),
        scale=scale,
        scale_dimensions=scale_dims,
        ranges=ranges,
        notes=notes,
        hold=hold,
        density=density,
        surprise=table.boolean("surprise", False),
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _per_dimension(table: Table, key: str, dimension: int) -> dict[int, Any]:
    """``key = { "2" = ... }``: a table keyed by dimension numbers 0 (dt) to dimension - 1."""
    raw = table.subtable(key, "{ 1 = ... }")
    out = {}
    for name, value in raw.items():
        if not (name.isdigit() and 0 <= int(name) < dimension):
            table.fail(f"{key}.{name}", f"expected a dimension number 0 (dt) to {dimension - 1}")
        out[int(name)] = value
    return out


def _dimensions(table: Table, key: str, values: int, default: tuple[int, ...]) -> tuple[int, ...]:
    if not table.has(key):
        return default
    raw = table.data[key]
    if not isinstance(raw, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= values for d in raw
    ):
        table.fail(key, f"expected an array of dimension numbers 1-{values}, got {shown(raw)}")
    return tuple(raw)
