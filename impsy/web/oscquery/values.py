"""The current value of each command that has one, read from the part it changes.

A row of the command table says how to change something, not how to read
it back, so the readers live here, by row name: ``pitemp`` reads the model's
mixture temperature, ``seq/tempo`` the sequencer's tempo. A reader returns
one item per argument of its row, in order, as far as there is a current
value (``seq/tempo``'s ``delta`` has none, so it reads ``[bpm]``), or None
while there is nothing to read (the temperatures of a run without a model,
the pattern model's knobs before there is one).
``tests/web/test_oscquery.py`` checks that every name here is a row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from impsy.engine.core import Engine

Reader = Callable[[], list[Any] | None]

ENGINE_VALUES: dict[str, Callable[[Engine], list[Any] | None]] = {
    "mode": lambda engine: [engine.settings.mode],
    "pause": lambda engine: [engine.settings.paused],
    "pitemp": lambda engine: None if engine.model is None else [engine.model.pi_temp],
    "sigmatemp": lambda engine: None if engine.model is None else [engine.model.sigma_temp],
    "timescale": lambda engine: [engine.settings.timescale],
    "threshold": lambda engine: [engine.settings.threshold],
    "density": lambda engine: [engine.steering.density],
    "surprise": lambda engine: [engine.settings.surprise],
}
"""Rows run on the ``Engine``."""

SEQUENCER_VALUES: dict[str, Callable[[Any], list[Any] | None]] = {
    "seq/tempo": lambda seq: [seq.tempo],
    "seq/swing": lambda seq: [seq.swing],
    "seq/pattern": lambda seq: [seq.selected_pattern],
    "seq/track": lambda seq: [seq.selected_track],
    "seq/mode": lambda seq: [seq.edit_mode],
    "seq/record": lambda seq: [seq.recording],
}
"""Rows run on the ``Sequencer`` (``impsy.sequencer.sequencer``)."""


def _knob(learn: Any) -> list[Any] | None:
    """``learn/knob knob value``: the knob moved last and where it is now (after
    ``generate`` or ``vary`` too, which move every knob)."""
    knobs = learn.knobs
    if knobs is None:
        return None
    point = knobs.point
    index = learn.last_knob if 0 <= learn.last_knob < len(point) else 0
    return [index, float(point[index])]


LEARN_VALUES: dict[str, Callable[[Any], list[Any] | None]] = {
    "learn/knob": _knob,
    "learn/threshold": lambda learn: None if learn.knobs is None else [learn.knobs.threshold],
    "learn/to": lambda learn: [learn.to],
}
"""Rows run on the pattern model (``impsy.sequencer.learn.live.PatternLearning``); the
others (``generate``, ``vary``, ``interpolate``, ``train``) move it and keep no value."""


def readers(engine: Engine, sequencer: Any = None, learning: Any = None) -> dict[str, Reader]:
    """Row name -> a function reading that row's current value in this run."""
    found: dict[str, Reader] = {name: _bound(read, engine) for name, read in ENGINE_VALUES.items()}
    if sequencer is not None:
        found.update({name: _bound(read, sequencer) for name, read in SEQUENCER_VALUES.items()})
    if learning is not None:
        found.update({name: _bound(read, learning) for name, read in LEARN_VALUES.items()})
    return found


def _bound(read: Callable[[Any], list[Any] | None], target: object) -> Reader:
    return lambda: read(target)


def surprise_meter(engine: Engine) -> Reader:
    """The surprise meter's last value (nats), None before it has one or while it is off."""

    def read() -> list[Any] | None:
        value = engine.surprise
        return None if math.isnan(value) else [value]

    return read
