"""The engine's commands: IMPSY's runtime vocabulary as rows of the command table.

These are the names IMPSY users already send (``/impsy/mode``,
``/impsy/pause``, ``/impsy/reset``, ``/impsy/pitemp``, ``/impsy/sigmatemp``,
``/impsy/timescale``) plus ``threshold`` and ``status``. The aliases are the
spellings older front ends used: the web API's ``paused`` and the
controller profiles' ``set_mode``, ``set_pitemp`` and ``set_sigmatemp``.
"""

from __future__ import annotations

from collections.abc import Callable

from impsy.config.modes import MODES, canonical_mode
from impsy.engine.core import Engine
from impsy.engine.table import BOOL, FLOAT, STR, Arg, Command


def _setting(
    name: str,
    doc: str,
    setter: Callable[[Engine, float], None],
    unit: str,
    aliases: tuple[str, ...] = (),
) -> Command:
    """A positive number the engine keeps, set by ``setter(engine, value)``."""
    return Command(name, doc, setter, (Arg("value", FLOAT, unit, above=0.0),), aliases=aliases)


def _pause(engine: Engine, on: bool | None = None) -> None:
    engine.set_paused(not engine.settings.paused if on is None else on)


ENGINE_COMMANDS: tuple[Command, ...] = (
    Command(
        "status",
        "the engine's settings and counters (OSC: the reply goes to the sender)",
        lambda engine: engine.status(),
        reply=True,
    ),
    Command(
        "mode",
        "switch the interaction mode (IMPSY's filter and independent too)",
        lambda engine, mode: engine.set_mode(mode),
        (Arg("mode", STR, choices=MODES, normalise=canonical_mode),),
        aliases=("set_mode",),
    ),
    Command(
        "pause",
        "silence the model (gestures are still logged); without on it toggles",
        _pause,
        (Arg("on", BOOL, "1 pauses, 0 resumes", optional=True),),
        aliases=("paused",),
    ),
    Command(
        "reset",
        "forget the LSTM state: the model starts a fresh phrase",
        lambda engine: engine.reset(),
    ),
    _setting(
        "pitemp",
        "mixture temperature: higher picks less likely components (more variety)",
        Engine.set_pitemp,
        "the temperature",
        ("set_pitemp",),
    ),
    _setting(
        "sigmatemp",
        "sampling spread: higher gives wilder values",
        Engine.set_sigmatemp,
        "the temperature",
        ("set_sigmatemp",),
    ),
    _setting(
        "timescale",
        "multiplies the model's time gaps (2 plays half as fast)",
        Engine.set_timescale,
        "the factor",
    ),
    _setting(
        "threshold",
        "callresponse: seconds of silence before the model answers",
        Engine.set_threshold,
        "seconds",
    ),
)
