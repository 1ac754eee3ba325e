"""Reading MDRNN weights from ``.h5`` and ``.keras`` files without TensorFlow.

A ``.keras`` file is a zip holding ``config.json``, ``metadata.json`` and
``model.weights.h5``; the weights are opened from memory with h5py, so
nothing is unpacked to disk. An ``.h5`` is opened directly and may be in
either layout described in :mod:`impsy.model.h5_layouts`. Each reader also
records the file's :class:`Provenance`, which the gate rule needs.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import h5py

from impsy.model.errors import ModelError
from impsy.model.h5_layouts import classify_layers, legacy_layers, saving_lib_layers, text
from impsy.model.weights import MDRNNWeights, Provenance, build_weights


def _recurrent_activation(config: Any) -> str | None:
    """The first LSTM's ``recurrent_activation`` in a Keras model config, if any."""
    if isinstance(config, dict):
        if config.get("class_name") == "LSTM":
            value = config.get("config", {}).get("recurrent_activation")
            if isinstance(value, dict):  # Keras 3 may serialise activations as objects
                value = value.get("config", value.get("class_name"))
            return value if isinstance(value, str) else None
        for child in config.values():
            found = _recurrent_activation(child)
            if found is not None:
                return found
    elif isinstance(config, list):
        for child in config:
            found = _recurrent_activation(child)
            if found is not None:
                return found
    return None


def _weights_from_h5(handle: h5py.File, source: str, provenance: Provenance) -> MDRNNWeights:
    """Pick the layout present in an open HDF5 file and extract the weights."""
    if "layer_names" in handle.attrs:
        layers = legacy_layers(handle)
    elif "model_weights" in handle and "layer_names" in handle["model_weights"].attrs:
        layers = legacy_layers(handle["model_weights"])
    elif "layers" in handle:
        layers = saving_lib_layers(handle)
    else:
        raise ModelError(
            f"{source}: HDF5 file without Keras weights (top-level entries: "
            f"{sorted(handle.keys()) or 'none'}; "
            f"attributes: {sorted(handle.attrs.keys()) or 'none'})"
        )
    lstm, mdn = classify_layers(layers, source)
    if any(name.endswith(":0") for _, arrays in layers for name, _ in arrays):
        provenance = replace(provenance, tf_names=True)
    return build_weights(lstm, mdn, provenance, source)


def read_h5(path: Path) -> MDRNNWeights:
    """Weights from a Keras ``.h5`` (legacy weights-only or full model) or ``.weights.h5``."""
    source = str(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise ModelError(f"{source}: not a readable HDF5 file ({err})") from None
    with handle:
        try:
            version = handle.attrs.get("keras_version")
            if version is None and "model_weights" in handle:
                version = handle["model_weights"].attrs.get("keras_version")
            activation = None
            if "model_config" in handle.attrs:
                activation = _recurrent_activation(json.loads(text(handle.attrs["model_config"])))
            layout = "legacy-full" if "model_weights" in handle else "legacy-weights"
            if "layers" in handle and "layer_names" not in handle.attrs:
                layout = "saving-lib"
            provenance = Provenance(
                layout=layout,
                keras_version=None if version is None else text(version),
                recurrent_activation=activation,
            )
            return _weights_from_h5(handle, source, provenance)
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as err:
            # RuntimeError: HDF5 on a damaged file ("ran off end of input buffer").
            raise ModelError(f"{source}: could not read the weights ({err})") from None


def read_keras(path: Path) -> MDRNNWeights:
    """Weights from a ``.keras`` zip, as written by Keras 2.13+ or Keras 3."""
    source = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "model.weights.h5" not in names:
                raise ModelError(
                    f"{source}: a zip without model.weights.h5 (contains {sorted(names)})"
                )
            weights_bytes = archive.read("model.weights.h5")
            config = json.loads(archive.read("config.json")) if "config.json" in names else {}
            metadata = json.loads(archive.read("metadata.json")) if "metadata.json" in names else {}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ModelError(f"{source}: not a readable .keras zip ({err})") from None
    provenance = Provenance(
        layout="keras-zip",
        keras_version=metadata.get("keras_version"),
        recurrent_activation=_recurrent_activation(config),
    )
    try:
        with h5py.File(io.BytesIO(weights_bytes), "r") as handle:
            return _weights_from_h5(handle, source, provenance)
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as err:
        raise ModelError(f"{source}: could not read model.weights.h5 ({err})") from None
