"""MIDI ports by name: matching, connecting, and noticing when they come and go.

A controller is often plugged in after impsy starts, or unplugged and back
mid-performance, and a soft synth may restart. So a port that is missing is
reported once and connected when it appears, and a port that disappears is
reopened when it is back, without a restart. Nothing tells RtMidi's users
when ports change, so the port lists are checked every ``CHECK_INTERVAL_S``
on the event loop; a listing is ~15 us (JACK), cheap enough not to need a
thread. Opening a port holds the GIL for its whole duration (~16 ms on
JACK; neither RtMidi binding releases it), so a worker thread would not spare
the loop either: opens happen only when a port appears.

Input callbacks run on the backend's thread and only hand each message to
the loop with ``call_soon_threadsafe``; they are paused around every open
and close (see ``impsy.io.midi.backend`` for the deadlock this prevents).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from impsy.errors import ImpsyError
from impsy.io.midi.backend import (
    CLIENT_NAME,
    CallbackSlot,
    MidiIn,
    MidiOut,
    MidiPort,
    api_label,
    dispose,
    midi_errors,
    new_input,
    new_output,
    open_port,
)
from impsy.ratelimit import RateLimitedWarning

log = logging.getLogger("impsy")

CHECK_INTERVAL_S = 0.5
# After pausing callbacks, the GIL is given up this long so one already in flight can finish.
SETTLE_S = 0.002
# Before closing outputs at shutdown: time for the backend to deliver the last note-offs.
# RtMidi's JACK close waits for one process cycle to flush, but a cycle that flushed just
# before the note-offs were queued also ends that wait (seen under CPU load).
FLUSH_S = 0.05
# impsy's own ports: JACK names clients "impsy", "impsy-01"...; ALSA names them "impsy".
OWN_PORT = re.compile(rf"^{re.escape(CLIENT_NAME)}(-\d+)?:")

Handler = Callable[["Port", list[int], float], None]


def match_port(wanted: str, available: Sequence[str]) -> str | None:
    """IMPSY's rule: the port named exactly ``wanted``, else the first whose name contains it.

    A partial match never picks one of impsy's own ports: on JACK and ALSA
    they are listed alongside the devices, and an input connected to
    impsy's own output would be a feedback loop.
    """
    if wanted in available:
        return wanted
    for name in available:
        if wanted in name and not OWN_PORT.match(name):
            return name
    return None


@dataclass(eq=False)
class Port:
    """One ``in_device`` or ``out_device`` entry and the system port it is connected to."""

    key: str
    """The name as written in the config (mappings and thru routes use it)."""
    is_input: bool
    sysex: bool = False
    """Inputs: receive system exclusive (only worth it when thru forwards it somewhere)."""
    device: str | None = None
    """The system port it is connected to (its own name when virtual); None while missing."""
    midi: MidiPort | None = None
    slot: CallbackSlot | None = None
    reported_missing: bool = False

    @property
    def direction(self) -> str:
        return "input" if self.is_input else "output"

    @property
    def own_name(self) -> str:
        """The name of impsy's end of the connection."""
        return f"from {self.key}" if self.is_input else f"to {self.key}"


class PortManager:
    """Owns every RtMidi object of the MIDI adapter; all opens and closes go through it.

    ``handler(port, message, time)`` is called on the event loop for each
    input message; ``time`` is ``time.monotonic()`` when the backend
    delivered it. ``on_open(port)`` is called on the loop after a port is
    (re)connected.
    """

    def __init__(
        self,
        api: int,
        inputs: Sequence[Port],
        outputs: Sequence[Port],
        handler: Handler,
        on_open: Callable[[Port], None] = lambda port: None,
        virtual: bool = False,
        interval: float = CHECK_INTERVAL_S,
    ) -> None:
        self.api = api
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.virtual = virtual
        self.interval = interval
        self.checks = 0
        self._handler = handler
        self._on_open = on_open
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scanners: tuple[MidiIn, MidiOut] | None = None
        self._watcher: asyncio.Task | None = None
        self._warn = RateLimitedWarning(30.0)

    @property
    def api_name(self) -> str:
        return api_label(self.api)

    # ----------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.virtual:
            async with self._paused():
                for port in (*self.outputs, *self.inputs):
                    self._open(port, None)
            return
        try:
            self._scanners = (new_input(self.api), new_output(self.api))
        except midi_errors() as err:
            raise ImpsyError(
                f"[midi] cannot use MIDI ({err}); "
                "choose the MIDI system with IMPSY_MIDI_API (e.g. UNIX_JACK, LINUX_ALSA)"
            ) from None
        self.api = self._scanners[0].get_current_api()  # what "default" turned out to be
        await self.check()
        self._watcher = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        """Close every port (outputs first: nothing new plays while inputs close)."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if any(port.midi is not None for port in self.outputs):
            await asyncio.sleep(FLUSH_S)
        await self._settle_paused()
        for port in (*self.outputs, *self.inputs):
            self._close(port)
        if self._scanners is not None:
            for scanner in self._scanners:
                scanner.delete()
            self._scanners = None

    # ----------------------------------------------------------- discovery
    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except Exception as err:  # a broken backend must not end the watch
                self._warn.warn("check", f"MIDI: checking ports failed: {err}")

    async def check(self) -> None:
        """One pass: drop ports that disappeared, connect ports that (re)appeared."""
        assert self._scanners is not None
        self.checks += 1
        available = {True: self._scanners[0].get_ports(), False: self._scanners[1].get_ports()}
        lost, found = [], []
        for port in (*self.inputs, *self.outputs):
            names = available[port.is_input]
            if port.midi is not None:
                if port.device not in names:
                    lost.append(port)
                continue
            device = match_port(port.key, names)
            if device is not None:
                found.append((port, device))
            elif not port.reported_missing:
                port.reported_missing = True
                shown = ", ".join(repr(n) for n in names if not OWN_PORT.match(n)) or "none"
                log.warning(
                    "MIDI %s %r not found (available: %s); it will be connected when it appears",
                    port.direction,
                    port.key,
                    shown,
                )
        if not lost and not found:
            return
        async with self._paused():
            for port in lost:
                log.warning(
                    "MIDI %s %r (%s) disappeared; it will be reconnected when it is back",
                    port.direction,
                    port.key,
                    port.device,
                )
                self._close(port)
                port.reported_missing = True
            for port, device in found:
                self._open(port, device)

    # ------------------------------------------------------- opening ports
    def _open(self, port: Port, device: str | None) -> None:
        """Open ``port`` (virtual when ``device`` is None). Callbacks must be paused."""
        midi: MidiPort | None = None
        try:
            if port.is_input:
                midi = new_input(self.api)
                self.api = midi.get_current_api()
                midi.ignore_types(sysex=not port.sysex, timing=False, active_sense=True)
                open_port(midi, device, port.key if device is None else port.own_name)
                port.slot = CallbackSlot(midi, self._on_rtmidi, port)
            else:
                midi = new_output(self.api)
                self.api = midi.get_current_api()
                open_port(midi, device, port.key if device is None else port.own_name)
        except (LookupError, *midi_errors()) as err:
            with contextlib.suppress(*midi_errors()):
                dispose(midi)
            if device is None:
                raise ImpsyError(f"[midi] cannot create virtual port {port.key!r}: {err}") from None
            self._warn.warn(f"open:{port.key}", f"MIDI: cannot open {device!r}: {err}")
            return
        port.midi, port.device, port.reported_missing = midi, device or port.key, False
        if device is not None:
            log.info("MIDI %s %r connected to %r", port.direction, port.key, device)
        self._on_open(port)

    def _close(self, port: Port) -> None:
        """Close ``port``; its callback (if any) must be paused already."""
        midi, port.midi, port.slot, port.device = port.midi, None, None, None
        try:
            dispose(midi)
        except midi_errors() as err:
            log.warning("MIDI: closing %s %r failed: %s", port.direction, port.key, err)

    @contextlib.asynccontextmanager
    async def _paused(self) -> AsyncIterator[None]:
        """Input callbacks off while the body opens and closes ports, then back on."""
        await self._settle_paused()
        try:
            yield
        finally:
            for port in self.inputs:
                if port.slot is not None:
                    for message, _delta in port.slot.resume():
                        self._handler(port, message, time.monotonic())

    async def _settle_paused(self) -> None:
        slots = [port.slot for port in self.inputs if port.slot is not None and port.slot.armed]
        for slot in slots:
            slot.pause()
        if slots:
            await asyncio.sleep(SETTLE_S)  # the loop waits in select(): the GIL is free
            for slot in slots:
                slot.settle()

    # ------------------------------------------------------ backend thread
    def _on_rtmidi(self, event: tuple[list[int], float], port: Port) -> None:
        """Runs on RtMidi's thread: stamp the message and hand it to the loop, nothing else."""
        try:
            self._loop.call_soon_threadsafe(self._handler, port, event[0], time.monotonic())
        except RuntimeError:
            pass  # the loop is closed: impsy is exiting
