"""The command table in words: for ``impsy commands``, the docs and the web API.

Every description of the runtime vocabulary a person reads is rendered here
from the rows themselves (``impsy.engine.table``), so the reference cannot
drift from what the server accepts: ``docs/commands.md`` and the command
list in ``impsy/web/API.md`` are this module's output, checked by a test.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from impsy.engine.table import Arg, Command

KIND_WORDS = {"int": "integer", "float": "number", "bool": "0/1", "str": "text"}


def describe_arg(arg: Arg) -> dict[str, Any]:
    """One argument as JSON: what ``GET /api/commands`` lists."""
    return {
        "name": arg.name,
        "kind": arg.kind,
        "accepts": arg.expected(),
        "optional": arg.optional or arg.many,
        "many": arg.many,
        "choices": list(arg.choices),
        "doc": arg.doc,
    }


def describe_table(commands: Iterable[Command]) -> list[dict[str, Any]]:
    """Every row as JSON, in the table's order."""
    return [
        {
            "name": command.name,
            "doc": command.doc,
            "args": [describe_arg(arg) for arg in command.args],
            "one_of": list(command.one_of),
            "aliases": list(command.aliases),
            "reply": command.reply,
            "osc": f"/impsy/{command.name}",
        }
        for command in commands
    ]


def _argument_text(arg: Arg) -> str:
    text = f"`{arg.name}`: {arg.expected()}"
    if arg.many:
        text += ", any number"
    elif arg.optional:
        text += ", optional"
    if arg.doc:
        text += f" ({arg.doc})"
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(commands: Iterable[Command], prefix: str = "/impsy/") -> str:
    """The command reference as one Markdown table.

    Named as OSC addresses (``prefix`` "/impsy/") for ``docs/commands.md``,
    or by bare name (``prefix`` "") for the web API's page.
    """
    title = "OSC address" if prefix else "command"
    lines = [
        f"| {title} | arguments, in order | does | older spellings |",
        "| --- | --- | --- | --- |",
    ]
    for command in commands:
        arguments = "; ".join(_argument_text(arg) for arg in command.args) or "none"
        if command.one_of:
            arguments += f"; at least one of {', '.join(command.one_of)}"
        aliases = ", ".join(f"`{alias}`" for alias in command.aliases)
        name = f"`{prefix}{command.name}`"
        lines.append(f"| {name} | {_cell(arguments)} | {_cell(command.doc)} | {aliases} |")
    return "\n".join(lines) + "\n"


def text(commands: Iterable[Command]) -> str:
    """The command reference for a terminal: each command with its usage, then its arguments."""
    rows = list(commands)
    width = max((len(command.name) for command in rows), default=0)
    lines = []
    for command in rows:
        lines.append(f"{command.name:<{width}}  {command.doc}")
        if command.args:
            lines.append(f"{'':<{width}}    OSC: /impsy/{command.name} {command.usage()}")
        for arg in command.args:
            mark = "..." if arg.many else ("?" if arg.optional else "")
            lines.append(f"{'':<{width}}    {arg.name}{mark}: {arg.expected()}")
        if command.aliases:
            lines.append(f"{'':<{width}}    also: {', '.join(command.aliases)}")
    return "\n".join(lines) + "\n"
