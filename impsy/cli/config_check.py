"""``impsy check-config``: validate config files without starting anything.

Useful before a gig, in CI for a folder of configs, and after editing a
mapping by hand: each file gets one line saying it is fine or exactly why not.
The model file is checked too, as ``impsy run`` checks it at start-up:
it is loaded as ``impsy run`` loads it (NumPy or LiteRT, never
TensorFlow) and a missing one is refused in the same words (``--no-model``
leaves it out, for a config made for another machine). Without FILE it
checks the config ``impsy run`` would use here and says which and why (see
:mod:`impsy.config.locations`), and where the logs would go.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from impsy.cli.errors import user_errors


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show what loading the model warns about (a missing model in useronly mode, a
    Flex-ops fallback) as ``warning: ...`` lines, as ``impsy run`` shows them."""
    import logging
    import warnings

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            click.secho(f"warning: {record.getMessage()}", fg="yellow", err=True)

    logger = logging.getLogger("impsy")
    handler = Echo(logging.WARNING)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for warning in caught:
            click.secho(f"warning: {warning.message}", fg="yellow", err=True)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


@click.command("check-config")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=True))
@click.option(
    "--no-model",
    is_flag=True,
    help="Leave the model file out, as impsy run --no-model does (a config for another "
    "machine, whose model is not here).",
)
@user_errors
def check_config(files: tuple[str, ...], no_model: bool) -> None:
    """Load each FILE as impsy run would, model included; exit 1 if any cannot be used.

    Without FILE: the config impsy run would use here ($IMPSY_CONFIG, else
    ./config.toml, else the per-user config, else the packaged default).
    """
    from impsy.app import check_config as check_whole_config
    from impsy.config import load_config, locations
    from impsy.errors import ImpsyError

    if not files:
        where = locations.resolve()
        click.echo(f"impsy: config {where.describe_config()}")
        click.echo(f"impsy: logs {where.describe_logdir()}")
        files = (str(where.config),)
    failed = 0
    for name in files:
        try:
            config = load_config(name)
            with _warnings_as_lines():
                model = check_whole_config(config, model=not no_model)
        except ImpsyError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            failed += 1
            continue
        for warning in config.warnings:
            click.secho(f"warning: {warning}", fg="yellow", err=True)
        extras = [name for name in ("sequencer", "webui") if getattr(config, name) is not None]
        enabled = (*config.adapters, *extras)
        adapters = ", ".join(enabled) or "no adapters"
        dimension = config.model.dimension if model is None else model.dimension
        click.echo(f"ok {name} ({config.interaction.mode}, dimension {dimension}, {adapters})")
    if failed:
        sys.exit(1)
