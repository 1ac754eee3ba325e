"""A lead model in ``accompany`` mode (``[model] lead = true``), exactly, on a manual clock.

A lead model was trained on rows whose performer's dimensions are one event
ahead of its own (``impsy.dataset.chorales.lead_events``). The engine feeds
it each gesture with its own last answer, and answers from the step that
heard the gesture. These tests run the shipped lead chorale model (seeded)
and replay the same rows into a second copy of it with the same seed: every
answer must be exactly what that replay draws.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from impsy.clock import ManualClock
from impsy.config import load_config_text
from impsy.config.errors import ConfigError
from impsy.engine.commands import ENGINE_COMMANDS
from impsy.engine.core import Engine, Settings
from impsy.engine.table import CommandTable
from impsy.errors import CommandError
from impsy.mapping.midi import to_seven_bit
from impsy.model import load_model
from tests.engine.test_steering_engine import Recorder
from tests.paths import MODELS

LEAD = MODELS / "chorales-accompany-lead-dim5-layers2-units64-mixtures5-scale10.keras"
START = 100.0
MELODY = [67, 69, 71, 72, 71, 69, 67, 66, 67]
"""A soprano line (MIDI notes), one per gesture."""


def rig(mode: str = "accompany"):  # noqa: ANN201
    clock = ManualClock(START)
    model = load_model(LEAD, seed=3)
    settings = Settings(mode, 0.1, 1.0, False, False, False, lead=True)
    engine = Engine(5, settings, model, clock=clock, threaded_model=False)
    recorder = Recorder(clock)
    engine.adapters.append(recorder)
    table = CommandTable()
    table.register(ENGINE_COMMANDS, engine)
    for dim, role in ((1, "human"), (2, "model"), (3, "model"), (4, "model")):
        table.call("role", [dim, role])
    engine.begin()
    return engine, clock, recorder, table


def test_each_answer_is_drawn_from_the_step_that_heard_the_gesture_and_its_last_answer():
    engine, clock, recorder, _ = rig()
    replay = load_model(LEAD, seed=3)
    lower = np.full(3, 0.5)  # before its first answer, the engine's initial values
    for k, note in enumerate(MELODY):
        clock.advance(0.5)
        soprano = note / 127
        before = len(recorder.sent)
        engine.user_values([soprano, 0.5, 0.5, 0.5], "test")
        assert len(recorder.sent) == before + 1, "one answer per gesture, at once"
        when, values = recorder.sent[-1]
        assert when == START + 0.5 * (k + 1)
        row = np.array([0.5, soprano, *lower])
        drawn = replay.predict(row)  # the step on the lead row, then an unconditioned draw
        assert values[0] == soprano, "the performer's note, exactly"
        np.testing.assert_array_equal(values[1:], np.clip(drawn[2:], 0.0, 1.0))
        lower = values[1:]
    for mine, theirs in zip(engine.model.state(), replay.state(), strict=True):
        np.testing.assert_array_equal(mine, theirs)  # one step per gesture, never a second


def test_a_key_constraint_truncates_the_lead_models_voices_and_conditions_on_nothing():
    config = load_config_text(
        """
[interaction]
mode = "accompany"
[model]
dimension = 5
lead = true
[midi]
out_device = ["Synth"]
output."Synth" = [["note_on", 1], ["note_on", 2], ["note_on", 3], ["note_on", 4]]
[steering]
roles = ["human", "model", "model", "model"]
scale = ["C", "major"]
scale_dimensions = [2, 3, 4]
""",
        "lead.toml",
    )
    assert config.model.lead
    engine, clock, recorder, _ = rig()
    engine.configure_steering(config.steering)
    assert engine.model.steering is not None and engine.model.steering.held == ()
    for note in MELODY * 3:
        clock.advance(0.5)
        engine.user_values([note / 127, 0.5, 0.5, 0.5], "test")
    notes = [to_seven_bit(value) for _, values in recorder.sent for value in values[1:]]
    assert len(notes) == 3 * len(MELODY) * 3
    assert {note % 12 for note in notes} <= {0, 2, 4, 5, 7, 9, 11}


def test_a_lead_model_only_accompanies():
    engine, _, _, table = rig()
    with pytest.raises(CommandError, match="lead model; it only accompanies"):
        table.call("mode", ["battle"])
    assert engine.settings.mode == "accompany"
    table.call("mode", ["useronly"])  # logging only: nothing for the model to answer
    table.call("mode", ["accompany"])
    with pytest.raises(ValueError, match="only accompanies"):
        rig("callresponse")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[interaction]\nmode = "battle"\n[model]\ndimension = 5\nlead = true\n',
            r"\[model\] lead: a lead model only answers gestures; expected \[interaction\] "
            r'mode = "accompany" \(or "useronly"\), got "battle"',
        ),
        (
            '[interaction]\nmode = "accompany"\n[model]\ndimension = 5\nlead = true\n',
            r'expected \[steering\] roles with at least one "model" dimension',
        ),
        (
            '[model]\ndimension = 5\nlead = "yes"\n',
            r"\[model\] lead",
        ),
    ],
)
def test_a_lead_config_that_cannot_work_is_refused_by_name(text: str, message: str):
    with pytest.raises(ConfigError, match=message):
        load_config_text(text, "lead.toml")


def test_over_real_osc_each_soprano_note_comes_back_at_once_with_three_voices_in_key(tmp_path):
    """The shipped lead config's way of playing, over real UDP on 127.0.0.1: one answer per
    gesture, the soprano as sent, alto, tenor and bass in C major; battle refused live."""
    from tests.engine.test_modes_osc import play_config

    def make(server: int, client: int):  # noqa: ANN202
        return load_config_text(
            f"""
log_input = true
[interaction]
mode = "accompany"
[model]
dimension = 5
file = "{LEAD.with_suffix(".tflite")}"
seed = 5
lead = true
[osc]
server_ip = "127.0.0.1"
server_port = {server}
client_ip = "127.0.0.1"
client_port = {client}
[steering]
roles = ["human", "model", "model", "model"]
scale = ["C", "major"]
scale_dimensions = [2, 3, 4]
""",
            "lead-osc.toml",
        )

    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        replies = []
        for k, note in enumerate(MELODY):
            peer.send("/interface", note / 127, 0.5, 0.5, 0.5)
            (reply,) = (await peer.wait_for("/impsy", k + 1))[k:]
            replies.append(reply)
            await asyncio.sleep(0.02)
        peer.send("/impsy/mode", "battle")
        await asyncio.sleep(0.1)
        return replies, engine.status()

    replies, status = play_config(make, scenario, tmp_path)
    assert len(replies) == len(MELODY)
    for note, reply in zip(MELODY, replies, strict=True):
        assert reply[0] == pytest.approx(note / 127, abs=1e-7), "the soprano as played"
        assert {to_seven_bit(value) % 12 for value in reply[1:]} <= {0, 2, 4, 5, 7, 9, 11}
    assert status["mode"] == "accompany", "battle was refused: a lead model only accompanies"
    assert status["outputs"] == len(MELODY)


def test_the_surprise_meter_scores_each_gesture_under_a_lead_model_after_the_answer():
    engine, clock, recorder, table = rig()
    table.call("surprise", [1])
    for note in MELODY:
        clock.advance(0.5)
        engine.user_values([note / 127, 0.5, 0.5, 0.5], "test")
    assert len(recorder.sent) == len(MELODY), "every gesture answered"
    # as for any model (test_steering_engine: 6 gestures, 4 values): the listener's first
    # gesture has no dt before it and its second no prediction before it
    assert len(recorder.surprises) == len(MELODY) - 2
    assert all(np.isfinite(recorder.surprises))
