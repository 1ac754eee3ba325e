"""Comma-separated values over a serial port (``[serial]``): micro:bit, Arduino, Teensy.

IMPSY's wire format, both ways: one event per line, the ``dimension - 1``
values x_1..x_n as decimal numbers separated by commas, ending in ``\\n``.
Output is written with 4 decimals (``0.1234,0.5000,...\\n``), as IMPSY's
``f"{num:.4f}"`` does. Input also accepts ``\\r\\n`` (Arduino's ``println``)
and spaces around numbers; empty lines are skipped, as IMPSY skips them.

A line that is not exactly ``dimension - 1`` finite numbers, or that runs
past 4 KiB without a newline (a device sending binary, or the wrong baud
rate), is dropped and counted with ``engine.bad_input``: never logged,
never fatal. The first line after (re)connecting may be the tail of one the
device was half-way through, and is then counted like any other.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from impsy.io.serial.port import SerialAdapter

if TYPE_CHECKING:
    from impsy.config import SerialConfig

MAX_LINE_BYTES = 4096


class LineSplitter:
    """Cuts a byte stream into lines, whatever chunks it arrives in, with a length limit.

    An overlong line is reported once and skipped up to its newline, so the
    buffer never grows past ``limit`` however long the garbage goes on.
    """

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self.limit = limit
        self._partial = bytearray()
        self._skipping = False  # inside an overlong line, waiting for its end

    def reset(self) -> None:
        """Forget a half-received line (the device was reconnected)."""
        self._partial.clear()
        self._skipping = False

    def feed(self, data: bytes) -> tuple[list[bytes], int]:
        """The complete lines in ``data`` (without ``\\n``) and how many overlong ones were cut."""
        lines: list[bytes] = []
        overlong = 0
        *complete, rest = data.split(b"\n")
        for piece in complete:
            if self._skipping:  # the end of a line already reported
                self._skipping = False
                self._partial.clear()
                continue
            if self._partial:
                self._partial += piece
                piece = bytes(self._partial)
                self._partial.clear()
            if len(piece) > self.limit:
                overlong += 1
            else:
                lines.append(piece)
        if not self._skipping:
            self._partial += rest
            if len(self._partial) > self.limit:
                overlong += 1
                self._skipping = True
                self._partial.clear()
        return lines, overlong


def parse_line(line: bytes, count: int) -> list[float] | str:
    """The values on one line, or why it is bad (a short, fixed reason, so warnings group)."""
    fields = line.split(b",")
    if len(fields) != count:  # not the count found: the reason is the warning's rate-limit key
        return f"a line without exactly {count} values"
    try:
        values = [float(field) for field in fields]
    except ValueError:
        return "a line with something that is not a number"
    if not all(math.isfinite(value) for value in values):
        return "a line with nan or inf"
    return values


class CsvFormatter:
    """Formats x_1..x_n as one CSV line with 4 decimals, from a template built once."""

    def __init__(self, count: int) -> None:
        self._template = ",".join(["%.4f"] * count) + "\n"

    def format(self, values: np.ndarray) -> bytes:
        return (self._template % tuple(values.tolist())).encode("ascii")


class SerialCSVAdapter(SerialAdapter):
    """The ``[serial]`` section: dense gestures in, predictions out, as CSV lines."""

    name = "serial"

    def __init__(self, config: SerialConfig, dimension: int, **retry: float) -> None:
        self.config = config
        self.count = dimension - 1
        super().__init__(config.port, config.baudrate, config.latency_ms, **retry)
        self._lines = LineSplitter()
        self._formatter = CsvFormatter(self.count)

    def describe(self) -> str:
        return (
            f"serial CSV {self.config.port} at {self.config.baudrate} baud, "
            f"{self.count} values per line in and out{self._waiting_note()}"
        )

    def send(self, values: np.ndarray) -> None:
        self.link.write(self._formatter.format(values))

    def _connected(self) -> None:
        self._lines.reset()

    def _received(self, data: bytes) -> None:
        engine = self.engine
        assert engine is not None
        lines, overlong = self._lines.feed(data)
        for _ in range(overlong):
            engine.bad_input("serial", f"a line longer than {self._lines.limit} bytes")
        for line in lines:
            if not line.strip():
                continue
            parsed = parse_line(line, self.count)
            if isinstance(parsed, str):
                engine.bad_input("serial", parsed)
            else:
                engine.user_values(parsed, "serial")
