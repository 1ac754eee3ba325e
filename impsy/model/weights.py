"""The weights of an MDRNN, independent of the file they came from.

Every supported file (Keras 2 ``.h5``, Keras 2.15 and Keras 3 ``.keras``,
Keras 3 ``.weights.h5``) reduces to the same arrays: per LSTM layer a kernel
``(in, 4U)``, a recurrent kernel ``(U, 4U)`` and a bias ``(4U,)`` with gates
in Keras order i, f, c, o; and the MDN's three dense layers. The sizes are
read off these shapes, so nothing about a model has to be configured by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from impsy.model.errors import ModelError


@dataclass(frozen=True)
class LSTMWeights:
    """One Keras LSTM layer: gates stacked i, f, c (candidate), o along the last axis."""

    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class MDNWeights:
    """The MDN head: three dense layers applied to the last LSTM's output."""

    mu_kernel: np.ndarray
    mu_bias: np.ndarray
    sigma_kernel: np.ndarray
    sigma_bias: np.ndarray
    pi_kernel: np.ndarray
    pi_bias: np.ndarray


@dataclass(frozen=True)
class Provenance:
    """What a file says about where it came from; the gate rule is decided from this.

    ``keras_version`` is ``None`` when the file does not record one.
    ``recurrent_activation`` is what a stored model config claims (``None``
    for weights-only files), which is not always what the weights were trained with.
    ``tf_names`` is true when array names carry TensorFlow's ``:0`` suffix, a
    mark of Keras 2 even where no version was recorded.
    """

    layout: str
    keras_version: str | None = None
    recurrent_activation: str | None = None
    tf_names: bool = False

    @property
    def keras_major(self) -> int | None:
        """The major Keras version (2 or 3), or ``None`` if unrecorded."""
        if not self.keras_version:
            return None
        head = self.keras_version.split(".", 1)[0]
        # ASCII digits only, and few of them: str.isdigit() also accepts "²" and "٣", and
        # int() refuses more than 4300 digits; a damaged file may hold either.
        if not (head.isascii() and head.isdigit() and len(head) <= 9):
            return None
        return int(head)


@dataclass(frozen=True)
class MDRNNWeights:
    """All weights of a stacked-LSTM MDRNN, with its sizes read from their shapes."""

    lstm: tuple[LSTMWeights, ...]
    mdn: MDNWeights
    provenance: Provenance = field(default_factory=lambda: Provenance("unknown"))

    @property
    def dimension(self) -> int:
        return int(self.lstm[0].kernel.shape[0])

    @property
    def units(self) -> int:
        return int(self.lstm[0].recurrent_kernel.shape[0])

    @property
    def layers(self) -> int:
        return len(self.lstm)

    @property
    def mixtures(self) -> int:
        return int(self.mdn.pi_kernel.shape[1])


def build_weights(
    lstm: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    mdn: tuple[np.ndarray, ...],
    provenance: Provenance,
    source: str,
) -> MDRNNWeights:
    """Check the arrays fit together as an IMPSY MDRNN and wrap them.

    ``source`` names the file in error messages. Every shape is checked here,
    once, so the engines can assume a consistent model.
    """
    if not lstm:
        raise ModelError(f"{source}: no LSTM layers found")
    layers: list[LSTMWeights] = []
    units = int(np.shape(lstm[0][1])[0])
    if units < 1:
        raise ModelError(f"{source}: its LSTM has 0 units; a model needs at least one")
    expected_in = None
    for index, (kernel, recurrent, bias) in enumerate(lstm):
        kernel = np.asarray(kernel, dtype=np.float32)
        recurrent = np.asarray(recurrent, dtype=np.float32)
        bias = np.asarray(bias, dtype=np.float32)
        ok = (
            kernel.ndim == 2
            and recurrent.shape == (units, 4 * units)
            and kernel.shape[1] == 4 * units
            and bias.shape == (4 * units,)
            and (expected_in is None or kernel.shape[0] == expected_in)
        )
        if not ok:
            raise ModelError(
                f"{source}: LSTM layer {index} has kernel {kernel.shape}, recurrent kernel "
                f"{recurrent.shape} and bias {bias.shape}; expected (in, {4 * units}), "
                f"({units}, {4 * units}) and ({4 * units},) with every layer {units} units"
            )
        expected_in = units
        layers.append(LSTMWeights(kernel, recurrent, bias))

    arrays = [np.asarray(a, dtype=np.float32) for a in mdn]
    mu_k, mu_b, sigma_k, sigma_b, pi_k, pi_b = arrays
    mixtures = pi_k.shape[1] if pi_k.ndim == 2 else 0
    dimension = layers[0].kernel.shape[0]
    width = mixtures * dimension
    ok = (
        mixtures > 0
        and pi_k.shape == (units, mixtures)
        and pi_b.shape == (mixtures,)
        and mu_k.shape == (units, width)
        and mu_b.shape == (width,)
        and sigma_k.shape == (units, width)
        and sigma_b.shape == (width,)
    )
    if not ok:
        raise ModelError(
            f"{source}: the MDN layer has mu {mu_k.shape}, sigma {sigma_k.shape} and pi "
            f"{pi_k.shape} kernels, which do not fit a {units}-unit LSTM with input "
            f"dimension {dimension} (expected ({units}, K*{dimension}) twice and ({units}, K))"
        )
    if dimension < 2:
        raise ModelError(f"{source}: model input dimension {dimension}; expected 2 or more")
    return MDRNNWeights(tuple(layers), MDNWeights(*arrays), provenance)


def check_finite(weights: MDRNNWeights, source: str) -> None:
    """Refuse a model file with NaN or infinite weights: it could only ever predict NaN."""
    named = [
        (f"LSTM layer {i}", array)
        for i, layer in enumerate(weights.lstm)
        for array in (layer.kernel, layer.recurrent_kernel, layer.bias)
    ]
    mdn = weights.mdn
    named += [("the MDN layer", getattr(mdn, name)) for name in mdn.__dataclass_fields__]
    for where, array in named:
        if not np.all(np.isfinite(array)):
            raise ModelError(
                f"{source}: {where} has NaN or infinite weights (did training diverge?); "
                "use an earlier checkpoint or train it again"
            )
