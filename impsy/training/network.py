"""The MDRNN as Keras 3 models: a sequence model to train, a one-step model to run.

The layers are IMPSY's (``lstm_{i}`` layers of ``units`` cells, then
keras-mdn-layer's ``MDN`` named ``mdn_outputs``), so weights move between
the two models and between impsy and IMPSY by position. The inference model
is unrolled, batch 1, sequence 1, with the LSTM states as named inputs and
outputs: that shape converts to a ``.tflite`` of builtin ops only (no
TensorList, hence no Flex delegate) and is what IMPSY's runtime expects.
"""

from __future__ import annotations

from typing import Any

SCALE = 10
"""IMPSY multiplies data by 10 before the network; part of the file format (``-scale10``)."""


def model_name(dimension: int, layers: int, units: int, mixtures: int) -> str:
    """IMPSY's file stem, e.g. ``musicMDRNN-dim9-layers2-units64-mixtures5-scale10``."""
    return f"musicMDRNN-dim{dimension}-layers{layers}-units{units}-mixtures{mixtures}-scale{SCALE}"


def keras2_hard_sigmoid(x: Any) -> Any:
    """Keras 2's ``hard_sigmoid``, ``clip(0.2 x + 0.5, 0, 1)``.

    Keras 3's ``hard_sigmoid`` is ``relu6(x + 3) / 6`` (slope 1/6), so IMPSY's
    2019 weights, trained with Keras 2's, need this exact function to give
    the outputs they were trained to give.
    """
    from keras import ops

    return ops.clip(0.2 * x + 0.5, 0.0, 1.0)


def _recurrent_activation(gate: str) -> Any:
    if gate == "sigmoid":
        return "sigmoid"
    if gate == "hard_sigmoid":
        return keras2_hard_sigmoid
    raise ValueError(f"unknown gate {gate!r}: use 'sigmoid' or 'hard_sigmoid'")


def build_training_model(
    dimension: int,
    units: int,
    mixtures: int,
    layers: int,
    sequence_length: int | None = None,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
) -> Any:
    """The model ``fit`` trains: ``(batch, T, D)`` in, ``(batch, T, K*(2D+1))`` out.

    ``sequence_length=None`` leaves T free, so one model trains on windows
    and can also be evaluated on whole performances. ``dropout`` and
    ``recurrent_dropout`` act only while training; they add no weights.
    """
    import keras
    import keras_mdn_layer as mdn

    inputs = keras.Input(shape=(sequence_length, dimension), name="inputs")
    x = inputs
    for layer in range(layers):
        x = keras.layers.LSTM(
            units,
            return_sequences=True,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            name=f"lstm_{layer}",
        )(x)
    # The MDN's Dense layers act on the last axis of (batch, T, units) directly. IMPSY wraps
    # it in TimeDistributed, which holds no weights (so files and checkpoints are the same)
    # but which Keras 3's TensorFlow backend traces once per time step: the first epoch
    # and every new performance length cost seconds per hundred steps (a 300-step window:
    # 38 s to trace against 5 s bare).
    outputs = mdn.MDN(dimension, mixtures, name="mdn_outputs")(x)
    return keras.Model(inputs, outputs, name=model_name(dimension, layers, units, mixtures))


def build_inference_model(
    dimension: int, units: int, mixtures: int, layers: int, gate: str = "sigmoid"
) -> Any:
    """One step: ``[inputs (1,1,D), state_h_0, state_c_0, ...]`` -> ``[mdn, h_0, c_0, ...]``.

    ``gate`` picks the LSTM's recurrent activation: ``sigmoid`` for models
    trained here, ``hard_sigmoid`` (Keras 2's) for IMPSY's 2019 weights.
    """
    import keras
    import keras_mdn_layer as mdn

    activation = _recurrent_activation(gate)
    inputs = keras.Input(shape=(1, dimension), batch_size=1, name="inputs")
    states_in: list[Any] = []
    states_out: list[Any] = []
    x = inputs
    for layer in range(layers):
        h = keras.Input(shape=(units,), batch_size=1, name=f"state_h_{layer}")
        c = keras.Input(shape=(units,), batch_size=1, name=f"state_c_{layer}")
        states_in += [h, c]
        x, h_out, c_out = keras.layers.LSTM(
            units,
            recurrent_activation=activation,
            return_sequences=layer < layers - 1,
            return_state=True,
            unroll=True,
            name=f"lstm_{layer}",
        )(x, initial_state=[h, c])
        states_out += [h_out, c_out]
    output = mdn.MDN(dimension, mixtures, name="mdn_outputs")(x)
    return keras.Model(
        [inputs, *states_in],
        [output, *states_out],
        name=model_name(dimension, layers, units, mixtures),
    )


def mixture_loss(dimension: int, mixtures: int) -> Any:
    """keras-mdn-layer's mean NLL, the loss IMPSY trains with (model space)."""
    import keras_mdn_layer as mdn

    return mdn.get_mixture_loss_func(dimension, mixtures)


def weights_from_mdrnn(weights: Any) -> list[Any]:
    """Keras ``set_weights`` order from an :class:`impsy.model.weights.MDRNNWeights`.

    Lets IMPSY's Keras 2 files, which Keras 3 cannot open, be rebuilt as
    Keras 3 models from the arrays impsy's own readers extract.
    """
    arrays: list[Any] = []
    for layer in weights.lstm:
        arrays += [layer.kernel, layer.recurrent_kernel, layer.bias]
    m = weights.mdn
    arrays += [m.mu_kernel, m.mu_bias, m.sigma_kernel, m.sigma_bias, m.pi_kernel, m.pi_bias]
    return arrays
