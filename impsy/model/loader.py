"""``load_model``: from a file name to a ready :class:`MDRNN`, never touching TensorFlow.

``.h5`` and ``.keras`` files are read with h5py and run by the NumPy engine;
``.tflite`` files are run by LiteRT. A ``.tflite`` that needs TensorFlow's
Flex ops (IMPSY's 2024 dim-2/dim-4 files) cannot run in LiteRT; then the
weights in a sibling ``.h5``/``.weights.h5``/``.keras`` of the same name
are run instead, with a warning. Unlike IMPSY, nothing is ever written back
over the user's files.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from impsy.model.errors import ModelError, ModelWarning
from impsy.model.gate import GATES, resolve_gate
from impsy.model.mdrnn import MDRNN
from impsy.model.weights import MDRNNWeights, check_finite

ENGINES = ("auto", "numpy", "litert")
WEIGHT_SUFFIXES = (".h5", ".keras")


def _read_weights(path: Path) -> MDRNNWeights:
    from impsy.model.formats import read_h5, read_keras  # h5py only when a file needs it

    return read_keras(path) if path.suffix.lower() == ".keras" else read_h5(path)


def sibling_weights(path: Path) -> Path | None:
    """The first of ``NAME.h5``, ``NAME.weights.h5``, ``NAME.keras`` next to ``NAME.tflite``."""
    for name in (f"{path.stem}.h5", f"{path.stem}.weights.h5", f"{path.stem}.keras"):
        candidate = path.with_name(name)
        if candidate.is_file():
            return candidate
    return None


def _numpy_model(
    path: Path,
    weights_path: Path,
    gate: str,
    seed: int | None,
    expected: tuple[int, int, int] | None = None,
) -> MDRNN:
    from impsy.model.numpy_engine import NumpyEngine

    weights = _read_weights(weights_path)
    check_finite(weights, str(weights_path))
    found = (weights.dimension, weights.units, weights.layers)
    if expected is not None and found != expected:
        raise ModelError(
            f"{weights_path} holds a model of dimension {found[0]}, {found[1]} units x "
            f"{found[2]} layers, but {path.name} is dimension {expected[0]}, {expected[1]} "
            f"units x {expected[2]} layers, so it cannot stand in for it"
        )
    chosen, reason = resolve_gate(gate, weights.provenance, str(weights_path))
    engine = NumpyEngine(weights, chosen)
    return MDRNN(engine, path, seed=seed, gate_reason=reason, weights_path=weights_path)


def _tflite_model(path: Path, engine: str, gate: str, seed: int | None) -> MDRNN:
    from impsy.model.litert_engine import FlexOpsRequired, LiteRTEngine

    if engine == "numpy":
        raise ModelError(
            f"{path}: the numpy engine runs .h5/.keras weights; load the model's .h5 or .keras "
            "file instead, or use engine 'litert' for a .tflite"
        )
    if gate not in ("auto", *GATES):
        raise ModelError(f"unknown gate {gate!r}: use 'auto', 'sigmoid' or 'hard_sigmoid'")
    try:
        litert = LiteRTEngine(path)
    except FlexOpsRequired as err:
        fallback = sibling_weights(path)
        if fallback is None:
            raise ModelError(
                f"{err}, and there is no {path.stem}.h5, .weights.h5 or .keras beside it to run "
                "instead: put the model's weights next to it, or reconvert it with builtin ops only"
            ) from None
        model = _numpy_model(path, fallback, gate, seed, expected=err.sizes)
        warnings.warn(
            f"{path.name} needs TensorFlow Flex ops that LiteRT cannot run; running the weights "
            f"in {fallback.name} with the numpy engine instead ({model.gate} gate)",
            ModelWarning,
            stacklevel=3,
        )
        return model
    if gate == "hard_sigmoid":
        raise ModelError(
            f"{path}: a .tflite runs the gate it was converted with ({litert.gate}); "
            "load the .h5 or .keras weights to choose the gate"
        )
    return MDRNN(litert, path, seed=seed, gate_reason="as converted")


def load_model(
    path: str | Path, engine: str = "auto", gate: str = "auto", seed: int | None = None
) -> MDRNN:
    """Load an MDRNN from a ``.tflite``, ``.keras`` or ``.h5`` file.

    ``engine``: ``"auto"`` (LiteRT for ``.tflite``, NumPy otherwise), ``"numpy"``
    or ``"litert"``. ``gate``: ``"auto"`` (see :mod:`impsy.model.gate`),
    ``"sigmoid"`` or ``"hard_sigmoid"``. ``seed`` seeds the sampling generator.
    Raises :class:`ModelError` for anything wrong with the file or the choices.
    """
    path = Path(path)
    if engine not in ENGINES:
        raise ModelError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        return _tflite_model(path, engine, gate, seed)
    if suffix in WEIGHT_SUFFIXES:
        if engine == "litert":
            raise ModelError(
                f"{path}: the litert engine runs .tflite files; use engine 'numpy' or 'auto'"
            )
        return _numpy_model(path, path, gate, seed)
    raise ModelError(
        f"{path}: unknown model file type {path.suffix or '(none)'}; "
        "impsy reads .tflite, .keras and .h5"
    )
