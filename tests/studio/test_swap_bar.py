"""``model/use FILE bar``: a returned model comes in at the sequencer's next bar line.

The engine plays the real bundled model (battle: it plays on its own) and a
real sequencer keeps the bars, both on one ``ManualClock``, so the bar line's
instant is exact; the model file is really checked and loaded on a worker
thread (the asyncio loop runs only that). At 120 bpm a bar is 2 s.
"""

from __future__ import annotations

import asyncio
import json
import shutil

import numpy as np
import pytest

from impsy.clock import ManualClock
from impsy.config import load_config_text
from impsy.engine.core import Engine, Settings
from impsy.engine.table import CommandTable
from impsy.errors import CommandError
from impsy.model import load_model
from impsy.sequencer.pattern import Bank, Pattern, Step, Track
from impsy.sequencer.sequencer import Sequencer
from impsy.studio.commands import STUDIO_COMMANDS
from impsy.studio.live import LiveTraining
from tests.engine.test_timing import Recorder
from tests.paths import MODELS
from tests.training.test_train import make_dataset

MODEL = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
START = 100.0
BAR = 2.0  # seconds, at 120 bpm


def rig(tmp_path, dimension: int = 9, mode: str = "battle"):  # noqa: ANN001, ANN201
    """An engine (in battle: the bundled model) and a sequencer on one manual clock;
    models/mine.tflite with a profile beside it; the studio's rows in a command table.

    Models come in seeded: at the profile's pi temperature 1.75 an unseeded draw
    waits longer than a second for its first note about one time in four."""
    (tmp_path / "models").mkdir()
    shutil.copy(MODEL, tmp_path / "models" / "mine.tflite")
    (tmp_path / "models" / "mine.profile.json").write_text(json.dumps({"pitemp": 1.75}))
    clock = ManualClock(START)
    settings = Settings(
        mode=mode,
        threshold=0.1,
        timescale=1.0,
        input_thru=False,
        log_input=False,
        log_predictions=False,
    )
    model = load_model(MODEL, seed=7) if dimension == 9 else None
    engine = Engine(dimension, settings, model, clock=clock, threaded_model=False)
    recorder = Recorder(clock)
    engine.adapters.append(recorder)
    bank = Bank([Pattern("p", [Track("t", [Step() for _ in range(16)])])])
    sequencer = Sequencer(bank, clock, lambda *args: None, tempo=120.0)
    config = load_config_text(
        f'[model]\nfile = ""\ndimension = {dimension}\nseed = 7\n', str(tmp_path / "c.toml")
    )
    live = LiveTraining(engine, config, root=tmp_path)
    live.follow_bars(sequencer)
    table = CommandTable()
    table.register(STUDIO_COMMANDS, live)
    engine.begin()
    return clock, engine, sequencer, live, table, recorder


async def loaded(live: LiveTraining, name: str | None = None, seconds: float = 60) -> str:
    """Until the model (any, without ``name``) is loaded and waits for the bar line (the
    manual clock stands still meanwhile); its file's name."""
    for _ in range(int(seconds * 100)):
        waiting = live.status()["waiting"]
        if waiting and (name is None or waiting == name):
            return waiting
        await asyncio.sleep(0.01)
    raise AssertionError(f"no model was loaded within {seconds:g} s: {list(live.log)}")


def test_a_model_asked_for_at_the_bar_comes_in_exactly_at_the_next_bar_line(tmp_path):
    async def main() -> None:
        clock, engine, sequencer, live, table, recorder = rig(tmp_path)
        old = engine.model
        swaps: list[tuple[int, float, object]] = []
        sequencer.bar_listeners.append(lambda n: swaps.append((n, clock.now(), engine.model)))
        sequencer.start()
        clock.advance(0.5)
        (_, bar_0, _), *_ = swaps  # the sequencer starts a few ms ahead
        bar_1 = bar_0 + BAR
        played = len(recorder.sent)
        assert played > 0, "the old model plays"

        pending = table.call("model/use", ["mine.tflite", "bar"])
        await loaded(live, "mine.tflite")
        clock.run_until(bar_1 - 1e-6)  # the whole bar, up to just before its end
        assert engine.model is old and not pending.future.done(), "not before the bar line"
        assert engine.model.pi_temp != 1.75, "its profile waits with it"
        assert len(recorder.sent) > played, "the old model played on meanwhile"

        clock.run_until(bar_1 + 1e-6)
        new = engine.model
        assert new is not old and new.path.name == "mine.tflite"
        assert [(n, t) for n, t, _ in swaps] == [(0, bar_0), (1, pytest.approx(bar_1, abs=1e-9))]
        assert [m is new for *_, m in swaps] == [False, True], "in at bar line 1, not before"
        assert await asyncio.wait_for(pending.wait(), 5) == str(tmp_path / "models/mine.tflite")
        assert new.pi_temp == 1.75, "its profile came in with it"
        assert live.status()["waiting"] == ""

        fresh = [np.array(s) for s in new.state()]
        before = len(recorder.sent)
        clock.advance(1.0)
        assert len(recorder.sent) > before, "the engine plays on with the new model"
        assert any(not np.array_equal(a, b) for a, b in zip(fresh, new.state(), strict=True)), (
            "the new model predicts"
        )

    asyncio.run(main())


def test_bar_swaps_at_once_when_the_sequencer_is_stopped_or_stops(tmp_path):
    async def main() -> None:
        clock, engine, sequencer, live, table, _ = rig(tmp_path)
        first = engine.model

        await asyncio.wait_for(table.call("model/use", ["mine.tflite", "bar"]).wait(), 60)
        assert engine.model is not first, "stopped: no bar line to wait for"

        second = engine.model
        sequencer.start()
        clock.advance(0.5)
        waiting = table.call("model/use", ["mine.tflite", "bar"])
        await loaded(live, "mine.tflite")
        replacing = table.call("model/use", ["mine.tflite", "bar"])  # takes the first's place
        with pytest.raises(CommandError, match="replaced by mine.tflite before the bar line"):
            await asyncio.wait_for(waiting.wait(), 60)
        assert engine.model is second
        sequencer.stop()  # no bar line will come: in now
        assert engine.model is not second and clock.now() == START + 0.5
        await asyncio.wait_for(replacing.wait(), 5)

        with pytest.raises(CommandError, match="at: expected one of now, bar"):
            live.use("mine.tflite", "beat")

    asyncio.run(main())


def test_a_trained_model_used_at_the_bar_comes_in_at_the_bar_line_after_it_is_back(tmp_path):
    """A real ``impsy train`` (the local studio) with ``use 1 bar``: the command answers once
    the model is in, and it comes in at the first bar line after it is back, not before."""

    async def main() -> None:
        clock, engine, sequencer, live, table, _ = rig(tmp_path, dimension=3, mode="useronly")
        (tmp_path / "datasets").mkdir()
        make_dataset(tmp_path / "datasets" / "tiny.npz")
        bars: list[float] = []
        sequencer.bar_listeners.append(lambda _n: bars.append(clock.now()))
        sequencer.start()
        clock.advance(0.5)
        pending = table.call("train", ["tiny.npz", "xxs", 1, 1, "bar"])
        name = await loaded(live, seconds=120)
        assert engine.model is None and not pending.future.done(), "back, but not yet in"
        clock.run_until(bars[0] + BAR - 1e-6)
        assert engine.model is None, "not before the bar line"
        clock.run_until(bars[0] + BAR + 1e-6)
        assert engine.model is not None and engine.model.path.name == name
        assert await asyncio.wait_for(pending.wait(), 5) == live.output
        assert live.status()["state"] == "done"

    asyncio.run(main())
