"""Who hears what the sequencer does: the listeners of its events and of its bar lines.

Displays (the web UI, controller LEDs) listen to ``SequencerEvent``s; the
adapter listens to bar lines (callresponse hands back at one). A listener
that raises is a broken display, not a reason to stop the music: it is
warned about (rate-limited) and the others still hear the event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from impsy.ratelimit import RateLimitedWarning
from impsy.sequencer.control import SequencerEvent

T = TypeVar("T")


class Notifier:
    """The sequencer's listeners, each told in turn."""

    def __init__(self, warn: RateLimitedWarning) -> None:
        self.listeners: list[Callable[[SequencerEvent], None]] = []
        self.bar_listeners: list[Callable[[int], None]] = []
        """Called with the number of each bar line as the transport crosses it."""
        self._warn = warn

    def add(self, callback: Callable[[SequencerEvent], None]) -> None:
        self.listeners.append(callback)

    def remove(self, callback: Callable[[SequencerEvent], None]) -> None:
        if callback in self.listeners:
            self.listeners.remove(callback)

    def emit(self, kind: str, **data: Any) -> None:
        """Tell every listener (nothing is built when there is none)."""
        if self.listeners:
            self._tell(self.listeners, SequencerEvent(kind, data), "listener", "listener")

    def bar(self, number: int) -> None:
        self._tell(self.bar_listeners, number, "bar", "bar listener")

    def _tell(self, listeners: list[Callable[[T], None]], what: T, key: str, role: str) -> None:
        for listener in list(listeners):
            try:
                listener(what)
            except Exception as err:  # a broken display must not stop the music
                self._warn.warn(f"{key}:{listener!r}", f"sequencer: {role} failed: {err}")
