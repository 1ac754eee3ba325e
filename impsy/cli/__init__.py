"""The ``impsy`` command line.

Only click and the standard library are imported here and in the command
modules' top level, so ``impsy --help`` stays fast; each command imports
what it needs (numpy, the model, the server) inside its function.
"""

from __future__ import annotations

import click

from impsy import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="impsy")
def main() -> None:
    """impsy: play music with a mixture density recurrent network."""


def _register() -> None:
    from impsy.cli import registry

    for command in registry.ALL:
        main.add_command(command)


_register()
