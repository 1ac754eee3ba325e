"""Typed reads from one TOML table, each failure phrased for the person who wrote it.

The section builders ask for "a positive number" or "an integer 1-65535" and
get back a plain Python value; the wording of every type, range and missing
key message is decided here so all sections report problems the same way:
``FILE: [section] key: problem; expected ...``.
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from impsy.config.errors import ConfigError, one_line


class _Missing:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Missing()
"""Default marker for keys that have no sensible default and must be written."""


def toml_type(value: Any) -> str:
    """Name a value's type the way the TOML file spelled it, not as Python calls it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, datetime.date | datetime.time):
        return "date/time"
    return type(value).__name__


def shown(value: Any) -> str:
    """A short rendering of a bad value, so a huge table does not flood the line."""
    if isinstance(value, dict):
        return "a table"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    return text if len(text) <= 60 else text[:57] + "..."


def quoted(name: str) -> str:
    """Write a port name as a TOML quoted key, as IMPSY configs write them."""
    return json.dumps(name, ensure_ascii=False)


@dataclass
class Context:
    """Where messages are reported: the file's label and the warnings found so far."""

    label: str
    warnings: list[str] = field(default_factory=list)

    def fail(self, where: str, problem: str) -> NoReturn:
        raise ConfigError(f"{self.label}: {where}: {problem}")

    def warn(self, where: str, problem: str) -> None:
        self.warnings.append(one_line(f"{self.label}: {where}: {problem}"))


class Table:
    """One TOML table (a section, or the top level) with typed getters."""

    def __init__(self, ctx: Context, section: str | None, data: dict[str, Any]) -> None:
        self.ctx = ctx
        self.section = section
        self.data = data

    def where(self, key: str) -> str:
        """How the message names ``key``: ``[model] dimension`` or ``top-level key verbose``."""
        return f"[{self.section}] {key}" if self.section else f"top-level key {key}"

    def fail(self, key: str, problem: str) -> NoReturn:
        self.ctx.fail(self.where(key), problem)

    def has(self, key: str) -> bool:
        return key in self.data

    def value(self, key: str, default: Any, expected: str) -> Any:
        if key in self.data:
            return self.data[key]
        if default is REQUIRED:
            self.fail(key, f"missing required key; expected {expected}")
        return default

    def _wrong(self, key: str, value: Any, expected: str) -> NoReturn:
        self.fail(key, f"expected {expected}, got {shown(value)} ({toml_type(value)})")

    def boolean(self, key: str, default: Any = REQUIRED) -> bool:
        expected = "a boolean (true or false)"
        value = self.value(key, default, expected)
        if not isinstance(value, bool):
            self._wrong(key, value, expected)
        return value

    def integer(
        self, key: str, default: Any = REQUIRED, *, low: int | None = None, high: int | None = None
    ) -> int:
        expected = _integer_expectation(low, high)
        value = self.value(key, default, expected)
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(key, value, expected)
        if (low is not None and value < low) or (high is not None and value > high):
            self.fail(key, f"expected {expected}, got {value}")
        return value

    def optional_integer(self, key: str, *, low: int | None = None) -> int | None:
        return self.integer(key, None, low=low) if key in self.data else None

    def number(
        self,
        key: str,
        default: Any = REQUIRED,
        *,
        positive: bool = False,
        at_least: float = -math.inf,
    ) -> float:
        """A float; TOML integers count, since ``pitemp = 1`` is how people write 1.0."""
        expected = "a number greater than 0" if positive else "a finite number"
        if not positive and at_least > -math.inf:
            expected = f"a number of at least {at_least:g}"
        value = self.value(key, default, expected)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._wrong(key, value, expected)
        number = float(value)
        if not math.isfinite(number) or number < at_least or (positive and number <= 0):
            self.fail(key, f"expected {expected}, got {shown(value)}")
        return number

    def string(
        self, key: str, default: Any = REQUIRED, *, choices: Iterable[str] | None = None
    ) -> str:
        options = tuple(choices) if choices is not None else None
        expected = f"one of {', '.join(options)}" if options else "a string"
        value = self.value(key, default, expected)
        if not isinstance(value, str):
            self._wrong(key, value, expected)
        if options and value not in options:
            self.fail(key, f"expected {expected}, got {shown(value)}")
        return value

    def optional_string(self, key: str) -> str | None:
        return self.string(key, None) if key in self.data else None

    def string_list(self, key: str, default: Any = REQUIRED) -> tuple[str, ...]:
        expected = 'an array of strings like ["name"]'
        value = self.value(key, default, expected)
        if not isinstance(value, list | tuple):
            self._wrong(key, value, expected)
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.fail(
                    key,
                    f"item {index + 1}: expected a non-empty string, "
                    f"got {shown(item)} ({toml_type(item)})",
                )
        return tuple(value)

    def subtable(self, key: str, example: str) -> dict[str, Any]:
        """A nested table such as ``input."port" = [...]``; absent means empty."""
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            self._wrong(key, value, f"a table of entries like {example}")
        return value

    def section_table(self, name: str) -> Table | None:
        """The ``[name]`` section if the file has one; its presence is what enables an adapter."""
        if name not in self.data:
            return None
        value = self.data[name]
        if not isinstance(value, dict):
            self.ctx.fail(
                f"[{name}]", f"expected a table (a [{name}] section), got {toml_type(value)}"
            )
        return Table(self.ctx, name, value)

    def warn_unknown(self, known: Iterable[str]) -> None:
        """Warn, not fail, on unknown keys: a typo should be visible but not stop a show."""
        known = tuple(known)
        for key in self.data:
            if key in known:
                continue
            where = (
                f"[{key}]" if self.section is None and isinstance(self.data[key], dict) else None
            )
            where = where or self.where(key)
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(known)}"
            self.ctx.warn(where, f"unknown key, ignored; {hint}")


def _integer_expectation(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"an integer {low}-{high}"
    if low is not None:
        return f"an integer of at least {low}"
    if high is not None:
        return f"an integer of at most {high}"
    return "an integer"
