"""Devices unplugged and plugged back in during a real ``impsy run``.

One ``impsy run`` process reads a JACK MIDI controller and a serial CSV
device at once. Both are removed mid-performance and come back under the
same names after ``OUTAGE_S``, longer than any of impsy's early retries.
impsy must keep running, pick both up again within 2 s of their return,
and log gestures from before and after the outage.

What is real and what is simulated:

- MIDI: the controller is a separate JACK client (``tests/jack.py``);
  closing it removes its port from the JACK graph exactly as unplugging a
  USB keyboard removes its port (the server is the same, only the client
  goes), and a new client with the same name is the keyboard plugged back.
- Serial: the configured port is a symlink to a pty's slave, as
  ``/dev/ttyACM0`` is a device node. Unplugging closes both ends of the pty
  (impsy reads end-of-file or EIO, as from a vanished USB serial device)
  and removes the path; plugging back points the same path at a new pty.
  A pty cannot be "removed" while impsy holds it open, so the kernel's
  removal of the node and hang-up of the open descriptor is played by these
  two steps.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import mido

from tests.cli.test_run import start, wait_for_line
from tests.io.test_midi_jack import MAPPING_9
from tests.io.test_serial_csv import PtyDevice

OUTAGE_S = 4.0
RECONNECT_S = 2.0
SERIAL_BASE = 0.5  # serial gestures have x_1 >= 0.5; MIDI notes 1..50 give x_1 < 0.4


class Output(threading.Thread):
    """Collects impsy's output lines as they come (nothing may block its pipe)."""

    def __init__(self, stream) -> None:  # noqa: ANN001 - a text stream
        super().__init__(daemon=True)
        self.stream, self.lines = stream, []

    def run(self) -> None:
        for line in self.stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)


class Log:
    """The run's log file, read again on each question (it is flushed row by row)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def first_values(self) -> list[float]:
        files = list(self.folder.glob("*-9d-mdrnn.log"))
        if not files:
            return []
        return [float(line.split(",")[2]) for line in files[0].read_text().splitlines()]

    def midi_notes(self) -> set[int]:
        return {round(v * 127) for v in self.first_values() if v < SERIAL_BASE}

    def serial_numbers(self) -> set[int]:
        return {round((v - SERIAL_BASE) * 1000) for v in self.first_values() if v >= SERIAL_BASE}


class Serial(PtyDevice):
    """A pty device written from plain code (the test has no event loop)."""

    def write_now(self, data: bytes) -> None:
        os.write(self.master, data)


def serial_line(number: int) -> bytes:
    return (f"{SERIAL_BASE + number / 1000:.3f}," + ",".join(["0.25"] * 7) + "\n").encode()


def play_until_logged(log: Log, keys, device: Serial, first_note: int, first_number: int):  # noqa: ANN001, ANN201
    """Send a note and a serial line every 50 ms until one of each is logged; returns when."""
    started = time.monotonic()
    midi_at = serial_at = None
    note, number = first_note, first_number
    while midi_at is None or serial_at is None:
        assert time.monotonic() - started < 10, "nothing got through in 10 s"
        if midi_at is None:
            keys.send(mido.Message("note_on", note=note, velocity=100))
            note += 1
        if serial_at is None:
            device.write_now(serial_line(number))
            number += 1
        time.sleep(0.05)
        if midi_at is None and log.midi_notes() & set(range(first_note, note)):
            midi_at = time.monotonic() - started
        if serial_at is None and log.serial_numbers() & set(range(first_number, number)):
            serial_at = time.monotonic() - started
    return midi_at, serial_at


def test_midi_and_serial_devices_removed_and_restored_during_a_run(jack, tmp_path):
    port = tmp_path / "port"
    device = Serial(port)
    keys = jack.controller("fault-keys")
    mapping = str(MAPPING_9).replace("'", '"')
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
log_input = true
[interaction]
mode = "useronly"
[model]
dimension = 9
[midi]
in_device = ["fault-keys"]
out_device = []
input."fault-keys" = {mapping}
[serial]
port = "{port}"
baudrate = 115200
"""
    )
    log = Log(tmp_path / "logs")
    proc = start(["run", "-c", str(config), "--no-model", "-l", str(log.folder)], tmp_path)
    output = Output(proc.stdout)
    try:
        wait_for_line(proc, "listening")
        output.start()
        play_until_logged(log, keys, device, first_note=1, first_number=1)
        before_midi, before_serial = log.midi_notes(), log.serial_numbers()

        jack.close(keys)  # both unplugged
        device.unplug()
        time.sleep(OUTAGE_S)
        still_running = proc.poll() is None
        keys = jack.controller("fault-keys")  # both plugged back in
        device = Serial(port)
        midi_took, serial_took = play_until_logged(
            log, keys, device, first_note=30, first_number=500
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        output.join(timeout=5)
        device.unplug()
    text = output.text()
    assert proc.returncode == 0, text
    assert still_running, "impsy survived the outage"
    assert "Traceback" not in text, text
    assert "disappeared" in text and "lost" in text, "both outages were reported"
    assert midi_took < RECONNECT_S, f"MIDI reconnected {midi_took:.2f} s after its return"
    assert serial_took < RECONNECT_S, f"serial reconnected {serial_took:.2f} s after its return"
    assert before_midi and before_serial, "gestures before the outage were logged"
    assert log.midi_notes() - before_midi and log.serial_numbers() - before_serial, (
        "gestures after the outage were logged"
    )
    assert before_midi <= log.midi_notes() and before_serial <= log.serial_numbers()
