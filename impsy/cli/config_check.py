"""``impsy check-config``: validate config files without starting anything.

Useful before a gig, in CI for a folder of configs, and after editing a
mapping by hand: each file gets one line saying it is fine or exactly why not.
"""

from __future__ import annotations

import sys

import click


@click.command("check-config")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True))
def check_config(files: tuple[str, ...]) -> None:
    """Load each FILE as impsy would; exit 1 if any cannot be used."""
    from impsy.app import load_config
    from impsy.config import ConfigError

    failed = 0
    for name in files:
        try:
            config = load_config(name)
        except ConfigError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            failed += 1
            continue
        for warning in config.warnings:
            click.secho(f"warning: {warning}", fg="yellow", err=True)
        extras = [name for name in ("sequencer", "webui") if getattr(config, name) is not None]
        enabled = (*config.adapters, *extras)
        adapters = ", ".join(enabled) or "no adapters"
        click.echo(
            f"ok {name} ({config.interaction.mode}, dimension {config.model.dimension}, {adapters})"
        )
    if failed:
        sys.exit(1)
