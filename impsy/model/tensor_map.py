"""Which ``.tflite`` tensor is which: the input, each LSTM state, the MDN output.

Inputs are named by the Keras model (``inputs``, ``state_h_0``, ``state_c_0``,
...), sometimes wrapped by the converter (``serving_default_state_h_0:0``),
so they are matched by name. Outputs in IMPSY's files are called
``Identity``, ``Identity_1``, ... and their index order does *not* follow the
state order on unrolled models (h and c come out swapped), so unless an
output is named like a state it is identified by how it behaves:

* the MDN output is the one ``K * (2D + 1)`` wide;
* an LSTM layer's outputs change when that layer's input states change, and
  never when only a later layer's do, so the layer of an output is the last
  layer whose input states move it;
* of a layer's two outputs, ``h = o * tanh(c)`` with ``o`` in (0, 1), so
  ``|h| <= |tanh(c)|`` and ``sign(h) == sign(c)`` element by element, while
  the reverse pairing fails that test whenever any state is non-zero.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from impsy.model.errors import ModelError

Run = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
"""Feed every input (by tensor name) once, from the given values; return every output by name."""

_STATE_NAME = re.compile(r"(?:^|[^a-z0-9])state_([hc])_(\d+)(?![0-9])", re.IGNORECASE)
_TOLERANCE = 1e-5


def state_key(name: str) -> str | None:
    """``state_h_0`` etc. if a tensor name carries a state name, else None."""
    match = _STATE_NAME.search(name)
    if match is None:
        return None
    return f"state_{match.group(1).lower()}_{int(match.group(2))}"


def state_keys(layers: int) -> list[str]:
    """``[state_h_0, state_c_0, state_h_1, ...]``: the order IMPSY feeds states in."""
    return [f"state_{kind}_{layer}" for layer in range(layers) for kind in ("h", "c")]


def _pair_is_h_then_c(h: np.ndarray, c: np.ndarray) -> bool:
    """Whether ``h`` could be ``o * tanh(c)`` elementwise, for some ``o`` in [0, 1]."""
    bounded = np.all(np.abs(h) <= np.abs(np.tanh(c)) + _TOLERANCE)
    nonzero = np.abs(h) > _TOLERANCE
    same_sign = np.all(np.sign(h[nonzero]) == np.sign(c[nonzero]))
    return bool(bounded and same_sign)


def identify_state_outputs(
    run: Run,
    input_names: dict[str, str],
    input_shapes: dict[str, tuple[int, ...]],
    state_outputs: list[str],
    layers: int,
    source: str,
    probes: int = 2,
) -> dict[str, str]:
    """Map each state key to the output tensor that carries it, by probing the model.

    ``input_names`` maps ``inputs`` and each state key to its tensor name. The
    probes use seeded random inputs, so the answer is the same on every load.
    """
    rng = np.random.default_rng(20190101)

    def random_inputs() -> dict[str, np.ndarray]:
        return {
            tensor: rng.standard_normal(input_shapes[key]).astype(np.float32)
            for key, tensor in input_names.items()
        }

    layer_of = dict.fromkeys(state_outputs, -1)
    samples: dict[str, list[np.ndarray]] = {name: [] for name in state_outputs}
    for _ in range(probes):
        feed = random_inputs()
        base = run(feed)
        for name in state_outputs:
            samples[name].append(base[name].ravel())
        for layer in range(layers):
            moved = dict(feed)
            for kind in ("h", "c"):
                tensor = input_names[f"state_{kind}_{layer}"]
                moved[tensor] = rng.standard_normal(input_shapes[f"state_{kind}_{layer}"]).astype(
                    np.float32
                )
            after = run(moved)
            for name in state_outputs:
                samples[name].append(after[name].ravel())
                if np.max(np.abs(after[name] - base[name])) > _TOLERANCE:
                    layer_of[name] = max(layer_of[name], layer)

    mapping: dict[str, str] = {}
    for layer in range(layers):
        pair = [name for name in state_outputs if layer_of[name] == layer]
        if len(pair) != 2:
            raise ModelError(
                f"{source}: cannot tell which outputs hold layer {layer}'s state "
                f"(outputs moved by its input states: {pair or 'none'})"
            )
        first, second = (np.concatenate(samples[name]) for name in pair)
        first_is_h = _pair_is_h_then_c(first, second)
        second_is_h = _pair_is_h_then_c(second, first)
        if first_is_h == second_is_h:
            raise ModelError(
                f"{source}: cannot tell h from c among outputs {pair} of layer {layer}"
            )
        h_name, c_name = pair if first_is_h else pair[::-1]
        mapping[f"state_h_{layer}"] = h_name
        mapping[f"state_c_{layer}"] = c_name
    return mapping
