"""Config files into ``load_config``, then into the adapters they configure.

Each input is the bytes of a config file, written to disk and loaded the way
``impsy run`` and ``impsy check-config`` load it (``impsy.app.load_config``,
so the UTF-8 and TOML steps are covered too). A config that loads is handed to ``build_adapters``,
which builds every adapter it enables (mapping tables, encoders) without
opening anything.

Invariants: the only exception is ``ConfigError``; its message is one line
that starts with the file's name and says what was expected or what is
wrong; every warning is one line naming the file.
"""

from __future__ import annotations

import re

from fuzz.harness import quiet, scratch_dir
from impsy.app import build_adapters, load_config
from impsy.config import ConfigError
from impsy.engine.table import CommandTable

# Where a config error points: a TOML line, a non-UTF-8 byte, or a [section] key.
WHERE = re.compile(r"(line \d+|byte \d+|\[[^\]]+\]|top-level key )")
_path = None


def one_input(data: bytes) -> None:
    global _path
    if _path is None:
        quiet()
        _path = scratch_dir() / "fuzz.toml"
    _path.write_bytes(data)
    label = str(_path)
    try:
        config = load_config(_path)
    except ConfigError as err:
        message = str(err)
        assert "\n" not in message and "\r" not in message, f"multi-line error: {message!r}"
        assert message.startswith(f"{label}: "), f"error does not name the file: {message!r}"
        where = message[len(label) + 2 :]
        assert WHERE.match(where), f"error does not say where (line, byte or key): {message!r}"
        assert len(where) > 20, f"error says nothing: {message!r}"
        return
    for warning in config.warnings:
        assert "\n" not in warning and warning.startswith(label), f"bad warning: {warning!r}"
    for adapter in build_adapters(config, config.model.dimension, CommandTable()):
        assert adapter.describe()
