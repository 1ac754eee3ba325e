"""Model size names and the architectures they stand for.

IMPSY configs and model file names refer to architectures by a short size
name; training and the model loader both need the same table, so it lives
here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from impsy.errors import ImpsyError


@dataclass(frozen=True, slots=True)
class ModelSize:
    """The LSTM architecture behind one size name."""

    units: int
    mixtures: int
    layers: int


MAX_DIMENSION = 256
"""The largest ``[model] dimension`` accepted: dt and 255 controls, far past any
controller (IMPSY's models are 2-9), and small enough that every buffer sized by it
is tiny; a typo like 1000000000 is refused instead of building a huge list."""

MODEL_SIZES: MappingProxyType[str, ModelSize] = MappingProxyType(
    {
        "xxs": ModelSize(units=16, mixtures=5, layers=2),
        "xs": ModelSize(units=32, mixtures=5, layers=2),
        "s": ModelSize(units=64, mixtures=5, layers=2),
        "m": ModelSize(units=128, mixtures=5, layers=2),
        "l": ModelSize(units=256, mixtures=5, layers=2),
        "xl": ModelSize(units=512, mixtures=5, layers=3),
    }
)


def model_size(name: str) -> ModelSize:
    """Look a size up, failing with a message a user can act on (names may come from a CLI)."""
    try:
        return MODEL_SIZES[name]
    except (KeyError, TypeError):
        raise ImpsyError(
            f"unknown model size {name!r}; expected one of {', '.join(MODEL_SIZES)}"
        ) from None
