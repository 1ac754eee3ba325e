"""Which recurrent activation ("gate") to run a model's LSTM gates with.

Keras' LSTM default changed from ``hard_sigmoid`` (``clip(0.2 x + 0.5, 0, 1)``)
to ``sigmoid`` in Keras 2.3 / TensorFlow 2. IMPSY's 2019 weights were trained
with ``hard_sigmoid`` but IMPSY runs them with ``sigmoid``. On IMPSY's bundled
9-D dataset the bundled dim-9 weights score a mean NLL per step (model
space) of -9.82 with ``hard_sigmoid`` against +12.65 with ``sigmoid``, and
the Keras 2.15 ``.keras`` copy, whose config says ``sigmoid``, holds the
same weights and scores the same. So for anything written by Keras 2 the
config cannot be trusted and ``auto`` picks ``hard_sigmoid``; Keras 3 files
were trained as their config says (``sigmoid`` unless stated). ``.tflite``
files run whatever they were converted with.
"""

from __future__ import annotations

from impsy.model.errors import ModelError
from impsy.model.weights import Provenance

GATES = ("sigmoid", "hard_sigmoid")


def auto_gate(provenance: Provenance, source: str) -> tuple[str, str]:
    """The gate a file was most likely trained with, and a few words saying why."""
    if provenance.keras_major == 2 or provenance.tf_names:
        version = provenance.keras_version or "2 (':0' weight names)"
        return "hard_sigmoid", f"auto: written by Keras {version}"
    claimed = provenance.recurrent_activation
    if claimed is None or claimed == "sigmoid":
        return "sigmoid", "auto: Keras 3"
    raise ModelError(
        f"{source}: its LSTM uses recurrent activation {claimed!r}; impsy runs 'sigmoid' "
        "or Keras 2's 'hard_sigmoid' (choose one with gate=...)"
    )


def resolve_gate(requested: str, provenance: Provenance, source: str) -> tuple[str, str]:
    """Apply ``gate="auto"`` or check an explicit choice; returns (gate, reason)."""
    if requested == "auto":
        return auto_gate(provenance, source)
    if requested in GATES:
        return requested, "as requested"
    raise ModelError(f"unknown gate {requested!r}: use 'auto', 'sigmoid' or 'hard_sigmoid'")
