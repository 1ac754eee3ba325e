"""The one command table: every runtime command is one row, whoever sends it.

A row (``Command``) names a command, its typed arguments (``Arg``: a kind,
a range or choices, optional or not), the function that runs it and one line
of help. OSC (``/impsy/<name>``), the web API and controller rules all go
through ``CommandTable.call``: the row converts and checks the raw values,
so no front end checks an argument itself, and every sender gets the same
message for the same mistake. The target a row acts on (the engine, the
sequencer) only checks what depends on its state (a step past the end of a
track), never a value's type or a fixed range.

Rows are plain data, bound to their target when registered, so a controller
profile can be checked against them before anything runs, and the command
reference, the web API page and the Pd patch's message list are rendered
from them (``impsy.engine.reference``). Adding a command is one row and one
handler; an older spelling that users rely on stays as an alias of the row.
"""

from __future__ import annotations

import asyncio
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from impsy.errors import CommandError

INT, FLOAT, BOOL, STR = "int", "float", "bool", "str"
KINDS = (INT, FLOAT, BOOL, STR)


@dataclass(frozen=True)
class Arg:
    """One argument of a command: its name, kind and the values it accepts.

    Integers accept whole floats, because Pure Data sends only floats; a
    boolean accepts true/false or a number (0 is false), because OSC senders
    have no boolean type in common.
    """

    name: str
    kind: str
    doc: str = ""
    low: float | None = None
    """Smallest value accepted (inclusive)."""
    high: float | None = None
    """Largest value accepted (inclusive)."""
    above: float | None = None
    """Values must be greater than this (an exclusive bound: "a positive number")."""
    choices: tuple[str, ...] = ()
    normalise: Callable[[str], str | None] | None = None
    """For strings: maps an accepted spelling to its canonical value, None if refused."""
    optional: bool = False
    many: bool = False
    """Takes every remaining positional value, as a list (possibly empty)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"argument {self.name}: kind {self.kind!r} not in {KINDS}")

    def convert(self, value: Any, command: str) -> Any:
        """``value`` as this argument's kind, or a ``CommandError`` naming the command."""
        if self.many:
            values = value if isinstance(value, list | tuple) else [value]
            return [self._one(item, command) for item in values]
        return self._one(value, command)

    def _one(self, value: Any, command: str) -> Any:
        if self.kind == STR:
            return self._string(value, command)
        is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if self.kind == BOOL:
            if isinstance(value, bool):
                return value
            if is_number and math.isfinite(value):
                return bool(value)
            self._refuse(command, value)
        if not is_number or not math.isfinite(value):
            self._refuse(command, value)
        if self.kind == INT:
            if value != int(value):
                subject = self._subject(command)
                raise CommandError(f"{subject} must be a whole number, got {value!r}")
            number: float = int(value)
        else:
            number = float(value)
        if not self._in_range(number):
            self._refuse(command, value)
        return number

    def _string(self, value: Any, command: str) -> str:
        if not isinstance(value, str):
            self._refuse(command, value)
        if self.normalise is not None:
            canonical = self.normalise(value)
            if canonical is None:
                raise CommandError(f"unknown {self.name} {value!r}; expected {self.expected()}")
            return canonical
        if self.choices and value not in self.choices:
            self._refuse(command, value)
        return value

    def _subject(self, command: str) -> str:
        """How a message names this argument: ``pitemp`` (a lone value) or ``seq/tempo: bpm``."""
        return command if self.name == "value" else f"{command}: {self.name}"

    def _refuse(self, command: str, value: Any) -> NoReturn:
        raise CommandError(f"{self._subject(command)} must be {self.expected()}, got {value!r}")

    def _in_range(self, value: float) -> bool:
        if self.low is not None and value < self.low:
            return False
        if self.high is not None and value > self.high:
            return False
        return self.above is None or value > self.above

    def expected(self) -> str:
        """What the argument accepts, in words: "a number 20-300", "one of step, live"."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind == STR:
            return "a string"
        if self.kind == BOOL:
            return "0 or 1 (true or false)"
        noun = "an integer" if self.kind == INT else "a number"
        if self.above is not None:
            return "a positive number" if self.above == 0 else f"{noun} above {self.above:g}"
        if self.low is not None and self.high is not None:
            return f"{noun} {self.low:g}-{self.high:g}"
        if self.low is not None:
            return f"{noun} of at least {self.low:g}"
        if self.high is not None:
            return f"{noun} of at most {self.high:g}"
        return noun


@dataclass(frozen=True)
class Command:
    """One runtime command: ``run(target, **arguments)`` with the arguments converted."""

    name: str
    doc: str
    run: Callable[..., object]
    args: tuple[Arg, ...] = ()
    one_of: tuple[str, ...] = ()
    """At least one of these (optional) arguments must be given."""
    aliases: tuple[str, ...] = ()
    """Older spellings that still reach this row (controller profiles, the web API)."""
    reply: bool = False
    """It answers its sender: over OSC, ``/impsy/<name>`` with name/value pairs."""

    def arguments(self, values: Sequence[Any] | Mapping[str, Any] = ()) -> dict[str, Any]:
        """The converted arguments from raw values, given in order (OSC) or by name.

        Extra values given in order are ignored (IMPSY's patches send
        ``/impsy/reset 1``); an unknown name is an error, since it is a typo.
        A value of None counts as not given.
        """
        if isinstance(values, Mapping):
            raw = dict(values)
            known = {arg.name for arg in self.args}
            unknown = sorted(set(raw) - known)
            if unknown:
                takes = ", ".join(sorted(known)) if known else "no arguments"
                raise CommandError(
                    f"{self.name}: unknown argument {unknown[0]!r}; it takes {takes}"
                )
        elif isinstance(values, str | bytes):
            raise CommandError(f"{self.name}: expected a list of arguments, got {values!r}")
        else:
            raw = self._by_name(list(values))
        converted: dict[str, Any] = {}
        for arg in self.args:
            value = raw.get(arg.name)
            if value is not None:
                converted[arg.name] = arg.convert(value, self.name)
            elif arg.many:
                converted[arg.name] = []
            elif not arg.optional:
                what = arg.expected() if arg.name == "value" else f"{arg.name} ({arg.expected()})"
                raise CommandError(f"{self.name} needs {what}")
        if self.one_of and not any(name in converted for name in self.one_of):
            raise CommandError(f"{self.name} needs one of {', '.join(self.one_of)}")
        return converted

    def _by_name(self, values: list[Any]) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        for index, arg in enumerate(self.args):
            if arg.many:
                raw[arg.name] = values[index:]
                break
            if index < len(values):
                raw[arg.name] = values[index]
        return raw

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def usage(self) -> str:
        """The arguments in order, e.g. ``track step [on]``; ``...`` marks a list."""
        parts = []
        for arg in self.args:
            text = f"{arg.name}..." if arg.many else arg.name
            parts.append(f"[{text}]" if arg.optional or arg.many else text)
        return " ".join(parts)


class Pending:
    """The outcome of a command that finishes later (a file read on a worker thread).

    A handler returns one instead of a value when its work goes on after it
    returns. Whoever sent the command hears how it ended, whatever the
    rate limit on warnings: OSC replies to the sender when it is done, the web
    API waits for it. The value is what the work produced (a pattern index, a
    path); a failure is a ``CommandError`` saying why.
    """

    def __init__(self, future: asyncio.Future[object]) -> None:
        self.future = future
        # Nobody may ever ask (a plain OSC sender that does not listen): the failure
        # is reported elsewhere, so asyncio must not also warn it was never retrieved.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())

    def then(self, callback: Callable[[object, CommandError | None], None]) -> None:
        """``callback(value, None)`` when the work is done, ``(None, error)`` when it failed."""

        def finished(done: asyncio.Future[object]) -> None:
            if done.cancelled():
                return
            error = done.exception()
            if error is None:
                callback(done.result(), None)
            elif isinstance(error, CommandError):
                callback(None, error)
            else:
                callback(None, CommandError(f"{type(error).__name__}: {error}"))

        self.future.add_done_callback(finished)

    async def wait(self) -> object:
        """The value, or the ``CommandError`` saying why the work failed."""
        return await asyncio.shield(self.future)


@dataclass(frozen=True)
class _Row:
    command: Command
    target: object


class CommandTable:
    """Every command of one run, by name and alias; ``call`` is the only way to run one."""

    def __init__(self) -> None:
        self._rows: dict[str, _Row] = {}
        self._names: dict[str, str] = {}  # every name and alias -> the row's name

    def register(self, commands: Iterable[Command], target: object) -> None:
        """Add ``commands``, run on ``target``; a name already taken is a programming error."""
        for command in commands:
            taken = [name for name in command.names if name in self._names]
            if taken:
                raise ValueError(f"command name {taken[0]!r} is registered twice")
            self._rows[command.name] = _Row(command, target)
            for name in command.names:
                self._names[name] = command.name

    def unregister(self, commands: Iterable[Command]) -> None:
        for command in commands:
            if self._rows.pop(command.name, None) is not None:
                for name in command.names:
                    self._names.pop(name, None)

    def find(self, name: str) -> Command | None:
        """The row for a name or an alias, else None."""
        canonical = self._names.get(name)
        return self._rows[canonical].command if canonical is not None else None

    def call(self, name: str, values: Sequence[Any] | Mapping[str, Any] = ()) -> object:
        """Run one command from raw values; ``CommandError`` if it cannot be run as sent."""
        canonical = self._names.get(name)
        if canonical is None:
            raise CommandError(f"unknown command {name!r}")
        row = self._rows[canonical]
        return row.command.run(row.target, **row.command.arguments(values))

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[Command]:
        """The rows in the order they were registered."""
        return (row.command for row in self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)
