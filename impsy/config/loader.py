"""Read a TOML file into a validated ``Config``, or fail with one line saying why.

Validation happens entirely at load time so that a performance never stops
on a config problem: by the time ``load_config`` returns, every mapping list
has the right length and every value its right type and range.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from impsy.config.errors import ConfigError
from impsy.config.modes import LEAD_MODES
from impsy.config.reader import Context, Table
from impsy.config.schema import Config
from impsy.config.sections import (
    read_interaction,
    read_midi,
    read_model,
    read_osc,
    read_oscquery,
    read_sequencer,
    read_serial,
    read_serialmidi,
    read_studio,
    read_websocket,
    read_webui,
)
from impsy.config.steering import read_steering

METADATA_KEYS: tuple[str, ...] = ("title", "owner", "description", "name")
SETTING_KEYS: tuple[str, ...] = ("verbose", "log_input", "log_predictions", "realtime")
SECTIONS: tuple[str, ...] = (
    "interaction",
    "model",
    "midi",
    "osc",
    "websocket",
    "serial",
    "serialmidi",
    "webui",
    "studio",
    "oscquery",
    "sequencer",
    "steering",
)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Load and validate the config file at ``path``; raises ``ConfigError``."""
    label = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{label}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{label}: is a directory, expected a .toml config file") from None
    except OSError as err:
        raise ConfigError(f"{label}: cannot read the config file: {err.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{label}: byte {err.start + 1}: not UTF-8 text; TOML files must be UTF-8"
        ) from None
    return load_config_text(text, label)


def load_config_text(text: str, source_name: str = "<config>") -> Config:
    """Validate config text that is not (yet) a file, e.g. before the web UI saves it."""
    return build_config(parse_toml(text, source_name), source_name)


def parse_toml(text: str, label: str) -> dict[str, Any]:
    """Parse TOML, turning a syntax error into a ConfigError that names file and line."""
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        if found:
            where = f"line {found[1]}, column {found[2]}"
            message = message[: found.start()]
        else:
            where = f"line {text.count(chr(10)) + 1} (end of file)"
            message = message.replace(" (at end of document)", "")
        raise ConfigError(f"{label}: {where}: invalid TOML: {message}") from None


def build_config(raw: dict[str, Any], source: str, label: str | None = None) -> Config:
    """Validate a parsed TOML document; ``label`` names it in messages (default ``source``)."""
    ctx = Context(label or source)
    top = Table(ctx, None, raw)
    top.warn_unknown((*METADATA_KEYS, *SETTING_KEYS, *SECTIONS))

    def section(name: str) -> Table:
        return top.section_table(name) or Table(ctx, name, {})

    model, dimension = read_model(section("model"))
    interaction = read_interaction(section("interaction"))
    present = {name: top.section_table(name) for name in SECTIONS}
    serial = read_serial(present["serial"]) if present["serial"] else None
    midi = read_midi(present["midi"], dimension) if present["midi"] else None
    config = Config(
        source=source,
        title=top.optional_string("title"),
        owner=top.optional_string("owner"),
        description=top.optional_string("description"),
        name=top.optional_string("name"),
        verbose=top.boolean("verbose", False),
        log_input=top.boolean("log_input", True),
        log_predictions=top.boolean("log_predictions", False),
        realtime=top.boolean("realtime", True),
        interaction=interaction,
        model=model,
        midi=midi,
        osc=read_osc(present["osc"]) if present["osc"] else None,
        websocket=read_websocket(present["websocket"], dimension) if present["websocket"] else None,
        serial=serial,
        serialmidi=(
            read_serialmidi(present["serialmidi"], serial, dimension)
            if present["serialmidi"]
            else None
        ),
        webui=read_webui(present["webui"]) if present["webui"] else None,
        studio=read_studio(present["studio"]) if present["studio"] else None,
        oscquery=(
            read_oscquery(present["oscquery"], present["osc"] is not None)
            if present["oscquery"]
            else None
        ),
        sequencer=(
            read_sequencer(present["sequencer"], dimension, midi) if present["sequencer"] else None
        ),
        warnings=tuple(ctx.warnings),
        _raw=raw,
    )
    if present["steering"]:
        steering = read_steering(present["steering"], dimension.value, config.note_dimensions())
        config = dataclasses.replace(config, steering=steering, warnings=tuple(ctx.warnings))
    if model.lead:
        _check_lead(config, ctx.label)
    return config


def _check_lead(config: Config, label: str) -> None:
    """``[model] lead = true`` needs a mode that answers gestures and dimensions the model owns."""
    mode = config.interaction.mode
    if mode not in LEAD_MODES:
        raise ConfigError(
            f"{label}: [model] lead: a lead model only answers gestures; expected [interaction] "
            f'mode = "accompany" (or "useronly"), got "{mode}"'
        )
    if config.steering is None or "model" not in config.steering.roles:
        raise ConfigError(
            f'{label}: [model] lead: expected [steering] roles with at least one "model" '
            "dimension (where the model hears its own last answer)"
        )
