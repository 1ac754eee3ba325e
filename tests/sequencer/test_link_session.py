"""impsy in a real Link session: two ``impsy run`` and an independent peer, kept private.

The whole scene (``tests/sequencer/link_scene.py``) runs inside a network
namespace of its own (``unshare -rn``: the loopback alone, multicast on), so
no Link discovery leaves it; impsy itself refuses to join outside one while
``IMPSY_LINK_PRIVATE_NET`` is set. One run of the scene (about 20 s) answers
every test here: peers, tempo both ways, start/stop both ways, and where
impsy's notes land on the peer's beat grid, with and without a latency
offset, against the host's timer floor measured in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from impsy.sequencer.link import PRIVATE_NET_ENV
from tests.paths import ROOT

pytestmark = pytest.mark.alone  # a p99 of ~1.5 ms: another pytest worker's load decides it

OFFSET_MS = 8.0
GOAL_MS = 1.0
"""p99 of the notes' error: at most this, or 1.2 times the host's floor, the larger."""
FLOOR_TIMES = 1.2
PRIVATE = 'ip link set lo up && ip link set lo multicast on && exec "$0" "$@"'


def run_scene() -> dict[str, Any]:
    command = [sys.executable, "-m", "tests.sequencer.link_scene", "--seconds", "3.5"]
    result = subprocess.run(
        ["unshare", "-rn", "sh", "-c", PRIVATE, *command, "--offset-ms", str(OFFSET_MS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        env={**os.environ, PRIVATE_NET_ENV: "1"},
    )
    assert result.returncode == 0, f"the Link scene failed:\n{result.stdout}\n{result.stderr}"
    found = json.loads(result.stdout.strip().splitlines()[-1])
    print(json.dumps({k: v for k, v in found.items() if k != "logs"}, indent=1))
    return found


@pytest.fixture(scope="module")
def scene() -> dict[str, Any]:
    return run_scene()


def test_the_peers_see_each_other(scene: dict[str, Any]) -> None:
    assert scene["peers_seen_s"] is not None, "the three peers never found each other"
    assert scene["peer_sees"] == 2, "the peer sees both impsys"
    assert scene["impsys_see"] == [2, 2], "/impsy/seq/status link_peers: the two others"
    # The web UI's Sequencer page, in Chromium, at the end (the session stopped).
    assert scene["web_ui_link"].startswith("Link: 2 peers, beat ")
    assert scene["web_ui_link"].endswith(" of 4, start/stop sync")


def test_a_tempo_change_on_either_side_reaches_the_other_within_a_beat(scene) -> None:  # noqa: ANN001
    reached = scene["peer_tempo_reached_impsy_s"]
    assert reached is not None and reached < scene["peer_tempo_beat_s"], "peer -> impsy"
    reached = scene["impsy_tempo_reached_peer_s"]
    assert reached is not None and reached < scene["impsy_tempo_beat_s"], "impsy -> peer"


def test_start_and_stop_sync_both_ways(scene: dict[str, Any]) -> None:
    assert scene["started_with_peer_s"] is not None, "the peer's start started both impsys"
    assert scene["notes_after_peer_stop"] == {"plain": 0, "offset": 0}
    assert scene["playing_after_peer_stop"] == {"plain": 0, "offset": 0}
    assert scene["impsy_start_reached_peer_s"] is not None, "impsy's start reached the peer"
    assert scene["other_impsy_started_s"] is not None, "and the other impsy"
    assert scene["impsy_stop_reached_peer_s"] is not None, "impsy's stop reached the peer"
    assert scene["playing_after_impsy_stop"] == {"plain": 0, "offset": 0}


def goal_ms(scene: dict[str, Any]) -> float:
    return max(GOAL_MS, FLOOR_TIMES * scene["floor"]["p99_ms"])


def test_notes_land_on_the_peers_beat_grid(scene: dict[str, Any]) -> None:
    """p99 of |error| over both impsys' notes (the offset one's counted from its offset):
    each impsy's own p99 is printed above."""
    both = scene["both"]
    assert both["n"] > 500, "the notes of three 3.5 s stretches of 32nds at 180-240 BPM, twice"
    if both["p99_ms"] > goal_ms(scene):
        # A p99 of 500 notes on a shared 2-core machine: one burst of the host waking us late
        # (issue 17's trace) decides it, so a miss earns one more scene, which must meet it.
        print(f"missed once: p99 {both['p99_ms']:.3f} ms, goal {goal_ms(scene):.3f} ms")
        scene = run_scene()
        both = scene["both"]
    assert both["p99_ms"] <= goal_ms(scene), (scene["plain"], scene["offset"], scene["floor"])


def test_a_latency_offset_moves_the_notes_earlier_by_that_much(scene: dict[str, Any]) -> None:
    plain, offset = scene["plain"], scene["offset"]
    assert offset["n"] > 250 and plain["n"] > 250
    moved = offset["median_ms"] - plain["median_ms"]
    assert moved == pytest.approx(-OFFSET_MS, abs=0.25)
