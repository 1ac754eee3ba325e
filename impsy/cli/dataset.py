"""``impsy dataset``: performance logs (and MIDI files) to a training ``.npz``.

IMPSY's options and output: ``-D``, ``-S logs``, ``-O datasets``, ``-F``;
the file is ``training-dataset-{D}d.npz``, key ``perfs``, which IMPSY's
``train`` reads. Differently from IMPSY: files are read in sorted order,
the default dimension is the config's (IMPSY defaults to 2, whatever the
logs are), a progress bar runs over the files, a table at the end says what
went in and what was skipped and why, and ``--midi`` imports Standard MIDI
Files through the config's mapping as if they had been played live. The
config, and the default log folder, are those ``impsy run`` uses (see
:mod:`impsy.config.locations`), so logs recorded there are found here.

Spans marked good or bad beside a log (``NAME.log.marks.json``, see
:mod:`impsy.dataset.marks`) are applied: bad rows dropped (or weighted down
with ``--bad-weight``), good rows weighted up (``--good-weight``).
``--chorales`` builds the melody-to-harmony data instead: Bach's four-part
chorales from music21's corpus (the ``chorales`` extra), dimension 5, a
training file in all twelve keys, a held-out file, both again in the
relative encoding (lower voices as intervals below the soprano), and a manifest (see
:mod:`impsy.dataset.chorales`); it reads no logs and no config.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from impsy.cli.errors import user_errors

MAPPING_SOURCES = ["midi", "websocket", "serialmidi"]


def _mapping(config, source: str | None):
    """The input mapping list to decode MIDI files with, and a label for messages."""
    from impsy.errors import ImpsyError

    if source is None:
        if config.midi is not None and config.midi.in_device:
            source = "midi"
        else:
            available = [s for s in ("websocket", "serialmidi") if getattr(config, s) is not None]
            if len(available) != 1:
                raise ImpsyError(
                    f"{config.source}: no [midi] in_device to take an input mapping from; "
                    "use --mapping-from midi|websocket|serialmidi with a config that has it"
                )
            source = available[0]
    if source == "midi":
        if config.midi is None or not config.midi.in_device:
            raise ImpsyError(f"{config.source}: --mapping-from midi needs [midi] in_device")
        device = config.midi.in_device[0]
        return config.midi.input[device], f'[midi] input."{device}"'
    section = getattr(config, source)
    if section is None:
        raise ImpsyError(f"{config.source}: --mapping-from {source} needs a [{source}] section")
    return section.input, f"[{source}] input"


@click.command("dataset")
@click.option(
    "--dimension",
    "-D",
    type=click.IntRange(min=2),
    help="Dimension of the logs to read (default: the config's [model] dimension).",
)
@click.option(
    "--source",
    "-S",
    help="Directory of .log files (those named *-{D}d-mdrnn.log are read; default: where "
    "impsy run logs with the same config: ./logs, or the per-user data folder's logs).",
)
@click.option(
    "--destination",
    "-O",
    default="datasets",
    show_default=True,
    help="Directory to write the dataset to.",
)
@click.option("--filename", "-F", help="Output file name (default: training-dataset-{D}d.npz).")
@click.option(
    "--config",
    "-c",
    "config_path",
    help="Config file (default: as impsy run: $IMPSY_CONFIG, ./config.toml, per-user, packaged).",
)
@click.option(
    "--midi",
    "midi",
    multiple=True,
    help="A MIDI file or a folder of them to import as performances (repeatable).",
)
@click.option(
    "--mapping-from",
    type=click.Choice(MAPPING_SOURCES),
    help="Which input mapping decodes --midi files (default: [midi] in_device).",
)
@click.option(
    "--chorales",
    is_flag=True,
    help="Build the Bach chorale datasets (dimension 5: dt, soprano, alto, tenor, bass) "
    "from music21's corpus instead; -F sets the file stem (default: chorales).",
)
@click.option(
    "--marks/--no-marks",
    default=True,
    show_default=True,
    help="Apply the spans marked good or bad beside each log (NAME.log.marks.json, "
    "from the web UI's log view).",
)
@click.option(
    "--bad-weight",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Weight of rows in bad spans; 0 drops them (the performance is cut around them).",
)
@click.option(
    "--good-weight",
    type=click.FloatRange(0, 100, min_open=True),
    default=2.0,
    show_default=True,
    help="Weight of rows in good spans (unmarked rows weigh 1): training draws windows "
    "in proportion to their weight.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing dataset file.")
@user_errors
def dataset(
    dimension: int | None,
    source: str | None,
    destination: str,
    filename: str | None,
    config_path: str | None,
    midi: tuple[str, ...],
    mapping_from: str | None,
    chorales: bool,
    marks: bool,
    bad_weight: float,
    good_weight: float,
    force: bool,
) -> None:
    """Make a training dataset from the interface rows of performance logs."""
    if chorales:
        _chorales(dimension, destination, filename, midi, force)
        return
    from impsy.config import load_config, locations
    from impsy.config.sizes import MAX_DIMENSION
    from impsy.dataset.collect import Collected, collect_logs, find_logs, summary_lines
    from impsy.dataset.midi_files import find_midi_files, read_midi_file
    from impsy.dataset.npz import dataset_file_name, write_dataset
    from impsy.errors import ImpsyError

    where = locations.resolve(config_path)
    config = load_config(where.config)
    source = source if source is not None else str(where.logdir)
    if dimension is not None and dimension > MAX_DIMENSION:
        raise ImpsyError(f"--dimension {dimension}: expected an integer 2-{MAX_DIMENSION}")
    dimension = dimension or config.model.dimension
    mapping = None
    if midi:
        mapping, label = _mapping(config, mapping_from)
        if len(mapping) + 1 != dimension:
            raise ImpsyError(
                f"{config.source}: {label} has {len(mapping)} entries (dimension "
                f"{len(mapping) + 1}) but the dataset is dimension {dimension}"
            )
    output = Path(destination) / (filename or dataset_file_name(dimension))
    if output.exists() and not force:
        raise ImpsyError(f"{output} already exists; use --force to overwrite it")
    source_dir = Path(source)
    logs = find_logs(source_dir, dimension) if source_dir.is_dir() else []
    if not source_dir.is_dir() and not midi:
        raise ImpsyError(f"{source}: no such log folder")
    midi_files = find_midi_files(midi) if midi else []
    click.echo(
        f"impsy: dimension {dimension}: {len(logs)} log file(s) in {source}"
        + (f", {len(midi_files)} MIDI file(s) decoded with {label}" if midi else "")
    )
    collected = Collected()
    with click.progressbar(logs, label="logs", file=sys.stderr) as bar:
        weights = {"bad_weight": bad_weight, "good_weight": good_weight} if marks else None
        collect_logs(bar, dimension, collected, marks=weights)
    if midi_files:
        with click.progressbar(midi_files, label="MIDI files", file=sys.stderr) as bar:
            for path in bar:
                try:
                    collected.add(path.name, read_midi_file(path, mapping))
                except ImpsyError as err:  # one bad file must not cost the good ones
                    collected.refuse(path.name, str(err).removeprefix(f"{path}: "))
    if not collected.performances:
        for line in summary_lines(collected):
            click.echo(line)
        inputs = f"no *-{dimension}d-mdrnn.log in {source}"
        if midi_files:
            inputs += f" and no MIDI file ({len(midi_files)} read, listed above)"
        raise ImpsyError(
            f"no rows to write: {inputs} had two or more interactions (is --dimension right? "
            "does the mapping read what the MIDI files play?)"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    # weights only when some log was marked: otherwise the file is exactly IMPSY's
    write_dataset(output, collected.performances, collected.weights if collected.marked else None)
    for line in summary_lines(collected, output):
        click.echo(line)


def _chorales(
    dimension: int | None, destination: str, stem: str | None, midi: tuple[str, ...], force: bool
) -> None:
    """``impsy dataset --chorales``: the chorale training and held-out files and their manifest."""
    from impsy.dataset import chorales
    from impsy.errors import ImpsyError

    if dimension is not None and dimension != chorales.DIMENSION:
        raise ImpsyError(f"--chorales makes dimension {chorales.DIMENSION} data, not {dimension}")
    if midi:
        raise ImpsyError("--chorales reads music21's corpus; it takes no --midi")
    try:
        import music21  # noqa: F401
    except ImportError:
        raise ImpsyError(
            "impsy dataset --chorales needs music21 (impsy's chorales extra): "
            f"`{sys.executable} -m pip install 'impsy[chorales]'`"
        ) from None
    paths = chorales.output_paths(destination, stem or "chorales")
    existing = [str(path) for path in paths.values() if path.exists()]
    if existing and not force:
        raise ImpsyError(f"{', '.join(existing)} already exist(s); use --force to overwrite")
    click.echo(
        f"impsy: Bach chorales {chorales.FIRST_NUMBER}-{chorales.LAST_NUMBER} (Riemenschneider) "
        f"from music21's corpus; held out: {len(chorales.HELD_OUT)} chorales"
    )
    numbers = range(chorales.FIRST_NUMBER, chorales.LAST_NUMBER + 1)
    with click.progressbar(numbers, label="chorales", file=sys.stderr) as bar:
        encoded, skipped = chorales.read_corpus(progress=lambda wanted: bar)
    manifest = chorales.write_chorale_datasets(encoded, skipped, paths)
    for kind in ("train", "heldout"):
        rows = sum(entry["events"] for entry in manifest[kind])
        keys = len(chorales.TRANSPOSITIONS) if kind == "train" else 1
        click.echo(
            f"{kind:>8}: {paths[kind]}: {len(manifest[kind])} chorales, {rows} events"
            + (f" x {keys} keys" if keys > 1 else "")
        )
    click.echo(
        f"relative: {paths['relative_train']}, {paths['relative_heldout']} (the same events, "
        "alto, tenor and bass as intervals below the soprano)"
    )
    click.echo(
        f"    lead: {paths['lead_train']}, {paths['lead_heldout']} (the same events, "
        "the soprano one event ahead of the other voices)"
    )
    click.echo(f"skipped: {len(skipped)} chorales (not four parts), listed in {paths['manifest']}")
