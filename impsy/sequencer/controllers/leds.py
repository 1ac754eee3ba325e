"""LED feedback: which message lights which button, and in what colour.

Controllers light their buttons when they receive a message addressed to
them: a Launchpad lights pad ``n`` in palette colour ``v`` on a note-on
``n, v``; other devices want a CC, or a system exclusive message. A
``LedTarget`` turns "button index i, colour c" into that message; an
``LedMap`` knows the targets of a profile (steps, tracks, play button) and
its colour names.

``LedFrame`` is what every button should show for a sequencer state.
Feedback sends only what changed since the last frame it sent (a playhead
move is two messages, not a whole grid), and everything on connect: a
controller plugged in mid-set starts dark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from impsy.sequencer.controllers.rules import Grid

LED_TYPES = ("note_on", "control_change", "sysex")
NUMBER, COLOUR = "number", "colour"
"""Placeholders in a sysex template for the button number and the colour."""

COLOUR_NAMES: dict[str, int] = {
    "step_off": 0,
    "step_on": 127,
    "playhead": 127,
    "playhead_on": 127,
    "ghost": 0,
    "track": 0,
    "track_selected": 127,
    "track_muted": 0,
    "play_off": 0,
    "play_on": 127,
}
"""Every colour a profile may name, with the default for a two-state (on/off) LED."""


@dataclass(frozen=True)
class LedTarget:
    """Buttons in index order and the message that sets one button's colour."""

    type: str
    numbers: tuple[int, ...]
    channel: int = 1
    template: tuple[int | str, ...] = ()
    """sysex only: the bytes between F0 and F7, with "number" and "colour" placeholders."""

    def message(self, index: int, colour: int) -> tuple[int, ...] | None:
        """The message lighting button ``index``; None when there is no such button."""
        if not 0 <= index < len(self.numbers):
            return None
        number = self.numbers[index]
        if self.type == "note_on":
            return (0x90 | (self.channel - 1), number, colour)
        if self.type == "control_change":
            return (0xB0 | (self.channel - 1), number, colour)
        body = [number if b == NUMBER else colour if b == COLOUR else b for b in self.template]
        return (0xF0, *body, 0xF7)  # type: ignore[return-value]

    @property
    def size(self) -> int:
        return len(self.numbers)


def grid_numbers(grid: Grid) -> tuple[int, ...]:
    return tuple(n for n in (grid.number(i) for i in range(grid.size)) if n is not None)


@dataclass(frozen=True)
class LedMap:
    """A profile's LEDs: targets for steps (of the selected track), tracks and play."""

    steps: LedTarget | None = None
    tracks: LedTarget | None = None
    play: LedTarget | None = None
    colours: dict[str, int] = field(default_factory=lambda: dict(COLOUR_NAMES))
    on_connect: tuple[tuple[int, ...], ...] = ()
    """Sent before each full refresh, e.g. the sysex that puts a Launchpad in programmer mode."""

    def targets(self) -> Iterable[tuple[str, LedTarget]]:
        for name in ("steps", "tracks", "play"):
            target = getattr(self, name)
            if target is not None:
                yield name, target


@dataclass
class SequencerView:
    """The part of the sequencer's state LEDs show."""

    steps_on: list[bool]
    """The selected track's steps."""
    ghost_steps: set[int] = field(default_factory=set)
    playhead: int | None = None
    """The selected track's current step while playing, else None."""
    selected_track: int = 0
    track_count: int = 1
    muted: list[bool] = field(default_factory=list)
    playing: bool = False

    @classmethod
    def from_snapshot(
        cls, snapshot: dict[str, Any], selected: int, playing: bool, playhead: int | None
    ) -> SequencerView:
        """Build from ``SequencerControl.snapshot()`` (its "pattern" and "ghosts")."""
        tracks = snapshot.get("pattern", {}).get("tracks", [])
        track = tracks[selected] if 0 <= selected < len(tracks) else {"steps": []}
        ghosts = {g["step"] for g in snapshot.get("ghosts", []) if g.get("track") == selected}
        return cls(
            steps_on=[bool(s.get("on")) for s in track.get("steps", [])],
            ghost_steps=ghosts,
            playhead=playhead if playing and isinstance(playhead, int) else None,
            selected_track=selected,
            track_count=len(tracks),
            muted=[bool(t.get("muted")) for t in tracks],
            playing=playing,
        )


Frame = dict[tuple[str, int], int]
"""(target name, button index) -> colour."""


def render(leds: LedMap, view: SequencerView) -> Frame:
    """The colour of every button for ``view``; buttons past the track's end are off."""
    colours = leds.colours
    frame: Frame = {}
    if leds.steps is not None:
        for index in range(leds.steps.size):
            on = index < len(view.steps_on) and view.steps_on[index]
            if index == view.playhead:
                colour = colours["playhead_on" if on else "playhead"]
            elif on:
                colour = colours["step_on"]
            elif index in view.ghost_steps:
                colour = colours["ghost"]
            else:
                colour = colours["step_off"]
            frame[("steps", index)] = colour
    if leds.tracks is not None:
        for index in range(leds.tracks.size):
            if index == view.selected_track:
                colour = colours["track_selected"]
            elif index < len(view.muted) and view.muted[index]:
                colour = colours["track_muted"]
            elif index < view.track_count:
                colour = colours["track"]
            else:
                colour = colours["step_off"]
            frame[("tracks", index)] = colour
    if leds.play is not None:
        for index in range(leds.play.size):
            frame[("play", index)] = colours["play_on" if view.playing else "play_off"]
    return frame


class LedFeedback:
    """Remembers what the controller shows, to send only the changes."""

    def __init__(self, leds: LedMap) -> None:
        self.leds = leds
        self._shown: Frame = {}
        self._targets = dict(leds.targets())

    def update(self, view: SequencerView) -> list[tuple[int, ...]]:
        """Messages that bring the controller from what it shows to ``view``."""
        frame = render(self.leds, view)
        changed = {key: c for key, c in frame.items() if self._shown.get(key) != c}
        self._shown.update(changed)
        return self._messages(changed)

    def refresh(self, view: SequencerView) -> list[tuple[int, ...]]:
        """Every button, whatever was sent before (a controller just connected)."""
        self._shown = render(self.leds, view)
        return [*self.leds.on_connect, *self._messages(self._shown)]

    def blank(self) -> list[tuple[int, ...]]:
        """Turn off every button this feedback lit (impsy is stopping)."""
        off = {key: 0 for key, colour in self._shown.items() if colour}
        self._shown = {}
        return self._messages(off)

    def _messages(self, frame: Frame) -> list[tuple[int, ...]]:
        messages = []
        for (name, index), colour in frame.items():
            message = self._targets[name].message(index, colour)
            if message is not None:
                messages.append(message)
        return messages
