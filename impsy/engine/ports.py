"""The one small interface every adapter implements.

Input goes adapter -> engine through ``engine.user_input``; output goes
engine -> adapter through ``send``. Adapters never talk to the model.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from impsy.engine.core import Engine


class Adapter(abc.ABC):
    """A connection that may deliver gestures and may play output vectors."""

    name: str = "adapter"

    @abc.abstractmethod
    async def start(self, engine: Engine) -> None:
        """Open ports or sockets; after this, input reaches ``engine``."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Release everything ``start`` opened; safe to call twice."""

    @abc.abstractmethod
    def send(self, values: np.ndarray) -> None:
        """Play one output vector ``x_1..x_n`` (already clipped to [0, 1])."""

    def release(self) -> None:  # noqa: B027 - most adapters have nothing sounding
        """Silence whatever the model left sounding (note-offs)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for the start-up summary: what and where."""

    def health(self) -> dict[str, object]:
        """What the dashboard shows: ``state`` is "open", "waiting" or "error"."""
        return {"name": self.name, "description": self.describe(), "state": "open"}
