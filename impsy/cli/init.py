"""``impsy init``: make a folder ready to play in.

A new user's first question is "where do things go"; this answers it by
creating the folders impsy reads and writes, a commented config.toml to
edit, and a copy of the bundled model where that config says it is
(``models/``), so ``impsy run`` in the folder plays at once and the model
can be swapped for one of the user's own. It never overwrites a file:
the config holds someone's hand-tuned mappings, and a model of the same
name may be their own.
"""

from __future__ import annotations

import shlex
import shutil
import tomllib
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
    """Create DIRECTORY (default: here) with logs/, datasets/, models/ and config.toml.

    models/ gets a copy of the bundled model that config.toml names.
    """
    try:
        _make_folder(directory, display=str(directory))
        for name in FOLDERS:
            _make_folder(directory / name, display=f"{directory / name}/")
        _write_config(directory / "config.toml")
        model = _copy_model(directory)
    except OSError as err:
        raise click.ClickException(f"{err.filename or directory}: {err.strerror}") from None
    plays = f" (it plays {model})" if model else ""
    where = "" if directory == Path(".") else f"cd {shlex.quote(str(directory))} && "
    click.echo(f"next: {where}impsy run{plays}; edit config.toml to change what it does")


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


def _copy_model(directory: Path) -> str | None:
    """Copy the packaged model the folder's config names to where it names it.

    Returns the config's ``[model] file`` when that is a packaged model, else
    None (a config of the user's own naming another model gets no copy).
    """
    from impsy.model.loader import packaged_model_files

    try:
        with (directory / "config.toml").open("rb") as handle:
            named = tomllib.load(handle).get("model", {}).get("file", "")
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        return None  # check-config and run explain a broken config; init is not the place
    if not isinstance(named, str) or not named or Path(named).is_absolute():
        return None
    sources = packaged_model_files(Path(named).name)
    if not sources:
        return None
    target = directory / Path(named).parent
    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        destination = target / source.name
        if destination.exists():
            click.echo(f"exists   {destination}")
            continue
        with source.open("rb") as reader, destination.open("xb") as writer:
            shutil.copyfileobj(reader, writer)
        click.echo(f"created  {destination} (the bundled model)")
    return named
