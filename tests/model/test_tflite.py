"""``.tflite`` files built here with TensorFlow: state mapping by behaviour, and Flex fallback.

The repository has no ``.tflite`` whose outputs are out of state order, and
none that needs Flex ops, so both are made in ``tmp_path`` with the
converter IMPSY uses. Skipped without the train extra.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import keras_mdn_layer  # noqa: E402
import tensorflow as tf  # noqa: E402

from impsy.model import ModelError, ModelWarning, load_model  # noqa: E402
from tests.paths import ROOT

SHARED_H5 = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"
DIM, UNITS, MIXTURES = 3, 10, 4
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def impsy_layout_model(output_order: list[str]) -> keras.Model:
    """A two-layer inference model whose outputs come in ``output_order``."""
    inputs = keras.Input(shape=(1, DIM), name="inputs")
    x = inputs
    states, named = [], {}
    for layer in range(2):
        h = keras.Input(shape=(UNITS,), name=f"state_h_{layer}")
        c = keras.Input(shape=(UNITS,), name=f"state_c_{layer}")
        states += [h, c]
        x, named[f"h{layer}"], named[f"c{layer}"] = keras.layers.LSTM(
            UNITS, return_sequences=layer == 0, return_state=True, name=f"lstm_{layer}"
        )(x, initial_state=[h, c])
    named["mdn"] = keras_mdn_layer.MDN(DIM, MIXTURES, name="mdn_outputs")(x)
    model = keras.Model([inputs, *states], [named[key] for key in output_order])
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype("float32") for w in model.get_weights()])
    return model


def to_tflite(function, specs, path: Path, flex: bool = False) -> None:
    """Convert a traced function the way IMPSY does (batch 1, weights frozen)."""
    traced = tf.function(function, input_signature=specs).get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([traced])
    if flex:
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS,
            tf.lite.OpsSet.SELECT_TF_OPS,
        ]
        converter._experimental_lower_tensor_list_ops = False  # keep TensorList ops -> Flex
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    path.write_bytes(converter.convert())


def model_to_tflite(model: keras.Model, path: Path) -> None:
    specs = [tf.TensorSpec([1, *t.shape[1:]], tf.float32, name=t.name) for t in model.inputs]
    to_tflite(lambda *tensors: model(list(tensors)), specs, path)


def test_state_outputs_out_of_order_are_identified_by_behaviour(tmp_path):
    order = ["c1", "h0", "mdn", "c0", "h1"]
    model = impsy_layout_model(order)
    model_to_tflite(model, tmp_path / "shuffled.tflite")
    model.save(tmp_path / "shuffled.keras")
    lite = load_model(tmp_path / "shuffled.tflite")
    outputs = lite.tensor_map["state_outputs"]
    assert sorted(outputs) == ["state_c_0", "state_c_1", "state_h_0", "state_h_1"]
    assert len(set(outputs.values()) | {lite.tensor_map["mdn_output"]}) == 5
    # the converter names outputs Identity, Identity_1, ... in the order returned
    names = ["Identity"] + [f"Identity_{i}" for i in range(1, 5)]
    by_role = dict(zip(order, names, strict=True))
    assert lite.tensor_map["mdn_output"] == by_role["mdn"]
    assert outputs == {
        "state_h_0": by_role["h0"],
        "state_c_0": by_role["c0"],
        "state_h_1": by_role["h1"],
        "state_c_1": by_role["c1"],
    }
    # and with that map the state really is carried: it tracks the numpy engine step by step
    reference = load_model(tmp_path / "shuffled.keras")
    for event in np.random.default_rng(0).random((8, DIM)):
        np.testing.assert_allclose(lite.step(event).raw, reference.step(event).raw, atol=1e-5)


def flex_tflite(path: Path, dimension: int = 9, units: int = 64) -> None:
    """A tiny model with IMPSY's input names whose TensorList ops need Flex."""
    specs = [tf.TensorSpec([1, 1, dimension], tf.float32, name="inputs")] + [
        tf.TensorSpec([1, units], tf.float32, name=f"state_{kind}_{layer}")
        for layer in range(2)
        for kind in "hc"
    ]

    def function(x, h0, c0, h1, c1):
        stack = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[1, units])
        stack = stack.write(0, h0).write(1, c0)
        mdn = tf.zeros([1, 5 * (2 * dimension + 1)]) + tf.reduce_sum(x)
        return [mdn, tf.reduce_sum(stack.stack(), axis=0), c0, h1, c1]

    to_tflite(function, specs, path, flex=True)


def test_flex_tflite_falls_back_to_sibling_weights_without_touching_files(tmp_path):
    lite = tmp_path / "musicMDRNN-dim9.tflite"
    flex_tflite(lite)
    sibling = tmp_path / "musicMDRNN-dim9.h5"
    shutil.copy(SHARED_H5, sibling)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    with pytest.warns(ModelWarning, match="Flex.*musicMDRNN-dim9.h5"):
        model = load_model(lite)
    assert model.engine == "numpy"
    assert model.path == lite and model.weights_path == sibling
    direct = load_model(SHARED_H5)
    for event in np.random.default_rng(0).random((5, 9)):
        np.testing.assert_array_equal(model.step(event).raw, direct.step(event).raw)
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    assert after == before


def test_flex_tflite_without_sibling_says_so(tmp_path):
    lite = tmp_path / "lonely.tflite"
    flex_tflite(lite)
    with pytest.raises(ModelError, match="Flex.*no lonely.h5, .weights.h5 or .keras beside it"):
        load_model(lite)


def test_flex_tflite_with_a_sibling_of_another_size_is_refused(tmp_path):
    lite = tmp_path / "small.tflite"
    flex_tflite(lite, dimension=9, units=32)
    shutil.copy(SHARED_H5, tmp_path / "small.h5")
    with pytest.raises(ModelError, match="cannot stand in"):
        load_model(lite)
