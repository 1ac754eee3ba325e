"""Controller rules, LED maps and profiles, without ports.

A rule runs a row of the command table, so these tests fire rules at a real
``Sequencer`` on a manual clock and a real ``Engine`` (the bundled model, on
the same clock), wired by a real ``CommandTable`` as ``impsy.app`` wires a
run, and check what changed: the step that is now on, the tempo, the
model's temperature. ``tests/sequencer/controllers/test_controllers_jack.py``
drives the same through real JACK ports.
"""

from __future__ import annotations

from typing import Any

import pytest

from impsy.clock import ManualClock
from impsy.config.errors import ConfigError
from impsy.engine.commands import ENGINE_COMMANDS
from impsy.engine.core import Engine, Settings
from impsy.engine.table import CommandTable
from impsy.model import load_model
from impsy.sequencer.commands import SEQUENCER_COMMANDS
from impsy.sequencer.controllers.leds import LedFeedback, SequencerView, render
from impsy.sequencer.controllers.profiles import built_in_profiles, load_profile, parse_profile
from impsy.sequencer.controllers.rules import Grid, Message, RuleEngine, decode
from impsy.sequencer.pattern import Bank, Pattern, Track
from impsy.sequencer.sequencer import Sequencer
from tests.paths import MODELS

NOTE_ON, NOTE_OFF, CC = 0x90, 0x80, 0xB0
MODEL = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"


class Rig:
    """A run's sequencer and engine behind one command table, on one manual clock.

    Three patterns of three 16-step tracks; track 2 and pattern 1 selected,
    so a command that defaults to "the selected one" is told apart.
    """

    def __init__(self) -> None:
        self.clock = ManualClock()
        patterns = [
            Pattern(f"p{n}", [Track.empty(f"t{i}", 16) for i in range(3)]) for n in range(3)
        ]
        self.seq = Sequencer(Bank(patterns), self.clock, lambda *args: None)
        self.seq.select_track(2)
        self.seq.select_pattern(1)
        settings = Settings("useronly", 0.1, 1.0, False, False, False)
        model = load_model(MODEL, seed=1)
        self.engine = Engine(9, settings, model, clock=self.clock, threaded_model=False)
        self.engine.begin()
        self.commands = CommandTable()
        self.commands.register(ENGINE_COMMANDS, self.engine)
        self.commands.register(SEQUENCER_COMMANDS, self.seq)

    def rules(self, profile_text: str) -> RuleEngine:
        """A RuleEngine over ``profile_text`` whose rules run this rig's table."""
        profile = parse_profile(profile_text, "test.toml")
        return RuleEngine(profile.rules, lambda rule, args: self.commands.call(rule.action, args))

    def steps(self, track: int) -> list[int]:
        return [i for i, step in enumerate(self.seq.pattern.tracks[track].steps) if step.on]


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
action = "seq/toggle"
step = { from = "note", offset = -36 }
"""


def test_a_rule_matches_type_channel_number_and_value_range():
    rig = Rig()
    rules = rig.rules(SINGLE)
    assert rules.feed([NOTE_ON | 9, 40, 100], 0.0) == 1
    assert rules.feed([NOTE_ON | 0, 40, 100], 0.1) == 0, "wrong channel"
    assert rules.feed([NOTE_ON | 9, 52, 100], 0.2) == 0, "note past the range"
    assert rules.feed([NOTE_ON | 9, 40, 63], 0.3) == 0, "velocity under the range"
    assert rules.feed([NOTE_OFF | 9, 40, 100], 0.4) == 0, "note-off is another type"
    assert rules.feed([CC | 9, 40, 100], 0.5) == 0, "a CC is another type"
    assert rules.feed([NOTE_ON | 9, 51, 127], 0.6) == 1
    assert rig.steps(2) == [4, 15], "steps of the selected track"
    assert rig.steps(0) == rig.steps(1) == []


def test_clock_messages_are_ignored():
    rig = Rig()
    assert rig.rules(SINGLE).feed([0xF8], 0.0) == 0
    assert rig.steps(2) == []


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
action = "seq/tempo"
bpm = { from = ["msb", "lsb"], scale = 0.1 }

[[rule]]
name = "pitemp"
chain = [
    { type = "control_change", channel = 16, control = 99, value = 0 },
    { type = "control_change", channel = 16, control = 98, value = 2 },
    { type = "control_change", channel = 16, control = 6, capture = "msb" },
    { type = "control_change", channel = 16, control = 38, capture = "lsb" },
]
action = "pitemp"
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
    rig = Rig()
    rules = rig.rules(NRPN)
    assert feed_all(rules, nrpn(1, 1335)) == 1
    assert rig.seq.tempo == pytest.approx(133.5)
    assert feed_all(rules, nrpn(2, 850), start=1.0) == 1
    assert rig.engine.model.pi_temp == pytest.approx(0.85)


def test_a_partial_chain_fires_nothing():
    rig = Rig()
    assert feed_all(rig.rules(NRPN), nrpn(1, 1200)[:3]) == 0
    assert rig.seq.tempo == 120.0 and rig.engine.model.pi_temp == 1.0


def test_a_wrong_message_restarts_the_chain():
    rig = Rig()
    rules = rig.rules(NRPN)
    messages = nrpn(1, 1100)
    # a note between the parameter number and the data breaks the sequence
    broken = [messages[0], messages[1], [NOTE_ON, 60, 100], messages[2], messages[3]]
    assert feed_all(rules, broken) == 0
    assert rig.seq.tempo == 120.0
    assert feed_all(rules, messages, start=1.0) == 1, "the next full sequence still works"
    assert rig.seq.tempo == pytest.approx(110.0)


def test_clock_in_the_middle_does_not_break_a_chain():
    rig = Rig()
    messages = nrpn(1, 1000)
    assert feed_all(rig.rules(NRPN), [*messages[:2], [0xF8], [0xF8], *messages[2:]]) == 1
    assert rig.seq.tempo == pytest.approx(100.0)


def test_a_chain_times_out_between_messages():
    rig = Rig()
    rules = rig.rules(NRPN)
    messages = nrpn(1, 1000)
    assert feed_all(rules, messages[:2], start=0.0) == 0
    assert feed_all(rules, messages[2:], start=0.6) == 0, "0.6 s later: the chain was reset"
    assert rig.seq.tempo == 120.0
    assert feed_all(rules, messages, start=2.0, gap=0.4) == 1, "0.4 s gaps are within 0.5 s"
    assert rig.seq.tempo == pytest.approx(100.0)


def test_a_restart_in_the_middle_of_a_chain_begins_it_again():
    rig = Rig()
    messages = nrpn(1, 900)
    assert feed_all(rig.rules(NRPN), [messages[0], *messages]) == 1, "CC 99 twice: restart"
    assert rig.seq.tempo == pytest.approx(90.0)


def test_timescale_and_threshold_reach_controllers_through_their_rows_alone():
    """The generic profile's NRPNs 0:4 and 0:5: no controller code knows these commands."""
    rig = Rig()
    profile = load_profile("generic")
    rules = RuleEngine(profile.rules, lambda rule, args: rig.commands.call(rule.action, args))
    assert feed_all(rules, nrpn(4, 2500)) == 1
    assert feed_all(rules, nrpn(5, 750), start=1.0) == 1
    assert rig.engine.settings.timescale == pytest.approx(2.5)
    assert rig.engine.settings.threshold == pytest.approx(0.75)


# ------------------------------------------------------------------- actions


def fire(rig: Rig, action: str, **params: Any) -> Rig:
    rig.commands.call(action, params)
    return rig


def _ghosts(rig: Rig) -> Rig:
    rig.seq.ghost_steps = 4
    rig.seq.model_track = 2
    rig.seq.start()
    rig.seq.place_model_note((64,), 90)
    return rig


@pytest.mark.parametrize(
    ("action", "params", "before", "check"),
    [
        ("toggle_step", {"step": 3.0}, None, lambda r: r.steps(2) == [3]),
        ("toggle_step", {"track": 0, "step": 1}, None, lambda r: r.steps(0) == [1]),
        (
            "set_step",
            {"step": 4, "note": 64.0, "velocity": 90, "gate": 1.5, "probability": 0.5, "on": 1},
            None,
            lambda r: r.seq.pattern.tracks[2].steps[4].to_dict()
            == {**r.seq.pattern.tracks[2].steps[4].to_dict(), "on": True, "notes": [64],
                "velocity": 90, "gate": 1.5, "probability": 0.5},
        ),
        ("select_track", {"track": 1}, None, lambda r: r.seq.selected_track == 1),
        ("select_track", {"delta": -1}, None, lambda r: r.seq.selected_track == 1),
        ("select_pattern", {"pattern": 2}, None, lambda r: r.seq.selected_pattern == 2),
        ("select_pattern", {"delta": -1}, None, lambda r: r.seq.selected_pattern == 0),
        ("set_tempo", {"bpm": 90}, None, lambda r: r.seq.tempo == 90.0),
        ("set_tempo", {"delta": -2}, None, lambda r: r.seq.tempo == 118.0),
        ("set_swing", {"swing": 0.25}, None, lambda r: r.seq.swing == 0.25),
        ("start", {}, None, lambda r: r.seq.playing),
        ("stop", {}, lambda r: r.seq.start(), lambda r: not r.seq.playing),
        ("continue", {}, None, lambda r: r.seq.playing),
        ("toggle_play", {}, None, lambda r: r.seq.playing),
        ("toggle_play", {}, lambda r: r.seq.start(), lambda r: not r.seq.playing),
        ("set_edit_mode", {"mode": "live"}, None, lambda r: r.seq.edit_mode == "live"),
        ("toggle_edit_mode", {}, None, lambda r: r.seq.edit_mode == "live"),
        ("mute", {"track": 1}, None, lambda r: r.seq.pattern.tracks[1].muted),
        ("solo", {"on": True}, None, lambda r: r.seq.pattern.tracks[2].solo),
        ("accept_ghosts", {}, _ghosts, lambda r: r.steps(2) and not r.seq.ghosts),
        ("reject_ghosts", {}, _ghosts, lambda r: not r.seq.ghosts and r.steps(2) == []),
        ("undo", {}, lambda r: r.seq.toggle_step(0, 5), lambda r: r.steps(0) == []),
        (
            "record_note",
            {"note": 60, "velocity": 100.0},
            None,
            lambda r: r.seq.pattern.tracks[2].steps[0].notes == (60,) and r.steps(2) == [0],
        ),
        ("seq/record", {"on": 1}, None, lambda r: r.seq.recording),
        ("seq/song", {"patterns": [0, 2]}, None, lambda r: r.seq.bank.song == [0, 2]),
        ("seq/note", {"step": 3, "note": 70}, None,
         lambda r: r.seq.pattern.tracks[2].steps[3].notes == (70,)),
        ("seq/velocity", {"step": 3, "velocity": 7}, None,
         lambda r: r.seq.pattern.tracks[2].steps[3].velocity == 7),
        ("seq/gate", {"step": 3, "gate": 2}, None,
         lambda r: r.seq.pattern.tracks[2].steps[3].gate == 2.0),
        ("seq/probability", {"step": 3, "probability": 0.25}, None,
         lambda r: r.seq.pattern.tracks[2].steps[3].probability == 0.25),
        ("set_pitemp", {"value": 1.5}, None, lambda r: r.engine.model.pi_temp == 1.5),
        ("set_sigmatemp", {"value": 0.01}, None, lambda r: r.engine.model.sigma_temp == 0.01),
        ("pause", {}, None, lambda r: r.engine.settings.paused),
        ("pause", {}, lambda r: r.engine.set_paused(True), lambda r: not r.engine.settings.paused),
        ("pause", {"on": False}, None, lambda r: not r.engine.settings.paused),
        ("reset", {}, None, lambda r: r.engine.counters.model_errors == 0),
        ("set_mode", {"mode": "battle"}, None, lambda r: r.engine.settings.mode == "battle"),
        ("timescale", {"value": 2}, None, lambda r: r.engine.settings.timescale == 2.0),
        ("threshold", {"value": 0.5}, None, lambda r: r.engine.settings.threshold == 0.5),
        ("mode", {"mode": "filter"}, None, lambda r: r.engine.settings.mode == "polyphony"),
        ("role", {"dim": 2, "role": "human"}, None,
         lambda r: r.engine.steering.roles[2] == "human"),
        ("hold", {"dim": 3, "value": 0.25}, None, lambda r: r.engine.steering.held[3] == 0.25),
        ("range", {"dim": 4, "low": 0.2, "high": 0.6}, None,
         lambda r: r.engine.steering.ranges[4] == (0.2, 0.6)),
        ("notes", {"dim": 1, "notes": [60, 64]}, None,
         lambda r: r.engine.steering.notes[1] == {60, 64}),
        ("note", {"dim": 1, "note": 62}, None, lambda r: r.engine.steering.notes[1] == {62}),
        ("scale", {"root": 62, "name": "major", "dims": [1]}, None,
         lambda r: 61 in r.engine.steering.notes[1] and 60 not in r.engine.steering.notes[1]),
        ("density", {"value": 3.5}, None, lambda r: r.engine.steering.density == 3.5),
        ("surprise", {"on": 1}, None, lambda r: r.engine.listener is not None),
    ],
)  # fmt: skip
def test_each_rule_action_runs_its_row(action, params, before, check):
    """Old action names (``toggle_step``) and new ones (``seq/toggle``) run the same rows."""
    rig = Rig()
    if before is not None:
        before(rig)
    fire(rig, action, **params)
    assert check(rig)


def test_every_row_a_controller_can_run_is_tested_above():
    tested = {name for name, *_ in test_each_rule_action_runs_its_row.pytestmark[0].args[1]}
    table = Rig().commands
    rows = {table.find(name).name for name in tested}
    # A query (status) answers its sender: nothing a controller rule could show.
    runnable = {command.name for command in table if not command.reply}
    assert rows == runnable, "a row without a test above"


def test_a_knob_feeding_an_integer_argument_is_rounded_to_the_nearest():
    rig = Rig()
    text = """
[[rule]]
match = { type = "control_change", control = 20 }
action = "seq/track"
track = { from = "value", to = [0, 2] }
"""
    rules = rig.rules(text)
    rules.feed([CC, 20, 40], 0.0)  # 0.63: track 1
    assert rig.seq.selected_track == 1
    rules.feed([CC, 20, 127], 0.1)  # 2.0
    assert rig.seq.selected_track == 2


def test_a_profile_may_only_run_the_rows_of_its_run():
    text = '[[rule]]\nmatch = { type = "note_on" }\naction = "pause"'
    parse_profile(text, "ok.toml")  # a run with a sequencer has the engine's rows
    with pytest.raises(ConfigError, match=r"key 'action': expected a command: one of seq/"):
        parse_profile(text, "seq-only.toml", SEQUENCER_COMMANDS)


def test_a_knob_scaled_with_to_covers_its_range():
    text = """
[[rule]]
match = { type = "control_change", control = 29 }
action = "seq/swing"
swing = { from = "value", to = [0.0, 0.75] }
"""
    rig = Rig()
    rules = rig.rules(text)
    rules.feed([CC, 29, 0], 0.0)
    assert rig.seq.swing == 0.0
    rules.feed([CC, 29, 127], 0.1)
    assert rig.seq.swing == 0.75, "the documented maximum is reachable"


def test_relative_encoders_nudge():
    text = """
[[rule]]
match = { type = "control_change", control = 7 }
action = "seq/tempo"
delta = { from = "relative", scale = 0.5 }
"""
    rig = Rig()
    rules = rig.rules(text)
    rules.feed([CC, 7, 66], 0.0)
    assert rig.seq.tempo == 121.0
    rules.feed([CC, 7, 63], 0.1)
    assert rig.seq.tempo == 120.5


# --------------------------------------------------------------------- grids


def test_a_launchpad_grid_maps_pads_to_steps_top_left_first():
    grid = Grid(first=81, row_step=-10, columns=8, rows=8)
    assert grid.index(81) == 0 and grid.index(88) == 7
    assert grid.index(71) == 8 and grid.index(18) == 63
    assert grid.index(89) is None and grid.index(19) is None, "side buttons are not pads"
    assert [grid.number(i) for i in (0, 7, 8, 63)] == [81, 88, 71, 18]


def test_the_launchpad_profile_dispatches_pads_side_and_top_buttons():
    rig = Rig()
    profile = load_profile("launchpad")
    rules = RuleEngine(profile.rules, lambda rule, args: rig.commands.call(rule.action, args))
    rules.feed([NOTE_ON, 71, 127], 0.0)  # second row, first column
    rules.feed([NOTE_ON, 71, 0], 0.1)  # release: nothing
    assert rig.steps(2) == [8]
    rules.feed([CC, 79, 127], 0.2)  # second side button
    rules.feed([CC, 79, 0], 0.3)  # release: nothing
    assert rig.seq.selected_track == 1
    rules.feed([CC, 95, 127], 0.4)
    assert rig.seq.playing


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
            r"key 'step': expected an integer of at least 0 or \{from = ...\}",
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
    from impsy.sequencer.controllers.port import ControllerPort

    seq = Sequencer(Bank([Pattern("A", [Track.empty("t", 16)])]), ManualClock(), lambda *a: None)
    commands = CommandTable()
    commands.register(SEQUENCER_COMMANDS, seq)
    text = SINGLE.replace("[36, 51]", "[36, 60]")
    port = ControllerPort(parse_profile(text, "pads.toml"), seq, commands, None, "nowhere")
    caplog.set_level("WARNING", logger="impsy")
    port._receive(port.input, [NOTE_ON | 9, 52, 100], 0.0)
    port._receive(port.input, [NOTE_ON | 9, 53, 100], 0.1)
    port._receive(port.input, [NOTE_ON | 9, 37, 100], 0.2)
    assert seq.pattern.tracks[0].steps[1].on and port.fired == 1
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, "rate-limited: one warning for the two bad pads"
    assert "rule 'rule 1'" in warnings[0]


STEERING_RULES = """
[[rule]]
name = "knob 21 sets the top of x2's range"
match = { type = "control_change", channel = 1, control = 21 }
action = "range"
dim = 2
low = 0.0
high = { from = "value", to = [0.0, 1.0] }

[[rule]]
name = "pads 60-71 toggle notes of x1"
match = { type = "note_on", channel = 10, note = [60, 71] }
action = "note"
dim = 1
note = { from = "note" }
"""


def test_a_knob_sets_a_range_and_a_pad_toggles_an_allowed_note():
    """Controller rules reach the steering rows like any command: a knob's value becomes
    the top of a range, a pad adds or removes one allowed note."""
    rig = Rig()
    rules = rig.rules(STEERING_RULES)
    assert rules.feed([CC | 0, 21, 127], 0.0) == 1
    assert rig.engine.steering.ranges[2] == (0.0, 1.0)
    assert rules.feed([CC | 0, 21, 0], 0.1) == 1
    assert rig.engine.steering.ranges[2] == (0.0, 0.0)
    assert rules.feed([NOTE_ON | 9, 60, 100], 0.2) == 1
    assert rules.feed([NOTE_ON | 9, 67, 100], 0.3) == 1
    assert rig.engine.steering.notes[1] == {60, 67}
    assert rules.feed([NOTE_ON | 9, 60, 100], 0.4) == 1  # the same pad again: removed
    assert rig.engine.steering.notes[1] == {67}
    assert rig.engine.model.steering is not None, "the model draws with the new rules"
