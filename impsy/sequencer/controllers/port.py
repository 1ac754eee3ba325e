"""A hardware controller bound to the sequencer: its messages in, its LEDs out.

``ControllerPort`` opens the controller's input (and optional LED output)
through impsy's RtMidi port manager, so a controller missing at start-up is
reported once and connected when it is plugged in, and one unplugged
mid-set comes back by itself. Each incoming message goes through the
profile's rules (``impsy.sequencer.controllers.rules``) to the command
table, so a rule runs exactly what the same command sent over OSC would;
each sequencer event updates the LEDs, sending only the buttons that
changed, and a (re)connected output gets a full refresh.

Everything runs on the event loop: RtMidi's thread only hands messages over
(``impsy.io.midi.ports``), and a rule's action is one call of the command
table. A bad value from a controller (a step past the end of the track) gets
a rate-limited warning and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from impsy.errors import CommandError
from impsy.io.midi.backend import selected_api
from impsy.io.midi.messages import malformed
from impsy.io.midi.ports import CHECK_INTERVAL_S, Port, PortManager
from impsy.ratelimit import RateLimitedWarning
from impsy.sequencer.control import SequencerEvent
from impsy.sequencer.controllers.leds import LedFeedback, SequencerView
from impsy.sequencer.controllers.profiles import Profile
from impsy.sequencer.controllers.profiles import load_profile as load_profile
from impsy.sequencer.controllers.rules import Rule, RuleEngine

if TYPE_CHECKING:
    from impsy.engine.core import Engine
    from impsy.engine.table import CommandTable
    from impsy.sequencer.control import SequencerControl

log = logging.getLogger("impsy")

__all__ = ["ControllerPort", "load_profile"]

FULL_REDRAW_EVENTS = frozenset({"edit", "ghosts", "pattern", "transport"})


class ControllerPort:
    """One controller: ``profile`` rules from ``in_device``, LEDs to ``out_device``.

    Rules run rows of ``commands``; the LEDs show ``control`` (the sequencer);
    malformed input is counted by ``engine`` when there is one.
    """

    def __init__(
        self,
        profile: Profile,
        control: SequencerControl,
        commands: CommandTable,
        engine: Engine | None,
        in_device: str,
        out_device: str | None = None,
        *,
        api: str | None = None,
        check_interval: float = CHECK_INTERVAL_S,
    ) -> None:
        self.profile = profile
        self.control = control
        self.commands = commands
        self.engine = engine
        self.input = Port(in_device, is_input=True)
        self.output = Port(out_device, is_input=False) if out_device else None
        self.rules = RuleEngine(profile.rules, self._fire)
        self.feedback = LedFeedback(profile.leds)
        self.ports: PortManager | None = None
        self._api = api
        self._check_interval = check_interval
        self._view: SequencerView | None = None
        self._warn = RateLimitedWarning()
        self.fired = 0
        """Rules fired so far (for status displays and tests)."""

    # ----------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Open the ports (missing ones are waited for) and start listening to the sequencer."""
        self.ports = PortManager(
            selected_api(self._api),
            [self.input],
            [self.output] if self.output is not None else [],
            self._receive,
            on_open=self._opened,
            interval=self._check_interval,
        )
        self.control.add_listener(self._on_event)
        try:
            await self.ports.start()
        except BaseException:
            self.control.remove_listener(self._on_event)
            await self.ports.stop()
            self.ports = None
            raise

    async def stop(self) -> None:
        """Darken the LEDs this controller lit, then close its ports."""
        if self.ports is None:
            return
        self.control.remove_listener(self._on_event)
        if self.output is not None and self.output.midi is not None:
            self._send(self.feedback.blank())
        ports, self.ports = self.ports, None
        await ports.stop()

    def describe(self) -> str:
        def shown(port: Port) -> str:
            return f"{port.key!r} = {port.device!r}" if port.device else f"{port.key!r} (waiting)"

        leds = f", LEDs to {shown(self.output)}" if self.output is not None else ""
        return (
            f"controller {self.profile.name!r} ({len(self.profile.rules)} rules) "
            f"from {shown(self.input)}{leds}"
        )

    def health(self) -> dict[str, object]:
        """For status displays: which of its ports are still missing, rules fired so far."""
        ports = [self.input] + ([self.output] if self.output is not None else [])
        missing = [port.key for port in ports if port.midi is None]
        return {
            "name": f"controller {self.profile.name}",
            "description": self.describe(),
            "state": "waiting" if missing else "open",
            "missing_ports": missing,
            "rules_fired": self.fired,
        }

    # --------------------------------------------------------------- input
    def _receive(self, port: Port, message: list[int], when: float) -> None:
        problem = malformed(message)
        if problem is not None:
            source = f"controller {self.input.key}"
            if self.engine is not None:
                reason, _, detail = problem.partition(": ")
                self.engine.bad_input(source, reason, detail)
            else:
                self._warn.warn("malformed", f"{source}: {problem}")
            return
        self.rules.feed(message, when)

    def _fire(self, rule: Rule, params: dict[str, Any]) -> None:
        try:
            self.commands.call(rule.action, params)
        except CommandError as err:
            self._warn.warn(
                f"rule:{rule.name}",
                f"controller {self.profile.name!r}: rule {rule.name!r}: {err}",
            )
            return
        self.fired += 1

    # -------------------------------------------------------------- output
    def _opened(self, port: Port) -> None:
        if port.is_input:
            self.rules.reset()  # half an NRPN from before the unplug means nothing now
            return
        self._send(self.feedback.refresh(self._current_view()))

    def _on_event(self, event: SequencerEvent) -> None:
        if self.output is None or self.output.midi is None:
            self._view = None  # redraw from scratch when it connects
            return
        if event.kind == "playhead" and self._view is not None:
            step = event.data.get("step")
            playing = self.control.playing
            self._view.playhead = step if playing and isinstance(step, int) else None
            self._view.playing = playing
        elif event.kind in FULL_REDRAW_EVENTS or self._view is None:
            self._view = self._snapshot_view()
        else:
            return
        self._send(self.feedback.update(self._view))

    def _current_view(self) -> SequencerView:
        self._view = self._snapshot_view()
        return self._view

    def _snapshot_view(self) -> SequencerView:
        control = self.control
        return SequencerView.from_snapshot(
            control.snapshot(), control.selected_track, control.playing, control.playhead
        )

    def _send(self, messages: Sequence[Sequence[int]]) -> None:
        midi = self.output.midi if self.output is not None else None
        if midi is None or not messages:
            return
        try:
            for message in messages:
                midi.send_message(list(message))
        except Exception as err:  # an unplugged controller must not stop the sequencer
            self._warn.warn("send", f"controller {self.output.key!r}: sending LEDs: {err}")
