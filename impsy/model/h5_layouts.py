"""Finding the LSTM and MDN arrays inside the HDF5 layouts Keras has written.

Two layouts exist:

* **Legacy** (Keras 2 ``.h5`` weights-only or full-model, and Keras 3's
  ``model.save("x.h5")``): a group per layer, listed in order by the
  ``layer_names`` attribute, each naming its arrays in ``weight_names``, e.g.
  ``lstm0/kernel:0`` or ``lstm_0/lstm_cell/recurrent_kernel``. Full-model
  files put this under ``model_weights``.
* **Saving-lib** (the ``model.weights.h5`` inside every ``.keras`` zip since
  Keras 2.13, and Keras 3 ``.weights.h5``): ``layers/<class>[_n]/.../vars/<i>``,
  where the suffix ``n`` gives the order among layers of one class.

Both are reduced to an ordered list of layers, each a list of
``(name, array)``; :func:`classify_layers` then recognises LSTM and MDN
layers by their names and shapes rather than by any one tool's naming.
"""

from __future__ import annotations

import re

import h5py
import numpy as np

from impsy.model.errors import ModelError

NamedArrays = list[tuple[str, np.ndarray]]
Layer = tuple[str, NamedArrays]


def text(value: object) -> str:
    """An HDF5 attribute as ``str`` (h5py returns bytes or str depending on the writer)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _text_list(value: object) -> list[str]:
    return [text(item) for item in np.asarray(value).ravel()]


def legacy_layers(group: h5py.Group) -> list[Layer]:
    """Layers in ``layer_names`` order, each with its arrays in ``weight_names`` order."""
    layers: list[Layer] = []
    for layer_name in _text_list(group.attrs["layer_names"]):
        layer_group = group[layer_name]
        names = _text_list(layer_group.attrs.get("weight_names", []))
        arrays = [(name, np.asarray(layer_group[name][()])) for name in names]
        if arrays:
            layers.append((layer_name, arrays))
    return layers


def _natural_key(name: str) -> tuple[str, int]:
    """``lstm`` < ``lstm_1`` < ``lstm_2`` < ``lstm_10``: saving-lib numbers repeats of a class."""
    match = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
    assert match is not None
    return match.group(1), int(match.group(2) or 0)


def saving_lib_layers(group: h5py.Group) -> list[Layer]:
    """Layers under ``layers/`` in model order, each with every array below it, path-sorted."""
    layers: list[Layer] = []
    for layer_name in sorted(group["layers"].keys(), key=_natural_key):
        arrays: NamedArrays = []

        def collect(path: str, node: object, arrays: NamedArrays = arrays) -> None:
            if isinstance(node, h5py.Dataset):
                arrays.append((path, np.asarray(node[()])))

        group["layers"][layer_name].visititems(collect)
        arrays.sort(key=lambda item: [_natural_key(part) for part in item[0].split("/")])
        if arrays:
            layers.append((layer_name, arrays))
    return layers


def _leaf(name: str) -> str:
    """The last path segment without a TF ``:0`` suffix."""
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


def _lstm_arrays(arrays: NamedArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(kernel, recurrent_kernel, bias) if these look like one LSTM's arrays, else None.

    Named arrays are matched by name; saving-lib ``vars/0..2`` keep Keras'
    fixed order kernel, recurrent kernel, bias.
    """
    if len(arrays) != 3:
        return None
    by_leaf = {_leaf(name): array for name, array in arrays}
    if {"kernel", "recurrent_kernel", "bias"} <= by_leaf.keys():
        triple = (by_leaf["kernel"], by_leaf["recurrent_kernel"], by_leaf["bias"])
    elif all(re.search(r"(^|/)vars/\d+$", name) for name, _ in arrays):
        triple = (arrays[0][1], arrays[1][1], arrays[2][1])
    else:
        return None
    kernel, recurrent, bias = triple
    if kernel.ndim != 2 or recurrent.ndim != 2 or bias.ndim != 1:
        return None
    units = recurrent.shape[0]
    if recurrent.shape[1] != 4 * units or kernel.shape[1] != 4 * units:
        return None
    return kernel, recurrent, bias


def _dense_part(name: str) -> str | None:
    """Which MDN head (``mu``, ``sigma``, ``pi``) an array belongs to, from its path."""
    parts = [part for part in name.split("/")[:-1] if part != "vars"]
    owner = parts[-1].lower() if parts else ""
    for head in ("sigma", "mu", "pi"):
        if head in owner:
            return head
    return None


def _is_kernel(name: str, array: np.ndarray) -> bool:
    leaf = _leaf(name)
    return leaf == "kernel" or (leaf == "0" and array.ndim == 2)


def _mdn_arrays(arrays: NamedArrays) -> tuple[np.ndarray, ...] | None:
    """(mu_k, mu_b, sigma_k, sigma_b, pi_k, pi_b) if these are an MDN layer's arrays."""
    if len(arrays) != 6:
        return None
    found: dict[tuple[str, str], np.ndarray] = {}
    for name, array in arrays:
        head = _dense_part(name)
        if head is None:
            return None
        role = "kernel" if _is_kernel(name, array) else "bias"
        found[(head, role)] = array
    order = [(head, role) for head in ("mu", "sigma", "pi") for role in ("kernel", "bias")]
    if set(found) != set(order):
        return None
    return tuple(found[key] for key in order)


def describe_layers(layers: list[Layer]) -> str:
    """A short inventory of what a file holds, for error messages."""
    parts = []
    for layer_name, arrays in layers:
        shapes = ", ".join(f"{name} {tuple(array.shape)}" for name, array in arrays)
        parts.append(f"{layer_name}: [{shapes}]")
    return "; ".join(parts) if parts else "no weight arrays"


def classify_layers(
    layers: list[Layer], source: str
) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], tuple[np.ndarray, ...]]:
    """Split layers into the LSTM stack (in order) and the one MDN head.

    Any other layer with weights means an architecture impsy does not run,
    and the message lists everything found so the user can see why.
    """
    lstm: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    mdn: tuple[np.ndarray, ...] | None = None
    for _layer_name, arrays in layers:
        as_lstm = _lstm_arrays(arrays)
        if as_lstm is not None and mdn is None:
            lstm.append(as_lstm)
            continue
        as_mdn = _mdn_arrays(arrays)
        if as_mdn is not None and mdn is None and lstm:
            mdn = as_mdn
            continue
        raise ModelError(
            f"{source}: not an IMPSY MDRNN (LSTM layers followed by an MDN layer); "
            f"found {describe_layers(layers)}"
        )
    if not lstm or mdn is None:
        raise ModelError(
            f"{source}: not an IMPSY MDRNN (LSTM layers followed by an MDN layer); "
            f"found {describe_layers(layers)}"
        )
    return lstm, mdn
