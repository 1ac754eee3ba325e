"""A model that raises or produces NaN/infinity, in every model mode, over real OSC.

The model is the bundled dimension-9 network behind a switch: while broken,
each call raises (or returns NaN, or infinity) instead of its real answer.
impsy must keep logging the player's gestures, count every failure in
``model_errors`` (reporting it, rate-limited), never put a non-finite value
on the wire, and play again as soon as the model works again.
"""

from __future__ import annotations

import asyncio
import logging
import math
from pathlib import Path

import numpy as np
import pytest

from fuzz.harness import SpoilableModel
from impsy.app import build_adapters
from impsy.config import load_config_text
from impsy.engine import loop as impsy_loop
from impsy.engine.commands import ENGINE_COMMANDS
from impsy.engine.core import Engine, Settings
from impsy.engine.eventlog import EventLog
from impsy.engine.table import CommandTable
from impsy.model import load_model
from tests.osc_client import OscPeer, free_udp_port
from tests.paths import ROOT

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"
GESTURE = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]


class BreakableModel(SpoilableModel):
    """A real MDRNN whose answers are replaced by a fault while ``broken`` is set."""

    label = "breakable"

    def __init__(self, fault: str) -> None:
        super().__init__(load_model(MODEL, seed=3))
        self.fault = fault
        self.broken = False
        self.calls_while_broken = 0

    def spoil(self, array: np.ndarray) -> np.ndarray | None:
        if not self.broken:
            return None
        self.calls_while_broken += 1
        if self.fault == "raise":
            # A different text each time, as real errors often have (indices, values).
            raise RuntimeError(f"the accelerator fell over on call {self.calls_while_broken}")
        damaged = np.array(array, dtype=np.float64)
        damaged[1] = np.nan if self.fault == "nan" else np.inf
        return damaged


def make_engine(mode: str, model: BreakableModel, logdir: Path, threaded: bool) -> tuple:
    server, client = free_udp_port(), free_udp_port()
    config = load_config_text(
        f"""
[interaction]
mode = "{mode}"
threshold = 0.1
[model]
dimension = 9
[osc]
server_port = {server}
client_port = {client}
""",
        "faults.toml",
    )
    settings = Settings(
        mode=mode,
        threshold=0.1,
        timescale=0.05,
        input_thru=False,
        log_input=True,
        log_predictions=True,
    )
    engine = Engine(9, settings, model, EventLog(logdir, 9), threaded_model=threaded)
    commands = CommandTable()
    commands.register(ENGINE_COMMANDS, engine)
    return engine, build_adapters(config, 9, commands), server, client


def finite(messages: list[list]) -> bool:
    return all(math.isfinite(v) for args in messages for v in args)


async def play_gestures(peer: OscPeer, count: int, gap: float) -> None:
    for _ in range(count):
        peer.send("/interface", *GESTURE)
        await asyncio.sleep(gap)


CASES = [
    ("callresponse", "raise", False),
    ("callresponse", "nan", False),
    ("callresponse", "inf", True),
    ("polyphony", "raise", False),
    ("polyphony", "nan", True),
    ("polyphony", "inf", False),
    ("battle", "raise", True),
    ("battle", "nan", False),
    ("battle", "inf", False),
]


@pytest.mark.parametrize(("mode", "fault", "threaded"), CASES)
def test_a_failing_model_is_counted_never_played_and_recovers(
    mode: str, fault: str, threaded: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = BreakableModel(fault)
    model.broken = True

    async def main() -> dict:
        engine, adapters, server, client = make_engine(mode, model, tmp_path, threaded)
        await engine.start(adapters)
        peer = await OscPeer.open(client, server)
        try:
            # Broken: the player's gestures arrive (and in battle the model tries to play).
            await play_gestures(peer, 5, 0.03)
            await asyncio.sleep(0.4)  # past the callresponse threshold: the model tries to answer
            broken_outputs = list(peer.messages("/impsy"))
            status = await peer.status()  # the server still answers while the model is broken
            assert status["model_errors"] > 0
            # Fixed: the model plays again without a restart.
            model.broken = False
            await play_gestures(peer, 3, 0.03)
            await peer.wait_for("/impsy", len(broken_outputs) + 3, timeout=3.0)
            return {
                "broken_outputs": broken_outputs,
                "all_outputs": peer.messages("/impsy"),
                "counters": engine.status(),
            }
        finally:
            peer.close()
            await engine.stop()

    with caplog.at_level(logging.WARNING, logger="impsy"):
        result = impsy_loop.run(main())

    counters = result["counters"]
    assert model.calls_while_broken > 0
    assert counters["model_errors"] == model.calls_while_broken, "every failure is counted"
    assert result["broken_outputs"] == [], "a broken model plays nothing"
    assert finite(result["all_outputs"]), "no NaN or infinity on the wire"
    assert counters["events_in"] == 8
    (log_file,) = tmp_path.glob("*-9d-mdrnn.log")
    rows = [line.split(",") for line in log_file.read_text().splitlines()]
    assert [r[1] for r in rows].count("interface") == 8, "every gesture is logged"
    assert all(math.isfinite(float(v)) for r in rows for v in r[2:]), "no NaN in the log"
    reports = [r for r in caplog.records if "state was reset and nothing was played" in r.message]
    assert model.calls_while_broken >= 3
    assert 1 <= len(reports) <= 2, "the failure is reported, rate-limited, not once per call"
