"""Existing model files to ``.tflite``, through impsy's own weight readers.

Keras 3 cannot open IMPSY's Keras 2 ``.h5`` or Keras 2.15 ``.keras`` files,
so the weights are read with :mod:`impsy.model.formats` (h5py only), put
into a fresh Keras 3 one-step model, and converted. The gate follows the
same rule as ``impsy run`` (:mod:`impsy.model.gate`): Keras 2 files get
Keras 2's ``hard_sigmoid`` (``clip(0.2x + 0.5, 0, 1)``, not Keras 3's), so
the ``.tflite`` computes what the numpy engine computes for the same file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from impsy.errors import ImpsyError


@dataclass(frozen=True)
class Converted:
    """What a conversion wrote: the file, its gate and sizes, and its size in bytes."""

    path: Path
    gate: str
    gate_reason: str
    dimension: int
    units: int
    layers: int
    mixtures: int
    bytes: int


def default_output(source: Path, optimise: bool) -> Path:
    """``NAME.tflite`` beside the source (``NAME-dynamic.tflite`` when quantised)."""
    stem = source.name.removesuffix(".weights.h5").rsplit(".", 1)[0]
    return source.with_name(f"{stem}{'-dynamic' if optimise else ''}.tflite")


def convert_file(
    source: Path, output: Path, gate: str = "auto", optimise: bool = False, force: bool = False
) -> Converted:
    """Convert ``source`` (``.keras``/``.h5``) to ``output``; never overwrites unless ``force``."""
    from impsy.model import ModelError
    from impsy.model.formats import read_h5, read_keras
    from impsy.model.gate import resolve_gate

    if output.exists() and not force:
        raise ImpsyError(f"{output} already exists; use --force to overwrite it")
    if source.suffix.lower() not in (".keras", ".h5"):
        raise ImpsyError(f"{source}: impsy converts .keras and .h5 files to .tflite")
    if not source.is_file():
        raise ImpsyError(f"{source}: no such model file")
    try:
        weights = read_keras(source) if source.suffix.lower() == ".keras" else read_h5(source)
        chosen, reason = resolve_gate(gate, weights.provenance, str(source))
    except ModelError as err:
        raise ImpsyError(str(err)) from None

    from impsy.training.network import build_inference_model, weights_from_mdrnn
    from impsy.training.tflite import convert_inference_model, write_tflite

    model = build_inference_model(
        weights.dimension, weights.units, weights.mixtures, weights.layers, gate=chosen
    )
    model.set_weights(weights_from_mdrnn(weights))
    content = convert_inference_model(
        model, weights.dimension, weights.units, weights.layers, optimise=optimise
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    write_tflite(content, output)
    return Converted(
        output,
        chosen,
        reason,
        weights.dimension,
        weights.units,
        weights.layers,
        weights.mixtures,
        len(content),
    )
