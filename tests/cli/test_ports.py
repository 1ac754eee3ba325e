"""``impsy ports`` as a user runs it: a real process, real JACK devices, a real pty.

With the session's JACK server (``tests/jack.py``) the devices a test makes
must be listed under their names; with JACK pointing at no server, or no
MIDI binding at all, the command still lists the serial ports and says in
one line what is missing, with no traceback. A pty linked from a path is a
virtual serial port (``socat pty,link=...``).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from pathlib import Path

import mido

from tests.cli.places import hide_training_packages, make_machine
from tests.io.test_serial_csv import PtyDevice

NO_JACK = {"JACK_DEFAULT_SERVER": "impsy-nowhere", "IMPSY_MIDI_API": "UNIX_JACK"}


def no_jack() -> dict[str, str]:
    """The JACK environment pointing at a server that does not exist."""
    return {**NO_JACK, "JACK_DEFAULT_SERVER": f"impsy-nowhere-{uuid.uuid4().hex[:6]}"}


def config_file(folder: Path, serial_port: Path) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f"""[model]
dimension = 3
[midi]
in_device = ["cli-keys"]
out_device = ["cli-absent-synth"]
input."cli-keys" = [["control_change", 1, 1], ["control_change", 1, 2]]
output."cli-absent-synth" = [["control_change", 1, 1], ["control_change", 1, 2]]
[serial]
port = "{serial_port}"
"""
    )
    return path


def test_ports_lists_the_jack_devices_and_what_the_configs_names_pick(jack, tmp_path):
    jack.controller("cli-keys")
    jack.synth("cli-synth")
    machine = make_machine(tmp_path)
    pty = PtyDevice(tmp_path / "ttyV0")
    try:
        config = config_file(machine.work, tmp_path / "ttyV0")
        text = machine.impsy("ports", "-c", str(config))
        assert text.returncode == 0, text.stdout + text.stderr
        assert text.stderr == ""
        lines = text.stdout.splitlines()
        ins = lines.index("MIDI inputs (UNIX_JACK), names for [midi] in_device:")
        outs = lines.index("MIDI outputs (UNIX_JACK), names for [midi] out_device:")
        assert '  "cli-keys:out"' in lines[ins:outs]
        assert '  "cli-synth:in"' in lines[outs:]
        assert f'  "{tmp_path / "ttyV0"}"  pseudo-terminal {pty.name}' in lines
        assert '  [midi] in_device "cli-keys" -> "cli-keys:out"' in lines
        assert '  [midi] out_device "cli-absent-synth" -> not found' in lines
        assert f'  [serial] port "{tmp_path / "ttyV0"}" -> "{pty.name}"' in lines

        result = machine.impsy("ports", "--json", "-c", str(config))
        assert result.returncode == 0, result.stderr
        body = json.loads(result.stdout)
        assert body["midi"]["api"] == "UNIX_JACK" and body["midi"]["error"] is None
        assert {"name": "cli-keys:out", "config_name": "cli-keys:out", "own": False} in body[
            "midi"
        ]["inputs"]
        assert "cli-synth:in" in [port["name"] for port in body["midi"]["outputs"]]
        (serial,) = [p for p in body["serial"]["ports"] if p["path"] == str(tmp_path / "ttyV0")]
        assert serial["device"] == pty.name and serial["source"] == "given"
        assert body["config"]["matches"] == [
            {"setting": "[midi] in_device", "name": "cli-keys", "match": "cli-keys:out"},
            {"setting": "[midi] out_device", "name": "cli-absent-synth", "match": None},
            {"setting": "[serial] port", "name": str(tmp_path / "ttyV0"), "match": pty.name},
        ]
    finally:
        pty.unplug()


def test_without_a_jack_server_ports_says_so_in_one_line_and_lists_serial(tmp_path):
    machine = make_machine(tmp_path)
    pty = PtyDevice(tmp_path / "ttyV0")
    env = no_jack()
    try:
        result = machine.impsy("ports", "--no-config", "--serial", str(tmp_path / "ttyV*"), **env)
        assert result.returncode == 1  # documented: MIDI could not be listed
        assert result.stderr == ""  # libjack's complaints are held back; no traceback
        midi_lines = [line for line in result.stdout.splitlines() if "MIDI" in line]
        assert midi_lines == [
            f"MIDI (UNIX_JACK, JACK server {env['JACK_DEFAULT_SERVER']!r}): JACK server not "
            "running?; start the JACK server, or set IMPSY_MIDI_API to another MIDI system "
            "(LINUX_ALSA)"
        ]
        assert "Serial ports, paths for [serial] port or [serialmidi] port:" in result.stdout
        assert f'"{tmp_path / "ttyV0"}"  pseudo-terminal {pty.name}' in result.stdout

        as_json = machine.impsy("ports", "--json", "--no-config", **env)
        assert as_json.returncode == 1 and as_json.stderr == ""
        body = json.loads(as_json.stdout)
        assert body["midi"]["error"] == midi_lines[0]
        assert body["midi"]["inputs"] == [] and body["serial"]["error"] is None
    finally:
        pty.unplug()


def test_without_a_midi_binding_ports_says_what_to_install(tmp_path):
    machine = make_machine(tmp_path)
    hidden = hide_training_packages(tmp_path / "hidden", ("rtmidi", "rtmidi2"))
    result = machine.impsy("ports", "--no-config", PYTHONPATH=str(hidden))
    assert result.returncode == 1 and result.stderr == ""
    first, *rest = result.stdout.splitlines()
    assert first.startswith("MIDI: needs python-rtmidi or rtmidi2, and neither is installed: ")
    assert rest[0] == "Serial ports, paths for [serial] port or [serialmidi] port:"


def test_mistakes_on_the_command_line_are_one_line(tmp_path):
    machine = make_machine(tmp_path)
    for args, expected in (
        (["--midi-api", "BEOS"], "error: --midi-api 'BEOS' is not a MIDI API; expected one of "),
        (["-c", "nothere.toml"], "error: nothere.toml: no such config file"),
        (["-c", "x.toml", "--no-config"], "error: --config and --no-config contradict"),
        (["--no-config", "--learn", "cli-nothing"], "error: MIDI (UNIX_JACK, JACK server "),
    ):
        result = machine.impsy("ports", *args, **no_jack())
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.startswith(expected), (args, result.stderr)
        assert len(result.stderr.splitlines()) == 1, result.stderr


def test_learn_on_the_command_line_prints_the_mapping_in_the_order_moved(jack, tmp_path):
    keys = jack.controller("cli-learn-keys")
    machine = make_machine(tmp_path)
    process = machine.start("ports", "--no-config", "--learn", "cli-learn", "--dimension", "4")
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    ).start()
    try:
        first = lines.get(timeout=15)
        assert first.startswith('listening to "cli-learn-keys:out" (UNIX_JACK) for 10 s: move up ')
        for label, message in (
            ("CC 1:20", mido.Message("control_change", control=20, value=1)),
            ("bend 2", mido.Message("pitchwheel", channel=1, pitch=300)),
            ("CC 1:21", mido.Message("control_change", control=21, value=1)),
        ):
            deadline = time.monotonic() + 5
            while True:
                keys.send(message)
                try:
                    line = lines.get(timeout=0.05)
                    break
                except queue.Empty:
                    assert time.monotonic() < deadline, f"{label} never learned"
            assert line.split()[1:3] == label.split(), line
        process.wait(10)
    finally:
        process.kill()
    rest = []
    while not lines.empty():
        rest.append(lines.get().rstrip("\n"))
    assert process.returncode == 0, rest
    assert rest == [
        "every value has a control: 3 of 3 value(s) learned",
        'in_device = ["cli-learn"]',
        'input."cli-learn" = [["control_change", 1, 20], ["pitch_bend", 2], '
        '["control_change", 1, 21]]',
    ]


def test_learn_json_is_one_event_a_line_and_ends_when_its_time_is_up(jack, tmp_path):
    jack.controller("cli-quiet-keys")
    machine = make_machine(tmp_path)
    start = time.monotonic()
    result = machine.impsy(
        "ports",
        "--no-config",
        "--json",
        "--learn",
        "cli-quiet",
        "--seconds",
        "1",
        "--dimension",
        "3",
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < 10
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["listening", "done"]
    assert events[0] == {
        "event": "listening",
        "device": "cli-quiet-keys:out",
        "api": "UNIX_JACK",
        "seconds": 1.0,
        "slots": 2,
    }
    assert events[1]["reason"] == "time" and events[1]["filled"] == 2
    assert events[1]["mapping"] == [["control_change", 1, 1], ["control_change", 1, 2]]


def test_ports_is_listed_in_impsy_help(tmp_path):
    result = make_machine(tmp_path).impsy("--help")
    assert any(line.split()[:1] == ["ports"] for line in result.stdout.splitlines())
