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
from impsy.engine.steering import MAX_DENSITY, ROLES, SCALES
from impsy.engine.table import BOOL, FLOAT, INT, STR, Arg, Command


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


def _surprise(engine: Engine, on: bool | None = None) -> None:
    engine.set_surprise(not engine.settings.surprise if on is None else on)


DIM = Arg("dim", INT, "the dimension: 0 is dt, 1..n the values x1..xn", low=0)
NOTE_DIM = Arg("dim", INT, "a note dimension, 1..n", low=1)
NOTE = Arg("note", INT, "a MIDI note", low=0, high=127)


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
    Command(
        "role",
        "who plays a dimension: human (held, the model plays the rest given it), "
        "model, or both (IMPSY's behaviour)",
        lambda engine, dim, role: engine.set_role(dim, role),
        (DIM, Arg("role", STR, choices=ROLES)),
    ),
    Command(
        "hold",
        "hold a dimension at a value (it becomes human) while the model plays the rest",
        lambda engine, dim, value: engine.hold(dim, value),
        (DIM, Arg("value", FLOAT, "dt in seconds, values 0-1")),
    ),
    Command(
        "range",
        "allow the model only low..high on a dimension (either open); neither clears it",
        lambda engine, dim, low=None, high=None: engine.set_range(dim, low, high),
        (DIM, Arg("low", FLOAT, optional=True), Arg("high", FLOAT, optional=True)),
    ),
    Command(
        "notes",
        "allow the model only these MIDI notes on a note dimension; none clears the set",
        lambda engine, dim, notes: engine.set_notes(dim, notes),
        (NOTE_DIM, Arg("notes", INT, "MIDI notes", low=0, high=127, many=True)),
    ),
    Command(
        "note",
        "add or remove one allowed note (a pad); without on it toggles",
        lambda engine, dim, note, on=None: engine.toggle_note(dim, note, on),
        (NOTE_DIM, NOTE, Arg("on", BOOL, "1 allows, 0 removes", optional=True)),
    ),
    Command(
        "scale",
        "allow only a scale's notes on note dimensions (all the outputs' notes by default)",
        lambda engine, root, name, dims: engine.set_scale(root, name, dims),
        (
            Arg("root", INT, "its MIDI note: 62 or 2 is D", low=0, high=127),
            Arg("name", STR, choices=tuple(SCALES)),
            Arg("dims", INT, "the note dimensions", low=1, many=True),
        ),
    ),
    Command(
        "density",
        "tilt the model's timing: above 0 denser, below 0 sparser (per second of dt)",
        lambda engine, value: engine.set_density(value),
        (Arg("value", FLOAT, "the tilt", low=-MAX_DENSITY, high=MAX_DENSITY),),
    ),
    Command(
        "steering",
        "each dimension's role, held value, range and notes, the density and fallbacks",
        lambda engine: engine.steering_status(),
        reply=True,
    ),
    Command(
        "surprise",
        "the surprise meter (each gesture's NLL under the model); without on it toggles",
        _surprise,
        (Arg("on", BOOL, "1 starts it, 0 stops it", optional=True),),
    ),
)
