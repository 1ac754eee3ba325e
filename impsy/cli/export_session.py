"""``impsy export-session LOG_OR_RUN``: a performance as one MIDI file for a DAW.

The human's gestures and the model's answers go on separate tracks, through
the config's ``[midi] output`` mapping, at their real times, with the run's
tempo map in the conductor track when the sequencer recorded one, else one
tempo (see ``impsy.sequencer.files.session_export``). The config is found
as ``impsy run`` finds it (``impsy.config.locations``), except that without
one the default mapping is used rather than the packaged config's.
"""

from __future__ import annotations

import click

from impsy.cli.errors import user_errors


def _mapping(config_path: str | None, width: int):  # noqa: ANN202
    """(mapping or None for the default, what it is, the config's tempo or None)."""
    from impsy.config import load_config, locations
    from impsy.errors import ImpsyError

    where = locations.resolve(config_path)
    if where.origin == locations.PACKAGED:
        return None, "the default mapping (no config: no ./config.toml here)", None
    path = where.config
    config = load_config(path)
    sequencer = getattr(config, "sequencer", None)
    tempo = getattr(sequencer, "tempo", None)
    midi = config.midi
    if midi is not None and midi.out_device:
        device = midi.out_device[0]
        mapping, label = midi.output[device], f'{path} [midi] output."{device}"'
    elif sequencer is not None and getattr(sequencer, "mapping", None) is not None:
        mapping, label = sequencer.mapping, f"{path} [sequencer] mapping"
    else:
        return None, f"the default mapping ({path} has no [midi] output mapping)", tempo
    if len(mapping) != width:
        raise ImpsyError(
            f"{label} has {len(mapping)} entries but the log's rows have {width} values; "
            "use the config the performance was played with"
        )
    return mapping, label, tempo


@click.command("export-session")
@click.argument("log_or_run")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="MIDI file to write.")
@click.option(
    "--config",
    "-c",
    "config_path",
    help="Config whose [midi] output mapping to use (default: as impsy run: $IMPSY_CONFIG, "
    "./config.toml, per-user; none: the default mapping).",
)
@click.option(
    "--tempo",
    type=click.FloatRange(min=1, max=999),
    help="One tempo in bpm instead of the run's recorded tempo map (default: the map, "
    "else the config's [sequencer] tempo, else 120).",
)
@user_errors
def export_session(
    log_or_run: str, output: str | None, config_path: str | None, tempo: float | None
) -> None:
    """Write LOG_OR_RUN as a Standard MIDI File: "human" and "model" tracks, real timing.

    LOG_OR_RUN is a .log file, a directory (its newest log), or the start of
    log names (every log whose name starts with it). The default output is
    the log's name with .mid.
    """
    from impsy.sequencer.files import session_export as export

    rows = export.read_logs(export.find_logs(log_or_run))
    if not rows.rows:
        names = ", ".join(map(str, rows.files))
        raise export.ExportError(f"{names}: no interface or rnn rows to export")
    mapping, label, config_tempo = _mapping(config_path, rows.width)
    if tempo is None and rows.tempos:
        bpm, timing = None, f"with the tempo map of {', '.join(map(str, rows.tempo_files))}"
    else:
        bpm = tempo or config_tempo or export.DEFAULT_TEMPO
        timing = f"at {bpm:g} bpm"
    written = export.write_session(rows, log_or_run, output, mapping, bpm)
    human = sum(1 for _, source, _ in rows.rows if source == "interface")
    model = len(rows.rows) - human
    click.echo(
        f"{written}: {human} human and {model} model rows from {len(rows.files)} log(s) "
        f"through {label}, {timing}"
        + (f"; {rows.skipped} malformed rows skipped" if rows.skipped else "")
    )
