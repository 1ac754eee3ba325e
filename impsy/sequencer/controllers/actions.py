"""What a controller rule can do, and how its parameters are checked and applied.

Each action names the parameters it takes, their kind, and which are
required; profiles are validated against ``ACTIONS`` when they load, so a
typo fails at start-up with the file and key rather than on stage. At play
time ``perform`` only converts the already-resolved numbers (a knob's value
arrives as a float) and calls the sequencer or the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from impsy.engine.core import CommandError

if TYPE_CHECKING:
    from impsy.engine.core import Engine
    from impsy.sequencer.control import SequencerControl

INT, FLOAT, BOOL, STR = "int", "float", "bool", "str"


@dataclass(frozen=True)
class ActionSpec:
    """The parameters an action takes: name -> kind; ``required`` must be given."""

    params: dict[str, str]
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()
    """At least one of these must be given."""
    choices: dict[str, tuple[str, ...]] | None = None
    doc: str = ""


TRACK = {"track": INT}
STEP_FIELDS = {"on": BOOL, "note": INT, "velocity": INT, "gate": FLOAT, "probability": FLOAT}

ACTIONS: dict[str, ActionSpec] = {
    "toggle_step": ActionSpec({**TRACK, "step": INT}, ("step",), doc="step on/off"),
    "set_step": ActionSpec(
        {**TRACK, "step": INT, **STEP_FIELDS},
        ("step",),
        one_of=tuple(STEP_FIELDS),
        doc="set a step's note, velocity, gate, probability or on",
    ),
    "select_track": ActionSpec({"track": INT, "delta": INT}, one_of=("track", "delta")),
    "select_pattern": ActionSpec({"pattern": INT, "delta": INT}, one_of=("pattern", "delta")),
    "set_tempo": ActionSpec({"bpm": FLOAT, "delta": FLOAT}, one_of=("bpm", "delta")),
    "set_swing": ActionSpec({"swing": FLOAT}, ("swing",)),
    "start": ActionSpec({}),
    "stop": ActionSpec({}),
    "continue": ActionSpec({}),
    "toggle_play": ActionSpec({}, doc="start when stopped, stop when playing"),
    "set_edit_mode": ActionSpec({"mode": STR}, ("mode",), choices={"mode": ("step", "live")}),
    "toggle_edit_mode": ActionSpec({}),
    "mute": ActionSpec({**TRACK, "on": BOOL}),
    "solo": ActionSpec({**TRACK, "on": BOOL}),
    "accept_ghosts": ActionSpec({}),
    "reject_ghosts": ActionSpec({}),
    "undo": ActionSpec({}),
    "record_note": ActionSpec({"note": INT, "velocity": INT}, ("note", "velocity")),
    "set_pitemp": ActionSpec({"value": FLOAT}, ("value",)),
    "set_sigmatemp": ActionSpec({"value": FLOAT}, ("value",)),
    "pause": ActionSpec({"on": BOOL}, doc="pause the model; without `on` it toggles"),
    "reset": ActionSpec({}),
    "set_mode": ActionSpec({"mode": STR}, ("mode",)),
}
MODEL_ACTIONS = frozenset({"set_pitemp", "set_sigmatemp", "pause", "reset", "set_mode"})


def _int(value: Any) -> int:
    return int(round(value)) if isinstance(value, float) else int(value)


def _convert(kind: str, value: Any) -> Any:
    if kind == INT:
        return _int(value)
    if kind == FLOAT:
        return float(value)
    if kind == BOOL:
        return bool(value)
    return value


def perform(
    control: SequencerControl,
    engine: Engine | None,
    action: str,
    params: dict[str, Any],
) -> None:
    """Apply one action; bad values raise ``CommandError`` (the sequencer's or ours)."""
    spec = ACTIONS[action]
    args = {key: _convert(spec.params[key], value) for key, value in params.items()}
    if action in MODEL_ACTIONS:
        _model_action(engine, action, args)
        return
    handler = _SEQUENCER_ACTIONS[action]
    handler(control, args)


def _track(control: SequencerControl, args: dict[str, Any]) -> int:
    return args.get("track", control.selected_track)


def _set_step(control: SequencerControl, args: dict[str, Any]) -> None:
    fields = {k: v for k, v in args.items() if k in STEP_FIELDS and k != "note"}
    if "note" in args:
        fields["notes"] = (args["note"],)
    control.set_step(_track(control, args), args["step"], **fields)


def _select(
    args: dict[str, Any], current: int, absolute: str, setter: Callable[[int], None]
) -> None:
    setter(args[absolute] if absolute in args else current + args["delta"])


_SEQUENCER_ACTIONS: dict[str, Callable[[SequencerControl, dict[str, Any]], None]] = {
    "toggle_step": lambda c, a: c.toggle_step(_track(c, a), a["step"]),
    "set_step": _set_step,
    "select_track": lambda c, a: _select(a, c.selected_track, "track", c.select_track),
    "select_pattern": lambda c, a: _select(a, c.selected_pattern, "pattern", c.select_pattern),
    "set_tempo": lambda c, a: c.set_tempo(a["bpm"] if "bpm" in a else c.tempo + a["delta"]),
    "set_swing": lambda c, a: c.set_swing(a["swing"]),
    "start": lambda c, a: c.start(),
    "stop": lambda c, a: c.stop(),
    "continue": lambda c, a: c.continue_(),
    "toggle_play": lambda c, a: c.stop() if c.playing else c.start(),
    "set_edit_mode": lambda c, a: c.set_edit_mode(a["mode"]),
    "toggle_edit_mode": lambda c, a: c.set_edit_mode("live" if c.edit_mode == "step" else "step"),
    "mute": lambda c, a: c.mute(_track(c, a), a.get("on")),
    "solo": lambda c, a: c.solo(_track(c, a), a.get("on")),
    "accept_ghosts": lambda c, a: c.accept_ghosts(),
    "reject_ghosts": lambda c, a: c.reject_ghosts(),
    "undo": lambda c, a: c.undo(),
    "record_note": lambda c, a: c.record_note(a["note"], a["velocity"]),
}


def _model_action(engine: Engine | None, action: str, args: dict[str, Any]) -> None:
    if engine is None:
        raise CommandError(f"{action}: no engine to send model commands to")
    if action == "set_pitemp":
        engine.set_pitemp(args["value"])
    elif action == "set_sigmatemp":
        engine.set_sigmatemp(args["value"])
    elif action == "pause":
        on = args.get("on")
        engine.set_paused(not engine.status()["paused"] if on is None else on)
    elif action == "reset":
        engine.reset()
    elif action == "set_mode":
        engine.set_mode(args["mode"])
