"""``impsy init``: make a folder ready to play in.

A new user's first question is "where do things go"; this answers it by
creating the folders impsy reads and writes and a commented config.toml to
edit. It never overwrites a config, because that file holds someone's
hand-tuned mappings.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import click

FOLDERS = ("logs", "datasets", "models")


@click.command("init")
@click.argument(
    "directory",
    default=".",
    type=click.Path(file_okay=False, writable=True, path_type=Path),
)
def init(directory: Path) -> None:
    """Create DIRECTORY (default: here) with logs/, datasets/, models/ and config.toml."""
    try:
        _make_folder(directory, display=str(directory))
        for name in FOLDERS:
            _make_folder(directory / name, display=f"{directory / name}/")
        _write_config(directory / "config.toml")
    except OSError as err:
        raise click.ClickException(f"{err.filename or directory}: {err.strerror}") from None
    click.echo(
        "next: put a model in models/ (or set [model] file), then run: "
        f"impsy run --config {directory / 'config.toml'}"
    )


def _make_folder(path: Path, display: str) -> None:
    if path.is_dir():
        click.echo(f"exists   {display}")
        return
    path.mkdir(parents=True)
    click.echo(f"created  {display}")


def _write_config(path: Path) -> None:
    default = files("impsy").joinpath("data/default.toml").read_bytes()
    try:
        with path.open("xb") as handle:  # "x": fail rather than overwrite, even in a race
            handle.write(default)
    except FileExistsError:
        click.echo(f"kept     {path} (it already exists; impsy init never overwrites it)")
        return
    click.echo(f"created  {path} (the default config; every key is commented)")
