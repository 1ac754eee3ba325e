"""The ``impsy`` command line.

Only click and the standard library are imported here and in the command
modules' top level, so ``impsy --help`` stays fast; each command imports
what it needs (numpy, the model, the server) inside its function.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from impsy import __version__
from impsy.errors import ImpsyError


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an ImpsyError into one line on stderr and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ImpsyError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="impsy")
def main() -> None:
    """impsy: play music with a mixture density recurrent network."""


def _register() -> None:
    from impsy.cli import commands

    for command in commands.ALL:
        main.add_command(command)


_register()
