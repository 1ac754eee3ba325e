"""The NumPy engine against real Keras 3 models built with keras-mdn-layer.

Keras is the reference here: each model gets random weights, is saved in
each format impsy reads, loaded back with ``load_model`` and stepped beside
Keras' own ``model(...)`` with the state carried, so every gate, layout and
scaling detail is checked against the implementation IMPSY trains with.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import keras_mdn_layer  # noqa: E402
from keras import ops  # noqa: E402

from impsy.model import SCALE, load_model  # noqa: E402

DIM, UNITS, MIXTURES, LAYERS = 4, 12, 3, 2
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
STEPS = 6


def keras2_hard_sigmoid(x):
    """Keras 2's hard_sigmoid, which IMPSY's 2019 weights were trained with."""
    return ops.clip(0.2 * x + 0.5, 0.0, 1.0)


def inference_model(recurrent_activation="sigmoid", layers=LAYERS) -> keras.Model:
    """IMPSY's inference layout: an event and each layer's state in; MDN and states out."""
    inputs = keras.Input(shape=(1, DIM), name="inputs")
    x = inputs
    state_inputs, state_outputs = [], []
    for layer in range(layers):
        h = keras.Input(shape=(UNITS,), name=f"state_h_{layer}")
        c = keras.Input(shape=(UNITS,), name=f"state_c_{layer}")
        state_inputs += [h, c]
        x, h_out, c_out = keras.layers.LSTM(
            UNITS,
            return_sequences=layer < layers - 1,
            return_state=True,
            recurrent_activation=recurrent_activation,
            name=f"lstm_{layer}",
        )(x, initial_state=[h, c])
        state_outputs += [h_out, c_out]
    mdn = keras_mdn_layer.MDN(DIM, MIXTURES, name="mdn_outputs")(x)
    return keras.Model([inputs, *state_inputs], [mdn, *state_outputs])


def randomise(model: keras.Model, seed: int) -> None:
    """Replace every weight with a random one, so no gate or bias is trivially zero."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [rng.normal(0.0, 0.4, w.shape).astype("float32") for w in model.get_weights()]
    )


def keras_raw_outputs(model: keras.Model, events: np.ndarray) -> np.ndarray:
    """Keras' raw MDN outputs for ``events``, carrying the state step to step."""
    states = [np.zeros((1, UNITS), "float32") for _ in range(len(model.inputs) - 1)]
    raws = []
    for event in events:
        x = (event * SCALE).astype("float32").reshape(1, 1, DIM)
        mdn, *states = model([x, *states])
        states = [np.asarray(s) for s in states]
        raws.append(np.asarray(mdn)[0])
    return np.array(raws)


def impsy_raw_outputs(path, events, **kwargs) -> np.ndarray:
    model = load_model(path, **kwargs)
    return np.array([model.step(event).raw for event in events])


@pytest.fixture(scope="module")
def events() -> np.ndarray:
    return np.random.default_rng(5).random((STEPS, DIM))


@pytest.fixture(scope="module")
def sigmoid_model() -> keras.Model:
    model = inference_model()
    randomise(model, 1)
    return model


def test_keras_zip_matches_keras(tmp_path, sigmoid_model, events):
    path = tmp_path / "model.keras"
    sigmoid_model.save(path)
    expected = keras_raw_outputs(sigmoid_model, events)
    loaded = load_model(path)
    assert (loaded.dimension, loaded.units, loaded.layers, loaded.mixtures) == (
        DIM,
        UNITS,
        LAYERS,
        MIXTURES,
    )
    assert loaded.gate == "sigmoid"
    np.testing.assert_allclose(impsy_raw_outputs(path, events), expected, atol=1e-5, rtol=1e-5)


def test_legacy_full_h5_matches_keras(tmp_path, sigmoid_model, events):
    path = tmp_path / "model.h5"
    sigmoid_model.save(path)
    expected = keras_raw_outputs(sigmoid_model, events)
    assert load_model(path).gate == "sigmoid"
    np.testing.assert_allclose(impsy_raw_outputs(path, events), expected, atol=1e-5, rtol=1e-5)


def test_weights_h5_matches_keras(tmp_path, sigmoid_model, events):
    path = tmp_path / "model.weights.h5"
    sigmoid_model.save_weights(path)
    expected = keras_raw_outputs(sigmoid_model, events)
    np.testing.assert_allclose(impsy_raw_outputs(path, events), expected, atol=1e-5, rtol=1e-5)


def test_training_model_weights_with_time_distributed_mdn(tmp_path, sigmoid_model, events):
    """IMPSY saves training models, whose MDN sits inside TimeDistributed."""
    inputs = keras.Input(shape=(5, DIM), name="inputs")
    x = inputs
    for layer in range(LAYERS):
        x = keras.layers.LSTM(UNITS, return_sequences=True, name=f"lstm_{layer}")(x)
    mdn = keras.layers.TimeDistributed(keras_mdn_layer.MDN(DIM, MIXTURES), name="td_mdn")(x)
    training = keras.Model(inputs, mdn)
    training.set_weights(sigmoid_model.get_weights())
    path = tmp_path / "training.weights.h5"
    training.save_weights(path)
    expected = keras_raw_outputs(sigmoid_model, events)
    np.testing.assert_allclose(impsy_raw_outputs(path, events), expected, atol=1e-5, rtol=1e-5)


def test_three_layers(tmp_path, events):
    model = inference_model(layers=3)
    randomise(model, 2)
    path = tmp_path / "three.keras"
    model.save(path)
    assert load_model(path).layers == 3
    np.testing.assert_allclose(
        impsy_raw_outputs(path, events), keras_raw_outputs(model, events), atol=1e-5, rtol=1e-5
    )


def test_hard_sigmoid_gate_matches_keras2_definition(tmp_path, sigmoid_model, events):
    """gate="hard_sigmoid" must be Keras 2's clip(0.2 x + 0.5, 0, 1), not Keras 3's x/6."""
    hard = inference_model(recurrent_activation=keras2_hard_sigmoid)
    hard.set_weights(sigmoid_model.get_weights())
    path = tmp_path / "weights.weights.h5"
    sigmoid_model.save_weights(path)
    expected = keras_raw_outputs(hard, events)
    got = impsy_raw_outputs(path, events, gate="hard_sigmoid")
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    assert np.max(np.abs(got - keras_raw_outputs(sigmoid_model, events))) > 1e-3
