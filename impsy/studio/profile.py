"""Player profiles: how a model is played, saved beside it and loaded with it.

Practice by tuning: a performer finds the temperatures, the timescale, the
call-and-response threshold and the steering that make a model play the way
they want, and keeps them with the model, not in one config for every model.
The profile of ``NAME.tflite`` (or ``.keras``/``.h5``) is ``NAME.profile.json``
beside it; for a model of dimension 4 (dt, x1..x3)::

    {
      "pitemp": 1.2, "sigmatemp": 0.05, "timescale": 1.5, "threshold": 0.3,
      "steering": {
        "roles": ["both", "human", "model", "model"],
        "held": [null, 0.5, null, null],
        "pinned": [1],
        "ranges": [null, null, [0.2, 0.8], null],
        "notes": [null, null, [60, 62, 64], null],
        "density": 0.5
      }
    }

``steering`` holds one entry per dimension (dt first) in each list, as the
``role``, ``hold``, ``range``, ``notes`` (or ``scale``) and ``density`` rows set
them: ``held`` is the value a ``human`` dimension keeps (null for the others,
or to keep the performer's value), ``pinned`` the dimensions ``hold`` fixed
(gestures do not move them), a range's open end is null, and a scale is kept
as its notes. There is no version number: the shape is strict instead, so a
key this impsy does not know, a list whose length is not the model's
dimension or a value the commands would refuse is refused with the file and
key named, and nothing is changed. A profile with only the four numbers
(what older impsy saved) leaves the steering as it is.

``profile/save`` writes the running model's settings there; whenever that
model is loaded (at start, ``model/use``, the web UI's "use this model") its
profile, when there is one, sets them. A number left out keeps its value;
``steering``, when given, replaces the whole steering (a key left out of it
is that dimension's default: ``both``, no range, every note, density 0).
The steering is built with the same setters the live commands call
(:class:`impsy.engine.steering.SteeringSettings`), so a profile is checked
exactly as the commands check what a performer sends.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from impsy.clock import MIN_DT
from impsy.config.steering import MAX_HELD_DT, ROLES
from impsy.engine.steering import SteeringSettings
from impsy.errors import CommandError, ImpsyError

if TYPE_CHECKING:
    from impsy.engine.core import Engine

SUFFIX = ".profile.json"
KEYS = ("pitemp", "sigmatemp", "timescale", "threshold")
"""The numbers a profile holds: the engine's settings with the same names as its commands."""
STEERING = "steering"
STEERING_KEYS = ("roles", "held", "pinned", "ranges", "notes", "density")
"""What a profile's ``steering`` holds (see the module docstring)."""


def profile_path(model: Path) -> Path:
    """``NAME.profile.json`` beside ``NAME.tflite`` (the stem without any model suffix)."""
    return model.with_name(model.name.rsplit(".", 1)[0] + SUFFIX)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_profile(model: Path, dimension: int | None = None) -> dict[str, Any] | None:
    """The profile beside ``model``, checked; None when there is none.

    With ``dimension`` (the model's) the steering is checked completely, by
    building it with the commands' setters; without, only its shape is.
    Every problem is an ``ImpsyError`` naming the file and the key.
    """
    path = profile_path(model)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ImpsyError(f"{path}: not a player profile: {err}") from None
    if not isinstance(data, dict):
        raise ImpsyError(f"{path}: expected an object with {', '.join((*KEYS, STEERING))}")
    profile: dict[str, Any] = {}
    for key, value in data.items():
        if key == STEERING:
            profile[key] = _steering_shape(path, value)
            continue
        if key not in KEYS:
            raise ImpsyError(
                f"{path}: unknown key {key!r}; a profile holds {', '.join((*KEYS, STEERING))}"
            )
        if not _number(value) or value <= 0:
            raise ImpsyError(f"{path}: {key} must be a positive number, got {value!r}")
        profile[key] = float(value)
    if dimension is not None and STEERING in profile:
        steering_settings(profile[STEERING], dimension, path)
    return profile


def _steering_shape(path: Path, data: Any) -> dict[str, Any]:
    """``steering``'s keys and value types (what JSON alone can get wrong)."""
    if not isinstance(data, dict):
        raise ImpsyError(f"{path}: steering must be an object with {', '.join(STEERING_KEYS)}")
    for key in data:
        if key not in STEERING_KEYS:
            raise ImpsyError(
                f"{path}: unknown key 'steering.{key}'; steering holds {', '.join(STEERING_KEYS)}"
            )
    if "roles" not in data:
        raise ImpsyError(f"{path}: steering.roles is missing (one role per dimension, dt first)")

    def fail(key: str, expected: str, got: Any) -> ImpsyError:
        return ImpsyError(f"{path}: steering.{key}: expected {expected}, got {got!r}")

    def per_dimension(key: str) -> list[Any]:
        value = data.get(key)
        if value is None and key != "roles":
            return []
        if not isinstance(value, list):
            raise fail(key, "a list with one entry per dimension (dt first)", value)
        return value

    for d, role in enumerate(per_dimension("roles")):
        if role not in ROLES:
            raise fail(f"roles[{d}]", f"one of {', '.join(ROLES)}", role)
    for d, value in enumerate(per_dimension("held")):
        if value is not None and not _number(value):
            raise fail(f"held[{d}]", "a number or null", value)
    pinned = data.get("pinned", [])
    if not isinstance(pinned, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in pinned
    ):
        raise fail("pinned", "a list of dimension numbers", pinned)
    for d, bounds in enumerate(per_dimension("ranges")):
        ends_ok = isinstance(bounds, list) and len(bounds) == 2
        if bounds is not None and not (
            ends_ok and all(v is None or _number(v) for v in bounds) and bounds != [None, None]
        ):
            raise fail(f"ranges[{d}]", "null or [low, high] (null for an open end)", bounds)
    for d, notes in enumerate(per_dimension("notes")):
        ok = (
            isinstance(notes, list)
            and notes
            and all(isinstance(n, int) and not isinstance(n, bool) for n in notes)
        )
        if notes is not None and not ok:
            raise fail(f"notes[{d}]", "null or a non-empty list of MIDI notes", notes)
    density = data.get("density", 0.0)
    if not _number(density):
        raise fail("density", "a number", density)
    return data


def steering_settings(
    data: dict[str, Any],
    dimension: int,
    path: Path,
    held: np.ndarray | None = None,
) -> SteeringSettings:
    """A profile's ``steering`` (shape already checked) as the engine's settings, built with
    the setters the ``role``, ``hold``, ``range``, ``notes`` and ``density`` rows call.

    ``held`` is where unheld dimensions start (the engine's current values). Raises an
    ``ImpsyError`` naming the file and key: for a list whose length is not ``dimension``,
    or for whatever the commands would refuse.
    """
    described = f"this model's dimension is {dimension} (dt and x1..x{dimension - 1})"
    for key in ("roles", "held", "ranges", "notes"):
        value = data.get(key)
        if value is not None and len(value) != dimension:
            raise ImpsyError(
                f"{path}: steering.{key} has {len(value)} entries; {described}, "
                f"so it needs {dimension}: is this another model's profile?"
            )
    settings = SteeringSettings(dimension)
    if held is not None:
        settings.held = np.array(held, dtype=float)
    roles = data["roles"]
    values = data.get("held") or [None] * dimension
    pinned = data.get("pinned", [])
    key = "pinned"
    try:
        for d in pinned:
            settings.check(d)
            if roles[d] != "human" or values[d] is None:
                raise CommandError(
                    f"dimension {d} is pinned, so it needs role human and a held value"
                )
        for d in range(dimension):
            key = f"roles[{d}]"
            if values[d] is not None and roles[d] != "human":
                key = f"held[{d}]"
                raise CommandError(
                    f"only a human dimension keeps a value; dimension {d} is {roles[d]}"
                )
            if d in pinned:  # the hold row: human, and gestures no longer move it
                key = f"held[{d}]"
                settings.hold(d, values[d])
            elif values[d] is not None:  # human from this value on, moved by gestures
                key = f"held[{d}]"
                settings.hold(d, values[d])
                settings.set_role(d, "human")
            else:
                settings.set_role(d, roles[d])
        for d, bounds in enumerate(data.get("ranges") or ()):
            if bounds is not None:
                key = f"ranges[{d}]"
                settings.set_range(d, bounds[0], bounds[1])
        for d, notes in enumerate(data.get("notes") or ()):
            if notes is not None:
                key = f"notes[{d}]"
                settings.set_notes(d, notes)
        key = "density"
        settings.set_density(float(data.get("density", 0.0)))
    except CommandError as err:
        raise ImpsyError(f"{path}: steering.{key}: {err}") from None
    return settings


def _steering_data(steering: SteeringSettings) -> dict[str, Any]:
    """The steering as a profile keeps it (what :func:`steering_settings` builds back)."""
    dimension = steering.dimension
    held: list[float | None] = [None] * dimension
    for d in steering.indices("human"):
        value = float(steering.held[d])
        if d not in steering.pinned:  # a gesture's value: kept where hold would accept it
            low, high = (MIN_DT, MAX_HELD_DT) if d == 0 else (0.0, 1.0)
            value = min(max(value, low), high)
        held[d] = value
    ranges: list[list[float | None] | None] = [None] * dimension
    for d, (low, high) in steering.ranges.items():
        ranges[d] = [None if math.isinf(low) else low, None if math.isinf(high) else high]
    notes: list[list[int] | None] = [None] * dimension
    for d, chosen in steering.notes.items():
        notes[d] = sorted(chosen)
    return {
        "roles": list(steering.roles),
        "held": held,
        "pinned": sorted(steering.pinned),
        "ranges": ranges,
        "notes": notes,
        "density": float(steering.density),
    }


def current_profile(engine: Engine) -> dict[str, Any]:
    """The engine's settings a profile keeps."""
    if engine.model is None:
        raise CommandError("profile/save: no model is playing")
    return {
        "pitemp": float(engine.model.pi_temp),
        "sigmatemp": float(engine.model.sigma_temp),
        "timescale": float(engine.settings.timescale),
        "threshold": float(engine.settings.threshold),
        STEERING: _steering_data(engine.steering),
    }


def format_profile(profile: dict[str, Any]) -> str:
    """A profile as JSON a person can read and edit: one line per setting."""
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in profile.items() if k != STEERING]
    if STEERING in profile:
        inner = [f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in profile[STEERING].items()]
        lines.append(f'  "{STEERING}": {{\n' + ",\n".join(inner) + "\n  }")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def save_profile(engine: Engine) -> str:
    """Write the playing model's settings beside its file; the profile's path."""
    settings = current_profile(engine)
    path = profile_path(Path(engine.model.path))  # type: ignore[union-attr]
    try:
        path.write_text(format_profile(settings), encoding="utf-8")
    except OSError as err:
        raise CommandError(f"profile/save: cannot write {path}: {err}") from None
    return str(path)


def apply_profile(engine: Engine, profile: dict[str, Any], path: Path) -> None:
    """Set the engine's settings from a profile read by :func:`read_profile`.

    The steering is built first, and only if the commands' setters accept all
    of it does anything change: the numbers go through the rows' setters, then
    the steering replaces the engine's, handed to the model by the density
    setter (one recompile, one replan, as a ``density`` command does).
    """
    steering = None
    if STEERING in profile:
        steering = steering_settings(
            profile[STEERING], engine.dimension, path, held=engine.steering.held
        )
    setters = {
        "pitemp": engine.set_pitemp,
        "sigmatemp": engine.set_sigmatemp,
        "timescale": engine.set_timescale,
        "threshold": engine.set_threshold,
    }
    for key, value in profile.items():
        if key in setters:
            setters[key](value)
    if steering is not None:
        engine.steering = steering
        engine.set_density(steering.density)


def load_profile(engine: Engine) -> dict[str, Any] | None:
    """Apply the profile beside the engine's model, if any; what it set."""
    if engine.model is None:
        return None
    path = Path(engine.model.path)
    profile = read_profile(path, engine.dimension)
    if profile:
        apply_profile(engine, profile, profile_path(path))
    return profile


def describe(profile: dict[str, Any]) -> str:
    """A profile in a few words, for the log."""
    shown = [f"{k} {v:g}" for k, v in profile.items() if k in KEYS]
    if STEERING in profile:
        shown.append("steering")
    return ", ".join(shown)
