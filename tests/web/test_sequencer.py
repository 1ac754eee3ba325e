"""The sequencer page's endpoints against a real ``[sequencer]`` in a running engine."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from impsy.config import load_config_text
from impsy.engine.table import Command
from impsy.sequencer.control import SequencerEvent
from impsy.web.context import WebContext
from impsy.web.live import LiveFeed
from tests.web.test_api import GESTURE, run, served

SEQUENCER = "\n[sequencer]\ntempo = 120\n"


def test_sequencer_snapshot_and_actions_go_through_the_engine_commands(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, config_extra=SEQUENCER) as web:
            status, body = await web.get("/api/status")
            assert body["sequencer"] is True
            status, snapshot = await web.get("/api/sequencer")
            assert status == 200 and snapshot["tempo"] == 120.0 and snapshot["playing"] is False
            assert snapshot["pattern"]["tracks"][0]["steps"][3]["on"] is False

            status, body = await web.send(
                "POST", "/api/sequencer", json={"action": "toggle", "args": [0, 3]}
            )
            assert status == 200
            assert body["snapshot"]["pattern"]["tracks"][0]["steps"][3]["on"] is True
            status, body = await web.send(
                "POST", "/api/sequencer", json={"action": "tempo", "args": [140]}
            )
            assert status == 200 and body["snapshot"]["tempo"] == 140.0
            sequencer = web.ctx.sequencer
            assert sequencer.tempo == 140.0

            for bad in (
                {"action": "tempo", "args": [5000]},  # out of range
                {"action": "toggle", "args": [0]},  # missing argument
                {"action": "explode"},
                {"action": "save", "args": ["/tmp/anywhere.json"]},  # no paths from a browser
                {"action": "tempo", "args": "fast"},
            ):
                status, answer = await web.send("POST", "/api/sequencer", json=bad)
                assert status == 400, bad
                assert "error" in answer
            assert sequencer.tempo == 140.0

    run(main())


def test_live_socket_carries_sequencer_events(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, config_extra=SEQUENCER) as web:
            async with web.session.ws_connect(web.base + "/api/live") as ws:
                await asyncio.wait_for(ws.receive_json(), 2)
                status, _ = await web.send("POST", "/api/sequencer", json={"action": "start"})
                assert status == 200
                kinds: set[str] = set()
                while not {"transport", "playhead"} <= kinds:
                    frame = await asyncio.wait_for(ws.receive_json(), 2)
                    events = frame.get("sequencer", [])
                    kinds |= {event["kind"] for event in events}
                await web.send("POST", "/api/sequencer", json={"action": "stop"})

    run(main())


def test_playhead_events_between_frames_are_coalesced_to_the_latest():
    feed = LiveFeed(WebContext.create(load_config_text("", "c"), None, root=Path("."), port=0))
    feed.on_sequencer(SequencerEvent("transport", {"playing": True, "state": "start"}))
    for step in range(5):
        feed.on_sequencer(SequencerEvent("playhead", {"step": step, "steps": [step], "bar": 0}))
    feed.on_sequencer(SequencerEvent("tempo", {"tempo": 100.0, "swing": 0.0}))
    feed.on_sequencer(SequencerEvent("playhead", {"step": 5, "steps": [5], "bar": 0}))
    frame = json.loads(feed.frame(1.0, with_status=False))
    assert [(e["kind"], e["data"].get("step")) for e in frame["sequencer"]] == [
        ("transport", None),
        ("playhead", 4),
        ("tempo", None),
        ("playhead", 5),
    ]
    assert feed.frame(1.1, with_status=False) is None  # nothing new: no frame


def test_a_failing_handler_answers_500_and_the_performance_goes_on(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, config_extra=SEQUENCER) as web:

            def broken(target: object) -> None:
                raise RuntimeError("pattern store on fire")

            commands = web.ctx.commands
            commands.unregister([commands.find("seq/undo")])
            commands.register([Command("seq/undo", "a handler with a bug", broken)], None)
            status, body = await web.send("POST", "/api/sequencer", json={"action": "undo"})
            assert status == 500 and "pattern store on fire" in body["error"]
            web.peer.send("/interface", *GESTURE)
            assert (await web.peer.status())["events_in"] == 1  # the engine never noticed
            status, body = await web.get("/api/status")
            assert status == 200 and body["events_in"] == 1

    run(main())


def test_an_import_from_the_browser_answers_with_its_outcome(tmp_path):
    """The page hears how a MIDI import ended: the new pattern, or why it failed."""
    import mido

    async def main():  # noqa: ANN202
        folder = tmp_path / "patterns"
        folder.mkdir()
        (folder / "junk.mid").write_bytes(b"not MIDI" * 20)
        midi = mido.MidiFile(type=0)
        track = mido.MidiTrack(
            [mido.Message("note_on", note=60, velocity=90), mido.Message("note_off", note=60)]
        )
        midi.tracks.append(track)
        midi.save(folder / "good.mid")
        extra = f'{SEQUENCER}patterns = "{folder}/bank.json"\n'
        async with served(tmp_path, config_extra=extra) as web:
            bad = await web.send(
                "POST", "/api/sequencer", json={"action": "import_midi", "args": ["junk.mid"]}
            )
            good = await web.send(
                "POST", "/api/sequencer", json={"action": "import_midi", "args": ["good.mid"]}
            )
            return bad, good

    (bad_status, bad_body), (good_status, good_body) = run(main())
    assert bad_status == 400 and "junk.mid" in bad_body["error"]
    assert "not a readable Standard MIDI File" in bad_body["error"]
    assert good_status == 200 and good_body["result"] == 1
    assert good_body["snapshot"]["selected_pattern"] == 1
