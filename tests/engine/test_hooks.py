"""The engine's extension points, driven over real OSC like the rest of the engine tests.

Observers (the web UI's live view), a feature's rows in the command table
(the sequencer's ``/impsy/seq/...``), hot-swapping a model and handing the
floor back at a bar line are what the web UI and the sequencer build on.
"""

from __future__ import annotations

import asyncio

import pytest

from impsy.engine.table import FLOAT, Arg, Command
from impsy.errors import CommandError
from impsy.model import load_model
from tests.engine.test_modes_osc import GESTURE, play
from tests.paths import ROOT

OTHER_MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"


def test_observers_see_each_gesture_and_each_prediction(tmp_path):
    seen: list[tuple[str, list[float]]] = []

    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        engine.add_observer(lambda kind, values, when: seen.append((kind, list(values))))
        peer.send("/interface", *GESTURE)
        await peer.wait_for("/impsy", 1)
        return True

    assert play("filter", scenario, tmp_path)
    kinds = [kind for kind, _ in seen]
    assert kinds[0] == "interface" and "rnn" in kinds
    assert seen[0][1] == pytest.approx(GESTURE, abs=1e-6)


def test_a_failing_observer_does_not_stop_input_or_output(tmp_path):
    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        def broken(kind, values, when):  # noqa: ANN001, ANN202
            raise RuntimeError("observer bug")

        engine.add_observer(broken)
        for _ in range(3):
            peer.send("/interface", *GESTURE)
            await asyncio.sleep(0.02)
        await peer.wait_for("/impsy", 3)
        return engine.status()

    status = play("filter", scenario, tmp_path)
    assert status["events_in"] == 3


def test_a_features_rows_are_reachable_over_osc_and_bad_arguments_are_counted(tmp_path):
    """A feature adds commands by registering rows: OSC reaches them with no code of its own."""
    calls: list[list] = []
    rows = (
        Command(
            "seq/tempo",
            "a feature's command with one checked argument",
            lambda target, bpm: calls.append([target, bpm]),
            (Arg("bpm", FLOAT, low=20, high=300),),
        ),
        Command("seq/start", "one without arguments", lambda target: calls.append([target])),
    )

    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        peer.send("/impsy/seq/tempo", 133.0)
        peer.send("/impsy/seq/start")
        peer.send("/impsy/seq/tempo", "fast")  # not a number
        peer.send("/impsy/seq/tempo", 500.0)  # out of its range
        peer.send("/impsy/seq/nonsense", 1)
        await asyncio.sleep(0.1)
        return engine.status()

    status = play(
        "useronly", scenario, tmp_path, setup=lambda p: p.commands.register(rows, "feature")
    )
    assert calls == [["feature", 133.0], ["feature"]]
    assert status["bad_input"] == 3


def test_swap_model_keeps_playing_with_the_new_model(tmp_path):
    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        before = engine.model
        engine.set_pitemp(1.5)
        replacement = await asyncio.to_thread(load_model, OTHER_MODEL)
        peer.send("/interface", *GESTURE)
        await peer.wait_for("/impsy", 1)
        engine.swap_model(replacement)
        for _ in range(3):
            peer.send("/interface", *GESTURE)
            await asyncio.sleep(0.02)
        await peer.wait_for("/impsy", 4)
        return before, engine

    before, engine = play("filter", scenario, tmp_path)
    assert engine.model is not before
    assert engine.status()["model"] == str(OTHER_MODEL)
    assert engine.model.pi_temp == 1.5, "live temperatures carry over to the new model"
    assert engine.status()["events_in"] == 4


def test_swap_model_refuses_another_dimension(tmp_path):
    class FourD:
        dimension = 4

    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        with pytest.raises(CommandError, match="dimension 4"):
            engine.swap_model(FourD())
        return engine.model

    assert play("filter", scenario, tmp_path) is not None


def test_end_response_hands_the_floor_back_and_waits_for_the_next_call(tmp_path):
    """Over real UDP; counted at the engine, since a datagram sent just before the hand-back
    may still be on its way to the peer (the exact timing is in test_timing.py)."""

    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        peer.send("/interface", *GESTURE)
        await peer.wait_for("/impsy", 2, timeout=2.0)
        assert engine.responding
        engine.end_response()
        assert not engine.responding
        count = engine.counters.outputs
        await asyncio.sleep(0.4)  # longer than the threshold: no new call, so no answer
        return count, engine.counters.outputs, engine.responding

    before, after, responding = play("callresponse", scenario, tmp_path)
    assert before >= 2
    assert after == before and not responding
