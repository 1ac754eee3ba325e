"""Nothing acknowledged is lost: kill -9, SIGTERM, and bursts the kernel drops.

- ``kill -9`` in the middle of a stream of gestures: every gesture whose
  ``input_thru`` echo reached the sender was in the log, because the engine
  writes (and flushes) the row before it echoes. The log then still parses
  with the dataset reader and ``impsy dataset``.
- SIGTERM during a MIDI run: the sounding notes get their note-offs on a
  real JACK port, the log is closed with every gesture in it, exit status 0.
- A flood in polyphony that the loop cannot keep up with sheds predictions
  (``shed_predictions``), never gestures.
- A burst larger than the OSC socket's receive buffer: what the kernel
  drops is counted in the status (``dropped_by_kernel``) and reported, so
  gestures received plus gestures dropped is exactly what was sent.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido
import numpy as np
from pythonosc.osc_message import OscMessage

import impsy.io.osc as osc_module
from impsy.app import RunOptions, build_engine
from impsy.config import load_config_text
from impsy.dataset.logs import read_log_file
from impsy.engine import loop as impsy_loop
from impsy.engine.commands import ENGINE_COMMANDS
from impsy.engine.table import CommandTable
from impsy.io.osc import OSCAdapter
from tests.cli.test_run import start, wait_for_line
from tests.io.test_midi_jack import MAPPING_9, sounding
from tests.osc_client import free_udp_port, osc_bytes
from tests.paths import ROOT

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
RATE = 1000  # gestures per second
KILL_AFTER_S = 2.0


def osc_config(server: int, client: int) -> str:
    return f"""
log_input = true
[interaction]
mode = "useronly"
input_thru = true
[model]
dimension = 9
[osc]
server_port = {server}
client_port = {client}
"""


def gesture(number: int) -> list[float]:
    """Eight values that name the gesture: thousands, then units, both in [0, 1)."""
    return [number // 1000 / 1000, number % 1000 / 1000] + [0.5] * 6


def number_of(values) -> int:  # noqa: ANN001 - a sequence of floats
    return round(float(values[0]) * 1000) * 1000 + round(float(values[1]) * 1000)


def only_log(folder: Path) -> Path:
    (path,) = folder.glob("*-9d-mdrnn.log")
    return path


class Sender(threading.Thread):
    """Plays ``RATE`` gestures a second on absolute deadlines; kills impsy mid-stream."""

    def __init__(self, sock: socket.socket, server: int, victim: subprocess.Popen) -> None:
        super().__init__(daemon=True)
        self.sock, self.server, self.victim = sock, server, victim
        self.sent = 0
        self.killed_at_sent = -1

    def run(self) -> None:
        begin = time.monotonic()
        while self.sent < RATE * (KILL_AFTER_S + 0.2):
            due = begin + self.sent / RATE
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if self.killed_at_sent < 0 and self.sent >= RATE * KILL_AFTER_S:
                self.victim.send_signal(signal.SIGKILL)  # mid-stream, nothing graceful
                self.killed_at_sent = self.sent
            try:
                self.sock.sendto(osc_bytes("/interface", *gesture(self.sent)), self.server)
            except ConnectionRefusedError:
                pass  # ICMP from the dead server's port: keep playing regardless
            self.sent += 1


def test_kill_9_keeps_every_gesture_whose_echo_was_received(tmp_path):
    server, client = free_udp_port(), free_udp_port()
    config = tmp_path / "config.toml"
    config.write_text(osc_config(server, client))
    logs = tmp_path / "logs"
    proc = start(["run", "-c", str(config), "--no-model", "-l", str(logs)], tmp_path)
    wait_for_line(proc, "listening")
    echoed: list[int] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", client))
        sock.settimeout(0.3)
        sender = Sender(sock, ("127.0.0.1", server), proc)
        sender.start()
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                if not sender.is_alive():
                    break
                continue
            except ConnectionRefusedError:
                continue
            echoed.append(number_of(OscMessage(data).params))
        sender.join()
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert sender.killed_at_sent >= RATE * KILL_AFTER_S
    assert len(echoed) > RATE, "impsy echoed the stream before it was killed"

    path = only_log(logs)
    rows = [line.split(",") for line in path.read_text().splitlines()]
    logged = [number_of([float(v) for v in row[2:4]]) for row in rows]
    missing = sorted(set(echoed) - set(logged))
    assert not missing, f"{len(missing)} acknowledged gestures are not in the log: {missing[:10]}"
    assert logged == sorted(logged), "rows are in the order the gestures were sent"
    parsed = read_log_file(path, 9)
    assert parsed.skipped == {}, "no half-written row"
    assert len(parsed.rows) == len(rows) - 1  # the first row only gives the starting time
    dataset = subprocess.run(
        [sys.executable, "-m", "impsy", "dataset", "-D", "9", "-S", str(logs), "-O", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert dataset.returncode == 0, dataset.stdout + dataset.stderr
    with np.load(tmp_path / "training-dataset-9d.npz", allow_pickle=True) as archive:
        (performance,) = archive["perfs"]
    assert performance.shape == (len(rows) - 1, 9)


def test_sigterm_in_a_midi_run_sends_note_offs_closes_the_log_and_exits_zero(jack, tmp_path):
    keys, synth = jack.controller("term-keys"), jack.synth("term-synth")
    mapping = str(MAPPING_9).replace("'", '"')
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
log_input = true
[interaction]
mode = "useronly"
input_thru = true
[model]
dimension = 9
[midi]
in_device = ["term-keys"]
out_device = ["term-synth"]
input."term-keys" = {mapping}
output."term-synth" = {mapping}
"""
    )
    proc = start(["run", "-c", str(config), "--no-model", "-l", str(tmp_path / "logs")], tmp_path)
    try:
        wait_for_line(proc, "listening")
        # JACK applies new connections a period or more later: play until the echo arrives.
        note, deadline = 30, time.monotonic() + 10
        while not any(m[0] & 0xF0 == 0x90 and m[2] > 0 for m in synth.received()):
            assert time.monotonic() < deadline, "impsy never echoed a note to the synth"
            note += 1
            keys.send(mido.Message("note_on", note=note, velocity=100))
            time.sleep(0.05)
        time.sleep(0.2)  # the echoes of the last few notes
        held = sounding(synth.received())
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert held == {(0, note)}, "the echo of the last note is sounding before SIGTERM"
    assert sounding(synth.settled()) == set(), "SIGTERM released it"
    assert synth.messages[-1] == [0x80, note, 0]
    stopped = next(line for line in out.splitlines() if line.startswith("impsy: stopped after"))
    path = only_log(tmp_path / "logs")
    rows = path.read_text().splitlines()
    assert stopped.endswith(f"{len(rows)} log rows"), (stopped, len(rows))
    assert round(float(rows[-1].split(",")[2]) * 127) == note, "the last gesture is logged"
    assert read_log_file(path, 9).skipped == {}


def test_a_burst_larger_than_the_receive_buffer_is_counted_not_silent(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(osc_module, "RECEIVE_BUFFER_BYTES", 4096)  # the kernel's minimum-ish
    server, client = free_udp_port(), free_udp_port()
    config = load_config_text(osc_config(server, client), "burst.toml")
    burst = 2000

    async def main() -> tuple[dict, int]:
        engine = build_engine(config, RunOptions(logdir=tmp_path))
        commands = CommandTable()
        commands.register(ENGINE_COMMANDS, engine)
        adapter = OSCAdapter(config.osc, engine.dimension, commands)
        await engine.start([adapter])
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind(("127.0.0.1", client))
                # The loop is busy here, as on a stalled machine: nothing is read meanwhile.
                for number in range(burst):
                    sock.sendto(osc_bytes("/interface", *gesture(number)), ("127.0.0.1", server))
                sock.setblocking(False)
                loop = asyncio.get_running_loop()
                await asyncio.sleep(0.1)  # impsy reads what the kernel kept
                await loop.sock_sendto(sock, osc_bytes("/impsy/status"), ("127.0.0.1", server))
                while True:  # skip the echoes, up to the status reply
                    message = OscMessage(await asyncio.wait_for(loop.sock_recv(sock, 65536), 5))
                    if message.address == "/impsy/status":
                        break
            status = dict(zip(message.params[::2], message.params[1::2], strict=True))
            return status, adapter.receive_buffer
        finally:
            await engine.stop()

    with caplog.at_level(logging.WARNING, logger="impsy"):
        status, buffer = impsy_loop.run(main())
    assert buffer < 64 * 1024, "the test's small buffer was used"
    assert status["dropped_by_kernel"] > 0
    assert status["events_in"] + status["dropped_by_kernel"] == burst
    warnings = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 1 and f"{status['dropped_by_kernel']} so far" in warnings[0]


def test_a_flood_in_polyphony_sheds_predictions_never_gestures(tmp_path, caplog):
    server, client = free_udp_port(), free_udp_port()
    text = osc_config(server, client).replace('"useronly"', '"polyphony"')
    text = text.replace("[model]\n", f'[model]\nfile = "{MODEL}"\ntimescale = 0.001\n')
    config = load_config_text(text.replace("input_thru = true", "input_thru = false"), "f.toml")

    async def main() -> dict:
        engine = build_engine(config, RunOptions(logdir=tmp_path, threaded_model=False))
        commands = CommandTable()
        commands.register(ENGINE_COMMANDS, engine)
        adapter = OSCAdapter(config.osc, engine.dimension, commands)
        await engine.start([adapter])
        # Well within the buffer the OS granted (~1 KB a datagram in kernel memory; 8 MB
        # where net.core.rmem_max allows, 416 KB by default), far beyond BACKLOG_ON of it.
        flood = adapter.receive_buffer // 2048
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind(("127.0.0.1", client))
                for number in range(flood):  # queued by the kernel while the loop is busy
                    sock.sendto(osc_bytes("/interface", *gesture(number)), ("127.0.0.1", server))
                while engine.counters.events_in < flood:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.2)  # the once-a-second check ends a backlog left over
                return {
                    **engine.status(),
                    "backlogged_after": engine.input_backlogged,
                    "flood": flood,
                }
        finally:
            await engine.stop()

    with caplog.at_level(logging.WARNING, logger="impsy"):
        status = impsy_loop.run(main())
    flood = status["flood"]
    assert status["events_in"] == flood and status["log_rows"] == flood, "no gesture lost"
    assert status["dropped_by_kernel"] == 0
    assert status["shed_predictions"] > 0, "the backlog was noticed"
    assert status["predictions"] + status["shed_predictions"] == flood
    assert status["predictions"] > 0, "gestures before the backlog built up were answered"
    assert not status["backlogged_after"], "answering resumes once the backlog is read"
    assert any("faster than impsy can answer" in r.getMessage() for r in caplog.records)
