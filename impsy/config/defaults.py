"""The packaged default config, which both seeds ``impsy init`` and documents every default."""

from __future__ import annotations

from importlib.resources import files

DEFAULT_CONFIG_RESOURCE = "data/default.toml"


def default_config_text() -> str:
    """The text of the packaged default config (a copy of the repo's configs/default.toml)."""
    return files("impsy").joinpath(DEFAULT_CONFIG_RESOURCE).read_text(encoding="utf-8")
