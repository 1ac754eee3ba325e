"""The sequencer on a real Link timeline, in this process, with the session kept private.

A ``LinkSession`` opened with ``enable=False`` is a whole Link peer (aalink,
its timeline, tempo and start/stop, its callbacks on the loop) that talks to
nobody, so it can run here on an ordinary network; changing its tempo or
start/stop state directly is what a peer's change looks like to impsy (the
same callbacks). Sessions with peers run inside a private network namespace
(``test_link_session.py``); the guard that keeps every enabled Link of the
tests in one is tested here in a namespace of its own.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from impsy.clock import LoopClock
from impsy.engine import loop as impsy_loop
from impsy.errors import CommandError
from impsy.sequencer import linktime
from impsy.sequencer.link import PRIVATE_NET_ENV, LinkSession
from impsy.sequencer.linkfollow import LinkFollower
from impsy.sequencer.pattern import Bank, Pattern, Track
from impsy.sequencer.sequencer import Sequencer
from tests.osc_client import free_udp_port
from tests.paths import ROOT

NOTE_ON = 0x90


class Scene:
    """A sequencer playing every 16th of one track on a private Link session."""

    def __init__(self, start_stop_sync: bool = True, quantum: int = 4) -> None:
        self.clock = LoopClock()
        track = Track.empty("hats", 16, port="osc")
        for step in track.steps:
            step.on = True
        self.notes: list[float] = []
        self.session = LinkSession(120.0, quantum, start_stop_sync, self.clock.now)
        self.seq = Sequencer(
            Bank([Pattern("p", [track])]), self.clock, self.output, clock_source="link"
        )

    def output(self, index: int, track: Track, message: list[int]) -> None:
        if message[0] & 0xF0 == NOTE_ON:
            self.notes.append(self.clock.now())

    def open(self) -> LinkFollower:
        self.session.open(enable=False)
        return self.seq.join_link(self.session)

    def close(self) -> None:
        self.seq.leave_link()
        self.session.close()

    def tick_now(self) -> float:
        """Where the transport is now, in ticks, by its own timeline."""
        return self.seq.timeline.tick_at(self.clock.now())


async def until(check, timeout: float = 2.0) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.005)


def run(scenario) -> None:  # noqa: ANN001
    async def main() -> None:
        scene = Scene()
        scene.open()
        try:
            await scenario(scene)
        finally:
            scene.close()

    impsy_loop.run(main())


def test_the_timeline_is_anchored_on_links_beat() -> None:
    async def scenario(scene: Scene) -> None:
        scene.seq.start()
        reading = scene.session.read()
        link = scene.seq.link
        assert link is not None and link.origin == 0.0
        # impsy's tick at any instant is Link's beat (numbered from the start) times 24.
        tick = scene.seq.timeline.tick_at(reading.when)
        assert tick == pytest.approx(reading.beat * 24, abs=0.01)  # 0.01 tick: 0.2 ms
        assert scene.seq.tempo == reading.tempo == 120.0
        await until(lambda: len(scene.notes) >= 3)
        assert scene.seq.playing and scene.session.playing

    run(scenario)


def test_a_tempo_change_from_the_session_moves_the_grid_without_a_jump() -> None:
    async def scenario(scene: Scene) -> None:
        seq = scene.seq
        seq.start()
        await until(lambda: len(scene.notes) >= 2)
        changed = scene.clock.now()
        before = seq.timeline.tick_at(changed)
        steps_before = seq.last_step_numbers[0]
        scene.session.set_tempo(90.0)  # as a peer would: Link's tempo callback follows
        await until(lambda: seq.tempo == pytest.approx(90.0))
        # Where the music was when the tempo changed, it still is; from there on it moves
        # at 90 BPM (36 ticks a second).
        assert seq.timeline.tick_at(changed) == pytest.approx(before, abs=0.01), "no jump"
        after = seq.timeline.tick_at(changed + 1.0) - seq.timeline.tick_at(changed)
        assert after == pytest.approx(36.0, abs=1e-9)
        await until(lambda: seq.last_step_numbers[0] >= steps_before + 3)
        numbers = seq.last_step_numbers[0]
        assert seq.transport.skipped == 0 and numbers == len(scene.notes) - 1

    run(scenario)


def test_impsys_tempo_command_sets_the_sessions_tempo() -> None:
    async def scenario(scene: Scene) -> None:
        scene.seq.set_tempo(150.0)
        assert scene.session.tempo == pytest.approx(150.0)
        assert scene.seq.tempo == pytest.approx(150.0)
        assert scene.seq.snapshot()["clock"]["link"]["tempo"] == pytest.approx(150.0)

    run(scenario)


def test_start_and_stop_go_both_ways_with_start_stop_sync() -> None:
    async def scenario(scene: Scene) -> None:
        seq, session = scene.seq, scene.session
        seq.start()
        # the session's state as Link reads it back: once in a full CI run it still read
        # playing just after the stop, so each change is given up to 2 s to land
        await until(lambda: session.playing)
        seq.stop()
        assert not seq.playing
        await until(lambda: not session.playing)
        session.set_playing(True)  # the session starts (a peer): impsy starts
        await until(lambda: seq.playing)
        count = len(scene.notes)
        await until(lambda: len(scene.notes) > count + 1)
        session.set_playing(False)  # and stops
        await until(lambda: not seq.playing)

    run(scenario)


def test_without_start_stop_sync_the_session_does_not_start_or_stop_impsy() -> None:
    async def main() -> None:
        scene = Scene(start_stop_sync=False)
        scene.open()
        try:
            scene.session.set_playing(True)
            await asyncio.sleep(0.1)
            assert not scene.seq.playing
            scene.seq.start()
            scene.session.set_playing(False)
            await asyncio.sleep(0.1)
            assert scene.seq.playing
        finally:
            scene.close()

    impsy_loop.run(main())


def test_continue_plays_on_with_its_bar_lines_on_the_sessions_phase_zero() -> None:
    async def scenario(scene: Scene) -> None:
        seq, link = scene.seq, scene.seq.link
        seq.start()
        await until(lambda: scene.tick_now() > 30)  # past the first beat
        seq.stop()
        stopped_at = seq.transport.stopped_at
        await asyncio.sleep(0.05)
        seq.continue_()
        assert seq.playing
        bar = seq.transport.bar_number * 96  # the next bar line's tick
        assert bar == 96 and stopped_at < 96, "it plays on from the next whole bar"
        beat = linktime.beat_at(scene.session.read(), seq.timeline.time_at(bar))
        # Phase 0 up to the Link reading's microsecond: just before it reads as ~quantum.
        phase = linktime.phase(beat, link.quantum)
        assert min(phase, link.quantum - phase) == pytest.approx(0.0, abs=1e-4)

    run(scenario)


def test_the_snapshot_shows_peers_tempo_beat_and_phase() -> None:
    async def scenario(scene: Scene) -> None:
        scene.seq.start()
        await asyncio.sleep(0.1)
        link = scene.seq.snapshot()["clock"]["link"]
        assert link["peers"] == 0 and link["tempo"] == 120.0 and link["quantum"] == 4
        assert link["start_stop_sync"] is True and link["session_playing"] is True
        assert 0.0 <= link["phase"] < 4.0
        assert link["phase"] == pytest.approx(linktime.phase(link["beat"], 4), abs=1e-3)

    run(scenario)


def test_leaving_stops_impsy_but_not_the_session() -> None:
    async def main() -> None:
        scene = Scene()
        scene.open()
        scene.seq.start()
        scene.seq.leave_link()
        assert not scene.seq.playing and scene.session.playing
        with pytest.raises(CommandError, match="not joined the Link session"):
            scene.seq.start()
        scene.session.close()

    impsy_loop.run(main())


def test_the_guard_refuses_link_where_other_networks_are_reachable() -> None:
    """In a namespace of its own with a second interface, a session will not join."""
    script = (
        "import asyncio\n"
        "from impsy.errors import ImpsyError\n"
        "from impsy.sequencer.link import LinkSession\n"
        "async def main():\n"
        "    try:\n"
        "        LinkSession(120, 4, False, lambda: 0.0).open()\n"
        "    except ImpsyError as err:\n"
        "        print('REFUSED', err)\n"
        "asyncio.run(main())\n"
    )
    shell = 'ip link set lo up && ip link add impsy0 type veth peer name impsy1 && exec "$0" "$@"'
    result = subprocess.run(
        ["unshare", "-rn", "sh", "-c", shell, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, PRIVATE_NET_ENV: "1"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "REFUSED" in result.stdout and "unshare -rn" in result.stdout


def test_a_link_config_without_aalink_is_refused_before_anything_starts(tmp_path: Path) -> None:
    config = tmp_path / "link.toml"
    config.write_text('[sequencer]\nclock = "link"\n')
    script = (
        "import sys\n"
        "sys.modules['aalink'] = None  # as if it were not installed\n"
        "from impsy.app import load_config\n"
        "from impsy.config import ConfigError\n"
        "try:\n"
        f"    load_config({str(config)!r})\n"
        "except ConfigError as err:\n"
        "    print('REFUSED', err)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert "REFUSED" in result.stdout, result.stderr
    assert "[sequencer] clock" in result.stdout and "pip install 'impsy[link]'" in result.stdout


def test_impsy_run_loads_aalink_only_for_a_link_clock(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f"log_input = false\n[interaction]\nmode = 'useronly'\n[model]\ndimension = 9\n"
        f"[osc]\nserver_port = {free_udp_port()}\nclient_port = {free_udp_port()}\n"
        "[sequencer]\nclock = 'master'\nautostart = true\n"
    )
    script = f"""
import os, signal, sys
from impsy.config import load_config
from impsy.engine import loop
from impsy.app import RunOptions, serve
def ready(engine):
    print("AALINK", "aalink" in sys.modules, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
loop.run(serve(load_config({str(config)!r}), RunOptions(logdir={str(tmp_path)!r}), ready))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "AALINK False" in result.stdout


def test_a_session_not_enabled_opens_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard is about the network: a session that talks to nobody needs no namespace."""
    monkeypatch.setenv(PRIVATE_NET_ENV, "1")

    async def main() -> None:
        session = LinkSession(100.0, 4, False, LoopClock().now)
        session.open(enable=False)
        assert session.tempo == 100.0 and session.peers == 0
        session.close()

    impsy_loop.run(main())
