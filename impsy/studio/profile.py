"""Player profiles: how a model is played, saved beside it and loaded with it.

Practice by tuning: a performer finds the temperatures, the timescale and
the call-and-response threshold that make a model play the way they want,
and keeps them with the model, not in one config for every model. The
profile of ``NAME.tflite`` (or ``.keras``/``.h5``) is ``NAME.profile.json``
beside it::

    {"pitemp": 1.2, "sigmatemp": 0.05, "timescale": 1.5, "threshold": 0.3}

``profile/save`` writes the running model's settings there; whenever that
model is loaded (at start, ``model/use``, the web UI's "use this model") its
profile, when there is one, sets them. A key left out keeps its value.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impsy.errors import CommandError, ImpsyError

if TYPE_CHECKING:
    from impsy.engine.core import Engine

SUFFIX = ".profile.json"
KEYS = ("pitemp", "sigmatemp", "timescale", "threshold")
"""What a profile holds: the engine's settings with the same names as its commands."""


def profile_path(model: Path) -> Path:
    """``NAME.profile.json`` beside ``NAME.tflite`` (the stem without any model suffix)."""
    return model.with_name(model.name.rsplit(".", 1)[0] + SUFFIX)


def read_profile(model: Path) -> dict[str, float] | None:
    """The profile beside ``model``, checked; None when there is none."""
    path = profile_path(model)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ImpsyError(f"{path}: not a player profile: {err}") from None
    if not isinstance(data, dict):
        raise ImpsyError(f"{path}: expected an object with {', '.join(KEYS)}")
    profile: dict[str, float] = {}
    for key, value in data.items():
        if key not in KEYS:
            raise ImpsyError(f"{path}: unknown key {key!r}; a profile holds {', '.join(KEYS)}")
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value <= 0:
            raise ImpsyError(f"{path}: {key} must be a positive number, got {value!r}")
        profile[key] = float(value)
    return profile


def current_profile(engine: Engine) -> dict[str, float]:
    """The engine's settings a profile keeps."""
    if engine.model is None:
        raise CommandError("profile/save: no model is playing")
    return {
        "pitemp": float(engine.model.pi_temp),
        "sigmatemp": float(engine.model.sigma_temp),
        "timescale": float(engine.settings.timescale),
        "threshold": float(engine.settings.threshold),
    }


def save_profile(engine: Engine) -> str:
    """Write the playing model's settings beside its file; the profile's path."""
    settings = current_profile(engine)
    path = profile_path(Path(engine.model.path))  # type: ignore[union-attr]
    try:
        path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    except OSError as err:
        raise CommandError(f"profile/save: cannot write {path}: {err}") from None
    return str(path)


def apply_profile(engine: Engine, profile: dict[str, Any]) -> None:
    """Set the engine's settings from ``profile`` (through the same setters as the commands)."""
    setters = {
        "pitemp": engine.set_pitemp,
        "sigmatemp": engine.set_sigmatemp,
        "timescale": engine.set_timescale,
        "threshold": engine.set_threshold,
    }
    for key, value in profile.items():
        setters[key](value)


def load_profile(engine: Engine) -> dict[str, float] | None:
    """Apply the profile beside the engine's model, if any; what it set."""
    if engine.model is None:
        return None
    profile = read_profile(Path(engine.model.path))
    if profile:
        apply_profile(engine, profile)
    return profile
