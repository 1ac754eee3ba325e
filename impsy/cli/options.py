"""Options several subcommands share, declared once so their spelling and choices agree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

GATE_CHOICES = ("auto", "sigmoid", "hard_sigmoid")


def gate_option(help: str) -> Callable[[Any], Any]:  # noqa: A002 - click's own word
    """``--gate``: the LSTM gate activation; ``help`` says what "auto" means for the command."""
    return click.option(
        "--gate", type=click.Choice(GATE_CHOICES), default="auto", show_default=True, help=help
    )


limit_option = click.option(
    "--limit", type=click.IntRange(min=1), help="Only the first N performances."
)
"""``--limit N``: only the first N performances of a dataset."""
