"""The sequencer's commands (``seq/...``) as rows of the command table.

The names are the OSC names (``/impsy/seq/tempo``); the aliases are the
action names controller profiles were written with (``set_tempo``,
``toggle_step``...), which keep working. Tracks and steps are 0-based; a
track left out (by name, as controller rules do) is the selected track.
Ranges that never change (tempo, swing, notes, velocities) are checked by
the rows; what depends on the bank (a step past the end of a track, a
pattern that does not exist) is checked by the sequencer.

File names are bare names (``groove.mid``), never paths: they are looked up
in the patterns folder (``impsy.sequencer.files.pattern_files``), so whoever
can send a command cannot write or read anywhere else.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from impsy.engine.table import BOOL, FLOAT, INT, STR, Arg, Command
from impsy.sequencer.control import EDIT_MODES, MAX_BPM, MAX_SWING, MIN_BPM
from impsy.sequencer.pattern import MAX_GATE

if TYPE_CHECKING:
    from impsy.sequencer.sequencer import Sequencer

TEMPO = Arg("bpm", FLOAT, "beats per minute", low=MIN_BPM, high=MAX_BPM, optional=True)
TRACK = Arg("track", INT, "0-based; by name it may be left out: the selected track", low=0)
STEP = Arg("step", INT, "0-based", low=0)
ON = Arg("on", BOOL, "1 on, 0 off; left out: toggle", optional=True)
NOTE = Arg("note", INT, "MIDI note", low=0, high=127)
VELOCITY = Arg("velocity", INT, "1-127", low=1, high=127)
GATE = Arg("gate", FLOAT, "length in steps", above=0.0, high=MAX_GATE)
PROBABILITY = Arg("probability", FLOAT, "chance the step plays", low=0.0, high=1.0)
DELTA = Arg("delta", INT, "move by this many instead", optional=True)
FILE_NAME = Arg("name", STR, "a bare file name in the patterns folder")


def _optional(arg: Arg) -> Arg:
    return replace(arg, optional=True)


def _track(seq: Sequencer, track: int | None) -> int:
    return seq.selected_track if track is None else track


def _tempo(seq: Sequencer, bpm: float | None = None, delta: float | None = None) -> None:
    if bpm is None:
        bpm = TEMPO.convert(seq.tempo + delta, "seq/tempo")
    seq.set_tempo(bpm)


def _select(current: int, index: int | None, delta: int | None) -> int:
    return current + delta if index is None else index


def _step(seq: Sequencer, step: int, track: int | None = None, **fields: Any) -> None:
    if "note" in fields:
        fields["notes"] = (fields.pop("note"),)
    seq.set_step(_track(seq, track), step, **fields)


def _toggle_play(seq: Sequencer) -> None:
    seq.stop() if seq.playing else seq.start()


def _toggle_mode(seq: Sequencer) -> None:
    seq.set_edit_mode("live" if seq.edit_mode == "step" else "step")


def _row(name: str, doc: str, run: Any, *args: Arg, **extra: Any) -> Command:
    return Command(f"seq/{name}", doc, run, tuple(args), **extra)


def _field(arg: Arg, doc: str) -> Command:
    """``seq/<field> track step value``: one field of a step, as OSC has always sent it."""

    def run(seq: Sequencer, step: int, track: int | None = None, **value: Any) -> None:
        _step(seq, step, track, **value)

    return _row(arg.name, doc, run, _optional(TRACK), STEP, arg)


SEQUENCER_COMMANDS: tuple[Command, ...] = (
    _row("start", "play from the top (of the song, when one is set)",
         lambda a: a.start(), aliases=("start",)),
    _row("stop", "stop; every note off", lambda a: a.stop(), aliases=("stop",)),
    _row("continue", "play on from where it stopped (at the next 16th)",
         lambda a: a.continue_(), aliases=("continue",)),
    _row("toggle_play", "start when stopped, stop when playing", _toggle_play,
         aliases=("toggle_play",)),
    _row("tempo", "the tempo, at once and without a glitch", _tempo,
         TEMPO, Arg("delta", FLOAT, "move by this many BPM instead", optional=True),
         one_of=("bpm", "delta"), aliases=("set_tempo",)),
    _row("swing", "delay of the odd 16ths, as a fraction of a step (even resolutions only)",
         lambda a, swing: a.set_swing(swing),
         Arg("swing", FLOAT, "0 straight, 0.75 the most", low=0.0, high=MAX_SWING),
         aliases=("set_swing",)),
    _row("pattern", "switch pattern (at the next bar when playing); one past the last: a new one",
         lambda a, pattern=None, delta=None: a.select_pattern(
             _select(a.selected_pattern, pattern, delta)),
         Arg("pattern", INT, "0-based index", low=0, optional=True), DELTA,
         one_of=("pattern", "delta"), aliases=("select_pattern",)),
    _row("track", "select the track that edits and keyboard notes go to",
         lambda a, track=None, delta=None: a.select_track(
             _select(a.selected_track, track, delta)),
         _optional(TRACK), DELTA, one_of=("track", "delta"), aliases=("select_track",)),
    _row("toggle", "switch a step on or off",
         lambda a, step, track=None: a.toggle_step(_track(a, track), step),
         _optional(TRACK), STEP, aliases=("toggle_step",)),
    _row("step", "set a step on (1) or off (0), and any of its other fields", _step,
         _optional(TRACK), STEP, ON, _optional(NOTE), _optional(VELOCITY), _optional(GATE),
         _optional(PROBABILITY),
         one_of=("on", "note", "velocity", "gate", "probability"), aliases=("set_step",)),
    _field(NOTE, "a step's note"),
    _field(VELOCITY, "a step's velocity"),
    _field(GATE, "a step's length"),
    _field(PROBABILITY, "the chance a step plays"),
    _row("mute", "mute a track (1) or unmute it (0); without on it toggles",
         lambda a, track=None, on=None: a.mute(_track(a, track), on),
         _optional(TRACK), ON, aliases=("mute",)),
    _row("solo", "solo a track (1) or not (0); without on it toggles",
         lambda a, track=None, on=None: a.solo(_track(a, track), on),
         _optional(TRACK), ON, aliases=("solo",)),
    _row("mode", "where keyboard notes are written: step (the cursor) or live (the playhead)",
         lambda a, mode: a.set_edit_mode(mode),
         Arg("mode", STR, "the edit mode", choices=EDIT_MODES), aliases=("set_edit_mode",)),
    _row("toggle_mode", "switch between step and live editing", _toggle_mode,
         aliases=("toggle_edit_mode",)),
    _row("record", "live mode: write keyboard notes at the playhead while on",
         lambda a, on: a.set_recording(on), Arg("on", BOOL, "1 records, 0 stops")),
    _row("key", "a keyboard note: entered at the cursor, or played (and recorded) live",
         lambda a, note, velocity: a.record_note(note, velocity), NOTE, VELOCITY,
         aliases=("record_note",)),
    _row("accept", "write the ghost steps into the pattern (one undo step)",
         lambda a: a.accept_ghosts(), aliases=("accept_ghosts",)),
    _row("reject", "clear the ghost steps", lambda a: a.reject_ghosts(),
         aliases=("reject_ghosts",)),
    _row("undo", "undo the last edit", lambda a: a.undo(), aliases=("undo",)),
    _row("song", "chain patterns by index; none: no song",
         lambda a, patterns: a.set_song(patterns),
         Arg("patterns", INT, "pattern indexes", low=0, many=True)),
)  # fmt: skip
"""Playing and editing: rows run on the ``Sequencer`` itself."""

FILE_COMMANDS: tuple[Command, ...] = (
    _row("save", "save the bank: [sequencer] patterns, or name.json/.toml in the patterns folder",
         lambda files, name=None: files.save_named(name), _optional(FILE_NAME)),
    _row("load", "load a bank: [sequencer] patterns, or name.json/.toml in the patterns folder",
         lambda files, name=None: files.load_named(name), _optional(FILE_NAME)),
    _row("export_midi", "the song (when set) or the current pattern as name.mid",
         lambda files, name: files.export_midi(name), FILE_NAME),
    _row("import_midi", "name.mid (or .midi) as a new pattern, appended and selected",
         lambda files, name: files.import_midi(name), FILE_NAME),
)  # fmt: skip
"""Files: rows run on the patterns folder
(``impsy.sequencer.files.pattern_files.PatternFiles``)."""

STATUS_COMMANDS: tuple[Command, ...] = (
    _row("status", "/impsy/seq/status (tempo, playing, playhead, lateness; with Link its "
         "peers, beat and phase) and /impsy/seq/histogram to the OSC client",
         lambda adapter: adapter.send_status()),
)  # fmt: skip
"""The status: runs on the ``SequencerAdapter``, which has the OSC client."""

KNOB_RANGE = {"low": -1000.0, "high": 1000.0}
"""What a knob command accepts (the model clips to its -3..3)."""

LEARN_COMMANDS: tuple[Command, ...] = (
    Command("learn/knob", "move a latent knob of the pattern model (-3..3); the bar it "
            "decodes comes at the next bar line (into the tracks, or as ghosts: learn/to)",
            lambda learn, knob, value: learn.knob(knob, value),
            (Arg("knob", INT, "0-based", low=0, high=3),
             Arg("value", FLOAT, "-3..3 (clipped)", **KNOB_RANGE))),
    Command("learn/generate", "a new bar from a random point of the pattern model",
            lambda learn: learn.generate()),
    Command("learn/vary", "a small move around the current point (amount 1: about 0.3)",
            lambda learn, amount=None: learn.vary(1.0 if amount is None else amount),
            (Arg("amount", FLOAT, "how far", low=0.0, high=10.0, optional=True),)),
    Command("learn/interpolate", "the point t of the way from pattern a's first bar to b's",
            lambda learn, a, b, t: learn.interpolate(a, b, t),
            (Arg("a", INT, "a pattern index", low=0), Arg("b", INT, "a pattern index", low=0),
             Arg("t", FLOAT, "0 is a, 1 is b", low=0.0, high=1.0))),
    Command("learn/threshold", "a step plays above this probability (lower: denser bars)",
            lambda learn, value: learn.threshold(value),
            (Arg("value", FLOAT, "the threshold", above=0.0, high=0.999),)),
    Command("learn/to", "where decoded bars go: into the tracks, or proposed as ghost steps "
            "(seq/accept, seq/reject)",
            lambda learn, where: learn.set_to(where),
            (Arg("where", STR, "track or ghost", choices=("track", "ghost")),)),
    Command("learn/train", "train a pattern model on the bank and the patterns folder's MIDI "
            "files and audio loops while playing; it comes in at a bar line",
            lambda learn, seconds=None, knobs=None: learn.train(
                10.0 if seconds is None else seconds, 4 if knobs is None else knobs),
            (Arg("seconds", FLOAT, "training time", low=0.5, high=600.0, optional=True),
             Arg("knobs", INT, "latent knobs", low=2, high=4, optional=True))),
    Command("learn/status", "the pattern model, its knobs, threshold and whether a bar is due",
            lambda learn: learn.status(), reply=True),
)  # fmt: skip
"""The pattern model (``impsy.sequencer.learn.live.PatternLearning``)."""

ALL_SEQUENCER_COMMANDS = SEQUENCER_COMMANDS + FILE_COMMANDS + STATUS_COMMANDS + LEARN_COMMANDS
