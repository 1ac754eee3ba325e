"""Listing MIDI and serial ports, and MIDI learn, on real JACK ports and real ptys.

The JACK server is the session's (``tests/jack.py``: dummy driver, unique
name); the devices are JACK clients made by the test, so the names the
listing shows are the ones a config would name. Serial devices are pty pairs
linked from a path, as ``socat pty,link=...`` makes a virtual serial port.
"""

from __future__ import annotations

import threading
import time
import uuid

import mido
import pytest

from impsy.errors import ImpsyError
from impsy.io.midi.learn import Learner, describe, learn, proposal
from impsy.io.midi.listing import config_name, list_midi
from impsy.io.midi.ports import match_port
from impsy.io.serial.listing import list_serial
from tests.io.test_serial_csv import PtyDevice

ALSA, JACK = 2, 3
CC20, CC21 = [0xB0, 20, 64], [0xB0, 21, 64]
NOTE = [0x90, 60, 100]


def test_jack_devices_are_listed_under_their_names(jack):
    jack.controller("list-keys")
    jack.synth("list-synth")
    jack.controller("impsy", "to somewhere")  # what a running impsy's output looks like
    listing = list_midi()
    assert listing.error is None
    assert (listing.api, listing.binding) == ("UNIX_JACK", "python-rtmidi")
    inputs = {port.name: port for port in listing.inputs}
    outputs = {port.name: port for port in listing.outputs}
    assert inputs["list-keys:out"].config_name == "list-keys:out"
    assert not inputs["list-keys:out"].own
    assert outputs["list-synth:in"].config_name == "list-synth:in"
    (own,) = [port for port in listing.inputs if port.name.endswith(":to somewhere")]
    assert own.own and own.name.startswith("impsy")
    # a partial name picks the device, never impsy's own port
    assert match_port("keys", listing.names(True)) == "list-keys:out"
    assert match_port("somewhere", listing.names(True)) is None


def test_config_names_leave_out_alsas_numbers_only_while_they_still_pick_the_port():
    names = [
        "Midi Through:Midi Through Port-0 14:0",
        "X-TOUCH MINI:X-TOUCH MINI MIDI 1 24:0",
        "X-TOUCH MINI:X-TOUCH MINI MIDI 1 28:0",  # a second one of the same model
    ]
    assert config_name(names[0], names, ALSA) == "Midi Through:Midi Through Port-0"
    assert config_name(names[1], names, ALSA) == "X-TOUCH MINI:X-TOUCH MINI MIDI 1"
    assert config_name(names[2], names, ALSA) == names[2]  # the short name picks the first
    for name in names:
        assert match_port(config_name(name, names, ALSA), names) == name
    assert config_name("keys:out 1", ["keys:out 1"], JACK) == "keys:out 1"  # JACK names stay


def test_without_a_jack_server_the_listing_is_one_line(monkeypatch, capfd):
    server = f"impsy-nowhere-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("JACK_DEFAULT_SERVER", server)
    monkeypatch.setenv("IMPSY_MIDI_API", "UNIX_JACK")
    listing = list_midi()
    assert (listing.inputs, listing.outputs, listing.api) == ((), (), None)
    assert "\n" not in listing.error
    assert listing.error.startswith(f"MIDI (UNIX_JACK, JACK server {server!r}): ")
    assert "JACK server not running" in listing.error and "start the JACK server" in listing.error
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""  # libjack's five lines are held back


def test_a_wrong_midi_api_is_one_line():
    listing = list_midi("BEOS_MIDI")
    assert (listing.api, listing.inputs) == (None, ())
    assert listing.error.startswith(
        "MIDI: IMPSY_MIDI_API='BEOS_MIDI' is not a MIDI API; expected one of "
    )
    assert "UNIX_JACK" in listing.error and "\n" not in listing.error


def test_a_pty_linked_from_a_path_is_listed_as_a_serial_port(tmp_path):
    device = PtyDevice(tmp_path / "ttyV0")
    try:
        listing = list_serial([str(tmp_path / "ttyV*"), str(tmp_path / "ttyGone")])
        (port,) = [p for p in listing.ports if p.path == str(tmp_path / "ttyV0")]
        assert port.device == device.name and port.device.startswith("/dev/pts/")
        assert (port.description, port.source) == ("pseudo-terminal", "given")
        assert listing.missing == (str(tmp_path / "ttyGone"),)
        assert listing.error is None
        # the same device given twice is listed once; a plain file is no serial port
        (tmp_path / "ttyV1").write_text("not a device")
        again = list_serial([str(tmp_path / "ttyV0"), device.name, str(tmp_path / "ttyV1")])
        ours = [p for p in again.ports if p.device == device.name]
        assert len(ours) == 1 and ours[0].aliases == (device.name,)
        assert again.missing == (str(tmp_path / "ttyV1"),)
    finally:
        device.unplug()
    assert all(
        p.path != str(tmp_path / "ttyV0") for p in list_serial([str(tmp_path / "ttyV*")]).ports
    )


def test_learner_lists_each_control_once_in_the_order_first_moved():
    learner = Learner(8)
    fed = [CC20, CC20, [0x90, 61, 0], [0x80, 60, 0], CC21, NOTE, [0x90, 72, 30], [0xE1, 0, 64]]
    fed += [[0xD0, 40, 0], [0xC0, 5, 0], [0xF8], [0xB0, 200, 1], [0xB0, 22]]  # none are controls
    added = [learner.feed(message) for message in fed]
    assert learner.learned == [
        ["control_change", 1, 20],
        ["control_change", 1, 21],
        ["note_on", 1],
        ["note_velocity", 1],
        ["pitch_bend", 2],
    ]
    assert added[:2] == [[["control_change", 1, 20]], []]  # a control moved again adds nothing
    assert [describe(e) for e in learner.learned] == [
        "CC 1:20",
        "CC 1:21",
        "note 1",
        "velocity 1",
        "bend 2",
    ]


def test_learner_stops_at_the_models_values_and_a_last_note_keeps_its_pitch():
    learner = Learner(2)
    learner.feed(CC20)
    assert learner.feed(NOTE) == [["note_on", 1]]  # one value left: the note, not its velocity
    assert learner.full and learner.feed(CC21) == []


def test_proposal_fills_what_was_not_learned_with_unused_controllers():
    mapping, filled = proposal([["control_change", 1, 2], ["note_on", 1]], 5)
    assert filled == 3
    assert mapping == [
        ["control_change", 1, 2],
        ["note_on", 1],
        ["control_change", 1, 1],
        ["control_change", 1, 3],
        ["control_change", 1, 4],
    ]
    assert proposal([], 200)[0][127] == ["control_change", 2, 1]  # past CC 127: channel 2


def play_until_learned(controller, heard: list, messages: list[mido.Message]) -> None:  # noqa: ANN001
    """Move each control (resending, as a knob does) until learn has heard it."""
    for count, message in enumerate(messages, start=1):
        deadline = time.monotonic() + 5
        while len(heard) < count:
            assert time.monotonic() < deadline, f"learn never heard {message}"
            controller.send(message)
            time.sleep(0.02)


def test_learn_hears_a_jack_controller_in_the_order_its_controls_move(jack):
    keys = jack.controller("learn-io-keys")
    heard: list = []
    listening = threading.Event()
    result: list = []

    def listen() -> None:
        result.append(
            learn(
                "learn-io-keys",
                20.0,
                4,
                on_listening=lambda device, api: listening.set(),
                on_entry=heard.append,
            )
        )

    thread = threading.Thread(target=listen)
    thread.start()
    try:
        assert listening.wait(10)
        play_until_learned(
            keys,
            heard,
            [
                mido.Message("control_change", control=20, value=10),
                mido.Message("control_change", control=21, value=10),
                mido.Message("note_on", note=64, velocity=90),
            ],
        )
    finally:
        thread.join(10)
    (done,) = result
    assert (done.device, done.api, done.reason, done.filled) == (
        "learn-io-keys:out",
        "UNIX_JACK",
        "full",
        0,
    )
    assert done.mapping == [
        ["control_change", 1, 20],
        ["control_change", 1, 21],
        ["note_on", 1],
        ["note_velocity", 1],
    ]


def test_learn_ends_after_its_time_with_the_rest_filled(jack):
    jack.controller("learn-io-quiet")
    start = time.monotonic()
    done = learn("learn-io-quiet", 1.0, 3)
    assert 1.0 <= time.monotonic() - start < 3.0
    assert (done.reason, done.learned, done.filled) == ("time", [], 3)


def test_learn_from_a_port_that_is_not_there_is_one_line(jack):
    jack.controller("learn-io-here")
    with pytest.raises(ImpsyError) as caught:
        learn("learn-io-elsewhere", 1.0, 2)
    assert str(caught.value).startswith("no MIDI input matches 'learn-io-elsewhere' (inputs: ")
    assert "'learn-io-here:out'" in str(caught.value)
