"""The ``seq/...`` runtime commands (OSC ``/impsy/seq/...``), each a thin wrapper.

Tracks and steps are 0-based. Numbers may arrive as floats (Pure Data sends
only floats); whole values are accepted. A bad argument raises
``CommandError``, which the OSC adapter reports as a rate-limited warning.

=================  ==================  ======================================
command            arguments           does
=================  ==================  ======================================
seq/start                              play from the top
seq/stop                               stop, all notes off
seq/continue                           play on from where it stopped
seq/tempo          f bpm               20-300, changes at once, no glitch
seq/swing          f amount            0-0.75 of a step, on odd 16ths
seq/pattern        i index             switch (at the next bar when playing)
seq/track          i index             select the track edits go to
seq/toggle         i track, i step     step on <-> off
seq/step           i track i step i on set a step on (1) or off (0)
seq/note           i track i step i n  the step's note (0-127)
seq/velocity       i track i step i v  the step's velocity (1-127)
seq/gate           i track i step f g  the step's length in steps
seq/probability    i track i step f p  chance the step plays, 0-1
seq/mute           i track i on        mute a track (1) or unmute (0)
seq/solo           i track i on        solo a track (1) or not (0)
seq/mode           s step|live         how keyboard notes are written
seq/record         i on                live mode: write notes at the playhead
seq/key            i note i velocity   a keyboard note (record or step entry)
seq/accept                             write the ghost steps into the pattern
seq/reject                             clear the ghost steps
seq/undo                               undo the last edit
seq/song           i ...               chain patterns (no arguments: no song)
seq/save           [s name]            save the bank ([sequencer] patterns, or
                                       name.json/.toml in the patterns folder)
seq/load           [s name]            load a bank (the same files)
seq/export_midi    s name              the song (when set) or the current
                                       pattern as name.mid/.midi
seq/import_midi    s name              name.mid/.midi as a new pattern,
                                       appended to the bank and selected
seq/status                             reply to the OSC client: /impsy/seq/status
                                       name value ... (tempo, playing, playhead,
                                       lateness_count, _p50_ms, _p99_ms, _max_ms)
                                       and /impsy/seq/histogram counts...
=================  ==================  ======================================

File names are bare names (``groove.mid``), never paths: they are looked
up in the patterns folder, the folder of ``[sequencer] patterns``, else
``patterns/`` (see ``SequencerAdapter.named_file``), so whoever can send
OSC cannot write or read anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from impsy.engine.core import CommandError

if TYPE_CHECKING:
    from impsy.sequencer.adapter import SequencerAdapter


def _args(name: str, args: list[Any], count: int) -> list[Any]:
    if len(args) < count:
        raise CommandError(f"/impsy/{name} needs {count} argument(s), got {len(args)}")
    return args


def _flag(value: Any) -> bool:
    if isinstance(value, str) or value is None:
        raise CommandError(f"expected 0 or 1, got {value!r}")
    return bool(value)


def _name(args: list[Any]) -> Any:
    """The optional file name argument (checked by ``SequencerAdapter.named_file``)."""
    return args[0] if args else None


def register_commands(
    adapter: SequencerAdapter, handlers: dict[str, Callable[[list[Any]], object]]
) -> None:
    seq = adapter.sequencer

    def need(count: int) -> Callable:
        def wrap(name: str, body: Callable[[list[Any]], object]) -> None:
            handlers[name] = lambda args: body(_args(name, list(args), count))

        return wrap

    need(0)("seq/start", lambda a: seq.start())
    need(0)("seq/stop", lambda a: seq.stop())
    need(0)("seq/continue", lambda a: seq.continue_())
    need(1)("seq/tempo", lambda a: seq.set_tempo(a[0]))
    need(1)("seq/swing", lambda a: seq.set_swing(a[0]))
    need(1)("seq/pattern", lambda a: seq.select_pattern(a[0]))
    need(1)("seq/track", lambda a: seq.select_track(a[0]))
    need(2)("seq/toggle", lambda a: seq.toggle_step(a[0], a[1]))
    need(3)("seq/step", lambda a: seq.set_step(a[0], a[1], on=_flag(a[2])))
    need(3)("seq/note", lambda a: seq.set_step(a[0], a[1], notes=a[2]))
    need(3)("seq/velocity", lambda a: seq.set_step(a[0], a[1], velocity=a[2]))
    need(3)("seq/gate", lambda a: seq.set_step(a[0], a[1], gate=a[2]))
    need(3)("seq/probability", lambda a: seq.set_step(a[0], a[1], probability=a[2]))
    need(2)("seq/mute", lambda a: seq.mute(a[0], _flag(a[1])))
    need(2)("seq/solo", lambda a: seq.solo(a[0], _flag(a[1])))
    need(1)("seq/mode", lambda a: seq.set_edit_mode(a[0]))
    need(1)("seq/record", lambda a: seq.set_recording(_flag(a[0])))
    need(2)("seq/key", lambda a: seq.record_note(a[0], a[1]))
    need(0)("seq/accept", lambda a: seq.accept_ghosts())
    need(0)("seq/reject", lambda a: seq.reject_ghosts())
    need(0)("seq/undo", lambda a: seq.undo())
    need(0)("seq/song", lambda a: seq.set_song(a))
    need(0)("seq/save", lambda a: adapter.save_named(_name(a)))
    need(0)("seq/load", lambda a: adapter.load_named(_name(a)))
    need(1)("seq/export_midi", lambda a: adapter.export_midi(a[0]))
    need(1)("seq/import_midi", lambda a: adapter.import_midi(a[0]))
    need(0)("seq/status", lambda a: adapter.send_status())
