"""What the performer steers: each dimension's role, the held values, allowed regions, density.

The maths of steering one step lives in :mod:`impsy.model.steering`; this is
the performer's side of it, in the terms the commands and the config use,
and it compiles to the ``Steering`` the model draws with.

Dimensions count the model's event ``[dt, x1..xn]``: 0 is dt (seconds), ``i``
is ``x_i`` (a value in [0, 1], as the mappings use).

Roles:

- ``both`` (the default, IMPSY's behaviour): the performer's gestures set
  it, and the model plays it freely when it plays.
- ``human``: the performer's. The model never draws it: whenever the model
  plays, the dimension keeps the performer's last value (or one set with the
  ``hold`` command), and the model draws the other dimensions from its exact
  conditional distribution given it. In ``accompany`` mode the gesture's own
  value is held, so the model fills the rest at that instant.
- ``model``: the model's. It plays it as with ``both``, and the performer's
  value for it is not fed to the model (the model hears its own last value
  there instead), so a controller left lying on a knob cannot pull the
  model's line.

Allowed regions: a range per dimension, a set of MIDI notes per note
dimension (notes go through impsy's note mapping, ``value = note / 127``),
or both (the notes inside the range). The density tilt multiplies the dt
distribution by ``exp(-density * dt)``: above 0 denser, below 0 sparser.

Everything here is plain data with no clock and no I/O; the engine keeps one
and hands the model a new compiled ``Steering`` after each change.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from impsy.config.steering import (
    MAX_DENSITY,
    ROLES,
    SCALES,
    check_hold,
    check_range,
    check_role,
    pitch_class,
)
from impsy.errors import CommandError
from impsy.mapping.note_values import note_intervals, notes_in_range
from impsy.model.steering import Region, Steering, scale_notes

__all__ = [
    "MAX_DENSITY",
    "ROLES",
    "SCALES",
    "SteeringSettings",
    "pitch_class",
    "scale_of",
]


def scale_of(root: int | str, name: str) -> list[int]:
    """Every MIDI note of the scale ``name`` on ``root``."""
    if name not in SCALES:
        raise ValueError(f"unknown scale {name!r}; expected one of {', '.join(SCALES)}")
    return scale_notes(pitch_class(root), SCALES[name])


class SteeringSettings:
    """The roles, held values and regions of one run's dimensions (see the module docstring)."""

    def __init__(self, dimension: int, initial_value: float = 0.5) -> None:
        self.dimension = dimension
        self.roles: list[str] = ["both"] * dimension
        self.held = np.array([0.1] + [initial_value] * (dimension - 1))
        """The event whose ``human`` dimensions the model keeps (replaced, never written into:
        the model reads it on its worker thread)."""
        self.pinned: set[int] = set()
        """Dimensions held at a value set by ``hold``: gestures no longer move them."""
        self.ranges: dict[int, tuple[float, float]] = {}
        self.notes: dict[int, frozenset[int]] = {}
        self.density = 0.0

    # ----------------------------------------------------------------- reading
    def check(self, dim: int) -> int:
        """``dim`` as a dimension index, or a ``CommandError`` saying which exist."""
        if not 0 <= dim < self.dimension:
            raise CommandError(
                f"dimension {dim} does not exist; expected 0 (dt) to {self.dimension - 1}"
            )
        return dim

    def indices(self, role: str) -> tuple[int, ...]:
        return tuple(d for d, r in enumerate(self.roles) if r == role)

    @property
    def steered(self) -> bool:
        """Whether anything differs from IMPSY's plain draw."""
        return bool(self.indices("human") or self.ranges or self.notes or self.density)

    def region(self, dim: int) -> Region | None:
        """What ``dim`` may take: its range, its notes, or the notes inside its range."""
        bounds = self.ranges.get(dim)
        notes = self.notes.get(dim)
        if notes is None:
            return None if bounds is None else Region.between(*bounds)
        intervals = note_intervals(notes) if bounds is None else notes_in_range(notes, *bounds)
        if not intervals:
            low, high = bounds
            raise CommandError(f"dimension {dim}: no allowed note lies inside {low:g}-{high:g}")
        return Region(intervals)

    def compile(self, mixtures: int, hold_dt: bool = False, free: bool = False) -> Steering:
        """The model's ``Steering`` for these settings (``hold_dt``: accompany's gestures;
        ``free``: nothing held, for a lead model, whose step has already heard the gesture
        and whose mixture's human dimensions belong to the next one)."""
        held = set() if free else set(self.indices("human"))
        if hold_dt and not free:
            held.add(0)
        regions = {}
        for dim in sorted(set(self.ranges) | set(self.notes)):
            region = self.region(dim)
            if region is not None:
                regions[dim] = region
        return Steering(self.dimension, mixtures, held=held, regions=regions, dt_tilt=self.density)

    def describe(self) -> dict[str, object]:
        """Plain values for the status and the web UI."""
        return {
            "roles": list(self.roles),
            "held": [float(v) for v in self.held],
            "ranges": {str(d): list(bounds) for d, bounds in sorted(self.ranges.items())},
            "notes": {str(d): sorted(notes) for d, notes in sorted(self.notes.items())},
            "density": self.density,
            "pinned": sorted(self.pinned),
        }

    # ----------------------------------------------------------------- changes
    def set_role(self, dim: int, role: str) -> None:
        """Give ``dim`` to ``role``; a value pinned by ``hold`` is released."""
        problem = check_role(dim, role)
        if problem:
            raise CommandError(problem)
        self.roles[self.check(dim)] = role
        self.pinned.discard(dim)

    def hold(self, dim: int, value: float) -> None:
        """Hold ``dim`` at ``value`` from now on: it becomes ``human`` and stays at ``value``
        whatever the performer plays there, until its role is set again."""
        self.check(dim)
        problem = check_hold(dim, value)
        if problem:
            raise CommandError(f"hold: {problem}")
        held = self.held.copy()
        held[dim] = value
        self.held = held
        self.roles[dim] = "human"
        self.pinned.add(dim)

    def take(self, event: Sequence[float] | np.ndarray) -> bool:
        """A gesture's event ``[dt, x1..xn]``: its ``human`` values become the held ones.

        Returns whether a held value changed (then what the model planned must change too).
        """
        human = [d for d in self.indices("human") if d not in self.pinned]
        if not human:
            return False
        changed = [d for d in human if self.held[d] != event[d]]
        if not changed:
            return False
        held = self.held.copy()
        for d in changed:
            held[d] = event[d]
        self.held = held
        return True

    def set_range(self, dim: int, low: float | None, high: float | None) -> None:
        """Allow only ``low..high`` (either may be open); neither given clears the range."""
        self.check(dim)
        if low is None and high is None:
            self.ranges.pop(dim, None)
            return
        lo = -math.inf if low is None else float(low)
        hi = math.inf if high is None else float(high)
        problem = check_range(dim, lo, hi)
        if problem:
            raise CommandError(f"range: {problem}")
        previous = self.ranges.get(dim)
        self.ranges[dim] = (lo, hi)
        try:
            self.region(dim)
        except CommandError:
            self._undo(self.ranges, dim, previous)
            raise

    def set_notes(self, dim: int, notes: Iterable[int]) -> None:
        """Allow only these MIDI notes on ``dim``; an empty set clears it."""
        self.check(dim)
        if dim == 0:
            raise CommandError("notes: dimension 0 is dt (seconds), not a note")
        chosen = frozenset(int(n) for n in notes)
        bad = sorted(n for n in chosen if not 0 <= n <= 127)
        if bad:
            raise CommandError(f"notes: {bad[0]} is not a MIDI note (0-127)")
        if not chosen:
            self.notes.pop(dim, None)
            return
        previous = self.notes.get(dim)
        self.notes[dim] = chosen
        try:
            self.region(dim)
        except CommandError:
            self._undo(self.notes, dim, previous)
            raise

    def toggle_note(self, dim: int, note: int, on: bool | None = None) -> bool:
        """Add or remove one note of ``dim``'s set (a pad); returns whether it is now allowed.

        Removing the last note clears the set: every note is allowed again.
        """
        self.check(dim)
        current = set(self.notes.get(dim, ()))
        allowed = note not in current if on is None else on
        if allowed:
            current.add(note)
        else:
            current.discard(note)
        self.set_notes(dim, current)
        return allowed

    def set_density(self, value: float) -> None:
        if not (math.isfinite(value) and abs(value) <= MAX_DENSITY):
            raise CommandError(
                f"density must be a number from {-MAX_DENSITY:g} to {MAX_DENSITY:g}, got {value!r}"
            )
        self.density = float(value)

    @staticmethod
    def _undo(table: dict, dim: int, previous: object) -> None:
        if previous is None:
            table.pop(dim, None)
        else:
            table[dim] = previous
