"""A pattern model's bars as ghost steps (``learn/to ghost``), on a manual clock.

The model of ``test_pattern_learning`` (trained on the made-up drum styles
of ``test_pattern_vae``) proposes bars on an empty pattern; the sequencer's
own ghost mechanism shows them, plays them as the playhead passes, and its
``seq/accept`` / ``seq/reject`` rows write them in or drop them.
"""

from __future__ import annotations

import pytest

from impsy.clock import ManualClock
from impsy.engine.table import CommandTable
from impsy.errors import CommandError
from impsy.sequencer.commands import LEARN_COMMANDS, SEQUENCER_COMMANDS
from impsy.sequencer.learn.live import PatternLearning
from impsy.sequencer.pattern import Bank, Pattern, Track
from impsy.sequencer.sequencer import START_DELAY_S, Sequencer
from tests.sequencer.test_pattern_learning import model_file, style_pattern  # noqa: F401
from tests.sequencer.test_pattern_vae import STYLES

BAR = 2.0  # four beats at 120 BPM
STEP = BAR / 16
NOTE_ON = 0x90
NOTES = (36, 38, 42, 39)  # one note per track, so what is heard tells its track


def empty_pattern() -> Pattern:
    tracks = [Track.empty(f"t{t}", 16) for t in range(4)]
    for t, track in enumerate(tracks):
        for step in track.steps:
            step.notes = (NOTES[t],)
    return Pattern("empty", tracks)


def rig(folder):  # noqa: ANN001, ANN201
    clock = ManualClock()
    heard: list[tuple[float, int, list[int]]] = []
    bank = Bank([empty_pattern(), style_pattern(1), style_pattern(3)])
    seq = Sequencer(bank, clock, lambda i, t, m: heard.append((clock.now(), i, m)), tempo=120.0)
    learning = PatternLearning(seq, folder, seed=1)
    table = CommandTable()
    table.register(SEQUENCER_COMMANDS, seq)
    table.register(LEARN_COMMANDS, learning)
    return clock, seq, learning, table, heard


def style(index: int) -> set[tuple[int, int]]:
    return {(t, s) for t, row in enumerate(STYLES[index]) for s, c in enumerate(row) if c == "1"}


def ghosts(seq: Sequencer) -> set[tuple[int, int]]:
    return {(g["track"], g["step"]) for g in seq.ghost_list()}


def on_steps(seq: Sequencer) -> set[tuple[int, int]]:
    return {
        (t, s) for t, tr in enumerate(seq.pattern.tracks) for s, st in enumerate(tr.steps) if st.on
    }


def test_stopped_the_bar_is_proposed_at_once_and_accept_writes_it_in(model_file):  # noqa: F811
    clock, seq, learning, table, heard = rig(model_file.parent)
    table.call("seq/toggle", [3, 5])  # a step of the musician's own the model does not propose
    table.call("learn/to", ["ghost"])
    assert table.call("learn/status")["to"] == "ghost"
    table.call("learn/interpolate", [1, 1, 1.0])  # the point of style 1's bar
    proposed = ghosts(seq)
    assert len(proposed ^ style(1)) <= 3, "the decoded bar, as ghost steps on its tracks"
    assert on_steps(seq) == {(3, 5)}, "nothing written yet"
    decoded = learning.knobs.bar()
    for g in seq.ghost_list():
        assert g["notes"] == [NOTES[g["track"]]], "the track's own notes"
        assert g["velocity"] == decoded.velocity[g["track"], g["step"]]
    undo = seq.undo_depth
    table.call("seq/accept")
    assert on_steps(seq) == proposed | {(3, 5)}, "the ghosts join what the track plays"
    assert seq.ghost_list() == []
    written = {t for t, _ in proposed}
    assert seq.undo_depth - undo == len(written), "one undo entry per track written"
    for _ in written:
        table.call("seq/undo")
    assert on_steps(seq) == {(3, 5)}


def test_reject_drops_the_ghosts_and_a_new_bar_replaces_the_last(model_file):  # noqa: F811
    clock, seq, learning, table, heard = rig(model_file.parent)
    table.call("learn/to", ["ghost"])
    table.call("learn/interpolate", [1, 1, 1.0])
    table.call("learn/interpolate", [2, 2, 1.0])  # style 3: sparser, different steps
    assert len(ghosts(seq) ^ style(3)) <= 3, "only the newest bar is proposed"
    table.call("seq/reject")
    assert seq.ghost_list() == [] and on_steps(seq) == set()
    with pytest.raises(CommandError, match="no ghost steps to accept"):
        table.call("seq/accept")
    table.call("learn/to", ["track"])
    table.call("learn/interpolate", [1, 1, 1.0])
    assert len(on_steps(seq) ^ style(1)) <= 3 and seq.ghost_list() == [], "written, as before"
    with pytest.raises(CommandError, match="where must be one of track, ghost"):
        table.call("learn/to", ["sideways"])


def test_playing_ghosts_come_at_the_bar_line_are_heard_and_go_with_the_pattern(model_file):  # noqa: F811
    clock, seq, learning, table, heard = rig(model_file.parent)
    start = clock.now() + START_DELAY_S
    seq.start()
    clock.advance(0.1)  # inside the first bar
    table.call("learn/to", ["ghost"])
    table.call("learn/interpolate", [1, 1, 1.0])
    assert seq.ghost_list() == [] and learning.pending, "nothing changes mid-bar"
    clock.run_until(start + BAR + 0.001)
    proposed = ghosts(seq)
    assert len(proposed ^ style(1)) <= 3
    clock.run_until(start + 2 * BAR - 0.001)  # the whole second bar
    second = [
        (i, round((t - start - BAR) / STEP), m[1])
        for t, i, m in heard
        if m[0] & 0xF0 == NOTE_ON and m[2] > 0 and t >= start + BAR
    ]
    assert {(i, s) for i, s, _ in second} == proposed, "every ghost heard, nothing else"
    assert all(note == NOTES[i] for i, _, note in second)
    assert on_steps(seq) == set(), "heard, not written"
    table.call("seq/pattern", [1])  # another pattern at the next bar line: the ghosts go
    clock.run_until(start + 3 * BAR + 0.001)
    assert seq.selected_pattern == 1 and seq.ghost_list() == []
    table.call("seq/pattern", [0])
    clock.run_until(start + 4 * BAR + 0.001)
    assert seq.ghost_list() == [], "not back with the pattern they were proposed on"
    seq.stop()


def test_the_decoded_bar_lands_on_tracks_of_other_resolutions(model_file):  # noqa: F811
    """An eighth-note track takes each step from the nearest sixteenth, as a written bar."""
    from impsy.sequencer.learn.live import bar_ghosts

    clock, seq, learning, table, heard = rig(model_file.parent)
    bar = learning.knobs.bar()
    bar.on[:] = False
    bar.on[0, [0, 3, 4, 14]] = True  # 8ths 0, 2 and 7 of each bar; 16th 3 is no 8th's
    eighths = Track.empty("8ths", 16, steps_per_beat=2)  # two bars of eighths
    proposed = bar_ghosts([eighths], bar)
    assert sorted(proposed) == [(0, 0), (0, 2), (0, 7), (0, 8), (0, 10), (0, 15)]
