"""MIDI messages as RtMidi delivers them into ``MidiAdapter._receive``.

RtMidi hands over one message per callback, but a JACK or ALSA client may
send anything, so each input is cut into messages (``harness.chunks``) and
each goes to the adapter's receive path on the loop, from an input port
mapped with every kind, thru-routed to an output and with feedback
protection on. The output end is a sink that checks what is forwarded, as
impsy never opens a system port here.

Invariants: nothing raises; a malformed message changes ``bad_input`` and
is never forwarded; realtime messages reach the realtime listeners as mido
messages; gestures are finite and within [0, 1].
"""

from __future__ import annotations

import time

import numpy as np

from fuzz.harness import DIMENSION, MAPPING, LiveEngine
from impsy.config import load_config_text
from impsy.io.midi.adapter import MidiAdapter
from impsy.io.midi.messages import malformed


def _unit(kind: str, values: np.ndarray, when: float) -> None:
    assert np.all((values >= 0.0) & (values <= 1.0)), f"decoded values outside [0, 1]: {values}"


class _Sink:
    """The synth end of the thru route: only well-formed messages may arrive."""

    def send_message(self, message: list[int]) -> None:
        assert malformed(message) is None, f"forwarded a malformed message {message}"


class _Target:
    def __init__(self) -> None:
        config = load_config_text(
            f'[model]\ndimension = {DIMENSION}\n[interaction]\nmode = "useronly"\n[midi]\n'
            'in_device = ["keys"]\nout_device = ["keys", "synth"]\nfeedback_protection = true\n'
            f'input."keys" = {MAPPING}\noutput."keys" = {MAPPING}\noutput."synth" = {MAPPING}\n'
            'thru_matrix."keys" = ["synth"]\n',
            "fuzz-midi.toml",
        )
        self.adapter = MidiAdapter(config.midi, DIMENSION)
        self.live = LiveEngine([], mode="useronly")
        self.live.engine.add_observer(_unit)
        self.adapter.engine = self.live.engine  # receive path only: no system ports
        self.adapter.outputs["synth"].port.midi = _Sink()
        self.adapter.realtime_listeners.append(self._realtime)
        self.port = self.adapter.inputs["keys"].port
        self.realtime = 0

    def _realtime(self, event: object) -> None:
        self.realtime += 1

    def receive(self, chunk: bytes) -> None:
        message = list(chunk)
        bad = self.live.counts()[1]
        self.adapter._receive(self.port, message, time.monotonic())
        if malformed(message) is not None:
            assert self.live.counts()[1] == bad + 1, f"malformed, not counted: {message}"


_target: _Target | None = None


def one_input(data: bytes) -> None:
    global _target
    if _target is None:
        _target = _Target()
    _target.live.feed_reads(_target.receive, data)
