"""OSCQuery against a real run: real sockets, a real engine, a generic client.

impsy runs with the bundled dimension-9 model, a real OSC adapter and the
sequencer on 127.0.0.1, with ``[oscquery]`` started as ``impsy run`` starts
it (``impsy.app.start_oscquery``) on a free port. The client in this file
knows nothing of impsy: it speaks the OSCQuery proposal (walk ``CONTENTS``
from ``/``, ask ``?HOST_INFO`` where to send OSC, LISTEN over the WebSocket)
through aiohttp, and sends OSC with python-osc as any front end would.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pythonosc.osc_message import OscMessage

from impsy.app import RunOptions, build, check_config, start_oscquery
from impsy.config import ConfigError, load_config_text
from impsy.engine import loop as impsy_loop
from impsy.errors import ImpsyError
from impsy.io.osc_timetag import unix_ns_of
from impsy.sequencer.learn.live import MODEL_NAME
from impsy.sequencer.learn.vae import PatternVAE
from impsy.web.oscquery.advertise import SERVICE_TYPE
from impsy.web.oscquery.values import ENGINE_VALUES, LEARN_VALUES, SEQUENCER_VALUES
from tests.cli.test_run import start, wait_for_line
from tests.osc_client import OscPeer, free_udp_port, osc_bytes
from tests.paths import ROOT
from tests.system.test_listen_addresses import bound_addresses, free_tcp_port

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
TOKEN = "a-long-random-token-for-the-test"
WAIT_S = 2.0
"""How long a client waits for an update that must come (it comes within a poll, 50 ms)."""


def config_text(
    server: int, client: int, mode: str = "useronly", oscquery: str = "", sequencer: str = ""
) -> str:
    return f"""
log_input = false
[interaction]
mode = "{mode}"
[model]
file = "{MODEL}"
pitemp = 1.25
timescale = 0.01
seed = 3
[osc]
server_port = {server}
client_port = {client}
[sequencer]
{sequencer}
[oscquery]
{oscquery}
"""


@dataclass
class Run:
    """A performance with OSCQuery, the OSC peer at its client port, an HTTP session."""

    performance: Any
    server: Any
    peer: OscPeer
    session: aiohttp.ClientSession
    headers: dict[str, str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        async with self.session.get(self.base + path, headers=headers, **kwargs) as response:
            if response.status == 204:
                return 204, None
            return response.status, await response.json()


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path,
    mode: str = "useronly",
    oscquery: str = "",
    headers: dict | None = None,
    sequencer: str = "",
) -> AsyncIterator[Run]:
    server_port, client_port = free_udp_port(), free_udp_port()
    text = config_text(server_port, client_port, mode, oscquery, sequencer)
    config = load_config_text(text, "test.toml")
    config = dataclasses.replace(config, oscquery=dataclasses.replace(config.oscquery, port=0))
    performance = build(config, RunOptions(logdir=tmp_path))
    await performance.start()
    server = await start_oscquery(performance)
    peer = await OscPeer.open(client_port, server_port)
    session = aiohttp.ClientSession()
    try:
        yield Run(performance, server, peer, session, headers or {})
    finally:
        await session.close()
        peer.close()
        await server.stop()
        await performance.stop()


def run(coro: Any) -> Any:
    return impsy_loop.run(coro)


# ------------------------------------------------------------- a generic client
def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node under ``node``, as a client walking CONTENTS sees them."""
    found = [node]
    for name, child in node.get("CONTENTS", {}).items():
        assert child["FULL_PATH"] == node["FULL_PATH"].rstrip("/") + "/" + name
        found += walk(child)
    return found


def osc_items(types: str) -> int:
    return len(types) if types != "N" else 0


def decode(packet: bytes) -> tuple[str, list[Any]]:
    message = OscMessage(packet)
    return message.address, list(message.params)


async def next_update(ws: aiohttp.ClientWebSocketResponse, address: str) -> list[Any]:
    """The arguments of the next binary OSC packet for ``address`` (others are skipped)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.BINARY, message
            got, args = decode(message.data)
            if got == address:
                return args


def accepted_addresses(performance: Any) -> set[str]:
    """What the OSC adapter accepts (``impsy.io.osc``): /interface, and /impsy/<name> for
    every name and older spelling of every row of the run's command table."""
    names = {name for command in performance.commands for name in command.names}
    return {"/interface"} | {f"/impsy/{name}" for name in names}


# ------------------------------------------------------------------- the tests
def test_a_client_discovers_every_address_the_osc_adapter_accepts(tmp_path):
    async def main() -> None:
        async with running(tmp_path) as oq:
            status, root = await oq.get("/")
            assert status == 200 and root["FULL_PATH"] == "/"
            nodes = walk(root)
            writable = {node["FULL_PATH"] for node in nodes if node["ACCESS"] & 2}
            expected = accepted_addresses(oq.performance)
            assert len(expected) > 60  # the engine's rows, the sequencer's and their aliases
            assert writable == expected
            by_path = {node["FULL_PATH"]: node for node in nodes}
            for command in oq.performance.commands:
                for name in command.names:
                    node = by_path[f"/impsy/{name}"]
                    assert osc_items(node["TYPE"]) == len(command.args), name
                    assert command.doc in node["DESCRIPTION"]
                    if "RANGE" in node:
                        assert len(node["RANGE"]) == len(node["TYPE"])
                    if "VALUE" in node:
                        assert len(node["VALUE"]) == len(node["TYPE"])
            assert by_path["/impsy/pitemp"]["TYPE"] == "f"
            assert by_path["/impsy/seq/tempo"]["RANGE"][0] == {"MIN": 20.0, "MAX": 300.0}
            assert by_path["/impsy/mode"]["RANGE"][0]["VALS"][:2] == ["callresponse", "polyphony"]
            assert "older spelling of /impsy/pitemp" in by_path["/impsy/set_pitemp"]["DESCRIPTION"]
            assert by_path["/interface"]["TYPE"] == "f" * 8
            # what impsy sends is described too, readable where it is streamed
            assert by_path["/impsy"]["TYPE"] == "f" * 8 and by_path["/impsy"]["ACCESS"] == 1
            assert by_path["/impsy/seq/play"]["TYPE"] == "iii"
            assert by_path["/impsy/surprise"]["OVERLOADS"][0]["TYPE"] == "f"
            # each node answers at its own path too, and one attribute alone
            for path in ("/impsy/seq", "/impsy/seq/tempo", "/interface"):
                status, node = await oq.get(path)
                assert status == 200 and node == by_path[path]
            assert await oq.get("/impsy/seq/tempo?TYPE") == (200, {"TYPE": "ff"})
            assert await oq.get("/impsy/seq?TYPE") == (200, {})  # a container has no type
            assert (await oq.get("/impsy/reset?VALUE"))[0] == 204  # nothing to read
            assert (await oq.get("/impsy/nothing"))[0] == 404
            assert (await oq.get("/impsy/pitemp?UNIT"))[0] == 400
            assert (await oq.get("/impsy/pitemp?NONSENSE"))[0] == 400

    run(main())


def test_every_readable_value_is_a_row_of_the_table(tmp_path):
    async def main() -> None:
        async with running(tmp_path) as oq:
            names = {command.name for command in oq.performance.commands}
            assert set(ENGINE_VALUES) | set(SEQUENCER_VALUES) | set(LEARN_VALUES) <= names
            status, root = await oq.get("/")
            readable = {
                node["FULL_PATH"] for node in walk(root) if node["ACCESS"] == 3 and "VALUE" in node
            }
            assert "/impsy/pitemp" in readable and "/impsy/seq/tempo" in readable

    run(main())


def test_a_client_reads_a_temperature_changes_it_and_hears_the_change(tmp_path):
    async def main() -> None:
        async with running(tmp_path) as oq:
            assert await oq.get("/impsy/pitemp?VALUE") == (200, {"VALUE": [1.25]})
            status, host = await oq.get("/?HOST_INFO")
            assert status == 200 and host["OSC_TRANSPORT"] == "UDP"
            assert host["EXTENSIONS"]["LISTEN"] and host["EXTENSIONS"]["VALUE"]
            osc_to = (host.get("OSC_IP", "127.0.0.1"), host["OSC_PORT"])
            engine = oq.performance.engine
            async with oq.session.ws_connect(oq.base + "/") as ws:
                await ws.send_json({"COMMAND": "LISTEN", "DATA": "/impsy/pitemp"})
                await ws.send_json({"COMMAND": "LISTEN", "DATA": "/impsy/sigmatemp"})
                await asyncio.sleep(0.1)  # the server has read both commands
                # as a front end would: OSC to the advertised port
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.sendto(osc_bytes("/impsy/pitemp", 1.5), osc_to)
                assert await next_update(ws, "/impsy/pitemp") == [1.5]
                assert engine.model.pi_temp == 1.5
                assert await oq.get("/impsy/pitemp?VALUE") == (200, {"VALUE": [1.5]})
                # or OSC over the WebSocket itself
                await ws.send_bytes(osc_bytes("/impsy/sigmatemp", 0.25))
                assert await next_update(ws, "/impsy/sigmatemp") == [0.25]
                assert engine.model.sigma_temp == 0.25
                # a command that answers answers on the socket
                await ws.send_bytes(osc_bytes("/impsy/status"))
                reply = await next_update(ws, "/impsy/status")
                assert reply[reply.index("pitemp") + 1] == 1.5
                # IGNORE: the next change is not sent
                await ws.send_json({"COMMAND": "IGNORE", "DATA": "/impsy/pitemp"})
                await ws.send_bytes(osc_bytes("/impsy/pitemp", 2.0))
                await ws.send_bytes(osc_bytes("/impsy/sigmatemp", 0.5))
                assert await next_update(ws, "/impsy/sigmatemp") == [0.5]
                await asyncio.sleep(0.15)  # three polls
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.05):
                        await ws.receive()
                assert engine.model.pi_temp == 2.0
                # mistakes are counted as bad input, never raised
                bad = engine.counters.bad_input
                await ws.send_json({"COMMAND": "LISTEN", "DATA": "/impsy/reset"})  # no value: fine
                await ws.send_json({"COMMAND": "LISTEN", "DATA": "/nowhere"})
                await ws.send_str("not json")
                await ws.send_bytes(osc_bytes("/impsy/pitemp", -1.0))
                await ws.send_bytes(b"\x00garbage")
                await ws.send_bytes(osc_bytes("/interface", 0.5))
                async with asyncio.timeout(WAIT_S):
                    while engine.counters.bad_input < bad + 5:
                        await asyncio.sleep(0.01)
                assert engine.counters.bad_input == bad + 5  # the first LISTEN was not one
                assert engine.model.pi_temp == 2.0

    run(main())


def test_the_models_output_streams_to_listeners_as_it_is_sent(tmp_path):
    async def main() -> None:
        async with running(tmp_path, mode="polyphony") as oq:
            async with oq.session.ws_connect(oq.base + "/") as ws:
                await ws.send_json({"COMMAND": "LISTEN", "DATA": "/impsy"})
                await asyncio.sleep(0.1)
                oq.peer.send("/interface", *[0.5] * 8)
                streamed = await next_update(ws, "/impsy")
                async with asyncio.timeout(WAIT_S):
                    while not any(a == "/impsy" for _, a, _ in oq.peer.received):
                        await asyncio.sleep(0.01)
                sent = next(args for _, a, args in oq.peer.received if a == "/impsy")
                assert len(streamed) == 8 and streamed == sent  # the same floats, bit for bit
                status, value = await oq.get("/impsy?VALUE")
                assert status == 200 and len(value["VALUE"]) == 8

    run(main())


def sequencer_adapter(performance: Any) -> Any:
    return next(a for a in performance.adapters if a.name == "sequencer")


async def quiet(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[Any]:
    """Whatever arrives on ``ws`` within ``seconds``."""
    arrived = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                arrived.append(await ws.receive())
    return arrived


def test_the_sequencers_notes_stream_to_listeners_as_they_are_played(tmp_path):
    async def main() -> None:
        async with running(tmp_path, sequencer="tempo = 300") as oq:  # a 16th: 50 ms
            adapter = sequencer_adapter(oq.performance)
            assert adapter.osc_observer is None  # nobody listens: nothing attached
            async with oq.session.ws_connect(oq.base + "/") as ws:
                await ws.send_json({"COMMAND": "LISTEN", "DATA": "/impsy/seq/play"})
                # track 0: step 0 plays note 60 at velocity 100, step 4 note 64 at 90
                await ws.send_bytes(osc_bytes("/impsy/seq/step", 0, 0, 1, 60, 100))
                await ws.send_bytes(osc_bytes("/impsy/seq/step", 0, 4, 1, 64, 90))
                await ws.send_bytes(osc_bytes("/impsy/seq/start"))
                heard = [await next_update(ws, "/impsy/seq/play") for _ in range(4)]
                assert heard == [[0, 60, 100], [0, 60, 0], [0, 64, 90], [0, 64, 0]]
                # the same messages, in the same order, as the [osc] client got them
                sent = await oq.peer.wait_for("/impsy/seq/play", 4)
                assert sent[:4] == heard
                status, value = await oq.get("/impsy/seq/play?VALUE")
                assert status == 200  # the last note streamed (the sequencer plays on)
                assert value["VALUE"] in oq.peer.messages("/impsy/seq/play")[3:]
                # IGNORE: the hook comes off, the sequencer plays on, the socket is silent
                await ws.send_json({"COMMAND": "IGNORE", "DATA": "/impsy/seq/play"})
                async with asyncio.timeout(WAIT_S):
                    while adapter.osc_observer is not None:
                        await asyncio.sleep(0.01)
                await quiet(ws, 0.1)  # what was on its way before the IGNORE
                before = len(oq.peer.messages("/impsy/seq/play"))
                assert await quiet(ws, 0.8) == []  # a bar: both notes, on and off
                assert len(oq.peer.messages("/impsy/seq/play")) >= before + 2
                # the answer to /impsy/seq/status streams as well
                await ws.send_json({"COMMAND": "LISTEN", "DATA": "/impsy/seq/status"})
                await ws.send_bytes(osc_bytes("/impsy/seq/status"))
                status_args = await next_update(ws, "/impsy/seq/status")
                assert status_args[status_args.index("tempo") + 1] == 300.0
                assert status_args[status_args.index("playing") + 1] == 1
            async with asyncio.timeout(WAIT_S):  # the client left: the hook comes off
                while adapter.osc_observer is not None:
                    await asyncio.sleep(0.01)

    run(main())


class Datagrams(asyncio.DatagramProtocol):
    """impsy's OSC client as raw datagrams: bundles too, which ``OscPeer`` does not read."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append(data)


def unbundled(packet: bytes) -> tuple[float, tuple[str, list[Any]]]:
    """A bundle of one message: the Unix time its tag names, and the message."""
    assert packet.startswith(b"#bundle\x00"), packet[:16]
    (timetag,) = struct.unpack(">Q", packet[8:16])
    (size,) = struct.unpack(">i", packet[16:20])
    assert len(packet) == 20 + size  # one element
    return unix_ns_of(timetag) / 1e9, decode(packet[20:])


def test_a_note_sent_ahead_streams_as_the_bundle_the_osc_client_gets(tmp_path):
    ahead = "tempo = 300\nosc_timetag_ahead_ms = 200"  # a 16th: 50 ms, notes 200 ms early

    async def main() -> None:
        async with running(tmp_path, sequencer=ahead) as oq:
            port = oq.peer.transport.get_extra_info("sockname")[1]
            oq.peer.close()  # the client port, read raw instead
            await asyncio.sleep(0.01)  # the socket closes on the loop's next turn
            loop = asyncio.get_running_loop()
            transport, client = await loop.create_datagram_endpoint(
                Datagrams, local_addr=("127.0.0.1", port)
            )
            try:
                async with oq.session.ws_connect(oq.base + "/") as ws:
                    await ws.send_json({"COMMAND": "LISTEN", "DATA": "/impsy/seq/play"})
                    await ws.send_bytes(osc_bytes("/impsy/seq/step", 0, 4, 1, 64, 90))
                    await ws.send_bytes(osc_bytes("/impsy/seq/start"))
                    async with asyncio.timeout(WAIT_S):
                        message = await ws.receive()
                    arrived = time.time()
                    stamped, note = unbundled(message.data)
                    assert note == ("/impsy/seq/play", [0, 64, 90])
                    # it came ahead of time, stamped with when it is due (step 4: 200 ms
                    # after the start, handed over up to 200 ms before)
                    assert 0 < stamped - arrived < 0.25
                    async with asyncio.timeout(WAIT_S):
                        while not client.received:
                            await asyncio.sleep(0.01)
                    sent_at, sent = unbundled(client.received[0])
                    assert sent == note and abs(sent_at - stamped) < 0.001  # one instant
            finally:
                transport.close()

    run(main())


def test_the_pattern_models_knobs_are_values_a_client_hears_change(tmp_path):
    PatternVAE(tracks=4, steps=16, latent=2, seed=0).save(tmp_path / MODEL_NAME)
    bank = f'patterns = "{tmp_path / "bank.json"}"\ntracks = 4'  # the model beside the bank

    async def main() -> None:
        async with running(tmp_path, sequencer=bank) as oq:
            status, root = await oq.get("/")
            by_path = {node["FULL_PATH"]: node for node in walk(root)}
            assert by_path["/impsy/learn/knob"]["VALUE"] == [0, 0.0]  # the model's centre
            assert by_path["/impsy/learn/knob"]["ACCESS"] == 3
            assert by_path["/impsy/learn/threshold"]["VALUE"] == [0.5]
            assert by_path["/impsy/learn/to"]["VALUE"] == ["track"]
            assert "VALUE" not in by_path["/impsy/learn/generate"]  # it moves, keeps nothing
            async with oq.session.ws_connect(oq.base + "/") as ws:
                for path in ("/impsy/learn/knob", "/impsy/learn/threshold", "/impsy/learn/to"):
                    await ws.send_json({"COMMAND": "LISTEN", "DATA": path})
                await asyncio.sleep(0.1)  # the server has read the commands
                oq.peer.send("/impsy/learn/knob", 1, 1.5)  # over UDP, as a front end would
                assert await next_update(ws, "/impsy/learn/knob") == [1, 1.5]
                oq.peer.send("/impsy/learn/threshold", 0.25)
                assert await next_update(ws, "/impsy/learn/threshold") == [0.25]
                await ws.send_bytes(osc_bytes("/impsy/learn/to", "ghost"))
                assert await next_update(ws, "/impsy/learn/to") == ["ghost"]
            learning = oq.performance.learning
            assert learning.knobs.point[1] == 1.5 and learning.knobs.threshold == 0.25
            assert await oq.get("/impsy/learn/knob?VALUE") == (200, {"VALUE": [1, 1.5]})

    run(main())


def test_refused_from_a_foreign_origin_or_host(tmp_path):
    async def main() -> None:
        async with running(tmp_path) as oq:
            foreign = {"Origin": "http://evil.example"}
            status, body = await oq.get("/", headers=foreign)
            assert status == 403 and "cross-site" in body["error"]
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await oq.session.ws_connect(oq.base + "/", headers=foreign)
            assert refused.value.status == 403
            rebinding = {"Host": f"evil.example:{oq.server.port}"}
            assert (await oq.get("/", headers=rebinding))[0] == 403
            assert (await oq.get("/", headers={"Origin": oq.base}))[0] == 200

    run(main())


def test_exposed_it_needs_the_token(tmp_path):
    exposed = f'host = "0.0.0.0"\ntoken = "{TOKEN}"'

    async def main() -> None:
        async with running(tmp_path, oscquery=exposed) as oq:
            status, body = await oq.get("/")
            assert status == 401 and "token" in body["error"]
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await oq.session.ws_connect(oq.base + "/")
            assert refused.value.status == 401
            bearer = {"Authorization": f"Bearer {TOKEN}"}
            assert (await oq.get("/", headers=bearer))[0] == 200
            wrong = {"Authorization": "Bearer " + "x" * len(TOKEN)}
            assert (await oq.get("/", headers=wrong))[0] == 401
            assert await oq.get(f"/impsy/pitemp?VALUE&token={TOKEN}") == (200, {"VALUE": [1.25]})
            with_origin = {**bearer, "Origin": "http://evil.example"}
            assert (await oq.get("/", headers=with_origin))[0] == 403
            async with oq.session.ws_connect(oq.base + "/", headers=bearer) as ws:
                await ws.send_json({"COMMAND": "LISTEN", "DATA": "/impsy/timescale"})
                await ws.send_bytes(osc_bytes("/impsy/timescale", 2.0))
                assert await next_update(ws, "/impsy/timescale") == [2.0]

    run(main())


def test_impsy_run_serves_it_where_its_summary_says(tmp_path):
    server_port, client_port, port = free_udp_port(), free_udp_port(), free_tcp_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
log_input = false
[interaction]
mode = "useronly"
[osc]
server_port = {server_port}
client_port = {client_port}
[oscquery]
port = {port}
"""
    )
    proc = start(["run", "-c", str(config), "--no-model", "-l", str(tmp_path)], tmp_path)
    try:
        summary = "".join(wait_for_line(proc, "listening"))
        assert f"oscquery: http://127.0.0.1:{port}/" in summary, summary
        assert bound_addresses("tcp", port) == {"127.0.0.1"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?HOST_INFO", timeout=5) as answer:
            host = json.load(answer)
        assert host["OSC_PORT"] == server_port and host["OSC_IP"] == "127.0.0.1"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out


# --------------------------------------------------------------- config errors
def load(oscquery: str, osc: bool = True) -> Any:
    text = f"[oscquery]\n{oscquery}\n" + ("[osc]\n" if osc else "")
    return load_config_text(text, "c.toml")


def test_config_defaults_and_mistakes():
    config = load("")
    assert (config.oscquery.host, config.oscquery.port) == ("127.0.0.1", 4003)
    assert config.oscquery.token is None and config.oscquery.zeroconf is False
    assert load_config_text("[osc]\n", "c.toml").oscquery is None  # off unless written
    with pytest.raises(ConfigError, match=r"c\.toml: \[oscquery\]: needs an \[osc\] section"):
        load("", osc=False)
    with pytest.raises(ConfigError, match=r"\[oscquery\] port: expected an integer 1-65535"):
        load("port = 70000")
    with pytest.raises(ConfigError, match=r"\[oscquery\] zeroconf: expected .*bool"):
        load('zeroconf = "yes"')
    with pytest.raises(ConfigError, match=r"\[oscquery\] token: expected a non-empty string"):
        load('token = ""')
    assert any("[oscquery] hots" in w for w in load('hots = "x"').warnings)


def test_config_exposure_rules_are_the_web_uis():
    with pytest.raises(ConfigError, match=r"c\.toml: \[oscquery\] token: not set, but"):
        check_config(load('host = "0.0.0.0"'))
    with pytest.raises(ConfigError, match=r"\[oscquery\] token: 5 characters is too easy"):
        check_config(load('host = "0.0.0.0"\ntoken = "short"'))
    check_config(load(f'host = "0.0.0.0"\ntoken = "{TOKEN}"'))
    check_config(load('token = "short"'))  # on loopback a token is extra, any length
    with pytest.raises(ConfigError, match=r"zeroconf = true advertises .* only this machine"):
        check_config(load("zeroconf = true"))


def test_zeroconf_without_its_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "zeroconf", None)  # as if it were not installed
    exposed = f'host = "0.0.0.0"\ntoken = "{TOKEN}"\nzeroconf = true'
    with pytest.raises(ConfigError, match=r"needs the zeroconf package.*impsy\[oscquery\]"):
        check_config(load(exposed))


def test_a_port_in_use_is_named_and_zeroconf_is_not_loaded(tmp_path):
    async def main() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            async with running(tmp_path) as oq:
                assert "zeroconf" not in sys.modules  # off: the package is never imported
                config = dataclasses.replace(oq.server.config, port=port)
                oq.performance.config = dataclasses.replace(oq.performance.config, oscquery=config)
                with pytest.raises(ImpsyError, match=rf"\[oscquery\] cannot listen on .*:{port}"):
                    await start_oscquery(oq.performance)

    run(main())


# ------------------------------------------------------------------- zeroconf
ADVERTISED = textwrap.dedent(
    f"""
    import asyncio, dataclasses, json, sys, urllib.request
    from pathlib import Path
    from zeroconf import Zeroconf
    from impsy.app import RunOptions, build, start_oscquery
    from impsy.config import load_config_text

    async def main():
        text = sys.argv[1]
        config = load_config_text(text, "zeroconf.toml")
        performance = build(config, RunOptions(logdir=Path(sys.argv[2])))
        await performance.start()
        server = await start_oscquery(performance)
        def find():
            zc = Zeroconf(interfaces=["10.77.0.2"])  # the other end of the test's cable
            try:
                info = zc.get_service_info("{SERVICE_TYPE}", "impsy zc.{SERVICE_TYPE}", 3000)
                address, port = info.parsed_addresses()[0], info.port
                request = urllib.request.Request(
                    f"http://{{address}}:{{port}}/?HOST_INFO",
                    headers={{"Authorization": "Bearer {TOKEN}"}},
                )
                with urllib.request.urlopen(request, timeout=3) as response:
                    return info.type, json.load(response)
            finally:
                zc.close()
        found = await asyncio.get_running_loop().run_in_executor(None, find)
        await server.stop()
        await performance.stop()
        print(json.dumps(found))

    asyncio.run(main())
    """
)
NETWORK = (
    "ip link set lo up && ip link add zc0 type veth peer name zc1 && "
    "ip addr add 10.77.0.1/24 dev zc0 && ip addr add 10.77.0.2/24 dev zc1 && "
    "ip link set zc0 up && ip link set zc1 up && ip route add 224.0.0.0/4 dev zc0 && "
)


def test_zeroconf_advertises_oscjson_inside_a_private_network(tmp_path):
    """In its own network namespace (``unshare -rn``), so no mDNS leaves the test."""
    assert shutil.which("unshare"), "the zeroconf test needs unshare (util-linux)"
    server_port, client_port = free_udp_port(), free_udp_port()
    oscquery = f'host = "10.77.0.1"\ntoken = "{TOKEN}"\nzeroconf = true\nname = "impsy zc"'
    text = config_text(server_port, client_port, oscquery=oscquery)
    script = tmp_path / "advertised.py"
    script.write_text(ADVERTISED)
    command = NETWORK + f'exec "{sys.executable}" "{script}" "$0" "{tmp_path}"'
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["unshare", "-rn", "sh", "-c", command, text],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    service, host = json.loads(done.stdout.strip().splitlines()[-1])
    assert service == SERVICE_TYPE
    assert host["NAME"] == "impsy zc" and host["OSC_PORT"] == server_port
