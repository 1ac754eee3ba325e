"""WebSocket messages (``[websocket]``) into ``WebSocketAdapter``'s message handler.

The first byte of an input says whether the frame is binary (odd) or text
(even); the rest is the payload, decoded as UTF-8 for text (websockets only
delivers valid UTF-8 text, so undecodable bytes become U+FFFD). The message
goes to ``_received`` directly, not through the per-client guard that turns
any exception into a counted "unreadable message", so a parser crash that
guard would hide still fails here.

Invariants: nothing raises; a binary frame or a text not in the
``/channel/{ch}/...`` format changes ``bad_input``; gestures are finite and
within [0, 1].
"""

from __future__ import annotations

import numpy as np

from fuzz.harness import DIMENSION, LiveEngine, mapped_config
from impsy.io.websocket import WebSocketAdapter
from impsy.mapping.websocket import text_to_midi


def _unit(kind: str, values: np.ndarray, when: float) -> None:
    assert np.all((values >= 0.0) & (values <= 1.0)), f"decoded values outside [0, 1]: {values}"


class _Target:
    def __init__(self) -> None:
        config = mapped_config("websocket", server_port="5001")
        self.adapter = WebSocketAdapter(config.websocket, DIMENSION)
        self.live = LiveEngine([], mode="useronly")
        self.live.engine.add_observer(_unit)
        self.adapter.engine = self.live.engine  # message path only: no server socket


_target: _Target | None = None


def message_of(data: bytes) -> str | bytes:
    """The frame an input stands for: odd first byte binary, else UTF-8 text."""
    if data and data[0] & 1:
        return data[1:]
    return data[1:].decode("utf-8", errors="replace")


def one_input(data: bytes) -> None:
    global _target
    if _target is None:
        _target = _Target()
    message = message_of(data)
    live = _target.live
    _, bad_before = live.counts()
    live.feed(_target.adapter._received, message)
    if isinstance(message, bytes) or text_to_midi(message) is None:
        assert live.counts()[1] == bad_before + 1, f"bad message not counted: {message!r}"
