"""How the command line shows a mistake the user can fix: one line, exit status 2.

Every subcommand wraps its body in ``user_errors``: an ``ImpsyError`` (a bad
file, setting or device) becomes ``error: ...`` on stderr; anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

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
