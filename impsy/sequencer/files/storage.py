"""Banks of patterns on disk, as JSON or TOML a person can read and edit.

The format is ``Bank.to_dict()``: ``song`` (pattern indexes) and
``patterns``, each with ``tracks``, each with ``steps`` (one inline table per
step). The file's extension chooses the syntax. Writes go to a temporary
file first, so a crash mid-save never leaves half a bank.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from impsy.sequencer.pattern import Bank, PatternError


class BankFileError(ValueError):
    """A bank file that cannot be read or written; the message names the file."""


def load_bank(path: str | os.PathLike[str]) -> Bank:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise BankFileError(f"{path}: cannot read: {err.strerror or err}") from None
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise BankFileError(
            f"{path}: not valid {path.suffix[1:].upper() or 'JSON'}: {err}"
        ) from None
    try:
        return Bank.from_dict(data)
    except PatternError as err:
        raise BankFileError(f"{path}: {err}") from None


def save_bank(bank: Bank, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    data = bank.to_dict()
    text = to_toml(data) if path.suffix.lower() == ".toml" else json.dumps(data, indent=1) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as err:
        raise BankFileError(f"{path}: cannot write: {err.strerror or err}") from None
    return path


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(str(k))} = {_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(data: dict[str, Any]) -> str:
    """A bank dict as TOML: arrays of tables for patterns and tracks, a step per line."""
    lines = [f"song = {_value(data.get('song', []))}", ""]
    for pattern in data["patterns"]:
        lines += ["[[patterns]]", f"name = {_value(pattern['name'])}", ""]
        for track in pattern["tracks"]:
            lines.append("[[patterns.tracks]]")
            for key, value in track.items():
                if key != "steps":
                    lines.append(f"{key} = {_value(value)}")
            lines.append("steps = [")
            lines += [f"  {_value(step)}," for step in track["steps"]]
            lines += ["]", ""]
    return "\n".join(lines)
