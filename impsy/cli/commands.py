"""``impsy commands``: every runtime command, from the one command table.

The same rows answer OSC (``/impsy/<name>``), the web API (``POST
/api/command``) and controller rules, so this list is the whole runtime
vocabulary: names, arguments with their ranges, and the older spellings
that still work. ``--format markdown`` is the reference in ``docs/``.
"""

from __future__ import annotations

import click


@click.command("commands")
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="text for reading, markdown for the docs, json for programs.",
)
def commands(output: str) -> None:
    """List every runtime command: what OSC, the web API and controller rules can run."""
    import json

    from impsy.app import every_command
    from impsy.engine import reference

    rows = every_command()
    if output == "markdown":
        click.echo(reference.markdown(rows), nl=False)
    elif output == "json":
        click.echo(json.dumps(reference.describe_table(rows), indent=2))
    else:
        click.echo(reference.text(rows), nl=False)
