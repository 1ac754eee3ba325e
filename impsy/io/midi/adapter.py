"""MIDI ports (RtMidi): gestures in from controllers, predictions out to synths.

The ``[midi]`` section of IMPSY's config, with IMPSY's behaviour:

- ``in_device``/``out_device`` name ports: the exact name, else the first
  port whose name contains it. Each has its own mapping list
  (``input."<name>"``, ``output."<name>"``), decoded and encoded by
  ``impsy.mapping.midi``: one decoder per input, one encoder (and so one set
  of sounding notes) per output.
- Input counts in every mode and is event driven: RtMidi's thread hands
  each message to the event loop, where it is decoded into one gesture.
- ``thru_matrix."<in>" = ["<out>", ...]`` forwards every message from an
  input, raw, to those outputs (IMPSY re-encoded the whole input vector
  through the output mapping instead, resending every dimension for each
  message; raw forwarding is what a MIDI thru is, and what the issue asks).
- ``feedback_protection`` drops impsy's own notes echoed back
  (``impsy.io.midi.feedback`` has IMPSY's exact rule).
- ``virtual = true`` creates ports named after the ``in_device`` and
  ``out_device`` entries for a DAW or Pure Data to connect to, instead of
  connecting to existing ports.

Clock, start, continue, stop and song position are never gestures; they go
to ``realtime_listeners`` (for a sequencer), called on the event loop.
Sysex and unmapped messages are ignored without a warning. Ports that are
missing, or that disappear, are connected when they (re)appear
(``impsy.io.midi.ports``). The MIDI system is RtMidi's default unless
``IMPSY_MIDI_API`` names one (``impsy.io.midi.backend``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import mido
import numpy as np

from impsy.engine.ports import Adapter
from impsy.io.midi.backend import selected_api
from impsy.io.midi.feedback import FeedbackGuard
from impsy.io.midi.messages import SoundingNotes, is_transport, malformed
from impsy.io.midi.ports import CHECK_INTERVAL_S, Port, PortManager
from impsy.mapping.midi import MidiDecoder, MidiEncoder
from impsy.ratelimit import RateLimitedWarning

if TYPE_CHECKING:
    from impsy.config import MidiConfig
    from impsy.engine.core import Engine

log = logging.getLogger("impsy")

RealtimeListener = Callable[[mido.Message], None]


@dataclass(eq=False)
class MidiOutput:
    """An ``out_device``: its port and the encoder holding its note state."""

    port: Port
    encoder: MidiEncoder
    thru_notes: SoundingNotes = field(default_factory=SoundingNotes)


@dataclass(eq=False)
class MidiInput:
    """An ``in_device``: its port, its decoder and where thru forwards it."""

    port: Port
    decoder: MidiDecoder
    source: str
    thru: tuple[MidiOutput, ...] = ()


class MidiAdapter(Adapter):
    """The ``[midi]`` section: any number of input and output ports."""

    name = "midi"

    def __init__(
        self,
        config: MidiConfig,
        dimension: int,
        api: str | None = None,
        check_interval: float = CHECK_INTERVAL_S,
    ) -> None:
        self.config = config
        self.dimension = dimension
        self.realtime_listeners: list[RealtimeListener] = []
        """Called on the event loop with each clock, start, continue, stop, song position."""
        self.engine: Engine | None = None
        self.feedback = FeedbackGuard(config.feedback_protection, config.feedback_threshold)
        self.outputs = {
            key: MidiOutput(Port(key, is_input=False), MidiEncoder(config.output[key]))
            for key in config.out_device
        }
        self.inputs = {
            key: MidiInput(
                Port(key, is_input=True, sysex=bool(config.thru_matrix.get(key))),
                MidiDecoder(config.input[key]),
                source=f"midi {key}",
                thru=tuple(self.outputs[out] for out in config.thru_matrix.get(key, ())),
            )
            for key in config.in_device
        }
        self._api = api
        self._check_interval = check_interval
        self.ports: PortManager | None = None
        self._warn = RateLimitedWarning()

    # ----------------------------------------------------------- lifecycle
    async def start(self, engine: Engine) -> None:
        self.engine = engine
        self.ports = PortManager(
            selected_api(self._api),
            [i.port for i in self.inputs.values()],
            [o.port for o in self.outputs.values()],
            self._receive,
            on_open=self._opened,
            virtual=self.config.virtual,
            interval=self._check_interval,
        )
        try:
            await self.ports.start()
        except BaseException:
            await self.ports.stop()  # e.g. the third virtual port failed: close the first two
            self.ports = None
            raise

    async def stop(self) -> None:
        """Release every note impsy sounded or forwarded, then close the ports."""
        if self.ports is None:
            return
        self.release()
        for output in self.outputs.values():
            self._write(output, output.thru_notes.release())
        ports, self.ports = self.ports, None
        self.engine = None
        await ports.stop()

    def describe(self) -> str:
        api = self.ports.api_name if self.ports is not None else "MIDI"

        def shown(port: Port) -> str:
            if self.config.virtual:
                return repr(port.key)
            return f"{port.key!r} = {port.device!r}" if port.device else f"{port.key!r} (waiting)"

        ins = ", ".join(shown(i.port) for i in self.inputs.values()) or "none"
        outs = ", ".join(shown(o.port) for o in self.outputs.values()) or "none"
        kind = "virtual ports" if self.config.virtual else "ports"
        return f"MIDI {kind} ({api}) in {ins}; out {outs}"

    def health(self) -> dict[str, object]:
        """Each port open or waiting (a missing port is connected when it appears)."""
        every = [i.port for i in self.inputs.values()] + [o.port for o in self.outputs.values()]
        ports = [
            {
                "name": port.key,
                "direction": port.direction,
                "device": port.device,
                "state": "open" if port.midi is not None else "waiting",
            }
            for port in every
        ]
        waiting = any(port["state"] == "waiting" for port in ports)
        state = "error" if self.ports is None else "waiting" if waiting else "open"
        return {**super().health(), "state": state, "ports": ports}

    # -------------------------------------------------------------- output
    def send(self, values: np.ndarray) -> None:
        now = time.monotonic()
        for output in self.outputs.values():
            if output.port.midi is None:
                continue  # no note state for a synth that isn't there; reset when it appears
            messages = output.encoder.encode(values)
            self._write(output, messages)
            self.feedback.sent(output.port.key, messages, now)

    def send_surprise(self, value: float) -> None:
        """The surprise meter as ``[midi] surprise_cc`` on every output (``surprise_range``
        mapped to 0-127, clipped), so a synth parameter can follow how surprising you are."""
        cc = self.config.surprise_cc
        if cc is None:
            return
        low, high = self.config.surprise_range
        level = min(max((value - low) / (high - low), 0.0), 1.0)
        message = [0xB0 | (cc[0] - 1), cc[1], int(level * 127 + 0.5)]
        for output in self.outputs.values():
            self._write(output, [message])

    def release(self) -> None:
        for output in self.outputs.values():
            self._write(output, output.encoder.all_notes_off())

    def _write(self, output: MidiOutput, messages: Sequence[Sequence[int]]) -> None:
        midi = output.port.midi
        if midi is None or not messages:
            return
        try:
            for message in messages:
                midi.send_message(message)
        except Exception as err:  # one failing port must not silence the others
            self._warn.warn(
                f"send:{output.port.key}", f"MIDI: sending to {output.port.key!r}: {err}"
            )

    def _opened(self, port: Port) -> None:
        """A (re)connected output is a fresh receiver: forget notes and resend every CC."""
        if not port.is_input:
            output = self.outputs[port.key]
            output.encoder.all_notes_off()
            output.thru_notes.release()

    # --------------------------------------------------------------- input
    def _receive(self, port: Port, message: list[int], when: float) -> None:
        """One message from an input, on the event loop."""
        engine = self.engine
        if engine is None:
            return  # stopping
        midi_input = self.inputs[port.key]
        problem = malformed(message)
        if problem is not None:
            reason, _, detail = problem.partition(": ")
            engine.bad_input(midi_input.source, reason, detail)
            return
        if self.feedback.is_echo(port.key, message, when):
            return
        for output in midi_input.thru:
            if output.port.midi is not None:
                self._write(output, [message])
                output.thru_notes.update(message)
                self.feedback.sent(output.port.key, [message], when)
        if is_transport(message):
            self._notify_realtime(message)
            return
        updates = midi_input.decoder.decode(message)
        if updates:
            engine.user_input(updates, midi_input.source)

    def _notify_realtime(self, message: list[int]) -> None:
        if not self.realtime_listeners:
            return
        event = mido.Message.from_bytes(message)
        for listener in list(self.realtime_listeners):
            try:
                listener(event)
            except Exception as err:  # a broken listener must not stop input
                self._warn.warn(f"listener:{listener!r}", f"MIDI: realtime listener failed: {err}")
