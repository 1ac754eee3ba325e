"""``impsy run``: perform with a model (IMPSY's options, same names).

The config and the log folder are chosen by :mod:`impsy.config.locations`
(--config, IMPSY_CONFIG, ./config.toml, the per-user config, the packaged
default; --logdir, ./logs for a project, else the per-user data folder), and
the choice is recorded so the start-up summary can say which and why.
"""

from __future__ import annotations

import os

import click

from impsy.cli.errors import user_errors

MODE_NAMES = ["callresponse", "polyphony", "battle", "useronly", "filter", "independent"]


@click.command("run")
@click.argument("model_file", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--config",
    "-c",
    "config_path",
    help="Config file (default: $IMPSY_CONFIG, else ./config.toml, else the per-user "
    "config.toml, else the packaged default).",
)
@click.option(
    "--logdir",
    "-l",
    help="Directory for logs (default: ./logs with --config or ./config.toml, else the "
    "per-user data folder's logs).",
)
@click.option("--dimension", "-d", type=int, help="Override [model] dimension.")
@click.option("--mode", type=click.Choice(MODE_NAMES), help="Override [interaction] mode.")
@click.option("--threshold", type=float, help="Override [interaction] threshold (seconds).")
@click.option("--input-thru/--no-input-thru", default=None, help="Override input_thru.")
@click.option("--sigma-temp", type=float, help="Override [model] sigmatemp.")
@click.option("--pi-temp", type=float, help="Override [model] pitemp.")
@click.option("--timescale", type=float, help="Override [model] timescale.")
@click.option("--verbose/--quiet", default=None, help="Print every input and output.")
@click.option("--log-input/--no-log-input", default=None, help="Log the user's gestures.")
@click.option("--log-predictions/--no-log-predictions", default=None, help="Log predictions.")
@click.option(
    "--realtime/--no-realtime",
    default=None,
    help="Override realtime: the event loop at real-time priority where permitted.",
)
@click.option("--no-model", is_flag=True, help="Log without a model (useronly mode).")
@click.option("--seed", type=int, help="Seed the sampler, for a reproducible run.")
@user_errors
def run(
    model_file: str | None,
    config_path: str | None,
    logdir: str | None,
    dimension: int | None,
    mode: str | None,
    threshold: float | None,
    input_thru: bool | None,
    sigma_temp: float | None,
    pi_temp: float | None,
    timescale: float | None,
    verbose: bool | None,
    log_input: bool | None,
    log_predictions: bool | None,
    realtime: bool | None,
    no_model: bool,
    seed: int | None,
) -> None:
    """Play with a model: listen to controllers, log gestures, play predictions.

    MODEL_FILE (.tflite, .keras or .h5) overrides [model] file.
    """
    # One event at a time means batch-1 matrix-vector products: BLAS worker
    # threads add nothing but contention, which showed as 8-30 ms p99 spikes
    # for l/xl models. Must be set before NumPy loads; the user may override.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    from impsy.app import RunOptions, load_config
    from impsy.app import run as run_server
    from impsy.config import locations, with_overrides

    where = locations.resolve(config_path, logdir)
    config = load_config(where.config)
    if no_model and mode is None and config.interaction.mode != "useronly":
        click.echo(f"impsy: --no-model: {config.interaction.mode} mode needs a model; useronly")
        mode = "useronly"
    config = with_overrides(
        config,
        model_file=model_file,
        dimension=dimension,
        mode=mode,
        threshold=threshold,
        input_thru=input_thru,
        sigmatemp=sigma_temp,
        pitemp=pi_temp,
        timescale=timescale,
        verbose=verbose,
        log_input=log_input,
        log_predictions=log_predictions,
        realtime=realtime,
        seed=seed,
    )
    for warning in config.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    run_server(config, RunOptions(logdir=where.logdir, no_model=no_model, locations=where))
