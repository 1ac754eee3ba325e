"""Serial MIDI (``[serialmidi]``) end to end over a real pseudo-terminal.

The test plays a MIDI controller and a synth on the pty master: raw bytes
at the MIDI rate, with running status, several messages per write and
realtime bytes in between, as a UART wired to DIN sockets delivers them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from impsy.io.serial.midi import SerialMidiAdapter
from impsy.mapping.midi import MidiStreamParser
from tests.io.test_serial_csv import engine_config, log_rows, run_with, until

CCS = ", ".join(f'["control_change", 1, {n}]' for n in range(1, 8))
MAPPING = f'[["note_on", 1], {CCS}]'
FAST_RETRY = {"first_retry": 0.05, "max_retry": 0.2}


def midi_section(tmp_path: Path) -> str:
    return f'[serialmidi]\nport = "{tmp_path / "port"}"\ninput = {MAPPING}\noutput = {MAPPING}\n'


def midi_adapter(config, dimension: int, **retry: float) -> SerialMidiAdapter:  # noqa: ANN001
    return SerialMidiAdapter(config.serialmidi, dimension, **retry)


def messages(data: bytes) -> list[tuple[int, ...]]:
    return MidiStreamParser().feed(data)


def still_sounding(data: bytes) -> set[tuple[int, int]]:
    """What a synth fed ``data`` would still be playing: (channel, note) pairs."""
    sounding: set[tuple[int, int]] = set()
    for message in messages(data):
        kind, key = message[0] & 0xF0, (message[0] & 0x0F, message[1]) if len(message) > 1 else None
        if kind == 0x90 and message[2] > 0:
            sounding.add(key)
        elif kind in (0x80, 0x90):
            sounding.discard(key)
    return sounding


def test_byte_stream_with_running_status_and_realtime_bytes_gives_one_gesture_per_message(
    tmp_path: Path,
) -> None:
    async def scenario(engine, adapter, bench):  # noqa: ANN001, ANN202
        device = bench.device
        await device.write(
            b"\x90\x3c\x64"  # note-on 60: a gesture
            b"\x3e\x50"  # running status: note-on 62, another
            b"\xf8"  # clock between messages
            b"\xb0\x01\x40"  # CC 1 = 64
            b"\x02\xf8\x20"  # running status CC 2 = 32, a clock byte inside it
            b"\x80\x3c\x00"  # note-off: ignored
            b"\x90\x3e\x00"  # velocity-0 note-on (a note-off): ignored
            b"\x91\x3c\x64"  # channel 2 is not mapped: ignored
            b"\xfe"  # active sensing
            b"\xb0\x03"  # CC 3 ... completed by the next write
        )
        await asyncio.sleep(0.02)
        await device.write(b"\x7f")
        await until(lambda: engine.counters.events_in == 5)
        await asyncio.sleep(0.05)
        return engine.counters.events_in, engine.counters.bad_input

    config = engine_config("useronly", midi_section(tmp_path))
    events, bad = run_with(config, midi_adapter, scenario, tmp_path)
    assert (events, bad) == (5, 0)
    values = [[float(v) for v in row[2:]] for row in log_rows(tmp_path)]
    rest = [0.5] * 7
    assert values == [
        pytest.approx([60 / 127] + rest),
        pytest.approx([62 / 127] + rest),
        pytest.approx([62 / 127, 64 / 127] + rest[1:]),
        pytest.approx([62 / 127, 64 / 127, 32 / 127] + rest[2:]),
        pytest.approx([62 / 127, 64 / 127, 32 / 127, 1.0] + rest[3:]),
    ]


def test_predictions_go_out_as_midi_and_shutdown_turns_every_note_off(tmp_path: Path) -> None:
    async def scenario(engine, adapter, bench):  # noqa: ANN001, ANN202
        device = bench.device
        device.listen()
        for note in (60, 64, 67):
            await device.write(bytes([0x90, note, 100]))
            await asyncio.sleep(0.03)
        await device.wait_for(lambda: sum(m[0] == 0x90 for m in messages(device.received)) >= 3)
        await asyncio.sleep(0.05)
        return device, bytes(device.received)

    config = engine_config("polyphony", midi_section(tmp_path))
    device, before_stop = run_with(config, midi_adapter, scenario, tmp_path)
    played = messages(before_stop)
    assert {m[0] for m in played} == {0x80, 0x90, 0xB0}, "notes and CCs on channel 1"
    assert {m[1] for m in played if m[0] == 0xB0} <= set(range(1, 8))
    assert all(len(m) == 3 for m in played)
    assert sum(m[0] == 0x90 for m in played) == 3, "one prediction per gesture"
    assert still_sounding(before_stop), "the model's last note is held until released"
    assert still_sounding(bytes(device.received)) == set(), "shutdown sends its note-off"


def test_device_that_stops_reading_drops_outputs_but_never_leaves_a_note_hanging(
    tmp_path: Path,
) -> None:
    async def scenario(engine, adapter, bench):  # noqa: ANN001, ANN202
        rng = np.random.default_rng(3)
        for _ in range(3000):  # far more than the device takes at 31250 baud
            adapter.send(rng.random(8))
        backlog = adapter.link.buffered
        bench.device.listen()
        await asyncio.sleep(0.1)
        return bench.device, backlog, adapter.link.dropped

    config = engine_config("useronly", midi_section(tmp_path))
    device, backlog, dropped = run_with(config, midi_adapter, scenario, tmp_path)
    assert dropped > 0
    assert backlog <= 3125 + 16 * 3, "one second of MIDI plus the note-offs it owes"
    assert all(len(m) == 3 for m in messages(bytes(device.received))), "a well-formed stream"
    assert still_sounding(bytes(device.received)) == set()


def test_unplugged_port_reconnects_and_owed_note_offs_arrive(tmp_path: Path) -> None:
    async def scenario(engine, adapter, bench):  # noqa: ANN001, ANN202
        first = bench.device
        first.listen()
        await first.write(b"\x90\x3c\x64")
        await first.wait_for(lambda: still_sounding(first.received))
        first.unplug()
        await until(lambda: not adapter.link.connected)
        engine.set_mode("useronly")  # releases the model's notes while the cable is out
        second = bench.plug()
        await until(lambda: adapter.link.connected)
        second.listen()
        await second.write(b"\x90\x40\x64")
        await until(lambda: engine.counters.events_in == 2)
        await second.wait_for(lambda: second.received)
        return still_sounding(first.received), messages(second.received)

    config = engine_config("polyphony", midi_section(tmp_path))
    sounding, after = run_with(
        config, lambda c, d: midi_adapter(c, d, **FAST_RETRY), scenario, tmp_path
    )
    assert sounding, "a note was left sounding when the cable was pulled"
    offs = {(m[0] & 0x0F, m[1]) for m in after if m[0] & 0xF0 == 0x80}
    assert sounding <= offs, "the reconnected synth is told to release it"
    assert len(log_rows(tmp_path)) >= 2
