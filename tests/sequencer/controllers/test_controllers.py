"""Controller rules, actions, LED maps and profiles, without ports.

The rules and actions are tested against ``RecordingControl``, a test double
of the ``SequencerControl`` interface that records each call: these tests are
about which message calls which method with which arguments, not about the
sequencer itself (``tests/sequencer/controllers/test_controllers_jack.py`` drives a real
sequencer over real JACK ports).
"""

from __future__ import annotations

from typing import Any

import pytest

from impsy.config.errors import ConfigError
from impsy.engine.core import CommandError
from impsy.sequencer.controllers.actions import ACTIONS, perform
from impsy.sequencer.controllers.leds import LedFeedback, SequencerView, render
from impsy.sequencer.controllers.profiles import built_in_profiles, load_profile, parse_profile
from impsy.sequencer.controllers.rules import Grid, Message, RuleEngine, decode

NOTE_ON, NOTE_OFF, CC = 0x90, 0x80, 0xB0


class RecordingControl:
    """A double of ``SequencerControl`` that records calls (see the module docstring)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []
        self.tempo = 120.0
        self.playing = False
        self.selected_track = 2
        self.selected_pattern = 5
        self.edit_mode = "step"
        self.playhead = 0
        self.listeners: list = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))

        return record

    def snapshot(self) -> dict[str, Any]:
        return {"pattern": {"tracks": []}, "ghosts": []}


class RecordingEngine:
    """A double of the engine's command methods, recording calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.paused = False

    def status(self) -> dict[str, Any]:
        return {"paused": self.paused}

    def set_paused(self, paused: bool) -> None:
        self.calls.append(("set_paused", (paused,)))
        self.paused = paused

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, args))


def engine_for(profile_text: str, control=None, engine=None):  # noqa: ANN001, ANN201
    """A RuleEngine over ``profile_text`` whose fired actions go to the doubles."""
    profile = parse_profile(profile_text, "test.toml")
    control = control or RecordingControl()
    engine = engine or RecordingEngine()
    rules = RuleEngine(
        profile.rules, lambda rule, params: perform(control, engine, rule.action, params)
    )
    return rules, control, engine


# ------------------------------------------------------------------ matching


def test_decode_reads_types_channels_and_values():
    assert decode([NOTE_ON | 9, 36, 100]) == Message("note_on", 10, 36, 100)
    assert decode([NOTE_ON, 36, 0]) == Message("note_off", 1, 36, 0), "velocity 0 is a note-off"
    assert decode([CC | 15, 99, 3]) == Message("control_change", 16, 99, 3)
    assert decode([0xE0, 0x7F, 0x7F]) == Message("pitchwheel", 1, None, 16383)
    assert decode([0xC2, 7]) == Message("program_change", 3, 7, 0)
    assert decode([0xFA]) == Message("start")
    assert decode([0xF0, 1, 2, 0xF7]) is None


SINGLE = """
[[rule]]
match = { type = "note_on", channel = 10, note = [36, 51], value = [64, 127] }
action = "toggle_step"
step = { from = "note", offset = -36 }
"""


def test_a_rule_matches_type_channel_number_and_value_range():
    rules, control, _ = engine_for(SINGLE)
    assert rules.feed([NOTE_ON | 9, 40, 100], 0.0) == 1
    assert rules.feed([NOTE_ON | 0, 40, 100], 0.1) == 0, "wrong channel"
    assert rules.feed([NOTE_ON | 9, 52, 100], 0.2) == 0, "note past the range"
    assert rules.feed([NOTE_ON | 9, 40, 63], 0.3) == 0, "velocity under the range"
    assert rules.feed([NOTE_OFF | 9, 40, 100], 0.4) == 0, "note-off is another type"
    assert rules.feed([CC | 9, 40, 100], 0.5) == 0, "a CC is another type"
    assert rules.feed([NOTE_ON | 9, 51, 127], 0.6) == 1
    assert control.calls == [("toggle_step", (2, 4), {}), ("toggle_step", (2, 15), {})]


def test_clock_messages_are_ignored():
    rules, control, _ = engine_for(SINGLE)
    assert rules.feed([0xF8], 0.0) == 0
    assert control.calls == []


NRPN = """
[[rule]]
name = "tempo"
chain = [
    { type = "control_change", channel = 16, control = 99, value = 0 },
    { type = "control_change", channel = 16, control = 98, value = 1 },
    { type = "control_change", channel = 16, control = 6, capture = "msb" },
    { type = "control_change", channel = 16, control = 38, capture = "lsb" },
]
timeout = 0.5
action = "set_tempo"
bpm = { from = ["msb", "lsb"], scale = 0.1 }

[[rule]]
name = "pitemp"
chain = [
    { type = "control_change", channel = 16, control = 99, value = 0 },
    { type = "control_change", channel = 16, control = 98, value = 2 },
    { type = "control_change", channel = 16, control = 6, capture = "msb" },
    { type = "control_change", channel = 16, control = 38, capture = "lsb" },
]
action = "set_pitemp"
value = { from = ["msb", "lsb"], scale = 0.001 }
"""


def nrpn(parameter_lsb: int, value: int) -> list[list[int]]:
    return [
        [CC | 15, 99, 0],
        [CC | 15, 98, parameter_lsb],
        [CC | 15, 6, value >> 7],
        [CC | 15, 38, value & 0x7F],
    ]


def feed_all(rules: RuleEngine, messages: list[list[int]], start: float = 0.0, gap: float = 0.01):
    return sum(rules.feed(m, start + i * gap) for i, m in enumerate(messages))


def test_an_nrpn_chain_fires_once_with_its_14_bit_value():
    rules, control, engine = engine_for(NRPN)
    assert feed_all(rules, nrpn(1, 1335)) == 1
    assert control.calls == [("set_tempo", (pytest.approx(133.5),), {})]
    assert feed_all(rules, nrpn(2, 850), start=1.0) == 1
    assert engine.calls == [("set_pitemp", (pytest.approx(0.85),))]


def test_a_partial_chain_fires_nothing():
    rules, control, engine = engine_for(NRPN)
    assert feed_all(rules, nrpn(1, 1200)[:3]) == 0
    assert control.calls == [] and engine.calls == []


def test_a_wrong_message_restarts_the_chain():
    rules, control, _ = engine_for(NRPN)
    messages = nrpn(1, 1200)
    # a note between the parameter number and the data breaks the sequence
    broken = [messages[0], messages[1], [NOTE_ON, 60, 100], messages[2], messages[3]]
    assert feed_all(rules, broken) == 0
    assert feed_all(rules, messages, start=1.0) == 1, "the next full sequence still works"
    assert control.calls == [("set_tempo", (pytest.approx(120.0),), {})]


def test_clock_in_the_middle_does_not_break_a_chain():
    rules, control, _ = engine_for(NRPN)
    messages = nrpn(1, 1000)
    assert feed_all(rules, [*messages[:2], [0xF8], [0xF8], *messages[2:]]) == 1
    assert control.calls == [("set_tempo", (pytest.approx(100.0),), {})]


def test_a_chain_times_out_between_messages():
    rules, control, _ = engine_for(NRPN)
    messages = nrpn(1, 1000)
    assert feed_all(rules, messages[:2], start=0.0) == 0
    assert feed_all(rules, messages[2:], start=0.6) == 0, "0.6 s later: the chain was reset"
    assert feed_all(rules, messages, start=2.0, gap=0.4) == 1, "0.4 s gaps are within 0.5 s"
    assert len(control.calls) == 1


def test_a_restart_in_the_middle_of_a_chain_begins_it_again():
    rules, control, _ = engine_for(NRPN)
    messages = nrpn(1, 900)
    assert feed_all(rules, [messages[0], *messages]) == 1, "CC 99 twice: the second one starts"
    assert control.calls == [("set_tempo", (pytest.approx(90.0),), {})]


# ------------------------------------------------------------------- actions


def fire(action: str, **params: Any):  # noqa: ANN201
    control, engine = RecordingControl(), RecordingEngine()
    perform(control, engine, action, params)
    return control.calls, engine.calls


@pytest.mark.parametrize(
    ("action", "params", "expected"),
    [
        ("toggle_step", {"step": 3.0}, ("toggle_step", (2, 3), {})),
        ("toggle_step", {"track": 0, "step": 1}, ("toggle_step", (0, 1), {})),
        (
            "set_step",
            {"step": 4, "note": 64.0, "velocity": 90, "gate": 1.5, "probability": 0.5, "on": 1},
            (
                "set_step",
                (2, 4),
                {"notes": (64,), "velocity": 90, "gate": 1.5, "probability": 0.5, "on": True},
            ),
        ),
        ("select_track", {"track": 1}, ("select_track", (1,), {})),
        ("select_track", {"delta": -1}, ("select_track", (1,), {})),
        ("select_pattern", {"pattern": 7}, ("select_pattern", (7,), {})),
        ("select_pattern", {"delta": 1}, ("select_pattern", (6,), {})),
        ("set_tempo", {"bpm": 90}, ("set_tempo", (90.0,), {})),
        ("set_tempo", {"delta": -2}, ("set_tempo", (118.0,), {})),
        ("set_swing", {"swing": 0.25}, ("set_swing", (0.25,), {})),
        ("start", {}, ("start", (), {})),
        ("stop", {}, ("stop", (), {})),
        ("continue", {}, ("continue_", (), {})),
        ("toggle_play", {}, ("start", (), {})),
        ("set_edit_mode", {"mode": "live"}, ("set_edit_mode", ("live",), {})),
        ("toggle_edit_mode", {}, ("set_edit_mode", ("live",), {})),
        ("mute", {"track": 3}, ("mute", (3, None), {})),
        ("solo", {"on": True}, ("solo", (2, True), {})),
        ("accept_ghosts", {}, ("accept_ghosts", (), {})),
        ("reject_ghosts", {}, ("reject_ghosts", (), {})),
        ("undo", {}, ("undo", (), {})),
        ("record_note", {"note": 60, "velocity": 100.0}, ("record_note", (60, 100), {})),
    ],
)
def test_each_sequencer_action_calls_the_sequencer(action, params, expected):
    calls, engine_calls = fire(action, **params)
    assert calls == [expected]
    assert engine_calls == []


@pytest.mark.parametrize(
    ("action", "params", "expected"),
    [
        ("set_pitemp", {"value": 1.5}, [("set_pitemp", (1.5,))]),
        ("set_sigmatemp", {"value": 0.01}, [("set_sigmatemp", (0.01,))]),
        ("pause", {}, [("set_paused", (True,))]),
        ("pause", {"on": False}, [("set_paused", (False,))]),
        ("reset", {}, [("reset", ())]),
        ("set_mode", {"mode": "battle"}, [("set_mode", ("battle",))]),
    ],
)
def test_each_model_action_calls_the_engine(action, params, expected):
    calls, engine_calls = fire(action, **params)
    assert engine_calls == expected
    assert calls == []


def test_every_action_kind_is_covered_by_the_tests_above():
    tested = {
        "toggle_step", "set_step", "select_track", "select_pattern", "set_tempo", "set_swing",
        "start", "stop", "continue", "toggle_play", "set_edit_mode", "toggle_edit_mode", "mute",
        "solo", "accept_ghosts", "reject_ghosts", "undo", "record_note", "set_pitemp",
        "set_sigmatemp", "pause", "reset", "set_mode",
    }  # fmt: skip
    assert set(ACTIONS) == tested


def test_model_actions_without_an_engine_are_command_errors():
    with pytest.raises(CommandError, match="no engine"):
        perform(RecordingControl(), None, "reset", {})


def test_toggle_play_stops_when_playing():
    control = RecordingControl()
    control.playing = True
    perform(control, None, "toggle_play", {})
    assert control.calls == [("stop", (), {})]


def test_a_knob_scaled_with_to_covers_its_range():
    text = """
[[rule]]
match = { type = "control_change", control = 29 }
action = "set_swing"
swing = { from = "value", to = [0.0, 0.75] }
"""
    rules, control, _ = engine_for(text)
    rules.feed([CC, 29, 0], 0.0)
    rules.feed([CC, 29, 127], 0.1)
    assert control.calls == [("set_swing", (0.0,), {}), ("set_swing", (0.75,), {})]


def test_relative_encoders_nudge():
    text = """
[[rule]]
match = { type = "control_change", control = 7 }
action = "set_tempo"
delta = { from = "relative", scale = 0.5 }
"""
    rules, control, _ = engine_for(text)
    rules.feed([CC, 7, 66], 0.0)
    rules.feed([CC, 7, 63], 0.1)
    assert control.calls == [("set_tempo", (121.0,), {}), ("set_tempo", (119.5,), {})]


# --------------------------------------------------------------------- grids


def test_a_launchpad_grid_maps_pads_to_steps_top_left_first():
    grid = Grid(first=81, row_step=-10, columns=8, rows=8)
    assert grid.index(81) == 0 and grid.index(88) == 7
    assert grid.index(71) == 8 and grid.index(18) == 63
    assert grid.index(89) is None and grid.index(19) is None, "side buttons are not pads"
    assert [grid.number(i) for i in (0, 7, 8, 63)] == [81, 88, 71, 18]


def test_the_launchpad_profile_dispatches_pads_side_and_top_buttons():
    profile = load_profile("launchpad")
    control = RecordingControl()
    rules = RuleEngine(profile.rules, lambda r, p: perform(control, None, r.action, p))
    rules.feed([NOTE_ON, 71, 127], 0.0)  # second row, first column
    rules.feed([NOTE_ON, 71, 0], 0.1)  # release: nothing
    rules.feed([CC, 79, 127], 0.2)  # second side button
    rules.feed([CC, 79, 0], 0.3)  # release: nothing
    rules.feed([CC, 95, 127], 0.4)
    assert control.calls == [
        ("toggle_step", (2, 8), {}),
        ("select_track", (1,), {}),
        ("start", (), {}),
    ]


# ---------------------------------------------------------------------- LEDs


def test_launchpad_leds_light_steps_playhead_and_selected_track():
    leds = load_profile("launchpad").leds
    view = SequencerView(
        steps_on=[True, False, False, True] + [False] * 12,
        ghost_steps={2},
        playhead=3,
        selected_track=1,
        track_count=3,
        muted=[False, False, True],
        playing=True,
    )
    frame = render(leds, view)
    colours = leds.colours
    assert frame[("steps", 0)] == colours["step_on"] == 21
    assert frame[("steps", 1)] == colours["step_off"]
    assert frame[("steps", 2)] == colours["ghost"]
    assert frame[("steps", 3)] == colours["playhead_on"]
    assert frame[("steps", 40)] == colours["step_off"], "past the track's end: off"
    assert [frame[("tracks", i)] for i in range(4)] == [1, 5, 7, 0]
    assert frame[("play", 0)] == colours["play_on"]
    feedback = LedFeedback(leds)
    messages = feedback.refresh(view)
    assert messages[0] == (0xF0, 0, 32, 41, 2, 12, 14, 1, 0xF7), "programmer mode first"
    assert len(messages) == 1 + 64 + 8 + 1
    assert (0x90, 81, 21) in messages and (0x90, 88, 13) not in messages
    assert (0x90, 84, 13) in messages, "step 3 under the playhead: note 84 in yellow"
    assert (0xB0, 79, 5) in messages, "the selected (second) track's side button in red"
    view.playhead = 4
    assert feedback.update(view) == [(0x90, 84, 21), (0x90, 85, 3)], "only what changed"
    assert feedback.update(view) == []


def test_beatstep_leds_are_sysex():
    leds = load_profile("beatstep").leds
    feedback = LedFeedback(leds)
    messages = feedback.refresh(SequencerView(steps_on=[True] + [False] * 15))
    assert messages[0] == (0xF0, 0, 32, 107, 127, 66, 2, 0, 16, 112, 1, 0xF7)
    assert messages[15] == (0xF0, 0, 32, 107, 127, 66, 2, 0, 16, 127, 0, 0xF7)


def test_blank_turns_off_what_was_lit():
    feedback = LedFeedback(load_profile("generic").leds)
    feedback.refresh(SequencerView(steps_on=[False, True]))
    assert feedback.blank() == [(0x99, 37, 0)]


# ------------------------------------------------------------------ profiles


def test_the_built_in_profiles_load():
    assert built_in_profiles() == ["beatstep", "generic", "launchpad"]
    for name in built_in_profiles():
        profile = load_profile(name)
        assert profile.rules and profile.leds.steps is not None
        assert profile.source.endswith(f"{name}.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[rule]]\nmatch = {type = "note_on"}\naction = "jump"', r"\[\[rule\]\] 1 key 'action'"),
        (
            '[[rule]]\nname = "pads"\nmatch = {type = "note_on", control = 3}\naction = "undo"',
            r"\[\[rule\]\] 1 \(pads\) key 'match' key 'control': not used by note_on",
        ),
        (
            '[[rule]]\nmatch = {type = "note_on", channel = 17}\naction = "undo"',
            r"key 'match' channel: expected values 1..16",
        ),
        (
            '[[rule]]\nmatch = {type = "note_on"}\naction = "toggle_step"',
            r"key 'step': toggle_step needs it",
        ),
        (
            '[[rule]]\nmatch = {type = "note_on"}\naction = "toggle_step"\nstep = "x"',
            r"key 'step': expected an integer or \{from = ...\}",
        ),
        (
            '[[rule]]\nmatch = {type = "note_on"}\naction = "toggle_step"\nstep = {from = "lsb"}',
            r"key 'step' from: expected one of",
        ),
        (
            '[[rule]]\nmatch = {type = "note_on"}\naction = "undo"\nspeed = 2',
            r"key 'speed': undo takes no parameters",
        ),
        (
            '[[rule]]\nchain = []\naction = "undo"',
            r"key 'chain': expected a non-empty list",
        ),
        (
            '[[rule]]\nmatch = {type = "note_on"}\naction = "set_edit_mode"\nmode = "loop"',
            r"key 'mode': expected one of step, live",
        ),
        ('[leds]\nsteps = {type = "note_on"}', r"\[leds\] steps: expected grid, numbers"),
        ("[leds.colours]\nstep_on = 300", r"\[leds.colours\] key 'step_on': expected 0..127"),
        ("[leds]\non_connect = [[240, 1]]", r"\[leds\] on_connect\[0\]: not a complete MIDI"),
        ("[leds]\non_connect = [[144, 1]]", r"on_connect\[0\]: not a complete MIDI message: wrong"),
        ("rules = 1", r"key 'rules': unknown"),
    ],
)
def test_profile_errors_name_the_file_and_the_key(text, expected):
    with pytest.raises(ConfigError, match=r"^my-pads\.toml: (.* )?" + expected):
        parse_profile(text, "my-pads.toml")


def test_missing_profiles_say_what_exists(tmp_path):
    with pytest.raises(ConfigError, match="no such built-in profile; expected one of beatstep"):
        load_profile("launchpadd")
    with pytest.raises(ConfigError, match="no such controller profile file"):
        load_profile(str(tmp_path / "nope.toml"))


def test_a_value_the_sequencer_refuses_is_a_warning_not_a_crash(caplog):
    """A real Sequencer (on a manual clock): pad 52 is step 17 of a 16-step track."""
    from impsy.clock import ManualClock
    from impsy.sequencer.controllers.port import ControllerPort
    from impsy.sequencer.pattern import Bank, Pattern, Track
    from impsy.sequencer.sequencer import Sequencer

    seq = Sequencer(Bank([Pattern("A", [Track.empty("t", 16)])]), ManualClock(), lambda *a: None)
    text = SINGLE.replace("[36, 51]", "[36, 60]")
    port = ControllerPort(parse_profile(text, "pads.toml"), seq, None, "nowhere")
    caplog.set_level("WARNING", logger="impsy")
    port._receive(port.input, [NOTE_ON | 9, 52, 100], 0.0)
    port._receive(port.input, [NOTE_ON | 9, 53, 100], 0.1)
    port._receive(port.input, [NOTE_ON | 9, 37, 100], 0.2)
    assert seq.pattern.tracks[0].steps[1].on and port.fired == 1
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, "rate-limited: one warning for the two bad pads"
    assert "rule 'rule 1'" in warnings[0]
