"""Serial CSV (``[serial]``) end to end over a real pseudo-terminal.

A pty pair is a real serial port: impsy opens the slave with pyserial, as it
would /dev/ttyACM0, and the test plays the micro:bit on the master side.
The configured port is a symlink in tmp_path: "unplugging" closes the pty
pair and removes the path (as the kernel removes /dev/ttyACM0), "plugging
back in" points the same path at a new pair.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from impsy.app import RunOptions, build_engine
from impsy.config import load_config_text
from impsy.engine import loop as impsy_loop
from impsy.io.serial.csv import LineSplitter, SerialCSVAdapter
from tests.paths import ROOT

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
GESTURE = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
LINE = b"0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8\n"
CSV_LINE = re.compile(rb"^\d\.\d{4}(,\d\.\d{4}){7}$")
FAST_RETRY = {"first_retry": 0.05, "max_retry": 0.2}


class PtyDevice:
    """The device end of a serial cable: a pty master; ``path`` links to its slave."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.master, self.slave = os.openpty()  # the slave stays open: no EIO on the master
        os.set_blocking(self.master, False)
        self.name = os.ttyname(self.slave)
        fresh = path.with_name(path.name + ".new")
        os.symlink(self.name, fresh)
        os.replace(fresh, path)  # atomically re-point the configured port
        self.received = bytearray()
        self._arrived = asyncio.Event()
        self._reading = False

    def listen(self) -> None:
        """Start collecting what impsy writes (leave it off to play a device that is stuck)."""
        asyncio.get_running_loop().add_reader(self.master, self._readable)
        self._reading = True

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:  # nothing waiting (EAGAIN)
            return
        self.received += data
        self._arrived.set()

    async def write(self, data: bytes) -> None:
        """Write everything, yielding while the line discipline is full (impsy reads it)."""
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.master, view) :]
            except BlockingIOError:
                await asyncio.sleep(0.001)

    def lines(self) -> list[bytes]:
        return bytes(self.received).split(b"\n")[:-1]

    async def wait_for(self, condition, timeout: float = 3.0) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while not condition():
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"device received only {bytes(self.received)!r}")
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    def unplug(self) -> None:
        """Pull the cable: impsy's end sees end-of-file. Safe to call twice."""
        if self.master < 0:
            return
        if self._reading:
            asyncio.get_running_loop().remove_reader(self.master)
            self._reading = False
        self._readable()  # keep what impsy wrote last (note-offs on shutdown)
        if os.path.islink(self.path) and os.readlink(self.path) == self.name:
            # The device node goes with the device, as /dev/ttyACM0 does: the pty
            # number is free for reuse and must not be reached through this path.
            os.unlink(self.path)
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = -1


class Bench:
    """The pty devices one test plugs in at the configured path, all unplugged at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.devices: list[PtyDevice] = []

    def plug(self) -> PtyDevice:
        device = PtyDevice(self.path)
        self.devices.append(device)
        return device

    @property
    def device(self) -> PtyDevice:
        return self.devices[-1]

    def unplug_all(self) -> None:
        for device in self.devices:
            device.unplug()


async def until(condition, timeout: float = 3.0) -> None:  # noqa: ANN001
    """Wait for something impsy does on its own (a reconnect), checking every 10 ms."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


def engine_config(mode: str, section: str, input_thru: bool = False) -> object:
    text = f"""
log_input = true
log_predictions = true
[interaction]
mode = "{mode}"
threshold = 0.15
input_thru = {str(input_thru).lower()}
[model]
dimension = 9
file = "{MODEL}"
timescale = 0.02
seed = 7
{section}
"""
    return load_config_text(text, "test.toml")


def run_with(config, make_adapter, scenario, tmp_path: Path, plug: bool = True):  # noqa: ANN001
    """impsy with one adapter on tmp_path/port; returns ``scenario(engine, adapter, bench)``."""

    async def main():  # noqa: ANN202
        bench = Bench(tmp_path / "port")
        if plug:
            bench.plug()
        engine = build_engine(config, RunOptions(logdir=tmp_path / "logs"))
        adapter = make_adapter(config, engine.dimension)
        await engine.start([adapter])
        try:
            return await scenario(engine, adapter, bench)
        finally:
            await engine.stop()
            bench.unplug_all()

    return impsy_loop.run(main())


def log_rows(tmp_path: Path) -> list[list[str]]:
    files = list((tmp_path / "logs").glob("*-9d-mdrnn.log"))
    if not files:
        return []
    return [line.split(",") for line in files[0].read_text().splitlines()]


def serial_section(tmp_path: Path) -> str:
    return f'[serial]\nport = "{tmp_path / "port"}"\nbaudrate = 115200\n'


def csv_adapter(config, dimension: int, **retry: float) -> SerialCSVAdapter:  # noqa: ANN001
    return SerialCSVAdapter(config.serial, dimension, **retry)


# --- the line splitter on its own -------------------------------------------


def test_line_splitter_joins_chunks_and_cuts_overlong_lines_once() -> None:
    splitter = LineSplitter(limit=10)
    assert splitter.feed(b"0.1,0") == ([], 0)
    assert splitter.feed(b".2\n0.3\n0.") == ([b"0.1,0.2", b"0.3"], 0)
    assert splitter.feed(b"x" * 20) == ([], 1)  # reported as soon as it passes the limit
    assert splitter.feed(b"y" * 50) == ([], 0)  # still the same line: not again, not kept
    assert splitter.feed(b"zz\n0.4\n") == ([b"0.4"], 0)


# --- over a real pty ----------------------------------------------------------


def test_csv_gestures_are_logged_and_predictions_come_back_as_csv_lines(tmp_path: Path) -> None:
    async def scenario(engine, adapter, bench):  # noqa: ANN001, ANN202
        device = bench.device
        device.listen()
        for _ in range(3):
            await device.write(LINE)
            await asyncio.sleep(0.03)
        await device.wait_for(lambda: len(device.lines()) >= 3)
        await asyncio.sleep(0.1)
        return device.lines(), engine.counters.bad_input

    config = engine_config("polyphony", serial_section(tmp_path))
    lines, bad = run_with(config, csv_adapter, scenario, tmp_path)
    assert bad == 0
    assert len(lines) == 3, "one prediction per gesture in polyphony"
    assert all(CSV_LINE.match(line) for line in lines), lines
    rows = log_rows(tmp_path)
    user = [row for row in rows if row[1] == "interface"]
    model = [row for row in rows if row[1] == "rnn"]
    assert len(user) == 3
    assert [float(v) for v in user[0][2:]] == pytest.approx(GESTURE)
    sent = [float(v) for line in lines for v in line.split(b",")]
    logged = [float(v) for row in model for v in row[2:]]
    assert sent == pytest.approx(logged, abs=5e-5), "what went out is what the model played"


def test_csv_output_has_four_decimals_and_input_accepts_crlf_and_spaces(tmp_path: Path) -> None:
    async def scenario(engine, adapter, bench):  # noqa: ANN001, ANN202
        device = bench.device
        device.listen()
        await device.write(b"0.1, 0.2 ,0.3,0.4,0.5,0.6,0.7,1\r\n\n")
        await device.wait_for(lambda: len(device.lines()) >= 1)
        return bytes(device.received), engine.counters.bad_input

    config = engine_config("useronly", serial_section(tmp_path), input_thru=True)
    received, bad = run_with(config, csv_adapter, scenario, tmp_path)
    assert received == b"0.1000,0.2000,0.3000,0.4000,0.5000,0.6000,0.7000,1.0000\n"
    assert bad == 0, "a CRLF ending and an empty line are not errors"


def test_csv_bad_lines_are_counted_never_logged_and_the_port_keeps_working(
    tmp_path: Path,
) -> None:
    async def scenario(engine, adapter, bench):  # noqa: ANN001, ANN202
        device = bench.device
        await device.write(b"\xff\xfe\x00garbage\x01\n")  # binary junk
        await device.write(b"0.1,0.2,0.3\n")  # wrong count
        await device.write(b"0.1,0.2,0.3,0.4,0.5,0.6,0.7,loud\n")  # not a number
        await device.write(b"0.1,0.2,0.3,0.4,0.5,0.6,0.7,nan\n")  # not a finite number
        await device.write(b"0.5," * 2000 + b"0.5\n")  # 8 KB: far too long for a line
        await device.write(LINE)
        await until(lambda: engine.counters.events_in == 1)
        await asyncio.sleep(0.05)
        return engine.counters.bad_input, engine.counters.events_in, adapter.link.connected

    config = engine_config("useronly", serial_section(tmp_path))
    bad, events, connected = run_with(config, csv_adapter, scenario, tmp_path)
    assert (bad, events, connected) == (5, 1, True)
    rows = log_rows(tmp_path)
    assert len(rows) == 1 and [float(v) for v in rows[0][2:]] == pytest.approx(GESTURE)


def test_csv_unplugged_port_is_reconnected_and_reported_once(tmp_path: Path, caplog) -> None:  # noqa: ANN001
    async def scenario(engine, adapter, bench):  # noqa: ANN001, ANN202
        device = bench.device
        device.listen()
        await device.write(LINE)
        await device.wait_for(lambda: len(device.lines()) == 1)  # input_thru echo
        device.unplug()
        await until(lambda: not adapter.link.connected)
        await asyncio.sleep(0.3)  # several retries against a dead path
        adapter.send(np.full(8, 0.5))  # output while unplugged: dropped, no error
        replugged = bench.plug()
        await until(lambda: adapter.link.connected)
        replugged.listen()
        await replugged.write(LINE)
        await replugged.wait_for(lambda: len(replugged.lines()) == 1)
        return engine.counters.events_in, adapter.link.connections, replugged.lines()

    config = engine_config("useronly", serial_section(tmp_path), input_thru=True)
    with caplog.at_level(logging.WARNING, logger="impsy"):
        events, connections, echoed = run_with(
            config, lambda c, d: csv_adapter(c, d, **FAST_RETRY), scenario, tmp_path
        )
    assert (events, connections) == (2, 2)
    assert echoed == [b"0.1000,0.2000,0.3000,0.4000,0.5000,0.6000,0.7000,0.8000"]
    assert len(log_rows(tmp_path)) == 2, "events after the reconnect are logged"
    messages = [r.getMessage() for r in caplog.records if r.name == "impsy"]
    assert sum("lost" in m for m in messages) == 1, messages
    assert sum("retrying" in m for m in messages) == 1, "one report per outage, not per retry"
    assert sum("is back" in m for m in messages) == 1


def test_csv_port_missing_at_start_up_is_opened_when_it_appears(tmp_path: Path, caplog) -> None:  # noqa: ANN001
    async def scenario(engine, adapter, bench):  # noqa: ANN001, ANN202
        waiting = adapter.describe()
        await asyncio.sleep(0.3)
        device = bench.plug()
        await until(lambda: adapter.link.connected)
        await device.write(LINE)
        await until(lambda: engine.counters.events_in == 1)
        return waiting

    config = engine_config("useronly", serial_section(tmp_path))
    with caplog.at_level(logging.WARNING, logger="impsy"):
        waiting = run_with(
            config, lambda c, d: csv_adapter(c, d, **FAST_RETRY), scenario, tmp_path, plug=False
        )
    assert "not connected yet" in waiting
    messages = [r.getMessage() for r in caplog.records if r.name == "impsy"]
    assert sum("cannot open" in m for m in messages) == 1, messages
    assert len(log_rows(tmp_path)) == 1


def test_csv_device_that_stops_reading_never_blocks_and_drops_whole_lines(
    tmp_path: Path,
) -> None:
    async def scenario(engine, adapter, bench):  # noqa: ANN001, ANN202
        device = bench.device
        values = np.full(8, 0.5)
        started = time.perf_counter()
        for i in range(3000):  # ~200 KB at a device that reads nothing
            values[0] = (i % 10) / 10
            adapter.send(values)
        elapsed = time.perf_counter() - started
        backlog = adapter.link.buffered
        device.listen()
        await asyncio.sleep(0.2)
        return elapsed, backlog, adapter.link.dropped, device.lines()

    config = engine_config("useronly", serial_section(tmp_path))
    elapsed, backlog, dropped, lines = run_with(config, csv_adapter, scenario, tmp_path)
    assert elapsed < 2.0, "sending must not wait for the device (it never reads: forever)"
    assert dropped > 0
    assert backlog <= 11520, "about one second of line time at 115200 baud, no more"
    assert len(lines) == 3000 - dropped
    assert all(CSV_LINE.match(line) for line in lines), "only whole lines are dropped"


# --- a device's latency (the model's playing sent early) ----------------------


def test_a_serial_latency_sends_the_models_events_that_much_before_they_are_due(
    tmp_path: Path,
) -> None:
    """``[serial] latency_ms``: the engine hands each scheduled event over when its deadline
    is fixed (``Adapter.send_ahead``, tested in tests/engine/test_send_ahead.py); the serial
    adapter writes it ``latency_ms`` before that deadline, and a withdrawn one never."""
    section = serial_section(tmp_path) + "latency_ms = 60\n"
    values = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])

    async def scenario(engine, adapter, bench):  # noqa: ANN001, ANN202
        device = bench.device
        device.listen()
        loop = asyncio.get_running_loop()
        withdrawn = adapter.send_ahead(values, loop.time() + 0.15)
        withdrawn.cancel()
        due = loop.time() + 0.2
        assert adapter.send_ahead(values, due) is not None
        await device.wait_for(lambda: len(device.lines()) >= 1)
        arrived = loop.time()
        late = adapter.send_ahead(values, loop.time() + 0.03)  # inside the latency: at once
        await device.wait_for(lambda: len(device.lines()) >= 2)
        await asyncio.sleep(0.1)
        return due - arrived, late, device.lines(), adapter.describe()

    config = engine_config("useronly", section)
    assert config.serial.latency_ms == 60
    early, late, lines, described = run_with(config, csv_adapter, scenario, tmp_path)
    assert 0.045 <= early <= 0.065, f"left {early * 1000:.1f} ms before it was due"
    assert late is None and len(lines) == 2, "the withdrawn event never left"
    assert lines[0] == b"0.1000,0.2000,0.3000,0.4000,0.5000,0.6000,0.7000,0.8000"
    assert "60 ms early" in described


@pytest.mark.parametrize("value", ["-1", "1001", '"20"', "true"])
def test_a_bad_serial_latency_names_the_key(tmp_path: Path, value: str) -> None:
    from impsy.config.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[serial\] latency_ms: expected milliseconds 0-1000"):
        engine_config("useronly", serial_section(tmp_path) + f"latency_ms = {value}\n")
