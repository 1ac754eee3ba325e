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

A model file may come from anyone (the web UI accepts uploads), so every
array is read through a :class:`Budget`: only plain numeric arrays stored in
the file itself (no links or storage in other files, which could name a
FIFO or a device and stall the read), at most :data:`MAX_ARRAYS` of them and
:data:`MAX_ARRAY_BYTES` in all, counted from the declared shapes and chunk
sizes *before* reading, since a few bytes of HDF5 can declare gigabytes
(unwritten storage reads as fill values; a compressed chunk is inflated whole).
"""

from __future__ import annotations

import math
import re

import h5py
import numpy as np

from impsy.model.errors import ModelError
from impsy.model.limits import MAX_ARRAY_BYTES, MAX_ARRAYS, MAX_INVENTORY, MAX_OBJECTS

NamedArrays = list[tuple[str, np.ndarray]]
Layer = tuple[str, NamedArrays]

NUMERIC = "fiu"
"""Array kinds that can be weights: float, signed and unsigned integer."""


def text(value: object) -> str:
    """An HDF5 attribute as ``str`` (h5py returns bytes or str depending on the writer)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _text_list(value: object) -> list[str]:
    return [text(item) for item in np.asarray(value).ravel()]


class Budget:
    """What one file may still make impsy read; every array goes through :meth:`read`.

    ``source`` names the file in error messages.
    """

    def __init__(
        self, source: str, max_bytes: int = MAX_ARRAY_BYTES, max_arrays: int = MAX_ARRAYS
    ) -> None:
        self.source = source
        self.bytes_left = max_bytes
        self.arrays_left = max_arrays
        self.max_bytes = max_bytes
        self.max_arrays = max_arrays

    def read(self, name: str, node: object) -> np.ndarray:
        """The numeric array ``node`` (``name`` is its path, for messages), refused before
        reading if it is odd or too big."""
        where = f"{self.source}: array {name!r}"
        if not isinstance(node, h5py.Dataset):
            raise ModelError(f"{where} is a {type(node).__name__}, not an array")
        if node.dtype.kind not in NUMERIC:
            raise ModelError(
                f"{where} holds {node.dtype} values; weights are real numbers (float or integer)"
            )
        if node.shape is None:
            raise ModelError(f"{where} holds no data (an empty dataspace)")
        if node.is_virtual or node.external:
            raise ModelError(
                f"{where} is stored in other files; impsy only reads weights stored in the model "
                "file itself"
            )
        itemsize = node.dtype.itemsize
        size = math.prod(node.shape) * itemsize
        chunk = math.prod(node.chunks) * itemsize if node.chunks else 0
        self.arrays_left -= 1
        self.bytes_left -= size
        if self.arrays_left < 0:
            raise ModelError(
                f"{self.source}: more than {self.max_arrays} arrays to read; an IMPSY model "
                "has a few dozen at most"
            )
        limit = f"impsy's limit of {self.max_bytes // (1024 * 1024)} MiB (an xl model has 21 MB)"
        if chunk > self.max_bytes:
            raise ModelError(f"{where} is stored in chunks of {_mib(chunk)}, past {limit}")
        if self.bytes_left < 0:
            raise ModelError(
                f"{where} of shape {node.shape} ({_mib(size)}) takes the weights past {limit}"
            )
        return np.asarray(node[()])


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def member(group: h5py.Group, path: str, source: str) -> h5py.Group | h5py.Dataset:
    """``group[path]``, following only hard links (never soft or external ones).

    An external link could name any file on the machine (a FIFO stalls the
    read for ever); soft links are never written by Keras. Raises
    ``ModelError`` for a missing entry or any other kind of link.
    """
    node: object = group
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if not isinstance(node, h5py.Group):
            raise ModelError(f"{source}: {path!r} goes through an array, not a group")
        link = node.get(part, getlink=True)
        if link is None:
            raise ModelError(f"{source}: no {path!r} in the HDF5 file")
        if not isinstance(link, h5py.HardLink):
            kind = "an external link" if isinstance(link, h5py.ExternalLink) else "a soft link"
            raise ModelError(
                f"{source}: {path!r} is {kind}; impsy only reads weights stored in the model "
                "file itself"
            )
        node = node[part]
    if not isinstance(node, h5py.Group | h5py.Dataset):
        raise ModelError(f"{source}: {path!r} is neither a group nor an array")
    return node


def has(group: h5py.Group, name: str) -> bool:
    """Whether ``group`` has a link called ``name`` (without following it anywhere)."""
    return group.get(name, getlink=True) is not None


def legacy_layers(group: h5py.Group, budget: Budget) -> list[Layer]:
    """Layers in ``layer_names`` order, each with its arrays in ``weight_names`` order."""
    source = budget.source
    layer_names = _text_list(group.attrs["layer_names"])
    if len(layer_names) > MAX_OBJECTS:
        raise ModelError(f"{source}: {len(layer_names)} layer names; expected a few")
    layers: list[Layer] = []
    for layer_name in layer_names:
        layer_group = member(group, layer_name, source)
        names = _text_list(layer_group.attrs.get("weight_names", []))
        arrays = [(name, budget.read(name, member(layer_group, name, source))) for name in names]
        if arrays:
            layers.append((layer_name, arrays))
    return layers


def _natural_key(name: str) -> tuple[str, int]:
    """``lstm`` < ``lstm_1`` < ``lstm_2`` < ``lstm_10``: saving-lib numbers repeats of a class.

    Any name has a key (``re.DOTALL``: an HDF5 name may hold a line break).
    """
    match = re.fullmatch(r"(.*?)(?:_([0-9]{1,9}))?", name, re.DOTALL)
    if match is None:  # cannot happen: the pattern matches every string
        return name, 0
    return match.group(1), int(match.group(2) or 0)


def saving_lib_layers(group: h5py.Group, budget: Budget) -> list[Layer]:
    """Layers under ``layers/`` in model order, each with every array below it, path-sorted.

    Only objects reached through hard links are visited (``visititems`` never
    follows soft or external links), at most :data:`MAX_OBJECTS` of them.
    """
    source = budget.source
    top = member(group, "layers", source)
    if not isinstance(top, h5py.Group):
        raise ModelError(f"{source}: 'layers' is an array, not a group of layers")
    if len(top) > MAX_OBJECTS:
        raise ModelError(f"{source}: {len(top)} layers; expected a few")
    seen = 0
    layers: list[Layer] = []
    for layer_name in sorted(top.keys(), key=_natural_key):
        layer = member(top, layer_name, source)
        found: list[tuple[str, h5py.Dataset]] = []

        def collect(path: str, node: object, found: list = found) -> bool | None:
            nonlocal seen
            seen += 1
            if seen > MAX_OBJECTS:
                return True  # anything but None stops the visit
            if isinstance(node, h5py.Dataset):
                found.append((path, node))
            return None

        if isinstance(layer, h5py.Dataset):
            raise ModelError(f"{source}: layer {layer_name!r} is an array, not a group")
        layer.visititems(collect)
        if seen > MAX_OBJECTS:
            raise ModelError(
                f"{source}: more than {MAX_OBJECTS} groups and arrays under 'layers'; an IMPSY "
                "model has a few dozen"
            )
        arrays: NamedArrays = [
            (path, budget.read(f"layers/{layer_name}/{path}", node)) for path, node in found
        ]
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
    """A short inventory of what a file holds, for error messages (cut if long)."""
    parts = []
    for layer_name, arrays in layers:
        shapes = ", ".join(f"{name} {tuple(array.shape)}" for name, array in arrays)
        parts.append(f"{layer_name}: [{shapes}]")
    inventory = "; ".join(parts) if parts else "no weight arrays"
    if len(inventory) > MAX_INVENTORY:
        inventory = f"{inventory[:MAX_INVENTORY]}... ({len(layers)} layers in all)"
    return inventory


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
