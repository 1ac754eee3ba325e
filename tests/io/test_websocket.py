"""The WebSocket adapter end to end with real ``websockets`` clients on 127.0.0.1.

impsy runs in this process on its own loop with the bundled model; each
client is what a browser page would be: it sends IMPSY's text messages and
collects whatever the server broadcasts.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from impsy.app import RunOptions, build_engine
from impsy.config import load_config_text
from impsy.engine import loop as impsy_loop
from impsy.io.websocket import WebSocketAdapter
from tests.paths import ROOT

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
CCS = ", ".join(f'["control_change", 1, {n}]' for n in range(1, 8))
MAPPING = f'[["note_on", 1], {CCS}]'
OUTPUT = re.compile(r"^/channel/1/(noteon/\d+/\d+|noteoff/\d+/0|cc/[1-7]/\d+)$")


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_config(mode: str, port: int) -> object:
    text = f"""
log_input = true
log_predictions = true
[interaction]
mode = "{mode}"
[model]
dimension = 9
file = "{MODEL}"
timescale = 0.02
seed = 7
[websocket]
server_ip = "127.0.0.1"
server_port = {port}
input = {MAPPING}
output = {MAPPING}
"""
    return load_config_text(text, "test.toml")


class Client:
    """A browser page: sends text, records every message the server sends it."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.received: list[str | bytes] = []
        self.closed = False
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, port: int, **options: object) -> Client:
        return cls(await connect(f"ws://127.0.0.1:{port}", proxy=None, **options))

    async def _read(self) -> None:
        try:
            async for message in self.connection:
                self.received.append(message)
        except ConnectionClosed:
            pass
        self.closed = True

    async def send(self, message: str | bytes) -> None:
        await self.connection.send(message)

    async def wait_for(self, condition, timeout: float = 3.0) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while not condition(self.received):
            if time.monotonic() > deadline:
                raise TimeoutError(f"received only {self.received!r}")
            await asyncio.sleep(0.005)

    async def close(self) -> None:
        await self.connection.close()
        await self._reader


def noteons(received: list[str | bytes]) -> list[str]:
    return [m for m in received if isinstance(m, str) and "/noteon/" in m]


def play(mode: str, scenario, tmp_path: Path):  # noqa: ANN001
    """Run impsy with a WebSocket adapter; returns ``scenario(engine, adapter, port)``."""

    async def main():  # noqa: ANN202
        port = free_tcp_port()
        config = make_config(mode, port)
        engine = build_engine(config, RunOptions(logdir=tmp_path))
        adapter = WebSocketAdapter(config.websocket, engine.dimension)
        await engine.start([adapter])
        try:
            return await scenario(engine, adapter, port)
        finally:
            await engine.stop()

    return impsy_loop.run(main())


def log_rows(tmp_path: Path) -> list[list[str]]:
    (log_file,) = tmp_path.glob("*-9d-mdrnn.log")
    return [line.split(",") for line in log_file.read_text().splitlines()]


def test_messages_in_become_gestures_and_predictions_reach_every_client(tmp_path: Path) -> None:
    async def scenario(engine, adapter, port):  # noqa: ANN001, ANN202
        player, listener = await Client.open(port), await Client.open(port)
        for note in (60, 64, 67):
            await player.send(f"/channel/1/noteon/{note}/100")
            await asyncio.sleep(0.03)
        await player.send("/channel/1/cc/3/127")
        for client in (player, listener):
            await client.wait_for(lambda received: len(noteons(received)) >= 4)
        await asyncio.sleep(0.05)
        return player, listener, engine.counters.bad_input

    player, listener, bad = play("polyphony", scenario, tmp_path)
    assert bad == 0
    for client in (player, listener):
        assert client.closed, "stopping impsy closes the connections"
        assert all(OUTPUT.match(m) for m in client.received), client.received
        assert len(noteons(client.received)) == 4, "one prediction per gesture, to everyone"
        sounding = None
        for message in client.received:  # follow the note the model holds
            if "/noteon/" in message:
                sounding = message.split("/")[4]
            elif "/noteoff/" in message and message.split("/")[4] == sounding:
                sounding = None
        assert sounding is None, "release on shutdown broadcast the last note's note-off"
    rows = log_rows(tmp_path)
    user = [[float(v) for v in row[2:]] for row in rows if row[1] == "interface"]
    assert [u[0] for u in user] == pytest.approx([60 / 127, 64 / 127, 67 / 127, 67 / 127])
    assert user[-1][3] == pytest.approx(1.0), "cc 3 is x_4 in the mapping"


def test_malformed_messages_are_counted_and_the_connection_stays_open(tmp_path: Path) -> None:
    async def scenario(engine, adapter, port):  # noqa: ANN001, ANN202
        client = await Client.open(port)
        for bad in (
            "hello",
            "/channel/17/noteon/60/100",  # no channel 17
            "/channel/1/noteon/60",  # a value missing
            "/channel/1/cc/1/128",  # out of range
            "/channel/1/noteon/sixty/100",
            b"\x90\x3c\x64",  # binary frame
        ):
            await client.send(bad)
        await client.send("/channel/2/noteon/60/100")  # well formed, not mapped: ignored
        await client.send("/channel/1/noteoff/60/0")  # ignored, as in IMPSY
        await client.send("/channel/1/noteon/72/90")  # and the client still plays
        deadline = time.monotonic() + 3
        while engine.counters.events_in < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        open_now = not client.closed and len(adapter.clients) == 1
        await client.close()
        return engine.counters.bad_input, engine.counters.events_in, open_now

    bad, events, still_open = play("useronly", scenario, tmp_path)
    assert (bad, events, still_open) == (6, 1, True)
    rows = log_rows(tmp_path)
    assert len(rows) == 1 and float(rows[0][2]) == pytest.approx(72 / 127)


def test_a_client_leaving_mid_run_does_not_disturb_the_others(tmp_path: Path) -> None:
    async def scenario(engine, adapter, port):  # noqa: ANN001, ANN202
        leaver, polite, stayer = [await Client.open(port) for _ in range(3)]
        await stayer.send("/channel/1/noteon/60/100")
        await stayer.wait_for(lambda received: len(noteons(received)) >= 1)
        leaver.connection.transport.abort()  # the tab crashed: no closing handshake
        await polite.close()  # the tab was closed
        deadline = time.monotonic() + 3
        while len(adapter.clients) > 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        for note in (62, 64, 65):
            await stayer.send(f"/channel/1/noteon/{note}/100")
            await asyncio.sleep(0.03)
        await stayer.wait_for(lambda received: len(noteons(received)) >= 4)
        return len(adapter.clients), engine.counters.events_in

    clients, events = play("polyphony", scenario, tmp_path)
    assert (clients, events) == (1, 4)


def test_a_client_that_stops_reading_is_skipped_and_never_slows_the_others(
    tmp_path: Path,
) -> None:
    async def scenario(engine, adapter, port):  # noqa: ANN001, ANN202
        adapter.max_backlog = 16 * 1024
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.setblocking(False)
        await asyncio.get_running_loop().sock_connect(stuck, ("127.0.0.1", port))
        # max_queue=1: the client stops reading its socket as soon as one message waits.
        slow = await connect(f"ws://127.0.0.1:{port}", sock=stuck, proxy=None, max_queue=1)
        fast = await Client.open(port)
        for server_side in adapter.clients:  # shrink impsy's kernel buffer toward the slow one
            if server_side.remote_address[1] == stuck.getsockname()[1]:
                sock = server_side.transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
                held = server_side
        rng = np.random.default_rng(5)
        sent = 0
        durations = []
        for i in range(1500):
            started = time.perf_counter()
            adapter.send(rng.random(8))
            durations.append(time.perf_counter() - started)
            sent += 1
            if i % 20 == 0:
                await asyncio.sleep(0)  # let the fast client's bytes out, as the engine would
        await fast.wait_for(lambda received: len(noteons(received)) == sent)
        backlog = held.transport.get_write_buffer_size()
        slow.transport.abort()
        await fast.close()
        return float(np.median(durations)), backlog, adapter.skipped, len(fast.received)

    typical, backlog, skipped, fast_count = play("useronly", scenario, tmp_path)
    assert skipped > 0
    assert backlog <= 16 * 1024 + 512, "the stuck client's buffer stays bounded"
    assert typical < 0.001, "a send never waits for a client"
    assert fast_count >= 1500 * 2, "the reading client got every message"


def test_a_foreign_web_page_cannot_connect_but_local_pages_and_plain_clients_can(tmp_path):
    """Browsers send Origin; a page from another site must not play into impsy."""
    from websockets.exceptions import InvalidStatus

    async def scenario(engine, adapter, port):  # noqa: ANN001, ANN202
        with pytest.raises(InvalidStatus) as refused:
            await Client.open(port, origin="https://evil.example")
        # null: sandboxed iframes, data: URLs and some redirects send it, not only files
        with pytest.raises(InvalidStatus) as refused_null:
            await Client.open(port, origin="null")
        allowed = [
            await Client.open(port),  # no Origin: Python, Pd, phone apps
            await Client.open(port, origin="http://localhost:8000"),
            await Client.open(port, origin="http://127.0.0.1"),
        ]
        await allowed[1].send("/channel/1/noteon/60/100")
        await asyncio.sleep(0.1)
        for client in allowed:
            await client.close()
        codes = (refused.value.response.status_code, refused_null.value.response.status_code)
        return codes, engine.status()

    codes, engine_status = play("useronly", scenario, tmp_path)
    assert codes == (403, 403)
    assert engine_status["bad_input"] == 2
    assert engine_status["events_in"] == 1


def test_origins_listed_in_the_config_are_allowed():
    from impsy.io.websocket import origin_allowed

    assert not origin_allowed("https://band.example")
    assert origin_allowed("https://band.example", ("https://band.example",))
    assert origin_allowed("https://anything.example", ("*",))
    assert not origin_allowed("null"), "a sandboxed page or data: URL, unless listed"
    assert origin_allowed("null", ("null",))
    assert not origin_allowed("http://localhost.evil.example")
    assert not origin_allowed("http://[bad")


def test_a_crowd_of_clients_connecting_prints_a_few_lines_not_one_each(tmp_path, caplog):
    """Two hundred clients coming and going: one line each way, then a count, not 400 lines."""

    async def scenario(engine, adapter, port):  # noqa: ANN001, ANN202
        for _ in range(200):
            client = await Client.open(port)
            await client.close()
        await asyncio.sleep(0.1)
        return engine.status()

    with caplog.at_level(logging.INFO, logger="impsy"):
        play("useronly", scenario, tmp_path)
    lines = [r.getMessage() for r in caplog.records if "websocket: client" in r.getMessage()]
    assert 2 <= len(lines) <= 4, lines
    assert any("connected" in line for line in lines)
