"""The dashboard's view of MIDI ports, over a real JACK server: waiting, then open."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from impsy.app import RunOptions, build_engine
from impsy.engine import loop as impsy_loop
from impsy.io.midi.adapter import MidiAdapter
from impsy.web.context import WebContext
from impsy.web.server import WebServer
from tests.io.test_midi_jack import MAPPING_9, config, ports


def test_midi_ports_show_waiting_until_they_appear_and_label_the_values(jack, tmp_path):
    keys = jack.controller("web-keys")
    cfg = config(ports({"web-keys": MAPPING_9}, {"web-synth": MAPPING_9}))

    async def main():  # noqa: ANN202
        engine = build_engine(cfg, RunOptions(logdir=tmp_path))
        await engine.start([MidiAdapter(cfg.midi, engine.dimension, check_interval=0.1)])
        server = WebServer(
            WebContext.create(cfg, engine, root=tmp_path, logdir=Path("logs"), port=0)
        )
        await server.start()
        url = f"http://127.0.0.1:{server.ctx.port}/api/status"
        try:
            async with aiohttp.ClientSession() as session:

                async def midi() -> dict:
                    async with session.get(url) as response:
                        body = await response.json()
                    return body, next(a for a in body["adapters"] if a["name"] == "midi")

                body, health = await midi()
                assert body["labels"] == [
                    "dt",
                    "note 1",
                    "velocity 1",
                    "CC 1:1",
                    "CC 1:2",
                    "CC 1:3",
                    "CC 1:4",
                    "CC 1:5",
                    "bend 1",
                ]
                assert health["state"] == "waiting"
                states = {(p["name"], p["direction"]): p["state"] for p in health["ports"]}
                assert states == {("web-keys", "input"): "open", ("web-synth", "output"): "waiting"}
                assert next(p for p in health["ports"] if p["name"] == "web-keys")["device"] == (
                    keys.name
                )
                jack.synth("web-synth")
                for _ in range(60):
                    _, health = await midi()
                    if health["state"] == "open":
                        break
                    await asyncio.sleep(0.1)
                assert health["state"] == "open"
                assert all(p["state"] == "open" for p in health["ports"])
        finally:
            await server.stop()
            await engine.stop()

    impsy_loop.run(main())
