"""A one-step inference model to a ``.tflite`` that LiteRT and IMPSY 1.2.1 both run.

Traced at batch 1 from an unrolled model, so the graph has no TensorList
ops and converts with builtin ops only (IMPSY's own 2024 dim-2/dim-4 files
need the Flex delegate, which LiteRT lacks). The file carries a
``serving_default`` signature: inputs ``inputs``, ``state_h_{i}``,
``state_c_{i}``; outputs ``mdn_outputs`` and the states.

The state outputs are named ``o01_state_h_0``, ``o02_state_c_0``,
``o03_state_h_1``, ...: IMPSY 1.2.1 pairs signature outputs by *sorted*
name, taking the (2i)th as layer i's h and the (2i+1)th as its c, so plain
``state_h_0``/``state_c_0`` would sort c before h and IMPSY would swap
them. The numbered prefix sorts in IMPSY's order and the ``state_h_0`` part
names the tensor for impsy's loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MDN_OUTPUT = "mdn_outputs"


def state_output_names(layers: int) -> list[str]:
    """Signature output names of the states, in IMPSY's order (h_0, c_0, h_1, ...)."""
    names = []
    for layer in range(layers):
        for kind in ("h", "c"):
            names.append(f"o{len(names) + 1:02d}_state_{kind}_{layer}")
    return names


def _serving_module(model: Any, dimension: int, units: int, layers: int) -> Any:
    """A ``tf.Module`` whose ``serve`` takes named tensors and returns named outputs."""
    import tensorflow as tf

    input_names = ["inputs"] + [f"state_{k}_{i}" for i in range(layers) for k in ("h", "c")]
    shapes = [[1, 1, dimension]] + [[1, units]] * (2 * layers)
    specs = [tf.TensorSpec(s, tf.float32, name=n) for s, n in zip(shapes, input_names, strict=True)]
    output_names = [MDN_OUTPUT, *state_output_names(layers)]

    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    @tf.function(input_signature=specs)
    def step(*tensors: Any) -> Any:
        return model(list(tensors))

    # Weights become constants first: converting a function that reads Keras 3
    # variables through a tracked module leaves READ_VARIABLE ops that nothing
    # initialises (the .tflite then outputs NaN).
    frozen = convert_variables_to_constants_v2(step.get_concrete_function())

    class Serving(tf.Module):
        @tf.function(input_signature=specs)
        def serve(self, *tensors: Any) -> dict[str, Any]:
            return dict(zip(output_names, frozen(*tensors), strict=True))

    return Serving()


def convert_inference_model(
    model: Any, dimension: int, units: int, layers: int, optimise: bool = False
) -> bytes:
    """The ``.tflite`` bytes for a model from :func:`network.build_inference_model`.

    ``optimise`` applies dynamic-range quantisation (weights stored as int8):
    about 4x smaller, at some cost in accuracy, which ``impsy convert``
    measures when given a dataset.
    """
    import tensorflow as tf

    module = _serving_module(model, dimension, units, layers)
    concrete = module.serve.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if optimise:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def write_tflite(content: bytes, path: Path) -> Path:
    """Write the bytes; a separate step so callers decide about overwriting first."""
    path.write_bytes(content)
    return path
