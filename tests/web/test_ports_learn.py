"""The config wizard's ports and MIDI learn over real HTTP, real JACK ports and real ptys.

The web UI runs as under ``impsy webui`` (or beside a performance with a
real MIDI adapter, for the refusal); aiohttp's client plays the browser; the
controllers are JACK clients the test plays (``tests/jack.py``). Each
control is moved until learn has heard it, as a knob sends a stream of
values: a JACK connection starts at a later period, so the very first
message after learn opened its port may be lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import mido

from impsy.app import RunOptions, build_engine, check_edited_config
from impsy.config import load_config_text
from impsy.engine import loop as impsy_loop
from impsy.io.midi.adapter import MidiAdapter
from impsy.web.config_api import validate
from impsy.web.context import WebContext
from impsy.web.server import WebServer
from tests.io.test_midi_jack import MAPPING_9, config, ports
from tests.io.test_serial_csv import PtyDevice

WRITE = {"X-Impsy": "1"}


class Web:
    """A client of one web UI."""

    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session = session
        self.base = f"http://127.0.0.1:{port}"

    async def get(self, path: str) -> tuple[int, dict]:
        async with self.session.get(self.base + path) as response:
            return response.status, await response.json()

    async def post(self, path: str, body: dict) -> tuple[int, dict]:
        async with self.session.post(self.base + path, json=body, headers=WRITE) as response:
            return response.status, await response.json()

    async def play_until_learned(self, controller, messages: list[mido.Message]) -> dict:  # noqa: ANN001
        """Move each control until the learn shows it; the learn's state after the last."""
        for count, message in enumerate(messages, start=1):
            deadline = time.monotonic() + 5
            while True:
                controller.send(message)
                await asyncio.sleep(0.03)
                _, state = await self.get("/api/midi/learn")
                if len(state["learned"]) >= count or state["state"] != "listening":
                    break
                assert time.monotonic() < deadline, f"learn never heard {message}: {state}"
        return state


@contextlib.asynccontextmanager
async def web_ui(cfg, root: Path, engine=None) -> AsyncIterator[Web]:  # noqa: ANN001
    server = WebServer(WebContext.create(cfg, engine, root=root, logdir=Path("logs"), port=0))
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield Web(session, server.ctx.port)
    finally:
        await server.stop()


def webui_config(root: Path, extra: str = ""):  # noqa: ANN201 - a Config
    path = root / "config.toml"
    path.write_text(f"[model]\ndimension = 9\n{extra}")
    return load_config_text(path.read_text(), str(path))


CC20 = mido.Message("control_change", control=20, value=5)
CC21 = mido.Message("control_change", control=21, value=5)
NOTE = mido.Message("note_on", note=60, velocity=100)


def test_ports_lists_the_jack_devices_and_the_configs_virtual_serial_port(jack, tmp_path):
    jack.controller("web-list-keys")
    jack.synth("web-list-synth")
    pty = PtyDevice(tmp_path / "ttyV0")
    cfg = webui_config(tmp_path, f'[serial]\nport = "{tmp_path / "ttyV0"}"\n')

    async def main() -> None:
        async with web_ui(cfg, tmp_path) as web:
            start = time.monotonic()
            status, body = await web.get("/api/ports")
            took = time.monotonic() - start
            assert status == 200, body
            assert set(body) == {"midi", "serial"}
            assert body["midi"]["api"] == "UNIX_JACK" and body["midi"]["error"] is None
            assert {
                "name": "web-list-keys:out",
                "config_name": "web-list-keys:out",
                "own": False,
            } in (body["midi"]["inputs"])
            assert "web-list-synth:in" in [p["name"] for p in body["midi"]["outputs"]]
            (serial,) = [p for p in body["serial"]["ports"] if p["path"] == str(tmp_path / "ttyV0")]
            assert serial["device"] == pty.name and serial["description"] == "pseudo-terminal"
            assert took < 10

    try:
        impsy_loop.run(main())
    finally:
        pty.unplug()


def test_learn_proposes_the_controls_in_the_order_moved_and_the_wizard_config_runs(jack, tmp_path):
    keys = jack.controller("web-learn-keys")
    cfg = webui_config(tmp_path)

    async def main() -> str:
        async with web_ui(cfg, tmp_path) as web:
            status, started = await web.post(
                "/api/midi/learn", {"port": "web-learn", "seconds": 20, "dimension": 9}
            )
            assert status == 202, started
            assert started["state"] == "listening" and started["device"] == "web-learn-keys:out"
            assert (started["slots"], started["learned"]) == (8, [])
            state = await web.play_until_learned(keys, [CC20, CC21, NOTE])
            assert state["state"] == "listening" and 0 < state["remaining"] <= 20
            status, stopped = await web.post("/api/midi/learn/stop", {})
            assert status == 200 and (stopped["state"], stopped["reason"]) == ("done", "stopped")
            learned = [
                ["control_change", 1, 20],
                ["control_change", 1, 21],
                ["note_on", 1],
                ["note_velocity", 1],
            ]
            assert stopped["learned"] == learned
            assert stopped["labels"] == ["CC 1:20", "CC 1:21", "note 1", "velocity 1"]
            assert stopped["mapping"][:4] == learned and stopped["filled"] == 4
            assert len(stopped["mapping"]) == 8
            status, again = await web.get("/api/midi/learn")
            assert again == stopped  # the result stays until the next learn

            answers = {
                "mode": "useronly",
                "dimension": 9,
                "midi": {
                    "in_device": "web-learn",
                    "out_device": "",
                    "input_mapping": stopped["mapping"],
                },
                "save": True,
            }
            status, wizard = await web.post("/api/config/wizard", answers)
            assert status == 200, wizard
            return wizard["text"]

    text = impsy_loop.run(main())
    assert validate(text, "config.toml", tmp_path, check_edited_config)["ok"]
    loaded = load_config_text(text, "config.toml")
    assert [e.to_list() for e in loaded.midi.input["web-learn"]][:4] == [
        ["control_change", 1, 20],
        ["control_change", 1, 21],
        ["note_on", 1],
        ["note_velocity", 1],
    ]
    assert (tmp_path / "config.toml").read_text() == text
    check = subprocess.run(
        [sys.executable, "-m", "impsy", "check-config", str(tmp_path / "config.toml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_learn_ends_by_itself_when_every_value_has_a_control_or_the_time_is_up(jack, tmp_path):
    keys = jack.controller("web-full-keys")
    cfg = webui_config(tmp_path)

    async def main() -> None:
        async with web_ui(cfg, tmp_path) as web:
            status, _ = await web.post("/api/midi/learn", {"port": "web-full", "dimension": 3})
            assert status == 202
            await web.play_until_learned(keys, [CC21, CC20])
            for _ in range(100):
                _, state = await web.get("/api/midi/learn")
                if state["state"] != "listening":
                    break
                await asyncio.sleep(0.05)
            assert (state["state"], state["reason"], state["filled"]) == ("done", "full", 0)
            assert state["mapping"] == [["control_change", 1, 21], ["control_change", 1, 20]]

            status, _ = await web.post("/api/midi/learn", {"port": "web-full", "seconds": 1})
            assert status == 202
            await asyncio.sleep(1.5)
            _, state = await web.get("/api/midi/learn")
            assert (state["state"], state["reason"], state["learned"]) == ("done", "time", [])
            assert state["id"] == 2 and state["dimension"] == 9  # the config's dimension

    impsy_loop.run(main())


def test_learn_refuses_the_performances_input_and_learns_beside_it(jack, tmp_path):
    """A performance reads busy-keys; learn refuses it, and learns free-keys meanwhile."""
    busy = jack.controller("busy-keys")
    free = jack.controller("free-keys")
    cfg = config(ports({"busy-keys": MAPPING_9}, {}))

    async def main() -> None:
        engine = build_engine(cfg, RunOptions(logdir=tmp_path))
        adapter = MidiAdapter(cfg.midi, engine.dimension, check_interval=0.1)
        await engine.start([adapter])
        try:
            async with web_ui(cfg, tmp_path, engine) as web:
                status, body = await web.post("/api/midi/learn", {"port": "busy-keys"})
                assert status == 409
                assert body["error"] == (
                    "'busy-keys:out' is the running performance's [midi] in_device 'busy-keys': "
                    "its mapping is in the config already; learn from a port the performance "
                    "does not read"
                )
                status, body = await web.post("/api/midi/learn", {"port": "free-keys"})
                assert status == 202, body
                events = engine.status()["events_in"]
                state = await web.play_until_learned(free, [CC20])
                assert state["learned"] == [["control_change", 1, 20]]
                for _ in range(20):  # the performance keeps playing meanwhile
                    busy.send(mido.Message("control_change", control=1, value=64))
                    await asyncio.sleep(0.02)
                assert engine.status()["events_in"] > events
                status, stopped = await web.post("/api/midi/learn/stop", {})
                assert stopped["state"] == "done"
        finally:
            await engine.stop()

    impsy_loop.run(main())


def test_learn_requests_that_cannot_work_are_one_line_each(jack, tmp_path):
    keys = jack.controller("web-only-keys")
    cfg = webui_config(tmp_path)

    async def main() -> None:
        async with web_ui(cfg, tmp_path) as web:
            assert await web.get("/api/midi/learn") == (
                404,
                {"error": "no MIDI learn has been started"},
            )
            assert (await web.post("/api/midi/learn/stop", {}))[0] == 404
            for body, code, error in (
                ({}, 400, 'expected {"port": "<a MIDI input>", "seconds": 10, "dimension": 9}'),
                ({"port": "x", "seconds": 0.5}, 400, "seconds must be 1-60, got 0.5"),
                ({"port": "x", "seconds": 61}, 400, "seconds must be 1-60, got 61"),
                ({"port": "x", "dimension": 1}, 400, "dimension must be 2-256, got 1"),
                (
                    {"port": "x", "dimension": "9"},
                    400,
                    "dimension must be an integer 2-256, got '9'",
                ),
                (
                    {"port": "web-elsewhere"},
                    404,
                    "no MIDI input matches 'web-elsewhere' (inputs: 'web-only-keys:out')",
                ),
            ):
                status, answer = await web.post("/api/midi/learn", body)
                assert (status, answer) == (code, {"error": error}), body
            status, _ = await web.post("/api/midi/learn", {"port": "web-only", "seconds": 30})
            assert status == 202
            status, answer = await web.post("/api/midi/learn", {"port": "web-only"})
            assert status == 409
            assert (
                answer["error"]
                == "MIDI learn is already listening to 'web-only-keys:out'; stop it first"
            )
        # The server stopped with a learn listening: the learn closed its port on the way out
        # (a JACK client killed outright would stall the JACK server for ~20 s).

    impsy_loop.run(main())
    assert not [port for port in jack.server.ports() if port.endswith(":learn")]
    start = time.monotonic()
    jack.close(keys)
    assert time.monotonic() - start < 2


def test_without_a_jack_server_ports_say_why_and_learn_is_refused(tmp_path, monkeypatch):
    server = f"impsy-nowhere-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("JACK_DEFAULT_SERVER", server)
    monkeypatch.setenv("IMPSY_MIDI_API", "UNIX_JACK")
    cfg = webui_config(tmp_path)

    async def main() -> None:
        async with web_ui(cfg, tmp_path) as web:
            status, body = await web.get("/api/ports")
            assert status == 200
            error = body["midi"]["error"]
            assert error.startswith(f"MIDI (UNIX_JACK, JACK server {server!r}): JACK server not")
            assert body["midi"]["inputs"] == [] and body["serial"]["error"] is None
            assert await web.post("/api/midi/learn", {"port": "keys"}) == (503, {"error": error})

    impsy_loop.run(main())


def test_wizard_writes_serial_and_refuses_a_learned_mapping_that_does_not_fit(tmp_path):
    cfg = webui_config(tmp_path)

    async def main() -> None:
        async with web_ui(cfg, tmp_path) as web:
            status, body = await web.post(
                "/api/config/wizard",
                {"mode": "useronly", "serial": {"port": "/dev/ttyACM0", "baudrate": 9600}},
            )
            assert status == 200, body
            loaded = load_config_text(body["text"], "w.toml")
            assert (loaded.serial.port, loaded.serial.baudrate) == ("/dev/ttyACM0", 9600)
            mapping = [["control_change", 1, 20], ["note_on", 1], ["pitch_bend", 2]]
            answers = {"mode": "useronly", "dimension": 4, "midi": {"in_device": "keys"}}
            status, body = await web.post(
                "/api/config/wizard",
                {
                    **answers,
                    "midi": {
                        "in_device": "keys",
                        "out_device": "synth",
                        "input_mapping": mapping,
                        "output_mapping": mapping,
                    },
                },
            )
            assert status == 200, body
            loaded = load_config_text(body["text"], "w.toml")
            assert [e.to_list() for e in loaded.midi.output["synth"]] == mapping
            for midi, error in (
                (
                    {"in_device": "keys", "input_mapping": mapping[:2]},
                    "midi.input_mapping has 2 entries but the model has 3 values per event "
                    "(dimension 4 minus dt); expected exactly 3",
                ),
                (
                    {"in_device": "keys", "input_mapping": [["knob", 1], *mapping[1:]]},
                    "midi.input_mapping entry 1: unknown mapping kind 'knob'; expected one of "
                    "note_on, note_velocity, control_change, pitch_bend",
                ),
            ):
                status, body = await web.post("/api/config/wizard", {**answers, "midi": midi})
                assert (status, body) == (400, {"error": error})
            for serial, error in (
                ({"port": " "}, "serial port must be a device path such as /dev/ttyUSB0"),
                (
                    {"port": "/dev/x", "baudrate": 0},
                    "serial baudrate must be a positive integer, got 0",
                ),
            ):
                status, body = await web.post(
                    "/api/config/wizard", {"serial": serial, "mode": "useronly"}
                )
                assert (status, body) == (400, {"error": error})

    impsy_loop.run(main())
