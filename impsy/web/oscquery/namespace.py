"""impsy's OSC address space as an OSCQuery tree, built from the command table.

Pure data and lookups, no sockets: the server (``impsy.web.oscquery.server``)
renders it as JSON. Every address the OSC adapter accepts is a node:
``/interface`` and ``/impsy/<name>`` for every name and alias of every row
of the run's command table (``impsy.engine.table``), with the row's
arguments as the OSC type tag string, their ranges or choices as RANGE and
the row's help as DESCRIPTION, so a client builds the same controls the
table checks. What impsy sends (``Output``: predictions, the surprise meter,
the sequencer's notes and status) is described beside it; where an output
shares an address with a command (``/impsy/surprise``, ``/impsy/seq/status``)
it is one node that says both.

ACCESS follows the proposal's bit mask: 1 a value can be read, 2 a message
can be sent. A command whose current value impsy can read
(``impsy.web.oscquery.values``) is 3, its VALUE read when asked, never
cached; an output impsy streams to LISTENers is 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from impsy.engine.table import BOOL, FLOAT, INT, STR, Arg, Command

READ, WRITE = 1, 2
TYPE_TAGS = {INT: "i", FLOAT: "f", BOOL: "T", STR: "s"}
"""OSC type tags for the table's kinds. Booleans are declared T: the table also
takes 0/1 numbers (Pure Data has no T/F), and F may be sent to a T method."""
NO_ARGUMENTS = "N"
"""A command without arguments: a momentary button (the proposal's convention for N)."""
COMMAND_PREFIX = "/impsy/"
INTERFACE = "/interface"

Reader = Callable[[], list[Any] | None]
"""The current value of a node, one item per type tag, or None while it has none."""


@dataclass(frozen=True)
class Output:
    """An address impsy sends to (``[osc] client_ip:client_port``), with what it carries."""

    address: str
    types: str
    description: str
    ranges: tuple[dict[str, Any] | None, ...] = ()
    streamed: bool = False
    """Streamed to LISTENers over the WebSocket (and then readable: ACCESS 1)."""


@dataclass
class Node:
    """One OSC container or method; ``children`` by name, in the order they were added."""

    path: str
    description: str = ""
    types: str | None = None
    ranges: list[dict[str, Any] | None] | None = None
    access: int = 0
    tags: list[str] = field(default_factory=list)
    read: Reader | None = None
    overloads: list[dict[str, Any]] = field(default_factory=list)
    children: dict[str, Node] = field(default_factory=dict)

    def value(self) -> list[Any] | None:
        """VALUE: one JSON item per type tag (null where there is none), or None."""
        if self.read is None:
            return None
        values = self.read()
        if values is None:
            return None
        items = [json_value(v) for v in values]
        width = len(self.types or "")
        return items + [None] * (width - len(items)) if len(items) < width else items

    def attributes(self) -> dict[str, Any]:
        """This node's own attributes, without CONTENTS."""
        out: dict[str, Any] = {"FULL_PATH": self.path, "ACCESS": self.access}
        if self.description:
            out["DESCRIPTION"] = self.description
        if self.types is not None:
            out["TYPE"] = self.types
        if self.ranges is not None and any(r is not None for r in self.ranges):
            out["RANGE"] = self.ranges
        if self.tags:
            out["TAGS"] = self.tags
        if self.overloads:
            out["OVERLOADS"] = self.overloads
        if self.access & READ:
            value = self.value()
            if value is not None:
                out["VALUE"] = value
        return out

    def to_json(self) -> dict[str, Any]:
        """The node and everything under it, as the proposal's default GET answers."""
        out = self.attributes()
        if self.children:
            out["CONTENTS"] = {name: child.to_json() for name, child in self.children.items()}
        return out


def json_value(value: Any) -> Any:
    """A value as JSON: plain numbers (NumPy's too), booleans, strings; NaN as null."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def type_tags(command: Command) -> str:
    """The row's arguments as one OSC type tag string (``"ii"`` for ``dim note``).

    A list argument (``notes...``) counts once: OSC has no type for "any
    number of", and the table takes the values flat, not as an OSC array.
    """
    return "".join(TYPE_TAGS[arg.kind] for arg in command.args) or NO_ARGUMENTS


def arg_range(arg: Arg) -> dict[str, Any] | None:
    """RANGE for one argument: its choices (VALS) or inclusive bounds (MIN, MAX).

    An exclusive bound ("above 0") is left out: no MIN is accepted there,
    and a slider starting at it would send a value the table refuses.
    """
    if arg.choices:
        return {"VALS": list(arg.choices)}
    if arg.kind not in (INT, FLOAT):
        return None
    bounds: dict[str, Any] = {}
    cast = int if arg.kind == INT else float
    if arg.low is not None:
        bounds["MIN"] = cast(arg.low)
    if arg.high is not None:
        bounds["MAX"] = cast(arg.high)
    return bounds or None


def describe_command(command: Command) -> str:
    """DESCRIPTION: what the row does, then its arguments as the table checks them."""
    parts = []
    for arg in command.args:
        text = f"{arg.name}: {arg.expected()}"
        if arg.many:
            text += ", any number of them"
        elif arg.optional:
            text += ", optional"
        if arg.doc:
            text += f" ({arg.doc})"
        parts.append(text)
    words = command.doc
    if parts:
        words += ". Arguments: " + "; ".join(parts)
    if command.one_of:
        words += f"; at least one of {', '.join(command.one_of)}"
    if command.reply:
        words += f". Replies to the sender on {COMMAND_PREFIX}{command.name}"
    return words


class Namespace:
    """The tree, and where each address the OSC adapter accepts is in it."""

    def __init__(self, name: str) -> None:
        self.root = Node("/", f"{name}: an impsy performance", access=0)
        self.writable: set[str] = set()
        self.streamed: set[str] = set()
        """Outputs impsy streams to LISTENers (the model's output, the surprise meter, the
        sequencer's OSC messages)."""

    # ------------------------------------------------------------- building
    def node(self, path: str) -> Node:
        """The node at ``path``, made (with its containers) if it is not there yet."""
        node = self.root
        for depth, part in enumerate(split(path)):
            child = node.children.get(part)
            if child is None:
                child = Node("/" + "/".join(split(path)[: depth + 1]))
                node.children[part] = child
            node = child
        return node

    def add_command(self, command: Command, read: Reader | None = None) -> None:
        """``/impsy/<name>`` and one node per alias (tagged "alias")."""
        for name in command.names:
            node = self.node(COMMAND_PREFIX + name)
            node.types = type_tags(command)
            node.ranges = [arg_range(arg) for arg in command.args] or None
            node.access |= WRITE | (READ if read is not None else 0)
            node.read = read
            description = describe_command(command)
            if name != command.name:
                description = f"older spelling of {COMMAND_PREFIX}{command.name}: {description}"
                node.tags = ["alias"]
            else:
                node.tags = ["command"]
            node.description = _joined(description, node.description)
            self.writable.add(node.path)

    def add_input(self, path: str, types: str, description: str, ranges: list) -> None:
        node = self.node(path)
        node.types, node.ranges, node.description = types, ranges, description
        node.access |= WRITE
        node.tags = ["input"]
        self.writable.add(path)

    def add_output(self, output: Output, read: Reader | None = None) -> None:
        """An address impsy sends to; on a command's node, described as an overload."""
        node = self.node(output.address)
        said = f"impsy sends {output.address} {output.types} to the [osc] client: "
        if node.types is None:  # the address is only an output (or a container so far)
            node.types = output.types
            node.ranges = list(output.ranges) or None
            node.tags = [*node.tags, "output"]
            node.description = _joined(node.description, said + output.description)
            if output.streamed:
                node.access |= READ
                node.read = read
        else:
            overload: dict[str, Any] = {
                "TYPE": output.types,
                "ACCESS": READ if output.streamed else 0,
                "DESCRIPTION": said + output.description,
            }
            if any(r is not None for r in output.ranges):
                overload["RANGE"] = list(output.ranges)
            node.overloads.append(overload)
            node.tags = [*node.tags, "output"]
        if output.streamed:
            self.streamed.add(output.address)

    # -------------------------------------------------------------- reading
    def find(self, path: str) -> Node | None:
        node = self.root
        for part in split(path):
            child = node.children.get(part)
            if child is None:
                return None
            node = child
        return node

    def walk(self) -> Iterator[Node]:
        """Every node, depth first, the root first."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children.values()))


def split(path: str) -> list[str]:
    """``/impsy/seq/tempo/`` -> ``["impsy", "seq", "tempo"]``."""
    return [part for part in path.split("/") if part]


def _joined(first: str, second: str) -> str:
    return ". ".join(text for text in (first, second) if text)


def build_namespace(
    name: str,
    commands: Iterable[Command],
    dimension: int,
    outputs: Iterable[Output],
    readers: Mapping[str, Reader],
    output_readers: Mapping[str, Reader] | None = None,
) -> Namespace:
    """The whole tree: ``/interface``, every row's names, then every output.

    ``readers`` maps a row's name to the function that reads its current
    value; ``output_readers`` an output's address to its last value.
    """
    namespace = Namespace(name)
    count = dimension - 1
    namespace.add_input(
        INTERFACE,
        "f" * count,
        f"a gesture: x1..x{count}, each in [0, 1] (values outside are clipped into it)",
        [{"MIN": 0.0, "MAX": 1.0}] * count,
    )
    for command in commands:
        namespace.add_command(command, readers.get(command.name))
    for output in outputs:
        namespace.add_output(output, (output_readers or {}).get(output.address))
    return namespace
