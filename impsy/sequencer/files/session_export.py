"""A performance log as one Standard MIDI File: the human and the model on their own tracks.

After a set, the log in ``logs/`` holds every gesture (``interface`` rows)
and every prediction the model played (``rnn`` rows, with
``log_predictions = true``) with their real times. This turns them back
into the MIDI impsy sent: each row's values go through the config's
``[midi] output`` mapping (``impsy.mapping.midi.MidiEncoder``, one per
source, so each keeps its own sounding notes) at the row's time, on a track
named "human" or "model". A note lasts until the same dimension plays the
next one, as on stage; notes still sounding at the end stop one second after
the last row. The conductor track holds the tempo, which sets the grid a DAW
shows (the timing of every note is real time, whatever the tempo): the
run's tempo map when the sequencer recorded one beside the log
(``<log>.tempo.csv``, see ``impsy.sequencer.files.tempo_log``), converted
piecewise so each note still lands at its real time
(``impsy.sequencer.files.tempo_map``); else one tempo.

What to read (``LOG_OR_RUN``): a ``.log`` file; a directory, meaning the
newest run in it (log names start with the run's time); or a path prefix
such as ``logs/2026-11-21T20``, meaning every log whose name starts with
it, placed at their real times, one after another.

Without a ``[midi] output`` mapping, the ``[sequencer] mapping`` is used, else
the sequencer's default: x_1 the note, x_2 its velocity, x_3... CC 20, 21, ...
(all on channel 1).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mido

from impsy.dataset.logs import INTERFACE, RNN
from impsy.errors import ImpsyError
from impsy.mapping.midi import MidiEncoder
from impsy.mapping.spec import Mapping
from impsy.sequencer.bridge import default_mapping as sequencer_default_mapping
from impsy.sequencer.files.tempo_log import read_tempo_file, tempo_path
from impsy.sequencer.files.tempo_map import TempoMap

TICKS_PER_BEAT = 480
DEFAULT_TEMPO = 120.0
TAIL_S = 1.0
TRACK_NAMES = {INTERFACE: "human", RNN: "model"}


class ExportError(ImpsyError):
    """Nothing usable to export; the message says what was looked at."""


@dataclass
class LogRows:
    """Rows of one or more logs: (seconds since the first row, source, values)."""

    rows: list[tuple[float, str, list[float]]] = field(default_factory=list)
    skipped: int = 0
    files: list[Path] = field(default_factory=list)
    tempos: list[tuple[float, float]] = field(default_factory=list)
    """The recorded tempo map: (seconds since the first row, bpm), in time order."""
    tempo_files: list[Path] = field(default_factory=list)

    @property
    def width(self) -> int:
        return len(self.rows[0][2]) if self.rows else 0


def find_logs(log_or_run: str | Path) -> list[Path]:
    """The log files ``LOG_OR_RUN`` names (see the module docstring)."""
    path = Path(log_or_run)
    if path.is_file():
        return [path]
    if path.is_dir():
        logs = sorted(p for p in path.glob("*.log") if p.is_file())
        if not logs:
            raise ExportError(f"{path}: no .log files in this directory")
        return [logs[-1]]
    parent = path.parent if str(path.parent) else Path(".")
    logs = sorted(p for p in parent.glob(f"{path.name}*.log") if p.is_file())
    if not logs:
        raise ExportError(
            f"{log_or_run}: not a log file, a directory of logs, or the start of a log's name"
        )
    return logs


def default_mapping(values: int) -> list[Mapping]:
    """The sequencer's default: x_1 note, x_2 velocity, the rest CC 20, 21, ... on channel 1."""
    return list(sequencer_default_mapping(values + 1))


def read_logs(paths: Sequence[Path]) -> LogRows:
    """Every interface and rnn row, in time order, times relative to the first row."""
    result = LogRows(files=list(paths))
    stamped: list[tuple[dt.datetime, int, str, list[float]]] = []
    width: int | None = None
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace", newline="") as file:
                for fields in csv.reader(file):
                    row = _parse(fields)
                    if row is None:
                        result.skipped += fields != [] and fields != [""]
                        continue
                    stamp, source, values = row
                    width = width if width is not None else len(values)
                    if len(values) != width:
                        result.skipped += 1
                        continue
                    stamped.append((stamp, len(stamped), source, values))
        except OSError as err:
            raise ExportError(f"{path}: cannot read the log: {err.strerror or err}") from None
    try:
        stamped.sort()
    except TypeError:
        raise ExportError("the logs mix timestamps with and without a time zone") from None
    if stamped:
        start = stamped[0][0]
        result.rows = [((s - start).total_seconds(), src, v) for s, _, src, v in stamped]
        _read_tempos(result, start)
    return result


def _read_tempos(result: LogRows, start: dt.datetime) -> None:
    """The tempo files beside the logs, if the sequencer wrote any, relative to ``start``."""
    tempos: list[tuple[float, float]] = []
    for path in result.files:
        sidecar = tempo_path(path)
        if not sidecar.is_file():
            continue
        try:
            rows, skipped = read_tempo_file(sidecar)
        except OSError as err:
            raise ExportError(f"{sidecar}: cannot read: {err.strerror or err}") from None
        result.skipped += skipped
        result.tempo_files.append(sidecar)
        try:
            tempos += [((stamp - start).total_seconds(), bpm) for stamp, bpm in rows]
        except TypeError:
            raise ExportError(f"{sidecar}: mixes timestamps with and without a time zone") from None
    result.tempos = sorted(tempos, key=lambda row: row[0])


def _parse(fields: list[str]) -> tuple[dt.datetime, str, list[float]] | None:
    if len(fields) < 3 or fields[1].strip() not in TRACK_NAMES:
        return None
    try:
        stamp = dt.datetime.fromisoformat(fields[0].strip())
        values = [float(v) for v in fields[2:]]
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in values):
        return None
    return stamp, fields[1].strip(), values


def session_midi(
    rows: LogRows, mapping: Sequence[Mapping], tempo: float | None = None, title: str = ""
) -> mido.MidiFile:
    """The type 1 file: conductor, "human", "model" (a source with no rows: an empty track).

    ``tempo``: one tempo for the whole file; None: the recorded tempo map
    (``rows.tempos``), or ``DEFAULT_TEMPO`` when there is none.
    """
    if not rows.rows:
        raise ExportError("the log has no interface or rnn rows to export")
    if len(mapping) != rows.width:
        raise ExportError(
            f"the mapping has {len(mapping)} entries but the log's rows have {rows.width} values"
        )
    changes = rows.tempos if tempo is None else []
    tempo_map = TempoMap(changes, TICKS_PER_BEAT, tempo or DEFAULT_TEMPO)
    end = tempo_map.tick(rows.rows[-1][0] + TAIL_S)
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name=title or "impsy session", time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    now = 0
    for segment in tempo_map.changes_until(end):
        conductor.append(
            mido.MetaMessage("set_tempo", tempo=segment.tempo, time=segment.tick - now)
        )
        now = segment.tick
    conductor.append(mido.MetaMessage("end_of_track", time=end - now))
    midi.tracks.append(conductor)
    for source, name in TRACK_NAMES.items():
        encoder = MidiEncoder(mapping)
        timed: list[tuple[int, tuple[int, ...]]] = []
        for seconds, row_source, values in rows.rows:
            if row_source == source:
                tick = tempo_map.tick(seconds)
                timed += [(tick, message) for message in encoder.encode(values)]
        timed += [(end, message) for message in encoder.all_notes_off()]
        midi.tracks.append(_track(name, timed, end))
    return midi


def _track(name: str, timed: list[tuple[int, tuple[int, ...]]], end: int) -> mido.MidiTrack:
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    now = 0
    for tick, message in timed:  # already in time order: rows are sorted
        track.append(mido.Message.from_bytes(list(message), time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    return track


def export_session(
    log_or_run: str | Path,
    output: str | Path | None = None,
    mapping: Sequence[Mapping] | None = None,
    tempo: float | None = None,
) -> tuple[Path, LogRows]:
    """Read, convert and write; returns where the file went and what was read.

    ``tempo`` None: the run's recorded tempo map, else ``DEFAULT_TEMPO``.
    """
    rows = read_logs(find_logs(log_or_run))
    return write_session(rows, log_or_run, output, mapping, tempo), rows


def write_session(
    rows: LogRows,
    log_or_run: str | Path,
    output: str | Path | None = None,
    mapping: Sequence[Mapping] | None = None,
    tempo: float | None = None,
) -> Path:
    """Write ``rows`` as a session file; the default name is the log's, with ``.mid``."""
    if not rows.rows:
        names = ", ".join(map(str, rows.files))
        raise ExportError(f"{names}: no interface or rnn rows to export")
    if mapping is None:
        mapping = default_mapping(rows.width)
    if output is None:
        single = len(rows.files) == 1
        output = rows.files[0].with_suffix(".mid") if single else Path(f"{log_or_run}.mid")
    midi = session_midi(rows, mapping, tempo, title=rows.files[0].stem)
    try:
        midi.save(output)
    except OSError as err:
        raise ExportError(f"{output}: cannot write: {err.strerror or err}") from None
    return Path(output)
