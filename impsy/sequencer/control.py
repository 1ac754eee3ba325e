"""What controllers, OSC and the web UI may do to the sequencer.

``SequencerControl`` is the one interface those front ends code against;
``impsy.sequencer.sequencer.Sequencer`` implements it. Every method runs on the
event loop. Values arrive typed and in range from the command table
(``impsy.sequencer.commands``); what depends on the sequencer's state (a step
past the end of a track, nothing to undo) raises ``impsy.errors.CommandError``,
whose message is meant for the person who sent it. Tracks and steps are 0-based.

Beyond the protocol, ``Sequencer`` also has ``set_recording(on)`` (live mode),
``set_cursor(step)`` and ``cursor`` (step mode), ``set_song(indexes)``,
``place_model_note(notes, velocity, cc)``, ``load_bank(bank)``, ``bank`` and
``pattern``; the adapter has ``files`` (``save(path)``/``load(path)``, and the
named files of ``seq/save``...) and ``controllers``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, runtime_checkable

EVENT_KINDS: tuple[str, ...] = (
    "playhead",
    "edit",
    "transport",
    "ghosts",
    "pattern",
    "tempo",
    "link",
)
EDIT_MODES: tuple[str, ...] = ("step", "live")
MIN_BPM = 20.0
MAX_BPM = 300.0
MAX_SWING = 0.75


@dataclass
class SequencerEvent:
    """Something changed: ``kind`` is one of ``EVENT_KINDS``; ``data`` is JSON-able.

    - "playhead": {"step": playhead of the selected track, "steps": [per track], "bar": n}
    - "edit": {"track", "step", "step_data": Step.to_dict()} (or {"track": -1} for many)
    - "transport": {"playing": bool, "state": "start"|"stop"|"continue"}
    - "ghosts": {"ghosts": [{"track","step","notes","velocity"}]}
    - "pattern": {"selected_pattern", "selected_track", "queued_pattern", "edit_mode"}
    - "tempo": {"tempo": bpm, "swing": amount}
    - "link": {"peers": how many other Link peers are in the session}
    """

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


class StepChanges(TypedDict, total=False):
    """What ``set_step`` may change in a step; a field left out (or None) stays as it is."""

    on: bool | None
    notes: int | tuple[int, ...] | list[int] | None
    velocity: int | None
    gate: float | None
    probability: float | None


@runtime_checkable
class SequencerControl(Protocol):
    """The sequencer as seen from controllers, OSC and the web UI."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def continue_(self) -> None: ...
    def set_tempo(self, bpm: float) -> None: ...
    def set_swing(self, amount: float) -> None: ...
    def select_pattern(self, index: int) -> None: ...
    def select_track(self, index: int) -> None: ...
    def toggle_step(self, track: int, step: int) -> None: ...
    def set_step(
        self,
        track: int,
        step: int,
        *,
        on: bool | None = None,
        notes: int | tuple[int, ...] | list[int] | None = None,
        velocity: int | None = None,
        gate: float | None = None,
        probability: float | None = None,
    ) -> None: ...
    def set_edit_mode(self, mode: str) -> None: ...
    def mute(self, track: int, on: bool | None = None) -> None: ...
    def solo(self, track: int, on: bool | None = None) -> None: ...
    def accept_ghosts(self) -> None: ...
    def reject_ghosts(self) -> None: ...
    def undo(self) -> None: ...
    def record_note(self, note: int, velocity: int) -> None: ...
    def add_listener(self, callback: Callable[[SequencerEvent], None]) -> None: ...
    def remove_listener(self, callback: Callable[[SequencerEvent], None]) -> None: ...

    @property
    def tempo(self) -> float: ...
    @property
    def playing(self) -> bool: ...
    @property
    def selected_track(self) -> int: ...
    @property
    def selected_pattern(self) -> int: ...
    @property
    def edit_mode(self) -> str: ...
    @property
    def playhead(self) -> int: ...

    def snapshot(self) -> dict[str, Any]: ...
