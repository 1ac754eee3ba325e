"""Score a training model's current weights on whole performances, as ``impsy evaluate`` does.

Window losses start every window from a zero state, so they say little
about a model that must carry its state through a whole performance, and
that is what ``impsy evaluate`` and the test NLL measure. Copying the
weights into the numpy engine and replaying each validation performance
from a reset state scores the model the way it will be used (and takes
well under a second for the bundled 9-D set's validation performances).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def mdrnn_from_keras_weights(weights: list[Any], name: str = "training") -> Any:
    """An :class:`impsy.model.mdrnn.MDRNN` (numpy engine, sigmoid gate) on these weights.

    ``weights`` is Keras' ``get_weights()`` order for the training or the
    inference model: three arrays per LSTM layer, then the MDN's six.
    """
    from impsy.model.mdrnn import MDRNN
    from impsy.model.numpy_engine import NumpyEngine
    from impsy.model.weights import Provenance, build_weights

    layers = (len(weights) - 6) // 3
    arrays = build_weights(
        [tuple(weights[3 * i : 3 * i + 3]) for i in range(layers)],
        tuple(weights[3 * layers :]),
        Provenance("keras-zip", "3"),
        name,
    )
    return MDRNN(NumpyEngine(arrays, "sigmoid"), Path(name))


def performances_nll(weights: list[Any], performances: Sequence[np.ndarray]) -> float:
    """Mean NLL per step (model space) of these weights over whole performances."""
    from impsy.model import nll

    return nll.evaluate(mdrnn_from_keras_weights(weights), performances).mean_nll
