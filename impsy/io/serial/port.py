"""A serial device read and written through the event loop, reopened when it comes back.

Both serial adapters (CSV and MIDI) need the same things from a port, and
IMPSY gets each of them wrong in a way a performer notices:

- **No polling.** pyserial opens and configures the device (baud rate, raw
  mode) and always opens it non-blocking; its file descriptor is then handed
  to ``loop.add_reader``, so bytes are read the moment they arrive and an
  idle port costs nothing. IMPSY polls ``in_waiting`` from its main loop.
  This needs a POSIX system, and a selector that accepts tty descriptors:
  impsy's loop uses ``select()``, which does (macOS's kqueue would not).
- **Writes never block the loop.** A write goes straight to the descriptor;
  what the device cannot take yet waits in a small buffer drained by
  ``loop.add_writer``. That buffer holds about one second of line time
  (``baudrate / 10`` bytes, at least 1 KiB); a message that would overflow
  it is dropped whole (so a MIDI stream stays well-formed) and counted, with
  a rate-limited warning. Stale notes are worth less than a stalled engine,
  and pyserial's blocking ``write`` would stall it for as long as the
  device does.
- **Unplugging is survivable.** A missing port, or one that disappears
  (read error or end of file), is reopened in the background after 0.5 s,
  then every second, and the outage is reported once when it starts and
  once when it ends. A device that comes back is working again within a
  second, however long it was away (a failed open costs microseconds, so a
  longer back-off would save nothing). IMPSY retries on every output, about
  a hundred times a second, printing each failure.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import serial

from impsy.clock import Handle
from impsy.engine.ports import Adapter
from impsy.errors import ImpsyError
from impsy.ratelimit import RateLimitedWarning

if TYPE_CHECKING:
    from impsy.engine.core import Engine

log = logging.getLogger("impsy")

FIRST_RETRY_S = 0.5
MAX_RETRY_S = 1.0
READ_CHUNK = 65536
MIN_BUFFERED = 1024


def describe_error(err: BaseException) -> str:
    """The OS's words for why a port failed, without pyserial's repeated prefixes."""
    errno = getattr(err, "errno", None)
    if isinstance(errno, int):
        return os.strerror(errno)
    return str(err) or type(err).__name__


class SerialLink:
    """One serial device: bytes in through ``on_data``, bytes out through ``write``.

    ``on_connect`` runs after every successful open (the first included), so
    an adapter can drop half-parsed input from a previous connection and
    re-send state the device may have lost while unplugged.
    """

    def __init__(
        self,
        path: str,
        baudrate: int,
        label: str,
        on_data: Callable[[bytes], None],
        on_connect: Callable[[], None] | None = None,
        *,
        first_retry: float = FIRST_RETRY_S,
        max_retry: float = MAX_RETRY_S,
    ) -> None:
        self.path = path
        self.baudrate = baudrate
        self.label = label
        self.max_buffered = max(MIN_BUFFERED, baudrate // 10)
        self.dropped = 0
        """Output messages dropped because the device was not taking them fast enough."""
        self.connections = 0
        """Successful opens so far; more than one means it was reconnected."""
        self._on_data = on_data
        self._on_connect = on_connect
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._delay = first_retry
        self._loop: asyncio.AbstractEventLoop | None = None
        self._serial: serial.Serial | None = None
        self._fd = -1
        self._out = bytearray()
        self._drained: asyncio.Future[None] | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._opened_at = 0.0
        self._outage = False  # a failure was reported and recovery not yet
        self._closed = False
        self._warn = RateLimitedWarning()

    @property
    def connected(self) -> bool:
        return self._serial is not None

    @property
    def buffered(self) -> int:
        """Output bytes waiting for the device to take them."""
        return len(self._out)

    # ------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Try the port now; if it is not there, keep trying in the background.

        Never raises for a missing or busy port: a controller plugged in
        after start-up should just start working, as with IMPSY.
        """
        if sys.platform == "win32":
            raise ImpsyError(f"[{self.label}] needs a POSIX system (Linux, macOS)")
        self._loop = asyncio.get_running_loop()
        self._closed = False
        if not self._try_open():
            self._schedule_retry()

    async def close(self, drain_timeout: float = 0.5) -> None:
        """Flush what is buffered (note-offs, usually) for up to ``drain_timeout``, then close."""
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._out and self._serial is not None:
            assert self._loop is not None
            self._drained = self._loop.create_future()
            try:
                await asyncio.wait_for(self._drained, drain_timeout)
            except TimeoutError:
                log.warning("%s: %s did not take the last output in time", self.label, self.path)
        self._teardown()

    # ---------------------------------------------------------------- output
    def write(self, data: bytes, force: bool = False) -> bool:
        """Queue ``data`` without blocking; False if it was dropped.

        ``force`` ignores the buffer limit, for the few bytes that must
        arrive whatever the backlog (note-offs).
        """
        if self._serial is None or not data:
            return False
        if self._out:
            if not force and len(self._out) + len(data) > self.max_buffered:
                self.dropped += 1
                self._warn.warn(
                    "full",
                    f"{self.label}: {self.path} is not taking output fast enough; "
                    f"dropped output ({self.dropped} so far)",
                )
                return False
            self._out += data
            return True
        try:
            sent = os.write(self._fd, data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as err:
            self._lost(describe_error(err))
            return False
        if sent < len(data):
            self._out += data[sent:]
            assert self._loop is not None
            self._loop.add_writer(self._fd, self._writable)
        return True

    def _writable(self) -> None:
        try:
            sent = os.write(self._fd, self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:
            self._lost(describe_error(err))
            return
        del self._out[:sent]
        if not self._out:
            assert self._loop is not None
            self._loop.remove_writer(self._fd)
            if self._drained is not None and not self._drained.done():
                self._drained.set_result(None)

    # ----------------------------------------------------------------- input
    def _readable(self) -> None:
        try:
            data = os.read(self._fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:
            self._lost(describe_error(err))
            return
        if not data:  # readable yet empty: the device is gone (USB unplugged, pty closed)
            self._lost("the device went away")
            return
        self._on_data(data)

    # ------------------------------------------------------------ connection
    def _try_open(self) -> bool:
        assert self._loop is not None
        try:
            port = serial.Serial(self.path, self.baudrate, timeout=0, write_timeout=0)
        except (serial.SerialException, OSError, ValueError) as err:
            self._report_failure(f"cannot open {self.path}: {describe_error(err)}")
            return False
        self._serial = port
        self._fd = port.fileno()
        self._out.clear()
        self._opened_at = self._loop.time()
        self._loop.add_reader(self._fd, self._readable)
        self.connections += 1
        if self._outage:
            log.warning("%s: %s is back, reconnected", self.label, self.path)
            self._outage = False
        if self._on_connect is not None:
            self._on_connect()
        return True

    def _report_failure(self, message: str) -> None:
        if not self._outage:
            log.warning("%s: %s; retrying in the background", self.label, message)
            self._outage = True

    def _lost(self, reason: str) -> None:
        """The device failed mid-performance: close it and start reconnecting."""
        assert self._loop is not None
        lasted = self._loop.time() - self._opened_at
        self._teardown()
        if self._closed:
            return
        self._report_failure(f"lost {self.path} ({reason})")
        if lasted >= self._max_retry:
            # It had been working: start again from the shortest delay. A device
            # that drops out within seconds of every reopen keeps the grown one.
            self._delay = self._first_retry
        self._schedule_retry()

    def _teardown(self) -> None:
        port, self._serial = self._serial, None
        if port is None:
            return
        assert self._loop is not None
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        self._out.clear()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        try:
            port.close()
        except (OSError, serial.SerialException):
            pass  # already gone: nothing left to release
        self._fd = -1

    def _schedule_retry(self) -> None:
        assert self._loop is not None
        delay = self._delay
        self._delay = min(self._delay * 2, self._max_retry)
        self._retry = self._loop.call_later(delay, self._retry_now)

    def _retry_now(self) -> None:
        self._retry = None
        if not self._closed and self._serial is None and not self._try_open():
            self._schedule_retry()


class SerialAdapter(Adapter):
    """What both serial adapters share: one :class:`SerialLink`, opened by ``start``.

    Subclasses say what bytes mean (``_received``) and what a fresh
    connection needs (``_connected``); the link's lifecycle lives here once.
    """

    def __init__(self, port: str, baudrate: int, latency_ms: float = 0.0, **retry: float) -> None:
        self.engine: Engine | None = None
        self.link = SerialLink(port, baudrate, self.name, self._received, self._connected, **retry)
        self.ahead_s = latency_ms / 1000
        """``latency_ms``: the model's scheduled events leave this long before they are due,
        so a device that takes that long to sound them sounds them on time (0: off)."""

    def send_ahead(self, values: np.ndarray, due: float) -> Handle | None:
        """An event of the model's due at ``due`` (the loop's clock), written ``ahead_s``
        before it, or at once when that has passed; the handle withdraws it while it waits."""
        loop = asyncio.get_running_loop()
        leave = due - self.ahead_s
        if leave <= loop.time():
            self.send(values)
            return None
        return loop.call_at(leave, self.send, values)

    async def start(self, engine: Engine) -> None:
        self.engine = engine
        self.link.open()

    async def stop(self) -> None:
        await self.link.close()

    def health(self) -> dict[str, object]:
        """Open, or waiting while the port is missing (retried in the background)."""
        state = "open" if self.link.connected else "waiting"
        return {**super().health(), "state": state, "dropped": self.link.dropped}

    def _waiting_note(self) -> str:
        """The start-up line's note (an early send; while the port is missing, the retries)."""
        early = f", {self.ahead_s * 1000:g} ms early" if self.ahead_s > 0 else ""
        waiting = "" if self.link.connected else " (not connected yet: retrying in the background)"
        return early + waiting

    def _connected(self) -> None:
        """A port (re)opened: reset whatever half-read state the last one left."""

    def _received(self, data: bytes) -> None:
        raise NotImplementedError
