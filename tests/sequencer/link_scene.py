"""A Link session in a private network: two ``impsy run`` and a peer of our own, measured.

Run by ``tests/sequencer/test_link_session.py`` inside ``unshare -rn`` (a
network namespace with nothing but the loopback, multicast on), never
outside it: it checks that first, and every process it starts inherits the
namespace and ``IMPSY_LINK_PRIVATE_NET`` (impsy's Link refuses to join
outside one).

The scene: impsy "plain" and impsy "offset" (``latency_ms = { osc = N }``)
each play 32nds on an OSC track with ``clock = "link"`` and start/stop sync;
this process is a third peer (aalink, as any Link app) and the receiver of
both impsys' notes, stamping each arrival with ``time.monotonic()`` and a
reading of its own Link timeline taken then; a bare impsy event loop
(``benchmarks/floor.py``) fires timers beside them, 2 ms after the plain
impsy's notes, into the same receiver:
the host's timer floor in the same run. The receiver, the impsy process and
the error arithmetic are ``benchmarks/link_drift.py``'s. Prints one JSON
object; asserts nothing (the test does).

    unshare -rn sh -c 'ip link set lo up; ip link set lo multicast on;
                       exec python -m tests.sequencer.link_scene --seconds 3'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from impsy.sequencer import linktime
from impsy.sequencer.link import PRIVATE_NET_ENV, LinkSession, private_network
from tests.paths import BENCHMARKS

sys.path.insert(0, str(BENCHMARKS))

from floor import Floor  # noqa: E402
from link_drift import (  # noqa: E402
    ImpsyProcess,
    Receiver,
    floor_errors,
    grid_bank,
    impsy_config,
    note_errors,
    summary,
    until,
)

STEPS_PER_BEAT = 8
"""32nds: 32 notes a second at 240 BPM."""
TEMPI = (240.0, 200.0, 180.0)
"""The session's tempo at first, after the peer's change, after impsy's."""
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
FLOOR_AFTER_S = 0.002
"""The floor's timers fire this long after each impsy's notes leave (on the first tempo's
grid: the floor's clock does not follow the tempo changes)."""
SETTLE_S = 0.1
"""Notes this soon after a tempo change are counted apart: Link takes a moment to
carry a change to the other peers, and meanwhile they play at the old tempo."""


def steady_and_around(
    receiver: Receiver, changes: list[float], lead_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each note's error on the peer's grid (s): (steady, around a tempo change).

    Around: from ``lead_s`` + 1 ms before a change (a note sent early left
    before it) to ``SETTLE_S`` after it.
    """
    times, errors = note_errors(receiver.notes, STEPS_PER_BEAT)
    near = np.zeros(len(times), dtype=bool)
    for changed in changes:
        near |= (times - changed > -lead_s - 0.001) & (times - changed < SETTLE_S)
    return errors[~near], errors[near]


async def scene(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    bank = grid_bank(folder / "bank.json", 32, STEPS_PER_BEAT)
    leads = {"plain": 0.0, "offset": args.offset_ms}
    web = free_tcp_port()  # the plain impsy's web UI, looked at once the timing is done

    def config(name: str) -> Callable[[int, int], str]:
        offset = f"{{ osc = {leads[name]:g} }}"
        port = web if name == "plain" else 0
        return lambda s, c: impsy_config(s, c, bank, STEPS_PER_BEAT, port, latency_ms=offset)

    impsys = [ImpsyProcess(name, folder, config(name)) for name in leads]
    first, peer_tempo, impsy_tempo = TEMPI
    peer = LinkSession(first, 4, True, time.monotonic)
    peer.open()
    heard: dict[str, list[tuple[float, Any]]] = {"tempo": [], "playing": []}
    peer.on_tempo = lambda bpm: heard["tempo"].append((time.monotonic(), bpm))
    peer.on_playing = lambda on: heard["playing"].append((time.monotonic(), on))
    result: dict[str, Any] = {"events": {}}
    floor = Floor()  # started now, so its own start-up does not meet the notes
    try:
        for impsy in impsys:
            await impsy.open(peer)
        plain, offset = impsys
        result["peers_seen_s"] = await until(lambda: peer.peers == 2, 10.0)
        result["peer_sees"] = peer.peers
        for _ in range(250):  # each impsy may find the other a moment later
            seen = [(await i.status()).get("link_peers") for i in impsys]
            if seen == [2, 2]:
                break
            await asyncio.sleep(0.02)
        result["impsys_see"] = seen
        peer.set_tempo(first)
        await asyncio.sleep(0.2)
        _, floor_receiver = await loop.create_datagram_endpoint(
            lambda: Receiver(None), local_addr=("127.0.0.1", 0)
        )
        floor_port = floor_receiver.transport.get_extra_info("sockname")[1]

        # The peer starts the session; both impsys start with it (start/stop sync).
        peer.start_at(time.monotonic() + 0.05)
        result["started_with_peer_s"] = await until(
            lambda: all(i.receiver.notes for i in impsys), 5.0
        )
        # The floor: two timers every 32nd, FLOOR_AFTER_S after each impsy's note leaves
        # (close enough to meet the same load from other processes, far enough not to wake
        # with impsy), for the whole run.
        reading = peer.read()
        step_s = reading.beat_s / STEPS_PER_BEAT
        beat = linktime.beat_at(reading, time.monotonic())
        floor_at = linktime.time_at(reading, np.ceil(beat) + 1) + FLOOR_AFTER_S
        steps = np.arange(int(args.seconds * 3 / step_s)) * step_s
        offsets = np.sort(np.concatenate((steps, steps + step_s - args.offset_ms / 1e3)))
        floor.start(offsets, send_port=floor_port, at=floor_at)
        await asyncio.sleep(args.seconds)

        # A tempo change on the peer reaches impsy within a beat...
        changed = result["events"]["peer tempo"] = time.monotonic()
        peer.set_tempo(peer_tempo)
        seen_after = None
        while time.monotonic() - changed < 2.0:
            if abs((await plain.status())["tempo"] - peer_tempo) < 0.01:
                seen_after = time.monotonic() - changed
                break
        result["peer_tempo_reached_impsy_s"] = seen_after
        result["peer_tempo_beat_s"] = 60 / first
        await asyncio.sleep(args.seconds)

        # ... and one on impsy reaches the peer.
        heard["tempo"].clear()
        changed = result["events"]["impsy tempo"] = time.monotonic()
        plain.send("/impsy/seq/tempo", impsy_tempo)
        result["impsy_tempo_reached_peer_s"] = await until(
            lambda: any(abs(bpm - impsy_tempo) < 0.01 for _, bpm in heard["tempo"]), 2.0
        )
        result["impsy_tempo_beat_s"] = 60 / peer_tempo
        await asyncio.sleep(args.seconds)

        # The peer stops: both impsys stop.
        stopped = result["events"]["peer stop"] = time.monotonic()
        peer.set_playing(False)
        await asyncio.sleep(0.3)
        result["notes_after_peer_stop"] = {
            i.name: sum(1 for t, _ in i.receiver.notes if t > stopped + 0.005) for i in impsys
        }
        result["playing_after_peer_stop"] = {i.name: (await i.status())["playing"] for i in impsys}

        # impsy starts: the peer and the other impsy start with it; then impsy stops it all.
        heard["playing"].clear()
        before = len(offset.receiver.notes)
        plain.send("/impsy/seq/start")
        result["impsy_start_reached_peer_s"] = await until(
            lambda: any(on for _, on in heard["playing"]), 2.0
        )
        result["other_impsy_started_s"] = await until(
            lambda: len(offset.receiver.notes) > before + 2, 5.0
        )
        heard["playing"].clear()
        plain.send("/impsy/seq/stop")
        result["impsy_stop_reached_peer_s"] = await until(
            lambda: any(not on for _, on in heard["playing"]), 2.0
        )
        await asyncio.sleep(0.3)
        statuses = {i.name: await i.status() for i in impsys}
        result["playing_after_impsy_stop"] = {n: s["playing"] for n, s in statuses.items()}
        result["scheduler_p99_ms"] = {n: s["lateness_p99_ms"] for n, s in statuses.items()}
        floor_late, _ = floor.result()

        # Every note against the peer's grid (those around a tempo change apart).
        changes = [result["events"]["peer tempo"], result["events"]["impsy tempo"]]
        on_time = []  # every steady note, the offset one's moved back by its offset
        for impsy in impsys:
            lead = leads[impsy.name] / 1e3
            steady, around = steady_and_around(impsy.receiver, changes, lead)
            result[impsy.name] = summary(steady, lead)
            result[f"{impsy.name} around tempo changes"] = summary(around, lead)
            on_time.append(steady + lead)
        result["both"] = summary(np.concatenate(on_time))
        result["floor"] = summary(floor_errors(floor_receiver.floor, floor_at, offsets, floor_late))
        result["floor_timer"] = summary(floor_late)
        result["offset_ms"] = args.offset_ms
        result["web_ui_link"] = await link_line(web)
        return result
    finally:
        floor.close()
        peer.close()
        for impsy in impsys:
            result.setdefault("logs", {})[impsy.name] = impsy.stop()[-2000:]


async def link_line(port: int) -> str:
    """What the web UI's Sequencer page says about the Link session, in Chromium."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{port}/#/sequencer")
            line = page.locator('[aria-label="Link session"]')
            await line.wait_for(state="visible", timeout=15000)
            return await line.inner_text()
        finally:
            await browser.close()


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="each stretch of playing")
    parser.add_argument("--offset-ms", type=float, default=8.0, help="impsy 'offset' latency")
    args = parser.parse_args()
    if not private_network():
        sys.exit("link_scene: refusing to run Link outside a private network namespace")
    os.environ[PRIVATE_NET_ENV] = "1"
    from impsy.engine import loop as impsy_loop

    with tempfile.TemporaryDirectory() as folder:
        result = impsy_loop.run(scene(args, Path(folder)))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
