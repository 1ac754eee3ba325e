"""Roles, steering and accompaniment in the engine, exactly, on a manual clock.

The engine runs the real bundled model (seeded) on a ``ManualClock``; a
recording adapter notes what was sent and when. The maths of each steered
draw is tested against brute force in ``tests/model/test_steering.py``;
these tests check what the engine does with it: which values are held,
when a change is heard, what the model is fed, and the surprise meter
against ``impsy evaluate``'s own computation on the run's log.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from impsy.clock import ManualClock
from impsy.config import load_config_text
from impsy.dataset.logs import read_log_file
from impsy.engine.commands import ENGINE_COMMANDS
from impsy.engine.core import TELEMETRY_SUFFIX, Engine, Settings
from impsy.engine.eventlog import EventLog
from impsy.engine.ports import Adapter
from impsy.engine.table import CommandTable
from impsy.errors import CommandError
from impsy.mapping.midi import to_seven_bit
from impsy.model import load_model
from impsy.model.nll import performance_nll
from tests.paths import MODELS

MODEL = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
START = 100.0


class Recorder(Adapter):
    name = "recorder"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, np.ndarray]] = []
        self.surprises: list[float] = []

    async def start(self, engine) -> None:  # noqa: ANN001
        pass

    async def stop(self) -> None:
        pass

    def send(self, values: np.ndarray) -> None:
        self.sent.append((self.clock.now(), np.array(values)))

    def send_surprise(self, value: float) -> None:
        self.surprises.append(value)

    def describe(self) -> str:
        return "recorder"


def play(clock: ManualClock, recorder: Recorder, events: int) -> None:
    """Advance the clock until the model has sent ``events`` more events."""
    goal = len(recorder.sent) + events
    for _ in range(100_000):
        if len(recorder.sent) >= goal:
            return
        clock.advance(0.002)
    raise AssertionError(f"the model sent {len(recorder.sent)} events, expected {goal}")


def make_engine(mode: str, event_log: EventLog | None = None, seed: int = 7):  # noqa: ANN201
    clock = ManualClock(START)
    model = load_model(MODEL, seed=seed)
    settings = Settings(
        mode=mode,
        threshold=0.1,
        timescale=1.0,
        input_thru=False,
        log_input=event_log is not None,
        log_predictions=False,
    )
    engine = Engine(9, settings, model, event_log, clock=clock, threaded_model=False)
    recorder = Recorder(clock)
    engine.adapters.append(recorder)
    table = CommandTable()
    table.register(ENGINE_COMMANDS, engine)
    engine.begin()
    return engine, clock, recorder, table


def test_accompany_answers_each_gesture_at_its_instant_with_the_human_values_kept():
    engine, clock, recorder, table = make_engine("accompany")
    table.call("role", [1, "human"])
    table.call("role", [2, "human"])
    gestures = [[0.2 + 0.05 * k, 0.6 - 0.03 * k] + [0.5] * 6 for k in range(8)]
    for k, gesture in enumerate(gestures):
        clock.advance(0.25)
        before = len(recorder.sent)
        engine.user_values(gesture, "test")
        assert len(recorder.sent) == before + 1, "one answer per gesture, at once"
        when, values = recorder.sent[-1]
        assert when == START + 0.25 * (k + 1), "sent at the gesture's instant"
        assert values[0] == gesture[0] and values[1] == gesture[1], "the human values, exactly"
    played = np.array([values for _, values in recorder.sent])
    # the model's dimensions are its own: not the gesture's constant 0.5, and they move
    assert not np.allclose(played[:, 2:], 0.5, atol=1e-3)
    assert engine.counters.lateness.max() == 0.0


def test_accompany_feeds_the_model_the_whole_event_it_played():
    engine, clock, recorder, table = make_engine("accompany")
    table.call("role", [1, "human"])
    replay = load_model(MODEL)
    replay.reset()
    for k in range(6):
        clock.advance(0.2)
        gesture = [0.1 * k + 0.2] + [0.5] * 7
        engine.user_values(gesture, "test")
        _, values = recorder.sent[-1]  # as played: clipped to [0, 1]; one event per gesture
        replay.step(np.array([0.2, *values]))
    for mine, theirs in zip(engine.model.state(), replay.state(), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_a_held_dimension_stays_put_from_the_event_after_the_armed_one_in_battle():
    engine, clock, recorder, table = make_engine("battle")
    play(clock, recorder, 5)
    assert len(recorder.sent) >= 4
    table.call("hold", [3, 0.25])
    count = len(recorder.sent)
    play(clock, recorder, 12)
    later = [values for _, values in recorder.sent[count:]]
    assert len(later) >= 10
    # the armed event was planned before the change; every one after it holds 0.25 exactly
    assert all(values[2] == 0.25 for values in later[1:])
    assert {values[2] for _, values in recorder.sent[:count]} != {0.25}


def test_a_hold_stays_whatever_the_performer_plays_until_the_role_is_set_again():
    engine, clock, recorder, table = make_engine("battle")
    table.call("hold", [3, 0.25])
    clock.advance(0.01)
    engine.user_input([(0, 0.9)])  # touches x1 only; x3 in the gesture is its old 0.5
    engine.user_values([0.1] * 8, "test")  # sets every value, x3 too
    count = len(recorder.sent)
    play(clock, recorder, 8)
    assert all(values[2] == 0.25 for _, values in recorder.sent[count + 1 :])
    table.call("role", [3, "human"])  # released: the performer's value again from now
    engine.user_values([0.1] * 8, "test")
    count = len(recorder.sent)
    play(clock, recorder, 8)
    assert all(values[2] == np.float64(0.1) for _, values in recorder.sent[count + 1 :])


def test_a_hold_applies_in_accompany_too():
    engine, clock, recorder, table = make_engine("accompany")
    table.call("role", [1, "human"])
    table.call("hold", [2, 0.75])
    for k in range(4):
        clock.advance(0.2)
        engine.user_values([0.1 * k + 0.2, 0.3] + [0.5] * 6, "test")
        _, values = recorder.sent[-1]
        assert values[0] == 0.1 * k + 0.2 and values[1] == 0.75


def test_a_human_dimension_follows_the_performers_last_value_in_battle():
    engine, clock, recorder, table = make_engine("battle")
    table.call("role", [1, "human"])
    clock.advance(0.01)
    engine.user_values([0.9] + [0.5] * 7, "test")
    count = len(recorder.sent)
    play(clock, recorder, 10)
    assert all(values[0] == 0.9 for _, values in recorder.sent[count + 1 :])
    assert len(recorder.sent) - count >= 9


def test_a_range_and_a_note_set_bound_what_the_model_plays():
    engine, clock, recorder, table = make_engine("battle")
    table.call("range", [4, 0.40, 0.45])
    table.call("notes", [5, 60, 64, 67])
    count = len(recorder.sent)
    play(clock, recorder, 40)
    later = [values for _, values in recorder.sent[count + 1 :]]
    assert len(later) >= 30
    assert all(0.40 <= v[3] <= 0.45 for v in later)
    assert {to_seven_bit(v[4]) for v in later} <= {60, 64, 67}
    table.call("range", [4])  # no bounds: cleared
    assert 4 not in engine.steering.ranges


def test_a_range_change_applies_to_the_next_accompaniment():
    engine, clock, recorder, table = make_engine("accompany")
    table.call("role", [1, "human"])
    clock.advance(0.2)
    engine.user_values([0.3] + [0.5] * 7, "test")
    table.call("range", [2, 0.9, 0.95])
    clock.advance(0.2)
    engine.user_values([0.3] + [0.5] * 7, "test")
    assert 0.9 <= recorder.sent[-1][1][1] <= 0.95


def test_scale_steers_every_note_output_and_notes_toggle_like_pads():
    engine, clock, recorder, table = make_engine("battle")
    engine.note_dimensions = (2, 3)
    assert table.call("scale", [62, "major"]) == (2, 3)
    d_major = {n for n in range(128) if n % 12 in {2, 4, 6, 7, 9, 11, 1}}
    assert engine.steering.notes[2] == d_major == engine.steering.notes[3]
    assert table.call("note", [2, 61]) is False  # C# was allowed: the pad removes it
    assert 61 not in engine.steering.notes[2]
    assert table.call("note", [2, 61]) is True
    count = len(recorder.sent)
    play(clock, recorder, 30)
    assert all(to_seven_bit(v[1]) in d_major for _, v in recorder.sent[count + 1 :])


def test_the_density_tilt_makes_the_model_play_faster():
    def mean_wait(density: float) -> float:
        engine, clock, recorder, table = make_engine("battle", seed=3)
        table.call("density", [density])
        play(clock, recorder, 150)
        times = np.array([t for t, _ in recorder.sent])
        return float(np.diff(times).mean())

    plain, dense = mean_wait(0.0), mean_wait(30.0)
    assert dense < 0.7 * plain, (plain, dense)


def test_steering_commands_refuse_what_cannot_be_played():
    engine, clock, recorder, table = make_engine("battle")
    with pytest.raises(CommandError, match="dimension 9 does not exist; expected 0 \\(dt\\) to 8"):
        table.call("role", [9, "human"])
    with pytest.raises(CommandError, match="role"):
        table.call("role", [1, "drummer"])
    with pytest.raises(CommandError, match="low 0.8 is above high 0.2"):
        table.call("range", [1, 0.8, 0.2])
    table.call("notes", [2, 60])
    with pytest.raises(CommandError, match="no allowed note lies inside"):
        table.call("range", [2, 0.9, 1.0])
    assert 2 not in engine.steering.ranges, "a refused change leaves the old settings"
    with pytest.raises(CommandError, match="no output plays notes"):
        table.call("scale", [60, "major"])
    with pytest.raises(CommandError, match="dt \\(dimension 0\\) must be 0.001 to 60 seconds"):
        table.call("hold", [0, 0.0])
    with pytest.raises(CommandError, match="x1 must be 0 to 1, got 1e\\+308"):
        table.call("hold", [1, 1e308])
    with pytest.raises(CommandError, match="must be allowed more than 0.001 s"):
        table.call("range", [0, -1, 0])
    with pytest.raises(CommandError, match="leaves nothing to play"):
        table.call("range", [3, 2, 3])
    with pytest.raises(CommandError, match="dt \\(dimension 0\\) can be human or both"):
        table.call("role", [0, "model"])
    with pytest.raises(CommandError, match="notes: dim must be an integer of at least 1"):
        table.call("notes", [0, 60])
    assert engine.steering.ranges == {} and engine.steering.roles[0] == "both"
    status = table.call("steering")
    assert status["role0"] == "both" and status["notes2"] == "60"


def test_the_model_role_hides_the_performers_value_from_the_model():
    engine, clock, recorder, table = make_engine("polyphony")
    table.call("role", [3, "model"])
    seen = []
    engine.predictor.predict = lambda x, done: seen.append(np.array(x))
    clock.advance(0.1)
    engine.user_values([0.9] * 8, "test")
    assert seen[-1][3] == 0.5, "the model hears its own last value (the initial 0.5)"
    assert seen[-1][1] == 0.9


def test_surprise_equals_evaluate_on_the_runs_own_log(tmp_path):
    event_log = EventLog(tmp_path, 9)
    engine, clock, recorder, table = make_engine("callresponse", event_log)
    table.call("surprise", [1])
    rng = np.random.default_rng(5)
    for _ in range(25):
        time.sleep(0.004 + 0.01 * rng.random())  # the log stamps wall-clock time
        clock.advance(0.01)
        engine.user_values(rng.random(8), "test")
        clock.advance(0.02)  # the model answers in between: the listener must not hear it
    clock.advance(1.0)
    assert engine.counters.predictions > 0
    # the first gesture starts the clock, the second is the first scored by a dataset's
    # replay: the meter reports gestures 3..25
    assert len(recorder.surprises) == 23
    telemetry = event_log.path.with_name(event_log.path.stem + TELEMETRY_SUFFIX)
    engine.event_log.close()
    engine.telemetry.close()
    logged = [float(line.split(",")[2]) for line in telemetry.read_text().splitlines()]
    assert [line.split(",")[1] for line in telemetry.read_text().splitlines()] == ["surprise"] * 23
    rows = read_log_file(event_log.path, 9).rows
    expected = performance_nll(load_model(MODEL), rows)
    np.testing.assert_allclose(recorder.surprises, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(logged, expected, rtol=0, atol=1e-6)
    assert engine.status()["surprise"] == recorder.surprises[-1]
    # and `impsy evaluate` itself, on the log file, step by step
    steps = tmp_path / "steps.csv"
    result = subprocess.run(
        [sys.executable, "-m", "impsy", "evaluate", str(MODEL), str(event_log.path)]
        + ["--steps", str(steps)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "over 23 steps in 1 performances" in result.stdout
    rows = [line.split(",") for line in steps.read_text().splitlines()[1:]]
    assert [int(r[1]) for r in rows] == list(range(1, 24))
    np.testing.assert_allclose(logged, [float(r[2]) for r in rows], rtol=0, atol=1e-6)


def test_steering_from_the_config_is_applied_at_start():
    config = load_config_text(
        """
[model]
dimension = 5
[midi]
out_device = ["synth"]
[midi.output]
"synth" = [["note_on", 1], ["note_on", 2], ["note_on", 3], ["note_on", 4]]
[steering]
roles = ["human", "model", "model", "model"]
scale = ["D", "major"]
scale_dimensions = [2, 3, 4]
ranges = { 2 = [0.4, 0.6] }
density = 2.5
surprise = true
""",
        "steer.toml",
    )
    steering = config.steering
    assert steering.roles == ("both", "human", "model", "model", "model")
    assert steering.scale == (2, "major") and steering.scale_dimensions == (2, 3, 4)
    assert config.note_dimensions() == (1, 2, 3, 4)
    clock = ManualClock(START)
    model = load_model(MODELS / "chorales-accompany-dim5-layers2-units64-mixtures5-scale10.keras")
    engine = Engine(5, Settings("accompany", 0.1, 1.0, False, False, False), model, clock=clock)
    engine.configure_steering(steering)
    assert engine.steering.roles[1] == "human" and engine.steering.density == 2.5
    assert engine.model.steering is not None and engine.model.steering.held == (0, 1)
    assert engine.listener is not None
    assert min(engine.steering.notes[3]) % 12 in {2, 4, 6, 7, 9, 11, 1}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('roles = ["human"]', r"\[steering\] roles: expected an array of 4 roles"),
        (
            'roles = ["human", "x", "model", "model"]',
            "item 2: unknown role 'x'; expected one of both, human",
        ),
        ('scale = ["H", "major"]', "not a note name"),
        ('scale = ["D", "bebop"]', 'unknown scale "bebop"'),
        ('scale = ["D", "major"]', "no output plays notes"),
        ("ranges = { 7 = [0, 1] }", r"\[steering\] ranges.7: expected a dimension number 0"),
        ("ranges = { 1 = [0.9, 0.1] }", "low <= high"),
        ("notes = { 1 = [60, 200] }", "MIDI notes 0-127"),
        ("notes = { 1 = [60] }\nranges = { 1 = [0.9, 1.0] }", "no note lies inside"),
        ("hold = { 0 = 0 }", "dt \\(dimension 0\\) must be 0.001 to 60 seconds"),
        ("hold = { 1 = 2.0 }", "x1 must be 0 to 1"),
        ('dt = "model"', "can be human or both"),
        ("notes = { 0 = [60] }", "dimension 0 is dt"),
        ("ranges = { 0 = [-1, 0] }", "must be allowed more than 0.001 s"),
        (
            'scale = ["C", "major"]\nscale_dimensions = [2]\nranges = { 2 = [0.478, 0.482] }',
            "no note of the scale lies inside ranges.2",
        ),
        ("density = 5000", "from -1000 to 1000"),
    ],
)
def test_bad_steering_configs_name_the_key(section, message):
    from impsy.config import ConfigError

    with pytest.raises(ConfigError, match=message) as caught:
        load_config_text(f"[model]\ndimension = 5\n[steering]\n{section}\n", "bad.toml")
    assert str(caught.value).startswith("bad.toml: [steering]")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "surprise_cc = [17, 20]",
            r"\[midi\] surprise_cc: expected \[channel 1-16, control 0-119\]",
        ),
        (
            "surprise_cc = [1, 123]",
            r"\[midi\] surprise_cc: expected \[channel 1-16, control 0-119\]",
        ),
        ("surprise_range = [5, 5]", r"\[midi\] surprise_range: expected \[low, high\]"),
    ],
)
def test_bad_surprise_cc_settings_name_the_key(line, message):
    from impsy.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        midi = f'[midi]\nout_device = ["s"]\noutput."s" = [["note_on", 1]]\n{line}\n'
        load_config_text(f"{midi}[model]\ndimension = 2\n", "m.toml")


def test_turning_the_meter_off_leaves_no_stale_value_and_a_swap_keeps_it_on():
    engine, clock, recorder, table = make_engine("polyphony")
    table.call("surprise", [1])
    for _ in range(4):
        clock.advance(0.05)
        engine.user_values(np.full(8, 0.4), "test")
    assert "surprise" in engine.status()
    table.call("surprise", [0])
    assert "surprise" not in engine.status() and engine.listener is None
    table.call("surprise", [1])
    engine.swap_model(load_model(MODEL, seed=2))
    assert engine.listener is not None, "the meter listens to the new model"


def test_accompany_sheds_gestures_while_input_is_backlogged():
    engine, clock, recorder, table = make_engine("accompany")
    engine.input_backlogged = True
    clock.advance(0.1)
    engine.user_values(np.full(8, 0.4), "test")
    assert recorder.sent == [] and engine.counters.shed_predictions == 1
