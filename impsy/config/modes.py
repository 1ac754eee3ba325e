"""Interaction mode names, including the aliases some users know them by.

The rest of impsy only ever sees the canonical name, so aliases are
resolved here at load time and never need handling in the engine.
"""

from __future__ import annotations

from types import MappingProxyType

MODES: tuple[str, ...] = ("callresponse", "polyphony", "battle", "accompany", "useronly")

LEAD_MODES: tuple[str, ...] = ("accompany", "useronly")
"""The modes a lead model (``[model] lead``) plays: it answers gestures, never on its own."""

MODE_ALIASES: MappingProxyType[str, str] = MappingProxyType(
    {"filter": "polyphony", "independent": "battle"}
)


def canonical_mode(name: str) -> str | None:
    """The canonical mode for ``name`` (an alias or a mode), or None if it is neither."""
    if name in MODES:
        return name
    return MODE_ALIASES.get(name)


def describe_modes() -> str:
    """The accepted names as an error message lists them."""
    aliases = ", ".join(f"{alias} (= {mode})" for alias, mode in MODE_ALIASES.items())
    return f"one of {', '.join(MODES)}, or the aliases {aliases}"
