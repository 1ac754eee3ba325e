"""Editing the sequencer: steps, undo, step and live recording, ghosts, the model on the grid.

All against an injected clock (``ManualClock``), so no test sleeps.
"""

from __future__ import annotations

import pytest

from impsy.clock import ManualClock
from impsy.engine.table import CommandTable
from impsy.errors import CommandError
from impsy.mapping.spec import ControlChange, NoteOn, NoteVelocity
from impsy.sequencer.bridge import GridMapping, default_mapping, fold
from impsy.sequencer.commands import SEQUENCER_COMMANDS
from impsy.sequencer.control import SequencerControl, SequencerEvent
from impsy.sequencer.pattern import Bank, Pattern, Track
from impsy.sequencer.sequencer import START_DELAY_S, Sequencer

T0 = 100.0
START = T0 + START_DELAY_S
STEP = 0.125  # a 16th at 120 BPM
NOTE_ON, NOTE_OFF = 0x90, 0x80


def make(tracks: int = 1, **options):  # noqa: ANN003, ANN201
    clock = ManualClock(T0)
    sent: list[tuple[float, int, list[int]]] = []
    seq = Sequencer(
        Bank([Pattern("p", [Track.empty(f"t{i}", 16) for i in range(tracks)])]),
        clock,
        lambda i, t, m: sent.append((clock.now(), i, m)),
        tempo=120,
        **options,
    )
    gestures: list[tuple[int, int, dict]] = []
    seq.on_gesture = lambda n, v, cc: gestures.append((n, v, cc))
    events: list[SequencerEvent] = []
    seq.add_listener(events.append)
    return seq, clock, sent, gestures, events


def ons(sent):  # noqa: ANN001, ANN201
    return [(t, m) for t, _, m in sent if m[0] & 0xF0 == NOTE_ON]


def test_sequencer_implements_the_control_protocol() -> None:
    seq, *_ = make()
    assert isinstance(seq, SequencerControl)


def test_toggle_and_set_step_edit_notify_and_report_gestures() -> None:
    seq, _, _, gestures, events = make()
    seq.toggle_step(0, 3)
    assert seq.pattern.tracks[0].steps[3].on
    assert events[-1].kind == "edit" and events[-1].data["step"] == 3
    seq.set_step(0, 3, notes=64, velocity=90, gate=2.0, probability=0.5)
    step = seq.pattern.tracks[0].steps[3]
    assert (step.notes, step.velocity, step.gate, step.probability) == ((64,), 90, 2.0, 0.5)
    assert gestures == [(60, 100, {}), (64, 90, {})]
    seq.set_step(0, 3, notes=[60, 64, 67])  # a chord
    assert step is not seq.pattern.tracks[0].steps[3]
    assert seq.pattern.tracks[0].steps[3].notes == (60, 64, 67)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.toggle_step(1, 0), "track must be 0-0"),
        (lambda s: s.toggle_step(0, 16), "step must be 0-15"),
        (lambda s: s.set_step(0, 16, velocity=90), "step must be 0-15"),
        (lambda s: s.mute(3), "track must be 0-0"),
        (lambda s: s.set_cursor(16), "step must be 0-15"),
        (lambda s: s.select_pattern(5), "pattern must be"),
        (lambda s: s.set_song([0, 1]), "song entries"),
        (lambda s: s.undo(), "nothing to undo"),
        (lambda s: s.accept_ghosts(), "no ghost"),
    ],
)
def test_what_depends_on_the_bank_is_refused_by_the_sequencer(call, message) -> None:  # noqa: ANN001
    seq, *_ = make()
    before = (seq.bank.to_dict(), seq.snapshot())
    with pytest.raises(CommandError, match=message):
        call(seq)
    assert (seq.bank.to_dict(), seq.snapshot()) == before


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("seq/toggle", [0, 1.5], "seq/toggle: step must be a whole number"),
        ("seq/toggle", [0, "3"], "seq/toggle: step must be an integer"),
        ("seq/step", {"track": 0, "step": 0, "velocity": 0}, "velocity must be an integer 1-127"),
        ("seq/step", {"track": 0, "step": 0, "note": 128}, "note must be an integer 0-127"),
        ("seq/step", {"track": 0, "step": 0, "gate": 0}, "gate must be a positive number"),
        ("seq/step", {"track": 0, "step": 0, "probability": 1.5}, "probability must be"),
        ("seq/key", [60, 0], "velocity must be an integer 1-127"),
        ("seq/mode", ["jam"], "mode must be one of step, live"),
        ("seq/pattern", [-1], "pattern must be an integer of at least 0"),
    ],
)
def test_bad_arguments_are_refused_by_the_command_table_and_change_nothing(
    command: str, args: list | dict, message: str
) -> None:
    seq, _, sent, gestures, events = make()
    table = CommandTable()
    table.register(SEQUENCER_COMMANDS, seq)
    before = (seq.bank.to_dict(), seq.snapshot())
    with pytest.raises(CommandError, match=message):
        table.call(command, args)
    assert (seq.bank.to_dict(), seq.snapshot()) == before
    assert sent == gestures == events == []


def test_undo_reverts_every_edit_in_order() -> None:
    seq, *_ = make()
    seq.toggle_step(0, 0)
    seq.set_step(0, 0, notes=70)
    seq.mute(0, True)
    seq.undo()
    assert not seq.pattern.tracks[0].muted
    seq.undo()
    assert seq.pattern.tracks[0].steps[0].notes == (60,)
    seq.undo()
    assert not seq.pattern.tracks[0].steps[0].on


def test_step_mode_writes_the_cursor_advances_and_groups_chords() -> None:
    seq, clock, _, gestures, _ = make(edit_mode="step")
    seq.record_note(60, 100)
    clock.advance(1.0)  # no timing pressure
    seq.record_note(62, 90)
    clock.advance(0.01)
    seq.record_note(65, 90)  # within the chord window: same step
    steps = seq.pattern.tracks[0].steps
    assert steps[0].on and steps[0].notes == (60,)
    assert steps[1].on and steps[1].notes == (62, 65)
    assert seq.cursor == 2
    assert [g[0] for g in gestures] == [60, 62, 65]
    seq.undo()  # the whole step 1 entry
    assert not seq.pattern.tracks[0].steps[1].on


def test_live_mode_records_at_the_playhead_and_sounds_the_note() -> None:
    seq, clock, sent, _, _ = make(edit_mode="live")
    seq.start()
    clock.run_until(START + STEP * 5 + 0.01)  # just after step 5 started
    seq.record_note(72, 80)  # not recording: heard, not written
    assert not any(s.on for s in seq.pattern.tracks[0].steps)
    assert ons(sent)[-1][1] == [NOTE_ON, 72, 80]
    seq.set_recording(True)
    seq.record_note(74, 80)
    assert seq.pattern.tracks[0].steps[5].notes == (74,)
    clock.advance(STEP * 0.6)  # closer to step 6 than 5
    seq.record_note(76, 80)
    assert seq.pattern.tracks[0].steps[6].notes == (76,)


def test_predictions_are_quantised_to_the_next_step() -> None:
    seq, clock, sent, _, _ = make(quantise=100)
    seq.start()
    clock.run_until(START + STEP * 2 + 0.03)
    seq.place_model_note((50,), 90)
    clock.advance(0.2)
    ((when, message),) = ons(sent)
    assert message == [NOTE_ON, 50, 90]
    assert when == pytest.approx(START + STEP * 3)


def test_quantise_strength_and_swing() -> None:
    seq, clock, sent, _, _ = make(quantise=50, swing=0.5)
    seq.start()
    clock.run_until(START + STEP * 2 + 0.025)
    placed = clock.now()
    seq.place_model_note((50,), 90)
    clock.advance(0.3)
    boundary = START + STEP * 3 + STEP * 0.5  # step 3 is an odd 16th: swung
    assert ons(sent)[0][0] == pytest.approx(placed + (boundary - placed) * 0.5)


def test_release_drops_queued_predictions_and_ends_model_notes() -> None:
    seq, clock, sent, _, _ = make(model_gate=8)
    seq.start()
    clock.run_until(START + 0.01)
    seq.place_model_note((50,), 90)
    clock.run_until(START + STEP + 0.001)  # sounding now
    seq.place_model_note((52,), 90)  # queued for the next step
    seq.release_model()
    clock.advance(1.0)
    assert [m[1] for _, m in ons(sent)] == [50]
    offs = [m for _, _, m in sent if m[0] & 0xF0 == NOTE_OFF]
    assert offs == [[NOTE_OFF, 50, 0]]


def test_ghosts_are_proposed_heard_accepted_rejected_and_undone() -> None:
    seq, clock, sent, _, events = make(ghost_steps=2)
    seq.start()
    clock.run_until(START + 0.01)
    seq.place_model_note((50,), 90)  # -> step 1
    clock.advance(STEP)
    seq.place_model_note((52,), 91)  # -> step 2
    assert [g["step"] for g in seq.snapshot()["ghosts"]] == [1, 2]
    assert events[-1].kind == "ghosts"
    clock.run_until(START + STEP * 3 - 0.001)
    assert [m[1] for _, m in ons(sent)] == [50, 52]  # heard as the playhead passes
    seq.accept_ghosts()
    steps = seq.pattern.tracks[0].steps
    assert (steps[1].on, steps[1].notes, steps[2].notes) == (True, (50,), (52,))
    assert seq.snapshot()["ghosts"] == []
    seq.undo()  # one entry for the whole acceptance
    steps = seq.pattern.tracks[0].steps
    assert not steps[1].on and not steps[2].on
    clock.advance(0.005)
    seq.place_model_note((55,), 90)
    seq.reject_ghosts()
    assert seq.ghosts == {}
    assert not any(s.on for s in seq.pattern.tracks[0].steps)


def test_ghosts_keep_only_the_newest_n() -> None:
    seq, clock, _, _, _ = make(ghost_steps=2)
    seq.start()
    for n in range(4):
        clock.run_until(START + STEP * n + 0.01)
        seq.place_model_note((50 + n,), 90)
    assert [g["notes"] for g in seq.snapshot()["ghosts"]] == [[52], [53]]


def test_snapshot_is_json_and_complete() -> None:
    import json

    seq, *_ = make(tracks=2)
    snap = json.loads(json.dumps(seq.snapshot()))
    for key in (
        "tempo",
        "swing",
        "playing",
        "edit_mode",
        "selected_pattern",
        "selected_track",
        "playhead",
        "patterns",
        "song",
        "pattern",
        "ghosts",
        "lateness",
        "clock",
    ):
        assert key in snap
    assert snap["clock"] == {
        "source": "internal",
        "bpm_estimate": None,
        "messages_in": 0,
        "lateness": None,
    }
    assert len(snap["pattern"]["tracks"]) == 2
    assert set(snap["lateness"]) == {"count", "p50_ms", "p99_ms", "max_ms", "histogram"}


def test_new_pattern_index_makes_an_empty_copy_of_the_layout() -> None:
    seq, *_ = make(tracks=2)
    seq.toggle_step(1, 1)
    seq.select_pattern(1)
    assert seq.selected_pattern == 1
    assert len(seq.pattern.tracks) == 2 and not any(s.on for s in seq.pattern.tracks[1].steps)


def test_grid_mapping_both_ways() -> None:
    mapping = GridMapping(default_mapping(9), 36, 84)
    assert mapping.mapping[:3] == (NoteOn(1), NoteVelocity(1), ControlChange(1, 20))
    grid = mapping.to_grid([1.0, 0.5, 0.0, 1.0, 0, 0, 0, 0])
    assert grid.note == fold(127, 36, 84) == 79
    assert grid.velocity == 64 and grid.cc[20] == 0 and grid.cc[21] == 127
    updates = mapping.to_updates(60, 127, {20: 127})
    assert updates == [(0, 60 / 127), (1, 1.0), (2, 1.0)]
