"""The model's lane: its predictions on the model track's grid, or proposed as ghosts.

A prediction that arrives while the sequencer plays is pulled toward the
next step boundary of the model track (``quantise`` percent of the way,
swing included) and sounds there for ``model_gate`` steps. With
``ghost_steps`` the newest predictions are instead kept as ghost steps:
heard as the playhead passes them, shown, and written into the pattern only
when a person accepts them (one undo entry for all). Stopped, a prediction
sounds at once. Ghosts belong to the pattern they were proposed on: a
switch to another pattern drops them.

A pattern model (``impsy.sequencer.learn``) proposes whole bars the same
way (``propose``): ghost steps on any track, heard as the playhead passes,
written in by the same ``accept`` (one undo entry per track) or dropped by
the same ``reject``. A new proposal replaces the last one; the model's own
ghosts stay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from impsy.errors import CommandError
from impsy.sequencer.events import Notifier
from impsy.sequencer.pattern import Pattern, Track
from impsy.sequencer.state import State
from impsy.sequencer.transport import Transport
from impsy.sequencer.voices import Voices


@dataclass
class Ghost:
    """A step the model proposes, not yet in the pattern."""

    notes: tuple[int, ...]
    velocity: int
    cc: dict[int, int]


@dataclass(eq=False)
class ModelLane:
    """Where the model's notes go on the grid."""

    state: State
    transport: Transport
    voices: Voices
    events: Notifier
    remember: Callable[[int], None]
    """Keeps a track for undo before the ghosts are written into it (the editor's)."""
    model_track: int = 0
    quantise: float = 100.0
    """How far toward the next step a prediction is pulled, in percent."""
    ghost_steps: int = 0
    """Keep this many predictions as ghost steps instead of playing them; 0: play them."""
    model_gate: float = 1.0
    """How long the model's notes sound, in steps."""
    ghosts: dict[int, Ghost] = field(default_factory=dict)
    """Step -> ghost, oldest first."""
    proposal: dict[tuple[int, int], Ghost] = field(default_factory=dict)
    """(track, step) -> ghost: the bar a pattern model proposed last (``propose``)."""
    proposed_on: Pattern | None = None
    """The pattern the proposal was made on; on another, it is gone."""

    def place(
        self, notes: tuple[int, ...], velocity: int, cc: dict[int, int] | None, now: float
    ) -> None:
        """A prediction arriving at ``now``: a ghost, or a note quantised toward the next
        step of the model track (stopped: a note at once)."""
        tracks = self.state.pattern.tracks
        if not 0 <= self.model_track < len(tracks):
            return
        index = self.model_track
        track = tracks[index]
        cc = cc or {}
        transport = self.transport
        if not transport.playing:
            gate_s = self.model_gate * 60.0 / (transport.timeline.bpm * track.steps_per_beat)
            self._sound(index, notes, velocity, cc, now, gate_s)
            return
        boundary, step = transport.next_boundary(index, now)
        if self.ghost_steps > 0:
            self.ghosts[step] = Ghost(tuple(notes), velocity, dict(cc))
            while len(self.ghosts) > self.ghost_steps:
                del self.ghosts[next(iter(self.ghosts))]
            self.events.emit("ghosts", ghosts=self.ghost_list())
            return
        when = now + (boundary - now) * self.quantise / 100.0
        gate_s = self.model_gate * transport.step_s(track)
        # Sent its output's latency offset early, so it sounds on ``when`` at the far end;
        # handed over its time-tag look-ahead earlier still (``Voices.aheads``).
        leave = when - self.voices.lead_of(track) - self.voices.ahead_of(track)
        self.voices.later(leave, lambda: self._sound(index, notes, velocity, cc, when, gate_s))

    def _sound(
        self,
        index: int,
        notes: tuple[int, ...],
        velocity: int,
        cc: dict[int, int],
        when: float,
        gate_s: float,
    ) -> None:
        """On the model track of the pattern current when it is due, if that is audible."""
        tracks = self.state.pattern.tracks
        if index >= len(tracks) or not self.state.audible(tracks[index]):
            return
        self.voices.play(
            index, tracks[index], tuple(notes), velocity, when, gate_s, cc=cc, model=True
        )

    def propose(self, ghosts: dict[tuple[int, int], Ghost]) -> None:
        """A bar from a pattern model as ghost steps on the current pattern, in place of the
        last one it proposed."""
        self.proposal = dict(ghosts)
        self.proposed_on = self.state.pattern
        self.events.emit("ghosts", ghosts=self.ghost_list())

    def _proposed(self) -> dict[tuple[int, int], Ghost]:
        """The proposal, if the pattern it was made on is still the current one."""
        if self.proposal and self.proposed_on is not self.state.pattern:
            self.proposal = {}
            self.proposed_on = None
        return self.proposal

    def play_ghost(self, index: int, track: Track, step: int, deadline: float) -> None:
        """A step that is off came due: its ghost, if it has one, is heard."""
        ghost = self.ghosts.get(step) if index == self.model_track else None
        if ghost is None and self.proposal:
            ghost = self._proposed().get((index, step))
        if ghost is not None:
            gate_s = self.model_gate * self.transport.step_s(track)
            self.voices.play(
                index, track, ghost.notes, ghost.velocity, deadline, gate_s, model=True
            )

    def _all(self) -> dict[tuple[int, int], Ghost]:
        """Every ghost by (track, step): the proposal's, and the model's own where both are."""
        every = dict(self._proposed())
        every.update(((self.model_track, step), g) for step, g in self.ghosts.items())
        return every

    def ghost_list(self) -> list[dict[str, Any]]:
        return [
            {
                "track": track,
                "step": step,
                "notes": list(g.notes),
                "velocity": g.velocity,
            }
            for (track, step), g in sorted(self._all().items())
        ]

    def accept(self) -> None:
        """Write the ghosts into their tracks: one undo entry for each track written."""
        every = self._all()
        if not every:
            raise CommandError("no ghost steps to accept")
        tracks = self.state.pattern.tracks
        for index in sorted({t for t, _ in every if t < len(tracks)}):
            self.remember(index)
        for (index, position), ghost in every.items():
            if index < len(tracks) and position < tracks[index].length:
                step = tracks[index].steps[position]
                step.on, step.notes, step.velocity = True, ghost.notes, ghost.velocity
                step.cc.update(ghost.cc)
        self.ghosts.clear()
        self.proposal = {}
        for index in sorted({t for t, _ in every if t < len(tracks)}):
            track = tracks[index]
            self.events.emit("edit", track=index, step=-1, muted=track.muted, solo=track.solo)
        self.events.emit("ghosts", ghosts=[])

    def reject(self) -> None:
        self.ghosts.clear()
        self.proposal = {}
        self.events.emit("ghosts", ghosts=[])
