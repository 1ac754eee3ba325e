"""Command-line overrides, applied to the parsed TOML and validated like the file.

Overrides are written into a copy of the document rather than patched onto
the dataclasses, so a ``--dimension`` that disagrees with the mapping lists is
refused with the same message the file would get.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any

from impsy.config.loader import build_config

if TYPE_CHECKING:
    from impsy.config.schema import Config

OVERRIDABLE: dict[str, tuple[str | None, str]] = {
    "mode": ("interaction", "mode"),
    "threshold": ("interaction", "threshold"),
    "input_thru": ("interaction", "input_thru"),
    "dimension": ("model", "dimension"),
    "model_file": ("model", "file"),
    "size": ("model", "size"),
    "sigmatemp": ("model", "sigmatemp"),
    "pitemp": ("model", "pitemp"),
    "timescale": ("model", "timescale"),
    "seed": ("model", "seed"),
    "gate": ("model", "gate"),
    "engine": ("model", "engine"),
    "verbose": (None, "verbose"),
    "log_input": (None, "log_input"),
    "log_predictions": (None, "log_predictions"),
    "realtime": (None, "realtime"),
}


def with_overrides(config: Config, **overrides: Any) -> Config:
    """A copy of ``config`` with command-line values applied and everything validated again.

    Accepts the keys of ``OVERRIDABLE``; a value of None means "not given"
    and is skipped. Going back through the loader means an override can never
    produce a config the file itself could not, e.g. ``dimension=4`` with
    8-entry mappings.
    """
    return apply_overrides(config, config._raw, overrides)


def apply_overrides(config: Config, raw: dict[str, Any], overrides: dict[str, Any]) -> Config:
    """Build a new Config from ``raw`` with ``overrides`` (None values skipped) written in."""
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise TypeError(
            f"cannot override {', '.join(unknown)}; overridable: {', '.join(OVERRIDABLE)}"
        )
    given = {
        key: os.fspath(value) if isinstance(value, os.PathLike) else value
        for key, value in overrides.items()
        if value is not None
    }
    if not given:
        return config
    document = copy.deepcopy(raw)
    for key, value in given.items():
        section, name = OVERRIDABLE[key]
        # ``raw`` already passed validation, so an existing section is a table.
        target = document if section is None else document.setdefault(section, {})
        target[name] = value
    shown = ", ".join(f"{key}={value!r}" for key, value in given.items())
    return build_config(document, config.source, f"{config.source} (with overrides {shown})")
