"""Round trips through the serial CSV, serial MIDI and WebSocket adapters.

Run from the repository root::

    .venv/bin/python benchmarks/serial_websocket.py             # 2000 gestures per transport
    .venv/bin/python benchmarks/serial_websocket.py --count 500

impsy runs in a child process (its own event loop, the one ``impsy run``
uses) with the bundled dimension-9 ``.tflite`` model in polyphony mode and
a timescale of 1e-6, so the model's scheduled wait (dt x timescale) is a
few microseconds at most and the time measured is impsy's: reading,
parsing, one prediction, encoding and writing. This process plays the
controller, timing each gesture from the write that sends it to the
arrival of the answer:

- serial CSV: a line written to a pty master; the answer is the next line
  read back (the port is the pty's slave, opened by pyserial as a real one);
- serial MIDI: a note-on written to a pty master; the answer is the next
  note-on read back;
- WebSocket: a ``/channel/1/noteon/...`` text from an asyncio ``websockets`` client;
  the answer is the first message of the broadcast that follows.

Each gesture waits for its answer before the next is sent. The first 200
are not timed. Prints a markdown table: median and 99th percentile, in µs.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import select
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from results import record
from tables import markdown_table
from wire import HOST, free_tcp_port

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
CCS = ", ".join(f'["control_change", 1, {n}]' for n in range(1, 8))
MAPPING = f'[["note_on", 1], {CCS}]'
WARMUP = 200


def config_text(section: str) -> str:
    return f"""
log_input = true
[interaction]
mode = "polyphony"
[model]
dimension = 9
file = "{MODEL}"
timescale = 0.000001
seed = 1
{section}
"""


def serve(kind: str, section: str, logdir: str, ready, stop) -> None:  # noqa: ANN001
    """The child: impsy with one adapter (or an echo, ``kind`` "echo-..."), until ``stop``."""
    sys.path.insert(0, str(ROOT))
    from impsy.app import RunOptions, build_engine
    from impsy.config import load_config_text
    from impsy.engine import loop as impsy_loop

    async def main() -> None:
        config = load_config_text(config_text(section), f"{kind}.toml")
        if kind.startswith("echo"):
            closer = await start_echo(kind, config)
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)
            await closer()
            return
        engine = build_engine(config, RunOptions(logdir=Path(logdir)))
        if kind == "serial":
            from impsy.io.serial.csv import SerialCSVAdapter

            adapter = SerialCSVAdapter(config.serial, engine.dimension)
        elif kind == "serialmidi":
            from impsy.io.serial.midi import SerialMidiAdapter

            adapter = SerialMidiAdapter(config.serialmidi, engine.dimension)
        else:
            from impsy.io.websocket import WebSocketAdapter

            adapter = WebSocketAdapter(config.websocket, engine.dimension)
        await engine.start([adapter])
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await engine.stop()

    impsy_loop.run(main())


async def start_echo(kind: str, config):  # noqa: ANN001, ANN201
    """The floor: the same transport on the same loop, echoing instead of predicting."""
    if kind == "echo-serial":
        import serial

        port = serial.Serial(config.serial.port, config.serial.baudrate, timeout=0)
        loop = asyncio.get_running_loop()
        loop.add_reader(
            port.fileno(), lambda: os.write(port.fileno(), os.read(port.fileno(), 4096))
        )

        async def close() -> None:
            loop.remove_reader(port.fileno())
            port.close()

        return close
    from websockets.asyncio.server import serve as ws_serve

    async def echo(connection) -> None:  # noqa: ANN001
        async for message in connection:
            await connection.send(message)

    ws = config.websocket
    server = await ws_serve(echo, ws.server_ip, ws.server_port, compression=None)

    async def close_server() -> None:
        server.close()
        await server.wait_closed()

    return close_server


class Child:
    """impsy in a spawned process, started and stopped around one measurement."""

    def __init__(self, kind: str, section: str, logdir: str) -> None:
        context = mp.get_context("spawn")
        self.ready, self.stop_event = context.Event(), context.Event()
        self.process = context.Process(
            target=serve, args=(kind, section, logdir, self.ready, self.stop_event)
        )

    def __enter__(self) -> Child:
        self.process.start()
        if not self.ready.wait(60):
            raise RuntimeError("impsy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.process.join(10)


def gestures(count: int) -> np.ndarray:
    """Distinct, plausible gestures: slow sine sweeps, one phase per value."""
    i = np.arange(count)[:, None]
    return 0.5 + 0.45 * np.sin(i * 0.07 + np.arange(8)[None, :])


def read_until(fd: int, buffer: bytearray, done) -> None:  # noqa: ANN001
    while not done(buffer):
        select.select([fd], [], [], 5.0)
        buffer += os.read(fd, 65536)


def serial_round_trips(count: int, logdir: str, echo: bool = False) -> list[float]:
    master, slave = os.openpty()
    kind = "echo-serial" if echo else "serial"
    with Child(kind, f'[serial]\nport = "{os.ttyname(slave)}"\n', logdir):
        times = []
        buffer = bytearray()
        for values in gestures(count + WARMUP):
            line = (",".join(f"{v:.4f}" for v in values) + "\n").encode()
            started = time.perf_counter()
            os.write(master, line)
            read_until(master, buffer, lambda b: b"\n" in b)
            times.append(time.perf_counter() - started)
            del buffer[: buffer.index(b"\n") + 1]
    os.close(master)
    os.close(slave)
    return times[WARMUP:]


def midi_round_trips(count: int, logdir: str) -> list[float]:
    from impsy.mapping.midi import MidiStreamParser

    master, slave = os.openpty()
    section = f'[serialmidi]\nport = "{os.ttyname(slave)}"\ninput = {MAPPING}\noutput = {MAPPING}\n'
    parser = MidiStreamParser()
    with Child("serialmidi", section, logdir):
        times = []
        for values in gestures(count + WARMUP):
            message = bytes([0x90, int(values[0] * 127), 100])
            started = time.perf_counter()
            os.write(master, message)
            while True:
                select.select([master], [], [], 5.0)
                answer = parser.feed(os.read(master, 65536))
                if any(m[0] == 0x90 for m in answer):
                    break
            times.append(time.perf_counter() - started)  # CCs still to come are skipped
    os.close(master)
    os.close(slave)
    return times[WARMUP:]


def websocket_round_trips(count: int, logdir: str, echo: bool = False) -> list[float]:
    port = free_tcp_port()
    section = (
        f'[websocket]\nserver_ip = "{HOST}"\nserver_port = {port}\n'
        f"input = {MAPPING}\noutput = {MAPPING}\n"
    )
    with Child("echo-websocket" if echo else "websocket", section, logdir):
        return asyncio.run(_websocket_client(port, count))


async def _websocket_client(port: int, count: int) -> list[float]:
    from websockets.asyncio.client import connect

    times = []
    async with connect(f"ws://{HOST}:{port}", compression=None, proxy=None) as client:
        for values in gestures(count + WARMUP):
            text = f"/channel/1/noteon/{int(values[0] * 127)}/100"
            started = time.perf_counter()
            await client.send(text)
            await asyncio.wait_for(client.recv(), 5)
            times.append(time.perf_counter() - started)
            try:
                while True:  # the rest of this answer's broadcast
                    await asyncio.wait_for(client.recv(), 0.002)
            except TimeoutError:
                pass
    return times[WARMUP:]


def summary(name: str, times: list[float]) -> tuple[str, ...]:
    """One table row: median, p99 and max in µs, and how many gestures."""
    us = np.asarray(times) * 1e6
    return (
        name,
        f"{np.median(us):,.0f}",
        f"{np.percentile(us, 99):,.0f}",
        f"{us.max():,.0f}",
        str(len(us)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="timed gestures per transport")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    rows = []
    medians = []
    with tempfile.TemporaryDirectory() as logdir:
        for name, measure in (
            ("serial CSV (pty), line in -> line out", serial_round_trips),
            ("serial MIDI (pty), note-on in -> note-on out", midi_round_trips),
            ("WebSocket, noteon text in -> first message out", websocket_round_trips),
        ):
            times = measure(args.count, logdir)
            rows.append(summary(name, times))
            medians.append(float(np.median(times)) * 1e6)
        for name, measure in (
            ("floor: pty echo on the same loop (CSV line)", serial_round_trips),
            ("floor: WebSocket echo server, same client", websocket_round_trips),
        ):
            times = measure(args.count, logdir, echo=True)
            rows.append(summary(name, times))
            medians.append(float(np.median(times)) * 1e6)
    serial_floor, websocket_floor = medians[3], medians[4]
    for measure, median, floor in (
        ("serial CSV round trip (pty), median", medians[0], serial_floor),
        ("serial MIDI round trip (pty), median", medians[1], serial_floor),
        ("WebSocket round trip, median", medians[2], websocket_floor),
    ):
        record(measure, median, "µs", note=f"echo floor {floor:,.0f} µs")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"- machine: {os.cpu_count()} cores, {platform.platform()}, Python {sys.version.split()[0]}"
    )
    print(f"- load average at the end: {load}; polyphony, timescale 1e-6, {args.count} gestures")
    print()
    header = ("round trip", "median µs", "p99 µs", "max µs", "gestures")
    for line in markdown_table(header, rows, align="lrrrr"):
        print(line)


if __name__ == "__main__":
    main()
