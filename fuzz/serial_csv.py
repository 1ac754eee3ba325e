"""Serial CSV lines (``[serial]``) into ``SerialCSVAdapter``, read by read.

Each input is a byte stream from the device, cut into reads of varying size
(``harness.chunks``) and handed to the adapter's read callback as the serial
link does. The adapter starts each input freshly connected.

Invariants: nothing raises; the line buffer never holds more than its limit
(bounded memory whatever the device sends); every non-blank complete line,
and every overlong one, changes ``events_in`` or ``bad_input``; gestures are
finite (the harness's observer).
"""

from __future__ import annotations

from fuzz.harness import DIMENSION, LiveEngine
from impsy.config import SerialConfig
from impsy.io.serial.csv import SerialCSVAdapter


class _Target:
    def __init__(self) -> None:
        self.adapter = SerialCSVAdapter(SerialConfig(port="/nonexistent/fuzz-tty"), DIMENSION)
        self.live = LiveEngine([], mode="useronly")
        self.adapter.engine = self.live.engine  # read path only: the port is never opened

    def read(self, data: bytes) -> None:
        splitter = self.adapter._lines
        lines = data.split(b"\n")[:-1]  # the complete lines this read ends
        if lines and splitter._skipping:
            lines = lines[1:]  # the tail of an overlong line, already counted
        elif lines:
            lines[0] = bytes(splitter._partial) + lines[0]
        before = sum(self.live.counts())
        self.adapter._received(data)
        assert len(splitter._partial) <= splitter.limit, "the line buffer grew past its limit"
        if any(line.strip() for line in lines):
            assert sum(self.live.counts()) > before, f"lines neither used nor counted: {data!r}"


_target: _Target | None = None


def one_input(data: bytes) -> None:
    global _target
    if _target is None:
        _target = _Target()
    _target.adapter._connected()  # a fresh connection: no half line from the last input
    _target.live.feed_reads(_target.read, data)
