"""How one model output is played: the wait before it, the values sent, the next input.

The model predicts ``[dt, x_1..x_n]``. A dt of zero or below would make the
network race ahead of the music, so it is clamped to ``MIN_DT`` first; the
``timescale`` then stretches only the wait, not what the model is fed back,
so changing the playback speed does not push the network off the timing
distribution it learnt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from impsy.clock import MIN_DT


class Playback(NamedTuple):
    """What to do with one model output."""

    wait: float
    """Seconds to wait before sending ``values``: clamped dt times the timescale."""
    values: np.ndarray
    """x_1..x_n clipped to [0, 1], ready for the output codecs."""
    next_model_input: np.ndarray
    """``[clamped dt, values...]``, fed back to the model for its next prediction."""


def plan_playback(model_output: Sequence[float] | np.ndarray, timescale: float) -> Playback:
    """Plan the playback of one unscaled model output ``[dt, x_1..x_n]``."""
    output = np.asarray(model_output, dtype=np.float64)
    if output.ndim != 1 or output.size < 2:
        raise ValueError(f"expected a vector [dt, x_1, ...], got shape {output.shape}")
    dt = float(output[0])
    if not dt >= MIN_DT:  # also replaces NaN
        dt = MIN_DT
    values = np.clip(output[1:], 0.0, 1.0)
    next_input = np.empty_like(output)
    next_input[0] = dt
    next_input[1:] = values
    return Playback(dt * timescale, values, next_input)
