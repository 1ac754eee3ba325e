"""The MIDI adapter end to end over real JACK MIDI ports.

impsy runs in this process on its own event loop with the MIDI adapter; a
test "controller" (a JACK client with a MIDI output) plays into impsy's
input ports and a test "synth" (a JACK client with a MIDI input) records
what impsy plays. The JACK server is real (``jackd`` with the dummy audio
driver, see ``tests/jack.py``); nothing is faked. Timing over JACK moves in
5.3 ms periods, so the tests compare values and wait for events, with
generous timeouts, rather than asserting latencies.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from pathlib import Path

import mido
import numpy as np
import pytest
import rtmidi

from impsy.app import RunOptions, build_engine
from impsy.config import load_config_text
from impsy.engine import loop as impsy_loop
from impsy.errors import ImpsyError
from impsy.io.midi.adapter import MidiAdapter
from impsy.io.midi.backend import CallbackSlot, dispose, new_input
from impsy.mapping.pipeline import InputState
from tests.paths import ROOT

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
PIPELINE = ROOT / "tests" / "conformance" / "impsy-1.2.1" / "vectors" / "pipeline.json"

# dimension 9: dt + these 8 values
MAPPING_9 = [
    ["note_on", 1],
    ["note_velocity", 1],
    ["control_change", 1, 1],
    ["control_change", 1, 2],
    ["control_change", 1, 3],
    ["control_change", 1, 4],
    ["control_change", 1, 5],
    ["pitch_bend", 1],
]
NOTE_ON, NOTE_OFF, CONTROL_CHANGE = 0x90, 0x80, 0xB0


def config(
    midi: str, mode: str = "useronly", dimension: int = 9, model: bool = False, **interaction
):  # noqa: ANN201 - a Config
    settings = {"mode": f'"{mode}"', "threshold": "0.1", "input_thru": "false"}
    settings.update({key: str(value).lower() for key, value in interaction.items()})
    lines = "\n".join(f"{key} = {value}" for key, value in settings.items())
    model_file = f'file = "{MODEL}"\ntimescale = 0.05\nseed = 3' if model else ""
    text = f"""
log_input = true
log_predictions = false
[interaction]
{lines}
[model]
dimension = {dimension}
{model_file}
[midi]
{midi}
"""
    return load_config_text(text, "test.toml")


def ports(ins: dict[str, list], outs: dict[str, list], extra: str = "") -> str:
    """A ``[midi]`` body: ``in_device``/``out_device`` and their mapping lists."""
    lines = [f"in_device = {json.dumps(list(ins))}", f"out_device = {json.dumps(list(outs))}"]
    lines += [f"input.{json.dumps(name)} = {json.dumps(m)}" for name, m in ins.items()]
    lines += [f"output.{json.dumps(name)} = {json.dumps(m)}" for name, m in outs.items()]
    return "\n".join(lines) + "\n" + extra


def play(cfg, scenario, tmp_path: Path, make_adapter=None):  # noqa: ANN001, ANN201
    """Run an engine with the MIDI adapter (or ``make_adapter(engine)``'s), then
    ``await scenario(engine, adapter)``."""

    async def main():  # noqa: ANN202
        engine = build_engine(cfg, RunOptions(logdir=tmp_path))
        if make_adapter is None:
            adapter = MidiAdapter(cfg.midi, engine.dimension)
        else:
            adapter = make_adapter(engine)
        await engine.start([adapter])
        try:
            return await scenario(engine, adapter)
        finally:
            await engine.stop()

    return impsy_loop.run(main())


async def until(condition, timeout: float = 3.0, resend=None) -> float:  # noqa: ANN001
    """Wait for ``condition()``, calling ``resend()`` now and every 50 ms; returns the wait."""
    start = last_sent = time.monotonic()
    if resend is not None:
        resend()
    while not condition():
        now = time.monotonic()
        if now - start > timeout:
            raise AssertionError(f"still not true after {timeout} s")
        if resend is not None and now - last_sent > 0.05:
            resend()
            last_sent = now
        await asyncio.sleep(0.005)
    return time.monotonic() - start


PROBES = itertools.count(1)


async def ready(adapter: MidiAdapter, controllers=(), synths=None) -> None:  # noqa: ANN001
    """Wait until JACK carries messages on the connections impsy has just made.

    JACK applies a new connection at a later period, and what is sent before
    that is lost (7 of 30 first messages in a probe here). So each
    controller sends numbered song-position probes until impsy's realtime
    listeners hear the latest one, and each impsy output sends probes until
    its synth has the latest one. JACK keeps each connection in order, so
    once the latest probe is through no earlier one can still arrive; the
    synths' messages are then cleared (the tests count only what follows).
    """
    for controller in controllers:
        await _probe_input(adapter, controller)
    for key, synth in (synths or {}).items():
        await _probe_output(adapter.outputs[key].port, synth)
        synth.messages.clear()
        synth.deltas.clear()


async def _probe_input(adapter: MidiAdapter, controller) -> None:  # noqa: ANN001
    heard: list[mido.Message] = []
    sent: list[mido.Message] = []

    def probe() -> None:
        sent.append(mido.Message("songpos", pos=next(PROBES)))
        controller.send(sent[-1])

    adapter.realtime_listeners.append(heard.append)
    try:
        await until(lambda: sent[-1] in heard, resend=probe)
    finally:
        adapter.realtime_listeners.remove(heard.append)


async def _probe_output(port, synth) -> None:  # noqa: ANN001
    sent: list[list[int]] = []

    def probe() -> None:
        sent.append(mido.Message("songpos", pos=next(PROBES)).bytes())
        port.midi.send_message(sent[-1])

    await until(lambda: sent[-1] in synth.received(), resend=probe)


def log_rows(tmp_path: Path) -> list[list[str]]:
    files = list(tmp_path.glob("*.log"))
    if not files:
        return []
    (log_file,) = files
    return [line.split(",") for line in log_file.read_text().splitlines()]


def sounding(messages: list[list[int]]) -> set[tuple[int, int]]:
    """(channel, note) pairs a synth would still be playing after ``messages``."""
    notes: set[tuple[int, int]] = set()
    for message in messages:
        kind, key = message[0] & 0xF0, (message[0] & 0x0F, message[1]) if len(message) > 1 else 0
        if kind == NOTE_ON and message[2] > 0:
            notes.add(key)
        elif kind == NOTE_OFF or kind == NOTE_ON:
            notes.discard(key)
    return notes


def note_ons(messages: list[list[int]]) -> list[list[int]]:
    return [m for m in messages if m[0] & 0xF0 == NOTE_ON and m[2] > 0]


# ------------------------------------------------------------- mapping


def test_mapping_in_and_out_over_real_ports(jack, tmp_path):
    keys, synth = jack.controller("map-keys"), jack.synth("map-synth")
    cfg = config(
        ports(
            {"map-keys": [["note_on", 1], ["control_change", 1, 7]]},
            {"map-synth": [["note_on", 2], ["control_change", 2, 8]]},
        ),
        dimension=3,
        input_thru=True,
    )

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        assert adapter.inputs["map-keys"].port.device == keys.name
        assert adapter.outputs["map-synth"].port.device == synth.name
        await ready(adapter, [keys], {"map-synth": synth})
        keys.send(mido.Message("note_on", channel=0, note=60, velocity=100))
        await until(lambda: engine.counters.events_in == 1)
        keys.send(mido.Message("control_change", channel=0, control=7, value=127))
        keys.send(mido.Message("note_on", channel=1, note=61, velocity=100))  # unmapped channel
        await until(lambda: engine.counters.events_in == 2)
        await synth.wait_for(lambda m: len(m) >= 5)
        return engine.pipeline.values

    values = play(cfg, scenario, tmp_path)
    received = synth.settled()
    np.testing.assert_allclose(values, [60 / 127, 1.0])
    assert received[:5] == [
        [0x91, 60, 127],  # note_on on channel 2 (velocity 127: no velocity dimension)
        [0xB1, 8, 64],  # the untouched CC starts at 0.5 -> 64
        [0x81, 60, 0],  # the next vector turns its previous note off first
        [0x91, 60, 127],
        [0xB1, 8, 127],  # the CC changed
    ]
    assert received[5:] == [[0x81, 60, 0]], "shutdown releases the sounding note"
    rows = log_rows(tmp_path)
    assert [row[1] for row in rows] == ["interface", "interface"]
    assert [float(v) for v in rows[1][2:]] == pytest.approx([60 / 127, 1.0], abs=1e-12)


# -------------------------------------------------------------- modes


@pytest.mark.parametrize("mode", ["callresponse", "polyphony", "battle", "useronly"])
def test_input_reaches_the_engine_in_every_mode(mode, jack, tmp_path):
    keys, synth = jack.controller(f"{mode}-keys"), jack.synth(f"{mode}-synth")
    cfg = config(
        ports({f"{mode}-keys": MAPPING_9}, {f"{mode}-synth": MAPPING_9}),
        mode=mode,
        model=mode != "useronly",
    )

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        await ready(adapter, [keys], {f"{mode}-synth": synth})
        for note in (60, 62, 64):
            keys.send(mido.Message("note_on", note=note, velocity=90))
            await asyncio.sleep(0.02)
        await until(lambda: engine.counters.events_in == 3)
        if mode == "polyphony":  # each gesture's answer is played on the synth
            await synth.wait_for(lambda m: len(note_ons(m)) >= 3)
        return engine.counters.events_in, synth.received()

    events, received = play(cfg, scenario, tmp_path)
    assert events == 3
    rows = [row for row in log_rows(tmp_path) if row[1] == "interface"]
    assert [round(float(row[2]) * 127) for row in rows] == [60, 62, 64]
    assert [round(float(row[3]) * 127) for row in rows] == [90, 90, 90]
    if mode == "polyphony":
        assert len(note_ons(received)) >= 3
    if mode == "useronly":
        assert received == [], "useronly without input_thru plays nothing"


def test_accompany_answers_a_melody_with_three_voices_in_key_at_the_same_instant(jack, tmp_path):
    """The shipped chorale model over real JACK MIDI: a melody on channel 1 in, the melody
    and alto, tenor and bass on channels 1-4 out, in the same JACK period, in C major."""
    keys, synth = jack.controller("acc-keys"), jack.synth("acc-synth")
    voices = [["note_on", 1], ["note_on", 2], ["note_on", 3], ["note_on", 4]]
    model = ROOT / "models" / "chorales-accompany-dim5-layers2-units64-mixtures5-scale10.tflite"
    cfg = load_config_text(
        f"""
log_input = true
[interaction]
mode = "accompany"
[model]
dimension = 5
file = "{model}"
seed = 3
[midi]
{ports({"acc-keys": voices}, {"acc-synth": voices})}
surprise_cc = [16, 20]
surprise_range = [-20, 20]
[steering]
roles = ["human", "model", "model", "model"]
scale = ["C", "major"]
surprise = true
""",
        "accompany.toml",
    )
    melody = [60, 62, 64, 65, 67, 65, 64, 62, 60]

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        await ready(adapter, [keys], {"acc-synth": synth})
        for count, note in enumerate(melody, start=1):
            keys.send(mido.Message("note_on", channel=0, note=note, velocity=90))
            await synth.wait_for(lambda m, c=count: len(note_ons(m)) >= 4 * c)
            await asyncio.sleep(0.03)
        return engine.status()

    status = play(cfg, scenario, tmp_path)
    received, deltas = synth.messages, synth.deltas
    ons = [(i, m) for i, m in enumerate(received) if m[0] & 0xF0 == NOTE_ON and m[2] > 0]
    assert len(ons) == 4 * len(melody) and status["outputs"] == len(melody)
    # the surprise meter as CC 20 on channel 16, from the third note on, after each chord
    meter = [(i, m) for i, m in enumerate(received) if m[:2] == [0xBF, 20]]
    assert len(meter) == len(melody) - 2
    last = meter[-1][1][2]
    assert last == int(min(max((status["surprise"] + 20) / 40, 0), 1) * 127 + 0.5)
    assert all(i > ons[4 * k + 3][0] for k, (i, _) in enumerate(meter, start=2))
    c_major = {0, 2, 4, 5, 7, 9, 11}
    period = jack.server.period_ms / 1e3
    for k, note in enumerate(melody):
        chord = ons[4 * k : 4 * k + 4]
        assert [m[0] & 0x0F for _, m in chord] == [0, 1, 2, 3]
        assert chord[0][1][1] == note, "the melody comes back on channel 1 as played"
        assert all(m[1] % 12 in c_major for _, m in chord[1:]), chord
        first, last = chord[0][0], chord[-1][0]
        assert sum(deltas[first + 1 : last + 1]) < period, "one instant: one JACK period"


def test_callresponse_user_takeover_releases_the_models_notes(jack, tmp_path):
    keys, synth = jack.controller("cr-keys"), jack.synth("cr-synth")
    cfg = config(
        ports({"cr-keys": MAPPING_9}, {"cr-synth": MAPPING_9}),
        "callresponse",
        model=True,
        threshold=0.5,  # after the take-over, 0.5 s before the model may answer again
    )

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        await ready(adapter, [keys], {"cr-synth": synth})
        keys.send(mido.Message("note_on", note=60, velocity=90))
        await synth.wait_for(lambda m: len(note_ons(m)) >= 3)  # the model answers after 0.5 s
        assert engine.responding and sounding(synth.messages)
        keys.send(mido.Message("note_on", note=48, velocity=90))  # the performer takes over
        await until(lambda: not engine.responding)
        # Not settle(): 0.5 s after the take-over the model may answer again and play on,
        # so on a loaded machine a wait for 0.2 s of quiet could wait for ever.
        await asyncio.sleep(0.05)  # what was sent before the take-over is in
        return list(await synth.wait_for(lambda m: sounding(m) == set(), timeout=3.0))

    received = play(cfg, scenario, tmp_path)
    assert sounding(received) == set(), "every note the model left sounding was released"


def test_pause_releases_notes_and_silences_the_model(jack, tmp_path):
    synth = jack.synth("pause-synth")
    cfg = config(ports({}, {"pause-synth": MAPPING_9}), "battle", model=True)

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        await ready(adapter, [], {"pause-synth": synth})
        await synth.wait_for(lambda m: len(note_ons(m)) >= 3)  # battle: the model plays alone
        engine.set_paused(True)
        after_pause = len(await synth.settle(0.2))
        await asyncio.sleep(0.2)
        return synth.messages, after_pause

    received, after_pause = play(cfg, scenario, tmp_path)
    assert sounding(received[:after_pause]) == set(), "pausing released the model's notes"
    assert received[after_pause:] == [], "nothing plays while paused, not even at shutdown"


def test_shutdown_sends_note_offs_for_every_sounding_note(jack, tmp_path):
    keys, synth = jack.controller("off-keys"), jack.synth("off-synth")
    poly = [["note_on", 1], ["note_on", 1], ["note_on", 2]]
    cfg = config(
        ports(
            {"off-keys": [["note_on", 1], ["control_change", 1, 1], ["control_change", 1, 2]]},
            {"off-synth": poly},
            'thru_matrix."off-keys" = ["off-synth"]\n',
        ),
        dimension=4,
    )

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        await ready(adapter, [keys], {"off-synth": synth})
        adapter.send(np.array([60, 64, 67]) / 127)  # what the model plays: a chord on 2 channels
        keys.send(mido.Message("note_on", channel=3, note=50, velocity=80))  # held, sent thru
        await synth.wait_for(lambda m: len(note_ons(m)) == 4)
        return set(sounding(synth.messages))

    before = play(cfg, scenario, tmp_path)
    assert before == {(0, 60), (0, 64), (1, 67), (3, 50)}
    assert synth.settled()[4:] == [[0x80, 60, 0], [0x80, 64, 0], [0x81, 67, 0], [0x83, 50, 0]]


# ------------------------------------------------- ports coming and going


def test_ports_missing_at_start_are_reported_once_and_connected_when_they_appear(
    jack, tmp_path, caplog
):
    cfg = config(ports({"late-keys": MAPPING_9}, {"late-synth": MAPPING_9}), input_thru=True)

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        await asyncio.sleep(1.2)  # two checks or more: still reported only once
        assert adapter.ports.checks <= 4, "ports are checked every 0.5 s, not in a busy loop"
        keys, synth = jack.controller("late-keys"), jack.synth("late-synth")
        took = await until(
            lambda: (
                adapter.inputs["late-keys"].port.device == keys.name
                and adapter.outputs["late-synth"].port.device == synth.name
            )
        )
        await ready(adapter, [keys], {"late-synth": synth})
        keys.send(mido.Message("note_on", note=70, velocity=64))
        await until(lambda: engine.counters.events_in == 1)
        await synth.wait_for(lambda m: len(note_ons(m)) == 1)
        return took, note_ons(synth.messages)

    with caplog.at_level(logging.WARNING, logger="impsy"):
        took, notes = play(cfg, scenario, tmp_path)
    missing = [r.getMessage() for r in caplog.records if "not found" in r.getMessage()]
    assert len(missing) == 2, missing
    assert "'late-keys' not found" in missing[0] and "'late-synth' not found" in missing[1]
    assert took < 2.0
    assert notes == [[0x90, 70, 64]], "input_thru plays the gesture on the late synth"


def test_a_port_that_disappears_is_reconnected_when_it_comes_back(jack, tmp_path):
    cfg = config(ports({"flaky-keys": MAPPING_9}, {"flaky-synth": MAPPING_9}), input_thru=True)
    keys, synth = jack.controller("flaky-keys"), jack.synth("flaky-synth")

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        midi_in, midi_out = adapter.inputs["flaky-keys"].port, adapter.outputs["flaky-synth"].port
        await ready(adapter, [keys], {"flaky-synth": synth})
        keys.send(mido.Message("note_on", note=60, velocity=64))
        await until(lambda: engine.counters.events_in == 1)
        await synth.wait_for(lambda m: len(note_ons(m)) == 1)
        # Unplugged: both devices vanish from JACK.
        jack.close(keys)
        jack.close(synth)
        await until(lambda: midi_in.device is None and midi_out.device is None)
        # Plugged back in, under the same names.
        keys2, synth2 = jack.controller("flaky-keys"), jack.synth("flaky-synth")
        took = await until(lambda: midi_in.device is not None and midi_out.device is not None)
        connected = jack.server.connections(keys2.name)
        await ready(adapter, [keys2], {"flaky-synth": synth2})
        keys2.send(mido.Message("note_on", note=62, velocity=64))
        await until(lambda: engine.counters.events_in == 2)
        await synth2.wait_for(lambda m: len(note_ons(m)) == 1)
        return took, connected, note_ons(synth2.messages), engine.counters.events_in

    took, connected, notes, events = play(cfg, scenario, tmp_path)
    assert took < 2.0, f"reconnected after {took:.2f} s"
    assert len(connected) == 1 and "from flaky-keys" in connected[0]
    assert notes == [[0x90, 62, 64]], "the new synth gets the note played after the reconnect"
    assert events == 2
    assert [round(float(r[2]) * 127) for r in log_rows(tmp_path)] == [60, 62]


# -------------------------------------------------- realtime and others


def test_realtime_messages_reach_listeners_on_the_loop_and_are_not_gestures(jack, tmp_path):
    keys = jack.controller("clock-keys")
    cfg = config(ports({"clock-keys": MAPPING_9}, {}))
    transport = [
        mido.Message("start"),
        mido.Message("clock"),
        mido.Message("clock"),
        mido.Message("songpos", pos=32),
        mido.Message("stop"),
        mido.Message("continue"),
    ]

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        await ready(adapter, [keys])
        heard: list[tuple[mido.Message, int]] = []
        adapter.realtime_listeners.append(lambda m: heard.append((m, threading.get_ident())))
        for message in transport:
            keys.send(message)
        keys.send(mido.Message("sysex", data=[1, 2, 3]))
        keys.send(mido.Message("control_change", control=99, value=3))  # not mapped
        keys.send(mido.Message("note_off", note=60))  # never a gesture
        keys.send(mido.Message("program_change", program=5))
        await until(lambda: len(heard) == len(transport))
        await asyncio.sleep(0.1)
        idle = dict(engine.counters.as_dict())
        keys.send(mido.Message("control_change", control=1, value=127))  # mapped: a gesture
        await until(lambda: engine.counters.events_in == 1)
        return heard, idle, threading.get_ident()

    heard, idle, loop_thread = play(cfg, scenario, tmp_path)
    assert [m for m, _ in heard] == transport
    assert {thread for _, thread in heard} == {loop_thread}, "listeners run on the event loop"
    assert idle["events_in"] == 0 and idle["bad_input"] == 0 and idle["log_rows"] == 0
    assert len(log_rows(tmp_path)) == 1


def test_malformed_messages_count_as_bad_input(jack, tmp_path):
    keys = jack.controller("bad-keys")
    cfg = config(ports({"bad-keys": MAPPING_9}, {}))

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        await ready(adapter, [keys])
        keys.send([0x90, 60])  # a note-on missing its velocity
        keys.send([0xB0, 1, 200])  # a data byte above 127
        await until(lambda: engine.counters.bad_input == 2)
        keys.send([0xB0, 1, 64])
        await until(lambda: engine.counters.events_in == 1)
        return engine.counters.bad_input

    assert play(cfg, scenario, tmp_path) == 2


def test_thru_matrix_forwards_raw_messages_to_the_listed_outputs_only(jack, tmp_path):
    keys = jack.controller("thru-keys")
    listed, unlisted = jack.synth("thru-listed"), jack.synth("thru-other")
    cfg = config(
        ports(
            {"thru-keys": MAPPING_9},
            {"thru-listed": MAPPING_9, "thru-other": MAPPING_9},
            'thru_matrix."thru-keys" = ["thru-listed"]\n',
        )
    )
    sent = [
        [0x90, 60, 100],
        [0xB0, 99, 3],  # unmapped, still forwarded
        [0xF8],  # clock
        [0xF0, 0x7D, 0x01, 0xF7],  # sysex
        [0x80, 60, 0],
    ]

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        await ready(adapter, [keys])
        await ready(adapter, [], {"thru-listed": listed, "thru-other": unlisted})
        for message in sent:
            keys.send(message)
        await listed.wait_for(lambda m: len(m) == len(sent))
        await asyncio.sleep(0.1)
        return listed.received(), unlisted.received(), engine.counters.events_in

    forwarded, other, events = play(cfg, scenario, tmp_path)
    assert forwarded == sent
    assert other == []
    assert events == 1, "forwarding does not change what counts as a gesture"


@pytest.mark.parametrize("protection", [True, False])
def test_feedback_protection_drops_impsys_own_note_echoed_back(protection, jack, tmp_path):
    # A device with MIDI thru: what impsy plays to it comes straight back.
    echo_out, echo_in = jack.controller("looper", "midi_out"), jack.synth("looper-in")
    cfg = config(
        ports(
            {"looper": [["note_on", 1], ["control_change", 1, 1]]},
            {"looper": [["note_on", 1], ["control_change", 1, 1]]},
            f"feedback_protection = {str(protection).lower()}\nfeedback_threshold = 0.5\n",
        ),
        dimension=3,
    )

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        assert adapter.inputs["looper"].port.device == echo_out.name
        assert adapter.outputs["looper"].port.device == echo_in.name
        await ready(adapter, [echo_out], {"looper": echo_in})
        adapter.send(np.array([60 / 127, 0.2]))  # the model plays note 60
        (played,) = note_ons(await echo_in.wait_for(lambda m: len(note_ons(m)) == 1))
        echo_out.send(played)  # ... and it echoes straight back
        echo_out.send([0x90, 62, 90])  # the performer, at the same moment, plays another note
        await until(lambda: engine.counters.events_in >= 1)
        await asyncio.sleep(0.1)
        quick = engine.counters.events_in
        await asyncio.sleep(0.5 - 0.1)  # past the threshold, note 60 is the performer's again
        echo_out.send([0x90, 60, 90])
        await until(lambda: engine.counters.events_in == quick + 1)
        return quick, adapter.feedback.dropped

    quick, dropped = play(cfg, scenario, tmp_path)
    if protection:
        assert (quick, dropped) == (1, 1)
        notes = [round(float(r[2]) * 127) for r in log_rows(tmp_path)]
        assert notes == [62, 60]
    else:
        assert (quick, dropped) == (2, 0)


def test_virtual_ports_are_created_for_other_programs_to_connect(jack, tmp_path):
    keys, synth = jack.controller("daw-out"), jack.synth("daw-in")
    cfg = config(
        ports({"impsy-test in": MAPPING_9}, {"impsy-test out": MAPPING_9}, "virtual = true\n"),
        input_thru=True,
    )

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        own = [p for p in jack.server.ports() if p.split(":", 1)[1].startswith("impsy-test")]
        (own_in,) = [p for p in own if p.endswith("impsy-test in")]
        (own_out,) = [p for p in own if p.endswith("impsy-test out")]
        assert keys.name not in jack.server.connections(own_in), "virtual ports connect nothing"
        jack.server.connect(keys.name, own_in)  # what a DAW's patchbay does
        jack.server.connect(own_out, synth.name)
        await ready(adapter, [keys], {"impsy-test out": synth})
        keys.send(mido.Message("note_on", note=65, velocity=70))
        await until(lambda: engine.counters.events_in == 1)
        await synth.wait_for(lambda m: len(note_ons(m)) == 1)
        return own, adapter.describe(), note_ons(synth.messages)

    own, described, notes = play(cfg, scenario, tmp_path)
    assert all(name.split(":")[0].startswith("impsy") for name in own), own
    assert "virtual" in described
    assert notes == [[0x90, 65, 70]]


# ----------------------------------------------------- conformance vectors


class RecordingInputState(InputState):
    """The engine's real input pipeline, also keeping every model input it produced."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.model_inputs: list[np.ndarray] = []

    def apply(self, updates, time):  # noqa: ANN001, ANN201
        interaction = super().apply(updates, time)
        if interaction is not None:
            self.model_inputs.append(interaction.model_input.copy())
        return interaction


CASES = json.loads(PIPELINE.read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_pipeline_conformance_cases_through_real_ports(case, jack, tmp_path):
    """IMPSY's pipeline vectors, each event sent as real MIDI through JACK.

    Values are compared exactly (to the vectors' tolerance); dt is only
    checked to be positive, because an event's arrival time over JACK moves
    by whole 5.3 ms periods and the vectors' times are not replayed.
    """
    keys = jack.controller("conformance-keys")
    dimension = case["dimension"]
    cfg = config(ports({"conformance-keys": case["input_mapping"]}, {}), dimension=dimension)
    expected = case["expected"]

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        loop = asyncio.get_running_loop()
        await ready(adapter, [keys])
        engine.pipeline = RecordingInputState(dimension, case["initial_values"], loop.time())
        for event in case["events"]:
            keys.send(event["bytes"])
            await asyncio.sleep(0.01)
        await until(lambda: len(engine.pipeline.model_inputs) >= len(expected["model_inputs"]))
        await asyncio.sleep(0.05)  # nothing more may arrive
        return engine.pipeline.model_inputs

    model_inputs = play(cfg, scenario, tmp_path)
    tolerance = json.loads(PIPELINE.read_text())["tolerance"]
    assert len(model_inputs) == len(expected["model_inputs"])
    for got, want in zip(model_inputs, expected["model_inputs"], strict=True):
        assert got[0] > 0
        np.testing.assert_allclose(got[1:], want[1:], rtol=0, atol=tolerance)
    rows = log_rows(tmp_path)
    assert [row[1] for row in rows] == [entry["source"] for entry in expected["log"]]
    for row, entry in zip(rows, expected["log"], strict=True):
        np.testing.assert_allclose([float(v) for v in row[2:]], entry["values"], atol=tolerance)


# ------------------------------------------------------------- start-up


def test_start_refuses_clearly_when_the_midi_system_is_not_running(monkeypatch, tmp_path):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "impsy-no-such-server")
    cfg = config(ports({"keys": MAPPING_9}, {}))

    async def main():  # noqa: ANN202
        engine = build_engine(cfg, RunOptions(logdir=tmp_path))
        adapter = MidiAdapter(cfg.midi, engine.dimension, api="UNIX_JACK")
        try:
            await engine.start([adapter])
        finally:
            await engine.stop()

    with pytest.raises(ImpsyError, match=r"\[midi\] cannot use MIDI .*JACK server not running"):
        impsy_loop.run(main())


def test_describe_names_each_port_and_what_it_is_connected_to(jack, tmp_path):
    keys = jack.controller("describe-keys")
    cfg = config(ports({"describe-keys": MAPPING_9}, {"describe-missing": MAPPING_9}))

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        return adapter.describe()

    assert play(cfg, scenario, tmp_path) == (
        f"MIDI ports (UNIX_JACK) in 'describe-keys' = '{keys.name}'; "
        "out 'describe-missing' (waiting)"
    )


def test_a_paused_callback_keeps_the_context_rtmidi_gave_c_until_settled(jack_server):
    """The crash guard in ``CallbackSlot`` depends on finding python-rtmidi's context tuple."""
    midi = new_input(rtmidi.API_UNIX_JACK)
    try:
        slot = CallbackSlot(midi, lambda event, data: None, "data")
        slot.arm()
        context = slot._context
        assert context is not None and context[1] == "data", "python-rtmidi's internals changed"
        slot.pause()
        assert slot._retired == [context] and not slot.armed
        slot.settle()
        assert slot._retired == []
    finally:
        dispose(midi)
