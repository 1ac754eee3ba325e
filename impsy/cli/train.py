"""``impsy train``: fit an MDRNN to a dataset (IMPSY's options, plus reproducibility).

IMPSY's options keep their names and defaults (``-D``, ``-S datasets``,
``-M s``, early stopping with patience 10, 100 epochs, batch 64, ``-O
models``). Added: ``--seed`` (same seed, same data, same weights),
``--test-performances`` (hold out whole performances and report their
NLL), ``--strategy`` (``mirrored`` spreads batches over every GPU) and a
few knobs IMPSY hard-codes. TensorFlow is imported only inside the command,
and without impsy's ``train`` extra the command (and ``impsy convert``, which
needs TensorFlow too) says in one line what is missing and how to install it,
instead of a ``ModuleNotFoundError`` traceback from deep in training.
"""

from __future__ import annotations

from pathlib import Path

import click

from impsy.cli.errors import user_errors

TRAIN_EXTRA_MODULES = ("tensorflow", "keras", "keras_mdn_layer")
"""What ``pip install 'impsy[train]'`` brings, in the order they import each other."""

SIZES = ["xxs", "xs", "s", "m", "l", "xl"]
RECIPES = ["single", "staged"]
"""``impsy.training.recipes.RECIPES``, repeated so ``--help`` does not import the trainer."""


def install_train_extra_command() -> str:
    """The exact command that installs the train extra into the Python running impsy.

    In a clone installed for development (``pip install -e``) that is the
    clone's own extra; anywhere else the published package's.
    """
    import json
    import shlex
    import sys
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    python = shlex.quote(sys.executable)
    try:
        origin = json.loads(metadata.distribution("impsy").read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        origin = {}
    url = urlparse(origin.get("url", ""))
    if origin.get("dir_info", {}).get("editable") and url.scheme == "file":
        clone = unquote(url.path)
        return (
            f"`{python} -m pip install -e {shlex.quote(clone + '[train]')}` "
            f"(or `make test` in {clone})"
        )
    return f"`{python} -m pip install 'impsy[train]'`"


def require_train_extra(command: str) -> None:
    """Import TensorFlow and keras-mdn-layer now, or raise one line saying how to get them.

    Importing (not just finding) the packages also catches a half-installed
    extra; ``command`` is what the user ran, for the message.
    """
    import importlib

    from impsy.errors import ImpsyError

    for module in TRAIN_EXTRA_MODULES:
        try:
            importlib.import_module(module)
        except ImportError as err:
            reason = " ".join(str(err).split()) or f"cannot import {module}"
            raise ImpsyError(
                f"impsy {command} needs impsy's train extra (TensorFlow and keras-mdn-layer), "
                f"which is not installed ({reason}); install it with "
                f"{install_train_extra_command()}"
            ) from None


def dataset_path(source: str, dimension: int | None, config_path: str | None) -> Path:
    """A ``.npz`` source as given; a directory means its ``training-dataset-{D}d.npz``.

    D is ``--dimension``, else the config's ``[model] dimension`` (as
    ``impsy dataset`` names its output), so the two commands agree by default.
    """
    path = Path(source)
    if path.suffix:
        return path
    if dimension is None:
        from impsy.config import load_config, locations

        dimension = load_config(locations.resolve(config_path).config).model.dimension
    return path / f"training-dataset-{dimension}d.npz"


@click.command("train")
@click.option(
    "--dimension",
    "-D",
    type=click.IntRange(min=2),
    help="Dimension of the data (default: the dataset's; checked if given).",
)
@click.option(
    "--source",
    "-S",
    default="datasets",
    show_default=True,
    help="A .npz dataset, or a directory holding training-dataset-{D}d.npz.",
)
@click.option(
    "--modelsize",
    "-M",
    type=click.Choice(SIZES),
    default="s",
    show_default=True,
    help="Model size: xxs 16, xs 32, s 64, m 128, l 256 units x 2 layers; xl 512 x 3.",
)
@click.option(
    "--earlystopping/--no-earlystopping",
    default=True,
    show_default=True,
    help="Stop when the validation loss has not improved for --patience epochs.",
)
@click.option(
    "--patience",
    "-P",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Epochs without improvement before early stopping.",
)
@click.option(
    "--numepochs",
    "-N",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="The most epochs to train.",
)
@click.option(
    "--batchsize",
    "-B",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Windows per batch.",
)
@click.option(
    "--destination",
    "-O",
    default="models",
    show_default=True,
    help="Directory for the model files.",
)
@click.option(
    "--seed",
    type=int,
    default=2345,
    show_default=True,
    help="Seeds Python, NumPy and TensorFlow (deterministic ops): same seed, same model.",
)
@click.option(
    "--test-performances",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Hold out N whole performances (chosen by seed) and report their NLL.",
)
@click.option(
    "--strategy",
    type=click.Choice(["default", "mirrored"]),
    default="default",
    show_default=True,
    help="tf.distribute strategy (mirrored: all local GPUs).",
)
@click.option(
    "--sequence-length",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Steps per training window (IMPSY: 50).",
)
@click.option(
    "--window-step",
    type=click.IntRange(min=1),
    help="Rows between windows in an epoch (default: the sequence length; IMPSY: 1).",
)
@click.option(
    "--learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-2,
    show_default=True,
    help="Adam's starting learning rate (IMPSY: 0.001; gradients are clipped to norm 1).",
)
@click.option(
    "--reduce-lr-patience",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Halve the learning rate after N epochs without improvement (0: never).",
)
@click.option(
    "--max-minutes",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after the epoch that passes this many minutes of training.",
)
@click.option("--name", help="File stem (default: IMPSY's musicMDRNN-dim..-scale10).")
@click.option(
    "--config",
    "-c",
    "config_path",
    help="Config whose [model] dimension locates the dataset in a -S directory (default: "
    "as impsy run: $IMPSY_CONFIG, ./config.toml, per-user, packaged).",
)
@click.option(
    "--init-from",
    type=click.Path(exists=True, dir_okay=False),
    help="Start from this .keras of the same size (fine-tuning, e.g. on longer windows).",
)
@click.option(
    "--split-length",
    type=click.IntRange(min=2),
    help="Keep the validation split of runs with this window (rows) when fine-tuning.",
)
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0)
@click.option("--recurrent-dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0)
@click.option(
    "--augment",
    type=click.Choice(["permute", "flip"]),
    multiple=True,
    help="Change each training window: permute shuffles which column each control is in, "
    "flip mirrors controls (x -> 1 - x). Repeatable; dt and validation data are never changed.",
)
@click.option(
    "--select-by",
    type=click.Choice(["windows", "performances"]),
    default="windows",
    show_default=True,
    help="Best epoch by the loss on validation windows (IMPSY) or by the NLL of whole "
    "validation performances from a reset state (what impsy evaluate and the test measure).",
)
@click.option(
    "--recipe",
    type=click.Choice(RECIPES),
    default="single",
    show_default=True,
    help="single: one run with these options. staged: two runs, the second from the "
    "first's weights (20-step windows at rate 0.01 for up to 5 min, then 300-step windows "
    "at 0.002 with --augment permute --select-by performances); "
    "the stages set window, step, batch, rate, patience and selection, other options "
    "apply to every stage and --max-minutes to the whole recipe.",
)
@click.option(
    "--studio",
    type=click.Choice(["local", "ray"]),
    help="Where to train: local (this machine) or ray (a Ray cluster, impsy[studio]); "
    "default: the config's [studio] backend, else local.",
)
@click.option(
    "--studio-address",
    help="The Ray studio: host:port of its head (ray start --head), ray://host:10001 "
    "(Ray Client, from another machine) or local (a Ray for this job); default: the "
    "config's [studio] address.",
)
@click.option(
    "--sweep",
    multiple=True,
    help="Train a grid of trials and keep the best by validation NLL, e.g. "
    '"units=16,32 layers=1,2 dropout=0,0.2 sequence_length=20,50" (also size, lr, '
    "batch_size, recurrent_dropout, window_step). Ray Tune trials on a Ray studio, "
    "one after another locally.",
)
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@user_errors
def train(
    dimension: int | None,
    source: str,
    modelsize: str,
    earlystopping: bool,
    patience: int,
    numepochs: int,
    batchsize: int,
    destination: str,
    seed: int,
    test_performances: int,
    strategy: str,
    sequence_length: int,
    window_step: int | None,
    learning_rate: float,
    reduce_lr_patience: int,
    max_minutes: float | None,
    name: str | None,
    config_path: str | None,
    init_from: str | None,
    split_length: int | None,
    dropout: float,
    recurrent_dropout: float,
    augment: tuple[str, ...],
    select_by: str,
    recipe: str,
    studio: str | None,
    studio_address: str | None,
    sweep: tuple[str, ...],
    force: bool,
) -> None:
    """Train an MDRNN on a dataset made by `impsy dataset`.

    Writes NAME.keras, NAME.tflite, NAME.json (the run's summary) and
    NAME-loss.png (the losses per epoch, kept epoch marked) to the
    destination, with the weights of the epoch with the lowest validation loss.
    With --studio ray the training runs on a Ray cluster and the files come back.
    """
    from impsy.studio.select import make_studio

    backend, address = studio_choice(studio, studio_address, config_path)
    if backend == "local":
        require_train_extra("train")
    grid = None
    if sweep:
        from impsy.studio.sweep import expand, parse_grid

        grid = expand(parse_grid(sweep))
    from impsy.studio.job import TrainJob
    from impsy.training.trainer import TrainOptions, load_performances

    path = dataset_path(source, dimension, config_path)
    performances = load_performances(path, dimension)
    options = TrainOptions(
        dataset=path,
        destination=Path(destination),
        size=modelsize,
        early_stopping=earlystopping,
        patience=patience,
        epochs=numepochs,
        batch_size=batchsize,
        seed=seed,
        test_performances=test_performances,
        strategy=strategy,
        sequence_length=sequence_length,
        window_step=window_step,
        learning_rate=learning_rate,
        reduce_lr_patience=reduce_lr_patience or None,
        max_minutes=max_minutes,
        name=name,
        force=force,
        init_from=Path(init_from) if init_from else None,
        split_length=split_length,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        augment=tuple(augment),
        select_by=select_by,
    )
    where = make_studio(backend, address)
    job = TrainJob(options, recipe)
    if grid is not None:
        click.echo(
            f"impsy: sweeping {len(grid)} trials of a size {modelsize} MDRNN on {path} "
            f"(seed {seed}, studio {where.describe()})"
        )
        show_sweep(where.sweep(job, grid, performances, click.echo), options, performances)
        return
    click.echo(
        f"impsy: training a size {modelsize} MDRNN on {path} (seed {seed}"
        + (f", studio {where.describe()})" if backend != "local" else ")")
    )
    result = where.train(job, performances, click.echo)
    summary = result.summary
    test = summary["test_nll"]
    click.echo(
        f"done in {summary['wall_seconds']:.1f} s: {summary['epochs_run']} epochs, best epoch "
        f"{summary['best_epoch']} ({summary['selected_by']} {summary['best_val_loss']:.4f})"
        + (f", test NLL {test['mean_nll']:.4f} over {test['steps']} steps" if test else "")
    )
    for kind, output in result.outputs.items():
        click.echo(f"{kind:>8}: {output}")


def studio_choice(
    backend: str | None, address: str | None, config_path: str | None
) -> tuple[str, str | None]:
    """The command line's studio, else the config's ``[studio]`` (read only when needed)."""
    from impsy.studio.select import studio_choice as choose

    if backend is not None and (address is not None or backend == "local"):
        return backend, address
    from impsy.config import load_config, locations

    config = load_config(locations.resolve(config_path).config)
    return choose(backend, address, config)


def show_sweep(result, options, performances) -> None:  # noqa: ANN001 - types from studio
    """The trials' table, the best trial, its files, and ``NAME-sweep.json`` beside them."""
    import json

    from impsy.studio.sweep import table
    from impsy.training.trainer import output_paths, output_stem

    click.echo(f"sweep done in {result.wall_seconds:.1f} s on {result.where}:")
    for line in table(result.trials, result.best):
        click.echo(line)
    if result.best is None:
        from impsy.errors import ImpsyError

        raise ImpsyError("no trial of the sweep finished; see the errors above")
    best = result.best
    params = " ".join(f"{k}={v}" for k, v in best.params.items())
    click.echo(f"best: trial {best.number} ({params}), val_nll {best.val_nll:.4f}")
    stem = output_stem(options, int(performances[0].shape[1]))
    record = output_paths(options.destination, stem)["keras"].with_name(f"{stem}-sweep.json")
    record.write_text(
        json.dumps(
            {
                "studio": result.where,
                "wall_seconds": round(result.wall_seconds, 2),
                "selected_by": "val_nll (whole validation performances)",
                "best": best.number,
                "trials": [t.record() for t in result.trials],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    for kind, output in result.outputs.items():
        click.echo(f"{kind:>8}: {output}")
    click.echo(f"{'sweep':>8}: {record}")
