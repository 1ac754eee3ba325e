"""Controller profiles: one TOML file per device, checked completely when loaded.

A profile is ``name``, ``description``, a list of ``[[rule]]`` tables and an
optional ``[leds]`` table (see docs/controllers.md). ``load_profile``
accepts a built-in name (``generic``, ``launchpad``, ``beatstep``: the
``.toml`` files next to this module) or a path. Every mistake raises
``ConfigError`` naming the file, the rule and the key, and what was
expected, like the main config: a profile is checked before the first note.

A rule's ``action`` is a command of the command table (or one of its older
spellings), and its other keys are that command's arguments by name: the
rows say what each takes, so a profile is checked by the same rules that
check an OSC message or a web request, and a new command needs nothing here.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from impsy.config import Config
from impsy.config.errors import ConfigError
from impsy.config.reader import shown, toml_type
from impsy.engine.commands import ENGINE_COMMANDS
from impsy.engine.table import INT, STR, Command
from impsy.errors import CommandError
from impsy.io.midi.messages import malformed
from impsy.sequencer.commands import ALL_SEQUENCER_COMMANDS
from impsy.sequencer.controllers.leds import (
    COLOUR_NAMES,
    LED_TYPES,
    LedMap,
    LedTarget,
    grid_numbers,
)
from impsy.sequencer.controllers.rules import (
    DEFAULT_TIMEOUT_S,
    TYPES,
    Grid,
    MessagePattern,
    Rule,
    Source,
)

BUILT_IN = Path(__file__).resolve().parent
RUN_COMMANDS: tuple[Command, ...] = ENGINE_COMMANDS + ALL_SEQUENCER_COMMANDS
"""The rows every run with a sequencer has: what a rule may run unless told otherwise."""
SOURCE_FIELDS = ("note", "control", "program", "number", "value", "channel", "relative")
RULE_KEYS = ("name", "match", "chain", "timeout", "action")


@dataclass(frozen=True)
class Profile:
    """A loaded controller profile."""

    name: str
    description: str
    rules: tuple[Rule, ...]
    leds: LedMap
    source: str


def built_in_profiles() -> list[str]:
    return sorted(p.stem for p in BUILT_IN.glob("*.toml"))


def load_profile(
    name_or_path: str | os.PathLike[str], commands: Sequence[Command] = RUN_COMMANDS
) -> Profile:
    """A built-in profile by name, or a profile file; raises ``ConfigError``.

    ``commands`` are the rows a rule may run (every row of the run's table).
    """
    text_name = os.fspath(name_or_path)
    path = Path(text_name)
    if path.suffix != ".toml" and os.sep not in text_name and "/" not in text_name:
        builtin = BUILT_IN / f"{text_name}.toml"
        if not builtin.is_file():
            raise ConfigError(
                f"controller profile {text_name!r}: no such built-in profile; expected one of "
                f"{', '.join(built_in_profiles())} or a path to a .toml file"
            )
        path = builtin
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such controller profile file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the controller profile: {err}") from None
    return parse_profile(text, str(path), commands)


def check_profiles(config: Config, commands: Sequence[Command] = RUN_COMMANDS) -> None:
    """Load every controller profile ``config`` names; a mistake names the config's key too."""
    if config.sequencer is None:
        return
    for index, controller in enumerate(config.sequencer.controllers):
        try:
            load_profile(controller.profile, commands)
        except ConfigError as err:
            where = f"[sequencer] controllers[{index}].profile"
            raise ConfigError(f"{config.source}: {where}: {err}") from None


def parse_profile(text: str, label: str, commands: Sequence[Command] = RUN_COMMANDS) -> Profile:
    """Validate profile text; ``label`` names it in error messages."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{label}: invalid TOML: {err}") from None
    return _ProfileReader(label, commands).read(raw)


class _ProfileReader:
    def __init__(self, label: str, commands: Sequence[Command]) -> None:
        self.label = label
        self.commands = {name: command for command in commands for name in command.names}
        self.canonical = sorted(command.name for command in commands)

    def fail(self, where: str, problem: str) -> NoReturn:
        raise ConfigError(f"{self.label}: {where}: {problem}")

    def read(self, raw: dict[str, Any]) -> Profile:
        unknown = set(raw) - {"name", "description", "rule", "leds"}
        if unknown:
            self.fail(
                f"key {sorted(unknown)[0]!r}",
                "unknown; expected name, description, [[rule]] or [leds]",
            )
        name = self.string(raw, "name", "top level", Path(self.label).stem)
        description = self.string(raw, "description", "top level", "")
        rules_raw = raw.get("rule", [])
        if not isinstance(rules_raw, list) or not all(isinstance(r, dict) for r in rules_raw):
            self.fail("rule", "expected [[rule]] tables")
        rules = tuple(self.rule(i + 1, r) for i, r in enumerate(rules_raw))
        leds_raw = raw.get("leds", {})
        if not isinstance(leds_raw, dict):
            self.fail("leds", f"expected a [leds] table, got {toml_type(leds_raw)}")
        return Profile(name, description, rules, self.leds(leds_raw), self.label)

    # -------------------------------------------------------------- basics
    def string(self, table: dict, key: str, where: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            self.fail(f"{where} key {key!r}", f"expected a string, got {shown(value)}")
        return value

    def bounds(self, value: Any, where: str, low: int, high: int) -> tuple[int, int]:
        """An integer or an inclusive ``[low, high]`` range, within ``low..high``."""
        if isinstance(value, int) and not isinstance(value, bool):
            pair = (value, value)
        elif (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            pair = (value[0], value[1])
        else:
            self.fail(where, f"expected an integer or [low, high], got {shown(value)}")
        if not low <= pair[0] <= pair[1] <= high:
            self.fail(where, f"expected values {low}..{high} with low <= high, got {shown(value)}")
        return pair

    # --------------------------------------------------------------- rules
    def rule(self, number: int, raw: dict[str, Any]) -> Rule:
        title = raw.get("name")
        where = f"[[rule]] {number}" + (f" ({title})" if isinstance(title, str) else "")
        name = self.string(raw, "name", where, f"rule {number}")
        action = raw.get("action")
        command = self.commands.get(action) if isinstance(action, str) else None
        if command is None:
            close = difflib.get_close_matches(str(action), list(self.commands), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.fail(
                f"{where} key 'action'",
                f"expected a command: one of {', '.join(self.canonical)}; "
                f"got {shown(action)}{hint}",
            )
        if ("match" in raw) == ("chain" in raw):
            self.fail(where, "expected exactly one of 'match' (one message) or 'chain' (a list)")
        if "match" in raw:
            elements = [raw["match"]]
            keys = ["match"]
        else:
            elements = raw["chain"]
            if not isinstance(elements, list) or not elements:
                self.fail(f"{where} key 'chain'", "expected a non-empty list of message tables")
            keys = [f"chain[{i}]" for i in range(len(elements))]
        chain = tuple(
            self.pattern(e, f"{where} key {k!r}") for e, k in zip(elements, keys, strict=True)
        )
        timeout = raw.get("timeout", DEFAULT_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            self.fail(f"{where} key 'timeout'", f"expected seconds > 0, got {shown(timeout)}")
        captures = {p.capture for p in chain if p.capture}
        params = self.params(where, action, command, raw, captures)
        whole = frozenset(arg.name for arg in command.args if arg.kind == INT)
        return Rule(name, chain, command.name, params, float(timeout), whole)

    def pattern(self, raw: Any, where: str) -> MessagePattern:
        if not isinstance(raw, dict):
            self.fail(
                where, f'expected a message table like {{type = "note_on"}}, got {toml_type(raw)}'
            )
        kind = raw.get("type")
        if kind not in TYPES:
            self.fail(f"{where} type", f"expected one of {', '.join(TYPES)}, got {shown(kind)}")
        number_key = TYPES[kind]
        allowed = {"type", "channel", "value", "capture"} | ({number_key} if number_key else set())
        unknown = set(raw) - allowed
        if unknown:
            self.fail(
                f"{where} key {sorted(unknown)[0]!r}",
                f"not used by {kind}; expected {', '.join(sorted(allowed))}",
            )
        top = 16383 if kind == "pitchwheel" else 127
        channels = (
            self.bounds(raw["channel"], f"{where} channel", 1, 16) if "channel" in raw else None
        )
        numbers = (
            self.bounds(raw[number_key], f"{where} {number_key}", 0, 127)
            if number_key and number_key in raw
            else None
        )
        values = self.bounds(raw["value"], f"{where} value", 0, top) if "value" in raw else None
        capture = raw.get("capture")
        if capture is not None and (not isinstance(capture, str) or capture in SOURCE_FIELDS):
            self.fail(
                f"{where} capture",
                f"expected a name other than {', '.join(SOURCE_FIELDS)}, got {shown(capture)}",
            )
        return MessagePattern(kind, channels, numbers, values, capture)

    def params(
        self, where: str, action: str, command: Command, raw: dict[str, Any], captures: set[str]
    ) -> dict[str, Any]:
        """The rule's other keys as the command's arguments, constants converted now."""
        args = {arg.name: arg for arg in command.args}
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if key in RULE_KEYS:
                continue
            if key not in args:
                expected = ", ".join(args) or "no parameters"
                self.fail(f"{where} key {key!r}", f"{action} takes {expected}")
            arg = args[key]
            if isinstance(value, dict) and arg.kind != STR:
                params[key] = self.source(f"{where} key {key!r}", value, captures)
                continue
            try:
                params[key] = arg.convert(value, action)
            except CommandError:
                source = "" if arg.kind == STR else " or {from = ...}"
                self.fail(
                    f"{where} key {key!r}", f"expected {arg.expected()}{source}, got {shown(value)}"
                )
        required = [arg.name for arg in command.args if not (arg.optional or arg.many)]
        missing = [key for key in required if key not in params]
        if missing:
            self.fail(f"{where} key {missing[0]!r}", f"{action} needs it; none given")
        if command.one_of and not set(command.one_of) & set(params):
            self.fail(where, f"{action} needs one of {', '.join(command.one_of)}; none given")
        return params

    def source(self, where: str, raw: dict[str, Any], captures: set[str]) -> Source:
        unknown = set(raw) - {"from", "grid", "index_of", "to", "scale", "offset"}
        if unknown:
            self.fail(
                f"{where} key {sorted(unknown)[0]!r}",
                "expected from, grid, index_of, to, scale or offset",
            )
        read = raw.get("from")
        names = (read,) if isinstance(read, str) else tuple(read) if isinstance(read, list) else ()
        valid = set(SOURCE_FIELDS) | captures
        if (
            not 1 <= len(names) <= 2
            or not all(isinstance(n, str) and n in valid for n in names)
            or (len(names) == 2 and not set(names) <= captures)
        ):
            self.fail(
                f"{where} from",
                f"expected one of {', '.join(sorted(valid))}, or two captured names "
                f"[msb, lsb] for a 14-bit value; got {shown(read)}",
            )
        grid = self.grid(f"{where} grid", raw["grid"]) if "grid" in raw else None
        index_of = None
        if "index_of" in raw:
            table = raw["index_of"]
            if not isinstance(table, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) for n in table
            ):
                self.fail(f"{where} index_of", f"expected a list of integers, got {shown(table)}")
            index_of = tuple(table)
        to = None
        if "to" in raw:
            pair = raw["to"]
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
            ):
                self.fail(f"{where} to", f"expected [low, high] numbers, got {shown(pair)}")
            to = (float(pair[0]), float(pair[1]))
        numbers = {}
        for key, default in (("scale", 1.0), ("offset", 0.0)):
            value = raw.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.fail(f"{where} {key}", f"expected a number, got {shown(value)}")
            numbers[key] = float(value)
        return Source(names, grid, index_of, to, numbers["scale"], numbers["offset"])

    def grid(self, where: str, raw: Any) -> Grid:
        if not isinstance(raw, dict) or set(raw) != {"first", "row_step", "columns", "rows"}:
            self.fail(where, "expected {first, row_step, columns, rows}")
        for key in ("first", "row_step", "columns", "rows"):
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(f"{where} {key}", f"expected an integer, got {shown(value)}")
        if raw["columns"] < 1 or raw["rows"] < 1:
            self.fail(where, "expected columns and rows of at least 1")
        return Grid(raw["first"], raw["row_step"], raw["columns"], raw["rows"])

    # ---------------------------------------------------------------- leds
    def leds(self, raw: dict[str, Any]) -> LedMap:
        unknown = set(raw) - {"steps", "tracks", "play", "colours", "on_connect"}
        if unknown:
            self.fail(
                f"[leds] key {sorted(unknown)[0]!r}",
                "expected steps, tracks, play, colours or on_connect",
            )
        targets = {
            key: self.target(f"[leds] {key}", raw[key])
            for key in ("steps", "tracks", "play")
            if key in raw
        }
        colours = dict(COLOUR_NAMES)
        given = raw.get("colours", {})
        if not isinstance(given, dict):
            self.fail("[leds] colours", f"expected a table, got {toml_type(given)}")
        for key, value in given.items():
            if key not in COLOUR_NAMES:
                self.fail(
                    f"[leds.colours] key {key!r}", f"expected one of {', '.join(COLOUR_NAMES)}"
                )
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 127:
                self.fail(f"[leds.colours] key {key!r}", f"expected 0..127, got {shown(value)}")
            colours[key] = value
        return LedMap(colours=colours, on_connect=self.messages(raw), **targets)

    def messages(self, raw: dict[str, Any]) -> tuple[tuple[int, ...], ...]:
        """``on_connect``: complete raw MIDI messages, each a list of bytes."""
        given = raw.get("on_connect", [])
        where = "[leds] on_connect"
        if not isinstance(given, list):
            self.fail(where, f"expected a list of messages (lists of bytes), got {shown(given)}")
        messages = []
        for index, message in enumerate(given):
            if not isinstance(message, list) or not all(
                isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in message
            ):
                self.fail(f"{where}[{index}]", f"expected a list of bytes, got {shown(message)}")
            problem = malformed(message)
            if problem is None and message[0] == 0xF0 and message[-1] != 0xF7:
                problem = "a sysex message must end with 247 (F7)"
            if problem is not None:
                self.fail(f"{where}[{index}]", f"not a complete MIDI message: {problem}")
            messages.append(tuple(message))
        return tuple(messages)

    def target(self, where: str, raw: Any) -> LedTarget:
        if not isinstance(raw, dict):
            self.fail(where, f"expected a table, got {toml_type(raw)}")
        kind = raw.get("type")
        if kind not in LED_TYPES:
            self.fail(f"{where} type", f"expected one of {', '.join(LED_TYPES)}, got {shown(kind)}")
        unknown = set(raw) - {"type", "channel", "grid", "numbers", "first", "count", "data"}
        if unknown:
            self.fail(
                f"{where} key {sorted(unknown)[0]!r}",
                "expected type, channel, grid, numbers, first and count, or data",
            )
        channel = self.bounds(raw.get("channel", 1), f"{where} channel", 1, 16)[0]
        if "grid" in raw:
            numbers = grid_numbers(self.grid(f"{where} grid", raw["grid"]))
        elif "numbers" in raw:
            values = raw["numbers"]
            if (
                not isinstance(values, list)
                or not values
                or not all(
                    isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 127 for n in values
                )
            ):
                self.fail(f"{where} numbers", f"expected a list of 0..127, got {shown(values)}")
            numbers = tuple(values)
        elif "first" in raw and "count" in raw:
            first = self.bounds(raw["first"], f"{where} first", 0, 127)[0]
            count = self.bounds(raw["count"], f"{where} count", 1, 128)[0]
            if first + count > 128:
                self.fail(where, f"first + count must be at most 128, got {first + count}")
            numbers = tuple(range(first, first + count))
        else:
            self.fail(where, "expected grid, numbers, or first and count")
        if any(not 0 <= n <= 127 for n in numbers):
            self.fail(f"{where} grid", "every button number must be 0..127")
        template: tuple[int | str, ...] = ()
        if kind == "sysex":
            data = raw.get("data")
            if not isinstance(data, list) or not all(
                (isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 127)
                or b in ("number", "colour")
                for b in data
            ):
                self.fail(
                    f"{where} data",
                    'expected the bytes between F0 and F7 (0..127) with "number" and "colour" '
                    f"placeholders, got {shown(data)}",
                )
            template = tuple(data)
        elif "data" in raw:
            self.fail(f"{where} data", "only sysex targets take data")
        return LedTarget(kind, numbers, channel, template)
