"""The web UI's HTTP API against a real server: real sockets, a real engine, a real client.

impsy's engine runs with the bundled dimension-9 model and a real OSC
adapter on 127.0.0.1; the web UI is served on the same loop, as under
``impsy run``, on a free port; aiohttp's client plays the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from impsy.app import RunOptions, build, check_edited_config
from impsy.config import load_config_text
from impsy.engine import loop as impsy_loop
from impsy.engine.ports import Adapter
from impsy.errors import ImpsyError
from impsy.web.context import WebContext
from impsy.web.live import MAX_ROWS, Client, LiveFeed
from impsy.web.server import WebServer
from tests.osc_client import OscPeer, free_udp_port
from tests.paths import ROOT

MODELS = ROOT / "models"
STEM = "musicMDRNN-dim9-layers2-units64-mixtures5-scale10"
MODEL = MODELS / f"{STEM}.tflite"
TRAINED = MODELS / f"{STEM}-trained.tflite"
GESTURE = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
WRITE = {"X-Impsy": "1"}
CC_MAPPING = "[" + ", ".join(f'["control_change", 1, {40 + i}]' for i in range(8)) + "]"


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config_text(server: int, client: int, mode: str = "useronly", extra: str = "") -> str:
    return f"""
log_input = true
[interaction]
mode = "{mode}"
threshold = 0.1
[model]
file = "{MODEL}"
timescale = 0.05
seed = 3
[osc]
server_port = {server}
client_port = {client}
[webui]
{extra}
"""


@dataclass
class Served:
    """A running engine + web UI, a client session and an OSC peer."""

    engine: object
    ctx: WebContext
    server: WebServer
    session: aiohttp.ClientSession
    peer: OscPeer | None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.ctx.port}"

    async def get(self, path: str, **kwargs) -> tuple[int, object]:  # noqa: ANN003
        async with self.session.get(self.base + path, **kwargs) as response:
            return response.status, await _body(response)

    async def send(self, method: str, path: str, **kwargs) -> tuple[int, object]:  # noqa: ANN003
        kwargs["headers"] = {**WRITE, **kwargs.get("headers", {})}
        async with self.session.request(method, self.base + path, **kwargs) as response:
            return response.status, await _body(response)


async def _body(response: aiohttp.ClientResponse) -> object:
    if response.content_type == "application/json":
        return await response.json()
    return await response.read()


@contextlib.asynccontextmanager
async def served(
    tmp_path: Path,
    mode: str = "useronly",
    token: str | None = None,
    with_engine: bool = True,
    adapters: list[Adapter] | None = None,
    config_extra: str = "",
) -> AsyncIterator[Served]:
    """Engine (optional), OSC peer and web UI in ``tmp_path`` (logs/, datasets/, models/)."""
    server_port, client_port = free_udp_port(), free_udp_port()
    webui = f'token = "{token}"' if token else ""
    text = config_text(server_port, client_port, mode, webui) + config_extra
    config_file = tmp_path / "config.toml"
    config_file.write_text(text)
    config = load_config_text(text, str(config_file))
    for folder in ("logs", "datasets", "models"):
        (tmp_path / folder).mkdir(exist_ok=True)
    engine = peer = performance = None
    if with_engine:
        performance = build(config, RunOptions(logdir=tmp_path / "logs"))
        engine = performance.engine
        await performance.start(adapters)
        peer = await OscPeer.open(client_port, server_port)
    ctx = WebContext.create(
        config,
        engine,
        root=tmp_path,
        logdir=Path("logs"),
        port=0,
        commands=performance.commands if performance else None,
        sequencer=performance.sequencer if performance else None,
        check_config=check_edited_config,
    )
    server = WebServer(ctx)
    await server.start()
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        yield Served(engine, ctx, server, session, peer)
    finally:
        await session.close()
        await server.stop()
        if peer is not None:
            peer.close()
        if engine is not None:
            await engine.stop()


def run(coro) -> object:  # noqa: ANN001
    return impsy_loop.run(coro)


# ---------------------------------------------------------------- status, pages


class BrokenAdapter(Adapter):
    """An adapter whose health check fails: the dashboard must still answer."""

    name = "broken"

    async def start(self, engine) -> None:  # noqa: ANN001
        pass

    async def stop(self) -> None:
        pass

    def send(self, values) -> None:  # noqa: ANN001
        pass

    def describe(self) -> str:
        return "broken: for the test"

    def health(self) -> dict[str, object]:
        raise RuntimeError("cable on fire")


def test_status_reports_engine_model_adapters_and_labels(tmp_path):
    ws_port = free_tcp_port()
    websocket = f"""
[websocket]
server_port = {ws_port}
input = {CC_MAPPING}
output = {CC_MAPPING}
[serial]
port = "{tmp_path / "no-such-tty"}"
"""

    async def main():  # noqa: ANN202
        async with served(tmp_path, adapters=[BrokenAdapter()], config_extra=websocket) as web:
            status, body = await web.get("/api/status")
            assert status == 200
            assert body["running"] is True
            assert body["mode"] == "useronly"
            assert body["dimension"] == 9
            assert body["lateness_p50_ms"] is None  # no sample yet: null, not NaN
            info = body["model_info"]
            assert (info["dimension"], info["units"], info["layers"], info["mixtures"]) == (
                9,
                64,
                2,
                5,
            )
            assert info["format"] == "tflite" and info["size_bytes"] == MODEL.stat().st_size
            assert body["labels"] == ["dt", *[f"CC 1:{40 + i}" for i in range(8)]]
            states = {a["name"]: a["state"] for a in body["adapters"]}
            assert states["osc"] == "open"
            assert states["broken"] == "error"
            ws_health = next(a for a in body["adapters"] if a["name"] == "websocket")
            assert (ws_health["state"], ws_health["clients"]) == ("open", 0)
            assert states["serial"] == "waiting"  # missing port: retried in the background
            broken = next(a for a in body["adapters"] if a["name"] == "broken")
            assert "cable on fire" in broken["detail"]
            assert body["log"].endswith("-9d-mdrnn.log")

    run(main())


def test_labels_without_a_mapping_are_numbered(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path) as web:
            _, body = await web.get("/api/status")
            assert body["labels"] == ["dt", *[f"x{i}" for i in range(1, 9)]]

    run(main())


def test_pages_and_static_files_come_from_the_package(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            async with web.session.get(web.base + "/") as response:
                assert response.status == 200
                assert response.content_type == "text/html"
                assert b"<html" in (await response.read()).lower()
                assert response.headers["X-Content-Type-Options"] == "nosniff"
            async with web.session.get(web.base + "/static/app.css") as response:
                assert response.status == 200
                assert response.content_type == "text/css"
            for path in (
                "/static/",
                "/static/js",
                "/static/../server.py",
                "/static/%2e%2e/server.py",
                "/static/js/..%2f..%2fserver.py",
                "/static/.hidden",
                "/static/nope.js",
            ):
                status, body = await web.get(path)
                assert status == 404, path
                assert "error" in body, path

    run(main())


# ---------------------------------------------------------------------- control


def test_control_round_trips_every_setting_through_the_engine(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path) as web:
            engine = web.engine
            status, body = await web.send("POST", "/api/control", json={"mode": "battle"})
            assert status == 200
            assert body["mode"] == "battle" == engine.status()["mode"]
            status, body = await web.send(
                "POST",
                "/api/control",
                json={"pitemp": 1.5, "sigmatemp": 0.2, "timescale": 2.0, "threshold": 0.3},
            )
            assert status == 200
            assert (body["pitemp"], body["sigmatemp"]) == (1.5, 0.2)
            assert (body["timescale"], body["threshold"]) == (2.0, 0.3)
            assert engine.model.pi_temp == 1.5 and engine.settings.threshold == 0.3
            status, body = await web.send("POST", "/api/control", json={"pause": True})
            assert body["paused"] is True and engine.settings.paused
            status, body = await web.send("POST", "/api/control", json={"paused": False})
            assert body["paused"] is False, "the web API's older spelling still works"
            status, body = await web.send("POST", "/api/control", json={"reset": True})
            assert status == 200
            status, body = await web.send("POST", "/api/control", json={"mode": "filter"})
            assert body["mode"] == "polyphony"

            status, body = await web.send("POST", "/api/control", json={"pitemp": -1})
            assert status == 400 and "pitemp must be a positive number" in body["error"]
            status, body = await web.send("POST", "/api/control", json={"mode": "loud"})
            assert status == 400 and "unknown mode" in body["error"]
            status, body = await web.send("POST", "/api/control", json={"volume": 3})
            assert status == 400 and "unknown command 'volume'" in body["error"]
            status, body = await web.send("POST", "/api/control", json={"paused": "yes"})
            assert status == 400
            status, body = await web.send("POST", "/api/control", data=b"{not json")
            assert status in (400, 415)
            assert engine.settings.mode == "polyphony" and engine.model.pi_temp == 1.5

    run(main())


def test_cross_site_requests_cannot_change_anything(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path) as web:
            url = web.base + "/api/control"
            async with web.session.post(url, json={"mode": "battle"}) as response:
                assert response.status == 403  # no X-Impsy header
                assert "X-Impsy" in (await response.json())["error"]
            foreign = {**WRITE, "Origin": "http://evil.example"}
            async with web.session.post(url, json={"mode": "battle"}, headers=foreign) as response:
                assert response.status == 403
                assert "cross-site" in (await response.json())["error"]
            form = {**WRITE, "Content-Type": "application/x-www-form-urlencoded"}
            async with web.session.post(url, data="mode=battle", headers=form) as response:
                assert response.status == 415
            same = {**WRITE, "Origin": web.base}
            async with web.session.post(url, json={"timescale": 3}, headers=same) as response:
                assert response.status == 200
            rebinding = {"Host": f"evil.example:{web.ctx.port}"}
            async with web.session.get(web.base + "/api/status", headers=rebinding) as response:
                assert response.status == 403  # DNS rebinding: a foreign name for 127.0.0.1
            assert web.engine.settings.mode == "useronly"
            assert web.engine.settings.timescale == 3

    run(main())


def test_oversize_json_is_refused(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path) as web:
            huge = {"text": "#" * (2 * 1024 * 1024)}
            status, body = await web.send("POST", "/api/config/validate", json=huge)
            assert status == 413 and "error" in body

    run(main())


def test_engine_endpoints_answer_409_without_a_performance(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            status, body = await web.get("/api/status")
            assert status == 200 and body["running"] is False
            assert body["model_info"] is None and body["adapters"] == []
            for path, payload in (
                ("/api/control", {"mode": "battle"}),
                ("/api/model/use", {"file": TRAINED.name}),
                ("/api/sequencer", {"action": "start"}),
            ):
                status, body = await web.send("POST", path, json=payload)
                assert status == 409, path
                assert "impsy run" in body["error"]

    run(main())


def test_sequencer_endpoints_say_when_there_is_none(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path) as web:
            status, body = await web.get("/api/sequencer")
            assert status == 404 and body == {"error": "no sequencer in this run"}
            status, body = await web.send("POST", "/api/sequencer", json={"action": "start"})
            assert status == 404

    run(main())


# ------------------------------------------------------------------------- live


def test_live_socket_streams_a_gesture_sent_over_osc(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path) as web:
            async with web.session.ws_connect(web.base + "/api/live") as ws:
                first = await asyncio.wait_for(ws.receive_json(), 2)
                assert first["status"]["mode"] == "useronly"  # the first frame has the status
                web.peer.send("/interface", *GESTURE)
                rows = []
                while not rows:
                    frame = await asyncio.wait_for(ws.receive_json(), 2)
                    rows = frame.get("inputs", [])
                assert len(rows) == 1
                assert rows[0][1:] == pytest.approx(GESTURE, abs=1e-4)
                assert web.engine.observed, "the feed observes while someone watches"
            for _ in range(50):
                if not web.engine.observed:
                    break
                await asyncio.sleep(0.02)
            assert not web.engine.observed, "and stops observing when nobody does"

    run(main())


def test_live_socket_sends_the_model_output_in_battle_mode(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, mode="battle") as web:
            async with web.session.ws_connect(web.base + "/api/live") as ws:
                outputs = []
                # One deadline for the whole wait, not one per frame: the model floods the
                # loaded loop at this timescale and a busy CI host can hold a frame back.
                async with asyncio.timeout(10):
                    while len(outputs) < 3:
                        outputs += (await ws.receive_json()).get("outputs", [])
                assert all(len(row) == 9 for row in outputs)
                assert all(0.0 <= v <= 1.0 for row in outputs for v in row[1:])

    run(main())


def test_live_socket_refuses_a_foreign_origin(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path) as web:
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await web.session.ws_connect(
                    web.base + "/api/live", headers={"Origin": "http://evil.example"}
                )
            assert caught.value.status == 403

    run(main())


# ------------------------------------------------------------------------ token


def test_token_is_required_for_every_request_when_set(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, token="s3cret-token") as web:
            for path in ("/", "/api/status", "/static/app.css", "/api/files"):
                status, body = await web.get(path)
                assert status == 401, path
            status, _ = await web.get("/api/status", headers={"Authorization": "Bearer wrong"})
            assert status == 401
            good = {"Authorization": "Bearer s3cret-token"}
            status, body = await web.get("/api/status", headers=good)
            assert status == 200 and body["webui"]["token_required"] is True
            status, _ = await web.send("POST", "/api/control", json={"mode": "battle"})
            assert status == 401
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await web.session.ws_connect(web.base + "/api/live")
            assert caught.value.status == 401
            # Opening the page once with ?token= sets a cookie; plain URLs work after that.
            async with web.session.get(web.base + "/?token=s3cret-token") as response:
                assert response.status == 200
                cookie = response.cookies["impsy_token"]
                assert cookie["httponly"] and cookie["samesite"] == "Strict"
            status, body = await web.get("/api/status")
            assert status == 200
            async with web.session.ws_connect(web.base + "/api/live") as ws:
                assert "status" in await asyncio.wait_for(ws.receive_json(), 2)

    run(main())


def test_listening_beyond_this_machine_needs_a_token():
    config = load_config_text('[webui]\nhost = "0.0.0.0"\n', "open.toml")

    async def main():  # noqa: ANN202
        server = WebServer(WebContext.create(config, None, port=0))
        with pytest.raises(ImpsyError, match=r"\[webui\] token"):
            await server.start()

    run(main())


def test_a_port_in_use_is_one_clear_error(tmp_path):
    config = load_config_text("[webui]\n", "c.toml")

    async def main():  # noqa: ANN202
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            server = WebServer(WebContext.create(config, None, root=tmp_path, port=port))
            with pytest.raises(ImpsyError, match=rf"\[webui\] cannot listen on 127.0.0.1:{port}"):
                await server.start()

    run(main())


# ------------------------------------------------------------------------ files


def make_files(root: Path) -> None:
    (root / "logs" / "2026-01-01T10-00-00-9d-mdrnn.log").write_text(
        "2026-01-01T10:00:00.000000,interface,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8\n"
    )
    (root / "logs" / "notes.txt").write_text("not a log")
    (root / "datasets" / "training-dataset-9d.npz").write_bytes(b"PK\x03\x04fake")
    shutil.copy(MODEL, root / "models" / MODEL.name)


def test_files_are_listed_with_size_date_and_dimension(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            make_files(tmp_path)
            status, body = await web.get("/api/files")
            assert status == 200
            (log,) = body["logs"]  # notes.txt is not a log
            assert log["name"] == "2026-01-01T10-00-00-9d-mdrnn.log"
            assert log["dimension"] == 9 and log["size"] > 0 and log["mtime"] > 0
            assert body["datasets"][0]["dimension"] == 9
            (model,) = body["models"]
            assert model["name"] == MODEL.name and model["dimension"] == 9
            assert model["size"] == MODEL.stat().st_size and model["loadable"] is True
            assert body["upload_limit"] == 50 * 1024 * 1024

    run(main())


def test_download_and_delete(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            make_files(tmp_path)
            name = "2026-01-01T10-00-00-9d-mdrnn.log"
            async with web.session.get(f"{web.base}/api/files/logs/{name}") as response:
                assert response.status == 200
                assert "attachment" in response.headers["Content-Disposition"]
                assert await response.read() == (tmp_path / "logs" / name).read_bytes()
            status, body = await web.send("DELETE", f"/api/files/logs/{name}")
            assert (status, body) == (200, {"deleted": name})
            assert not (tmp_path / "logs" / name).exists()
            status, body = await web.send("DELETE", f"/api/files/logs/{name}")
            assert status == 404
            async with web.session.delete(f"{web.base}/api/files/models/{MODEL.name}") as response:
                assert response.status == 403  # no X-Impsy header: not deleted
            assert (tmp_path / "models" / MODEL.name).exists()

    run(main())


def test_the_running_log_cannot_be_deleted(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path) as web:
            web.peer.send("/interface", *GESTURE)
            await asyncio.sleep(0.05)
            name = web.engine.event_log.path.name
            status, body = await web.send("DELETE", f"/api/files/logs/{name}")
            assert status == 409 and "in use" in body["error"]

    run(main())


def test_file_names_cannot_escape_their_folder(tmp_path):
    secret = tmp_path / "secret.log"
    secret.write_text("private")
    outside = tmp_path / "outside.tflite"
    shutil.copy(MODEL, outside)

    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            make_files(tmp_path)
            (tmp_path / "models" / "link.tflite").symlink_to(outside)
            (tmp_path / "logs" / ".hidden.log").write_text("x")
            for path in (
                "/api/files/logs/..%2fsecret.log",
                "/api/files/logs/%2E%2E%2Fsecret.log",
                "/api/files/logs/..%5Csecret.log",
                "/api/files/logs/%2Fetc%2Fpasswd",
                "/api/files/logs/.hidden.log",
                "/api/files/logs/notes.txt",  # wrong extension for logs
                "/api/files/models/config.toml",
                "/api/files/models/link.tflite",  # a symlink leading out of models/
            ):
                status, body = await web.get(path)
                assert status in (400, 404), path
                assert "error" in body, path
                status, body = await web.send("DELETE", path)
                assert status in (400, 404), path
            status, body = await web.get("/api/files/config/config.toml")
            assert status == 404
            status, body = await web.get("/api/files/logs/../secret.log")
            assert status in (400, 404)
            assert secret.read_text() == "private" and outside.exists()
            assert (tmp_path / "models" / "link.tflite").is_symlink()
            _, listing = await web.get("/api/files")
            assert [m["name"] for m in listing["models"]] == [MODEL.name]

    run(main())


def _upload(name: str, data: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


def test_a_model_upload_is_checked_by_loading_it(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            data = TRAINED.read_bytes()
            status, body = await web.send(
                "POST", "/api/files/models", data=_upload("mine.tflite", data)
            )
            assert (status, body["saved"], body["dimension"]) == (201, "mine.tflite", 9)
            assert (tmp_path / "models" / "mine.tflite").read_bytes() == data
            again = _upload("mine.tflite", data)
            status, body = await web.send("POST", "/api/files/models", data=again)
            assert status == 409
            junk = _upload("junk.tflite", b"not a model at all" * 100)
            status, body = await web.send("POST", "/api/files/models", data=junk)
            assert status == 400 and "not a model" in body["error"]
            wrong = _upload("evil.sh", b"#!/bin/sh\n")
            status, body = await web.send("POST", "/api/files/models", data=wrong)
            assert status == 400
            sneaky = _upload("../../escape.tflite", data)
            status, body = await web.send("POST", "/api/files/models", data=sneaky)
            assert status in (201, 409, 400)
            assert not (tmp_path.parent / "escape.tflite").exists()
            names = sorted(os.listdir(tmp_path / "models"))
            assert "junk.tflite" not in names and not any(n.startswith(".") for n in names)

    run(main())


@pytest.mark.parametrize("limit_kib", [100, 200])  # refused from its length / while streaming
def test_an_oversize_upload_is_refused_and_nothing_kept(tmp_path, limit_kib):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            web.ctx.upload_limit = limit_kib * 1024
            data = TRAINED.read_bytes()
            assert len(data) > 200 * 1024
            status, body = await web.send(
                "POST", "/api/files/models", data=_upload("big.tflite", data)
            )
            assert status == 413 and "too large" in body["error"]
            assert os.listdir(tmp_path / "models") == []

    run(main())


def test_the_upload_cap_comes_from_the_config(tmp_path):
    async def main():  # noqa: ANN202
        extra = "max_upload_mb = 0.1\n"  # appended to the config's last section, [webui]
        async with served(tmp_path, with_engine=False, config_extra=extra) as web:
            assert web.ctx.config.webui.max_upload_mb == 0.1
            status, body = await web.get("/api/files")
            assert body["upload_limit"] == int(0.1 * 1024 * 1024)
            status, body = await web.send(
                "POST", "/api/files/models", data=_upload("big.tflite", TRAINED.read_bytes())
            )
            assert status == 413 and "too large" in body["error"]

    run(main())


def test_a_web_ui_with_a_token_writes_wizard_configs_that_keep_it(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False, token="s3cret") as web:
            answers = {"mode": "useronly", "model": "", "dimension": 9}
            status, body = await web.send("POST", "/api/config/wizard?token=s3cret", json=answers)
            assert status == 200
            assert load_config_text(body["text"], "w.toml").webui.token == "s3cret"

    run(main())


# ----------------------------------------------------------------------- config


def test_config_is_read_validated_and_only_saved_when_valid(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            path = tmp_path / "config.toml"
            original = path.read_text()
            status, body = await web.get("/api/config")
            assert status == 200 and body["text"] == original and body["exists"] is True

            bad = original.replace(
                f"server_port = {web.ctx.config.osc.server_port}", 'server_port = "x"'
            )
            status, body = await web.send("POST", "/api/config/validate", json={"text": bad})
            assert status == 200 and body["ok"] is False
            (error,) = body["errors"]
            assert error["key"] == "[osc] server_port"
            assert bad.splitlines()[error["line"] - 1].startswith("server_port")
            assert "expected an integer 1-65535" in error["message"]

            syntax = original + "\n[osc\n"
            status, body = await web.send("POST", "/api/config/validate", json={"text": syntax})
            assert body["errors"][0]["line"] == syntax.count("\n")

            unknown = original.replace("[webui]", "[webui]\ncolour = 3")
            status, body = await web.send("POST", "/api/config/validate", json={"text": unknown})
            assert body["ok"] is True
            (warning,) = body["warnings"]
            assert warning["key"] == "[webui] colour"
            assert unknown.splitlines()[warning["line"] - 1] == "colour = 3"

            status, body = await web.send("PUT", "/api/config", json={"text": bad})
            assert status == 400 and body["errors"][0]["key"] == "[osc] server_port"
            assert path.read_text() == original

            no_model = original.replace(f'file = "{MODEL}"', 'file = "models/nope.tflite"')
            no_model = no_model.replace('mode = "useronly"', 'mode = "battle"')
            status, body = await web.send("PUT", "/api/config", json={"text": no_model})
            assert status == 400 and "nope.tflite does not exist" in body["error"]
            assert body["errors"][0]["key"] == "[model] file"

            good = original.replace("threshold = 0.1", "threshold = 0.4")
            status, body = await web.send("PUT", "/api/config", json={"text": good})
            assert status == 200 and body["ok"] is True
            assert path.read_text() == good

    run(main())


def test_config_editor_refuses_what_run_refuses_in_the_same_words(tmp_path):
    """The editor's check is the run's (``impsy.app.check_edited_config``), not its own.

    Before, it accepted an exposed web UI without a token or with a short one
    and a model folder's worth of mistakes that ``impsy run`` refuses, and it
    refused the packaged default model, which ``impsy run`` plays from any folder.
    """

    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            original = (tmp_path / "config.toml").read_text()
            battle = original.replace('mode = "useronly"', 'mode = "battle"')

            async def verdict(text: str) -> dict:
                status, body = await web.send("POST", "/api/config/validate", json={"text": text})
                assert status == 200
                return body

            body = await verdict(battle.replace("[webui]", '[webui]\nhost = "0.0.0.0"'))
            assert body["ok"] is False
            assert "[webui] token: not set" in body["errors"][0]["message"]
            assert body["errors"][0]["key"] == "[webui] token"
            short = battle.replace("[webui]", '[webui]\nhost = "0.0.0.0"\ntoken = "abc"')
            body = await verdict(short)
            assert body["ok"] is False and "use at least 16" in body["errors"][0]["message"]
            assert body["errors"][0]["key"] == "[webui] token"

            (tmp_path / "models" / "folder.tflite").mkdir()
            folder = battle.replace(f'file = "{MODEL}"', 'file = "models/folder.tflite"')
            body = await verdict(folder)
            assert body["ok"] is False and "is a folder" in body["errors"][0]["message"]
            assert body["errors"][0]["key"] == "[model] file"

            mismatch = battle.replace("[model]", "[model]\ndimension = 5")
            body = await verdict(mismatch)
            assert body["ok"] is False and "dimension" in body["errors"][0]["message"]

            huge = battle.replace("[model]", "[model]\ndimension = 100000000000000000000")
            body = await verdict(huge)
            assert body["ok"] is False and "256" in body["errors"][0]["message"]

            # the packaged default is played from any folder by impsy run, so it is accepted
            packaged = battle.replace(f'file = "{MODEL}"', f'file = "models/{TRAINED.name}"')
            assert not (tmp_path / "models" / TRAINED.name).exists()
            body = await verdict(packaged)
            assert body["ok"] is True, body

    run(main())


def test_a_runs_web_ui_and_impsy_webui_get_the_runs_config_check(tmp_path):
    config = load_config_text(config_text(free_udp_port(), free_udp_port()), "c.toml")
    performance = build(config, RunOptions(logdir=tmp_path / "logs"))
    assert performance.web_context(RunOptions()).check_config is check_edited_config


def test_wizard_writes_only_configs_that_load(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            shutil.copy(MODEL, tmp_path / "models" / MODEL.name)
            answers = {
                "mode": "callresponse",
                "model": f"models/{MODEL.name}",
                "dimension": 9,
                "osc": {"server_port": 6100, "client_port": 6101},
                "midi": {"in_device": "X-TOUCH", "out_device": "Synth", "first_cc": 10},
            }
            status, body = await web.send("POST", "/api/config/wizard", json=answers)
            assert status == 200 and body["saved"] is False
            config = load_config_text(body["text"], "wizard.toml")
            assert config.interaction.mode == "callresponse"
            assert config.osc.server_port == 6100 and config.midi.in_device == ("X-TOUCH",)
            assert len(config.midi.input["X-TOUCH"]) == 8
            status, body = await web.send(
                "POST", "/api/config/wizard", json={**answers, "save": True}
            )
            assert status == 200 and body["saved"] is True
            assert (tmp_path / "config.toml").read_text() == body["text"]
            # the browser that wrote it can still reach impsy after the restart
            assert (config.webui.host, config.webui.port) == ("127.0.0.1", web.ctx.port)
            status, body = await web.send(
                "POST", "/api/config/wizard", json={**answers, "webui_port": 4321}
            )
            assert load_config_text(body["text"], "w.toml").webui.port == 4321
            status, body = await web.send(
                "POST", "/api/config/wizard", json={**answers, "webui_port": 70000}
            )
            assert status == 400 and "webui_port" in body["error"]

            wrong = {**answers, "dimension": 4, "save": True}  # the model is dimension 9
            status, body = await web.send("POST", "/api/config/wizard", json=wrong)
            assert status == 400 and "dimension" in body["error"]
            no_model = {"mode": "battle", "model": "", "save": True}
            status, body = await web.send("POST", "/api/config/wizard", json=no_model)
            assert status == 400 and "needs a model" in body["error"]
            status, body = await web.send("POST", "/api/config/wizard", json={"mode": "loud"})
            assert status == 400
            assert (
                load_config_text((tmp_path / "config.toml").read_text(), "c").model.dimension == 9
            )

    run(main())


# ------------------------------------------------------------------- hot swap


def test_hot_swap_keeps_every_osc_input(tmp_path):
    """A model swap from the web UI while a controller plays: no input is lost."""

    async def main():  # noqa: ANN202
        async with served(tmp_path, mode="polyphony") as web:
            shutil.copy(TRAINED, tmp_path / "models" / TRAINED.name)
            sent = 0

            async def play() -> None:
                nonlocal sent
                loop = asyncio.get_running_loop()
                start = loop.time()
                for i in range(150):  # 100 gestures a second for 1.5 s
                    await asyncio.sleep(max(0.0, start + i * 0.01 - loop.time()))
                    web.peer.send("/interface", *GESTURE)
                    sent += 1

            player = asyncio.ensure_future(play())
            await asyncio.sleep(0.3)
            status, body = await web.send("POST", "/api/model/use", json={"file": TRAINED.name})
            assert status == 200, body
            assert body["model"].endswith(TRAINED.name)
            assert body["model_info"]["file"].endswith(TRAINED.name)
            await player
            await asyncio.sleep(0.1)
            status = await web.peer.status()
            assert status["events_in"] == sent == 150
            assert status["bad_input"] == 0 and status["model_errors"] == 0
            assert web.engine.model.path.name == TRAINED.name
            answers_after = len(web.peer.messages("/impsy"))
            assert answers_after > 0

            status, body = await web.send("POST", "/api/model/use", json={"file": "nope.tflite"})
            assert status == 404
            status, body = await web.send("POST", "/api/model/use", json={"file": "../x.tflite"})
            assert status == 400
            (tmp_path / "models" / "junk.h5").write_bytes(b"junk")
            status, body = await web.send("POST", "/api/model/use", json={"file": "junk.h5"})
            assert status == 400 and "cannot load" in body["error"]
            assert web.engine.model.path.name == TRAINED.name
            # A broken player profile beside a model keeps the playing model and its settings.
            shutil.copy(TRAINED, tmp_path / "models" / "other.tflite")
            (tmp_path / "models" / "other.profile.json").write_text('{"pitemp": -1}')
            pitemp = web.engine.model.pi_temp
            status, body = await web.send("POST", "/api/model/use", json={"file": "other.tflite"})
            assert status == 400, body
            assert "other.tflite not swapped in" in body["error"]
            assert "other.profile.json" in body["error"]
            assert web.engine.model.path.name == TRAINED.name
            assert web.engine.model.pi_temp == pitemp

    run(main())


def test_live_rows_are_bounded_and_the_newest_are_kept():
    feed = LiveFeed(WebContext.create(load_config_text("", "c"), None, root=Path("."), port=0))
    for i in range(MAX_ROWS * 3):
        feed.observe("interface", np.full(8, i / 1000), float(i))
    feed.observe("rnn", np.full(8, 0.5), 9.0)
    frame = json.loads(feed.frame(10.0, with_status=False))
    assert len(frame["inputs"]) == MAX_ROWS
    assert frame["inputs"][-1][0] == MAX_ROWS * 3 - 1  # the newest rows survive
    assert frame["outputs"] == [[9.0, *[0.5] * 8]]

    client = Client(ws=None)  # a client still busy with the last frame gets only the newest
    client.offer("frame 1")
    client.offer("frame 2")
    assert (client.pending, client.dropped) == ("frame 2", 1)
