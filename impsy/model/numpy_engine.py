"""A stacked-LSTM + MDN forward step in plain NumPy, fast at batch size one.

At one event per call the cost is per-call overhead, not arithmetic, so the
step is arranged to make as few NumPy calls as possible, all into buffers
allocated once:

* **One state buffer** holds ``[x, 1, h_0, 1, h_1, 1, ..., h_{L-1}, 1]``.
  Layer ``l`` reads the contiguous slice ``[input, 1, h_l]`` and the MDN
  reads ``[h_{L-1}, 1]``, so there is no concatenation per step and each
  bias rides along in the matmul as the row multiplied by the constant 1.
  Layers run in order, so a layer reads its own previous ``h`` before
  writing the new one into the slot the next layer reads.
* **Gates reordered** to ``[o, i, f, g]`` and followed by ``c``, so
  ``[i, f] * [g, c]`` is one multiply and the new ``c`` one add.
* **Input scaling folded in**: layer 0's kernel is multiplied by ``SCALE``
  once, so the unscaled input is copied straight into the buffer.
* **Sigmoid through tanh**: ``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5``. The
  ``/2`` is folded into the weights, so one ``tanh`` covers all four gates.
  For Keras 2's ``hard_sigmoid`` (``clip(0.2 x + 0.5, 0, 1)``) the ``0.2``
  and ``0.5`` are folded in instead and the gates are clipped.

Arithmetic is float32, as in Keras and LiteRT, which keeps the raw outputs
within about 1e-6 of theirs.
"""

from __future__ import annotations

import numpy as np

from impsy.model.gate import GATES
from impsy.model.params import SCALE
from impsy.model.weights import MDRNNWeights

_SIGMA_EPSILON = np.float32(1e-7)  # keras-mdn-layer's sigma = elu(x) + 1 + 1e-7


def _gate_columns(units: int) -> np.ndarray:
    """Column order taking Keras' [i, f, c, o] blocks to this engine's [o, i, f, c]."""
    blocks = np.arange(4 * units).reshape(4, units)
    return np.concatenate([blocks[3], blocks[0], blocks[1], blocks[2]])


def _fused_matrix(
    kernel: np.ndarray, bias: np.ndarray, recurrent: np.ndarray, gate: str, input_scale: float
) -> np.ndarray:
    """``[kernel * input_scale; bias; recurrent]`` with gates reordered and the gate's affine
    part folded in."""
    units = recurrent.shape[0]
    fused = np.concatenate([kernel * input_scale, bias[None, :], recurrent], axis=0)
    fused = fused.astype(np.float64)
    fused = fused[:, _gate_columns(units)]
    sig = slice(0, 3 * units)  # o, i, f
    if gate == "sigmoid":
        fused[:, sig] *= 0.5
    else:
        fused[:, sig] *= 0.2
        fused[kernel.shape[0], sig] += 0.5  # the bias row
    return np.ascontiguousarray(fused, dtype=np.float32)


class NumpyEngine:
    """Runs one MDRNN step at a time and keeps the LSTM state between steps."""

    name = "numpy"

    def __init__(self, weights: MDRNNWeights, gate: str = "sigmoid") -> None:
        if gate not in GATES:
            raise ValueError(f"gate must be one of {GATES}, not {gate!r}")
        self.gate = gate
        self.dimension = weights.dimension
        self.units = weights.units
        self.layers = weights.layers
        self.mixtures = weights.mixtures
        self.tensor_map = None
        d, u = self.dimension, self.units
        kd = self.mixtures * d
        self._sigma = slice(kd, 2 * kd)

        self._state = np.zeros(d + 1 + self.layers * (u + 1), dtype=np.float32)
        self._x = self._state[:d]
        self._h_offsets = [d + 1 + layer * (u + 1) for layer in range(self.layers)]
        self._plan = []
        for layer, lw in enumerate(weights.lstm):
            start = 0 if layer == 0 else self._h_offsets[layer - 1]
            h_at = self._h_offsets[layer]
            scale = SCALE if layer == 0 else 1.0
            matrix = _fused_matrix(lw.kernel, lw.bias, lw.recurrent_kernel, gate, scale)
            work = np.zeros(5 * u, dtype=np.float32)  # [o, i, f, g, c]
            product = np.empty(2 * u, dtype=np.float32)
            self._plan.append(
                (
                    self._state[start : h_at + u],  # [input, 1, h_l]
                    matrix,
                    work[: 4 * u],  # gate pre-activations
                    work[: 3 * u],  # o, i, f
                    work[3 * u : 4 * u],  # g
                    work[u : 3 * u],  # i, f
                    work[3 * u : 5 * u],  # g, c
                    product,
                    product[:u],
                    product[u:],
                    work[4 * u :],  # c
                    work[:u],  # o
                    np.empty(u, dtype=np.float32),  # tanh(c)
                    self._state[h_at : h_at + u],  # h_l
                )
            )
            self._state[h_at + u] = 1.0  # the constant that multiplies the bias row
        self._state[d] = 1.0
        self._works = [plan[10] for plan in self._plan]
        last = self._h_offsets[-1]
        self._mdn_in = self._state[last : last + u + 1]
        m = weights.mdn
        mdn_kernel = np.concatenate([m.mu_kernel, m.sigma_kernel, m.pi_kernel], axis=1)
        mdn_bias = np.concatenate([m.mu_bias, m.sigma_bias, m.pi_bias])
        self._mdn = np.ascontiguousarray(np.concatenate([mdn_kernel, mdn_bias[None, :]], axis=0))
        self._sigma_tmp = np.empty(kd, dtype=np.float32)
        self._half = np.array(0.5, dtype=np.float32)
        self._zero = np.array(0.0, dtype=np.float32)
        self._one = np.array(1.0, dtype=np.float32)

    def reset(self) -> None:
        """Zero every layer's h and c (the constant-1 slots stay)."""
        for offset in self._h_offsets:
            self._state[offset : offset + self.units] = 0.0
        for c in self._works:
            c[:] = 0.0

    def state(self) -> list[np.ndarray]:
        """Copies of ``[h_0, c_0, h_1, c_1, ...]`` (``set_state`` puts them back)."""
        out = []
        for offset, c in zip(self._h_offsets, self._works, strict=True):
            out += [self._state[offset : offset + self.units].copy(), c.copy()]
        return out

    def set_state(self, state: list[np.ndarray]) -> None:
        """Put back what ``state`` returned: the next step continues from there."""
        if len(state) != 2 * self.layers:
            raise ValueError(f"expected {2 * self.layers} state arrays, got {len(state)}")
        for layer, (offset, c) in enumerate(zip(self._h_offsets, self._works, strict=True)):
            self._state[offset : offset + self.units] = state[2 * layer]
            c[:] = state[2 * layer + 1]

    def step(self, x: np.ndarray) -> np.ndarray:
        """Advance one event; ``x`` is unscaled ``[dt, x1..xn]``. Returns the raw MDN output."""
        multiply, add, tanh = np.multiply, np.add, np.tanh
        self._x[:] = x  # SCALE is folded into layer 0's kernel
        if self.gate == "sigmoid":
            half = self._half
            for inp, matrix, z, ifo, _g, i_f, g_c, prod, p_i, p_f, c, o, tc, h in self._plan:
                np.dot(inp, matrix, z)
                tanh(z, z)
                multiply(ifo, half, ifo)
                add(ifo, half, ifo)
                multiply(i_f, g_c, prod)
                add(p_i, p_f, c)
                tanh(c, tc)
                multiply(o, tc, h)
        else:
            zero, one, maximum, minimum = self._zero, self._one, np.maximum, np.minimum
            for inp, matrix, z, ifo, g, i_f, g_c, prod, p_i, p_f, c, o, tc, h in self._plan:
                np.dot(inp, matrix, z)
                maximum(ifo, zero, out=ifo)
                minimum(ifo, one, out=ifo)
                tanh(g, g)
                multiply(i_f, g_c, prod)
                add(p_i, p_f, c)
                tanh(c, tc)
                multiply(o, tc, h)
        raw = np.dot(self._mdn_in, self._mdn)
        # sigma = elu(s) + 1 + eps = max(s, 0) + exp(min(s, 0)) + eps
        sigma = raw[self._sigma]
        tmp = self._sigma_tmp
        np.minimum(sigma, self._zero, out=tmp)
        np.exp(tmp, tmp)
        np.maximum(sigma, self._zero, out=sigma)
        add(sigma, tmp, sigma)
        add(sigma, _SIGMA_EPSILON, sigma)
        return raw
