"""Model files into ``load_model``: random bytes, truncations, flipped bytes, wrong shapes.

The first byte picks how the file is made from the rest of the input:

0. the bytes themselves, as a ``.h5``, ``.keras`` or ``.tflite``;
1. a bundled model cut short at an offset the input chooses;
2. a bundled model with bytes overwritten at offsets the input chooses;
3. the bundled ``.h5`` or ``.keras`` with its weights edited through h5py:
   arrays of the wrong shape (another dimension, units, mixtures), transposed,
   NaN/inf/huge, of the wrong type, missing, or the layer list changed.

Invariants: ``load_model`` either returns a model or raises ``ModelError``
(one clear error, never a numpy or h5py exception); a model that loads can
step and predict without raising, so a broken file is refused at start-up,
not mid-performance.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np

from fuzz.harness import ROOT, quiet, scratch_dir
from impsy.model import load_model
from impsy.model.errors import ModelError

MODELS = ROOT / "models"
SEEDS = (
    MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5",
    MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.keras",
    ROOT / "tests/conformance/impsy-1.2.1/models/conformance-dim3-layers2-units16-mixtures5.tflite",
    MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.keras",
)
SUFFIXES = (".h5", ".keras", ".tflite")
EDITS = 14

_dir: Path | None = None
_seed_bytes: dict[Path, bytes] = {}


def _seed(index: int) -> tuple[Path, bytes]:
    path = SEEDS[index % len(SEEDS)]
    if path not in _seed_bytes:
        _seed_bytes[path] = path.read_bytes()
    return path, _seed_bytes[path]


def _datasets(handle: h5py.File) -> list[str]:
    names: list[str] = []

    def visit(name: str, obj: object) -> None:  # returning anything but None stops the visit
        if isinstance(obj, h5py.Dataset):
            names.append(name)

    handle.visititems(visit)
    return sorted(names)


def _edit(handle: h5py.File, instructions: bytes) -> None:
    """Apply up to four (dataset, edit) byte pairs to an open HDF5 file."""
    names = _datasets(handle)
    for i in range(0, min(len(instructions), 8) - 1, 2):
        if not names:
            return
        name = names[instructions[i] % len(names)]
        kind = instructions[i + 1] % EDITS
        if name not in handle:
            continue
        array = handle[name][()]
        if kind == 12:
            owner = handle if "layer_names" in handle.attrs else None
            if owner is not None:
                owner.attrs["layer_names"] = owner.attrs["layer_names"][:-1]
            continue
        if kind == 13:
            handle.attrs["keras_version"] = "0.0.\xff"
            continue
        del handle[name]
        if kind == 8:
            continue  # the array is missing
        array = np.atleast_1d(array)
        if kind == 0:
            array = array[:-1]
        elif kind == 1:
            array = np.concatenate([array, array[:1]])
        elif kind == 2:
            array = array.T if array.ndim > 1 else array[::2]
        elif kind == 3:
            array = array[..., :-1] if array.ndim > 1 else array[:0]
        elif kind == 4:
            array = np.full_like(array, np.nan)
        elif kind == 5:
            array = np.full_like(array, np.inf)
        elif kind == 6:
            array = array.astype(np.int8)
        elif kind == 7:
            array = np.array(b"not weights")
        elif kind == 9:
            array = np.float32(1.0)
        elif kind == 10:
            array = array[None, ...]
        elif kind == 11:
            array = np.full_like(array, 1e30)
        handle.create_dataset(name, data=array)


def _edited(seed: Path, data: bytes, instructions: bytes) -> bytes:
    if seed.suffix == ".keras":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        inner = io.BytesIO(members["model.weights.h5"])
        with h5py.File(inner, "r+") as handle:
            _edit(handle, instructions)
        members["model.weights.h5"] = inner.getvalue()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for name, content in members.items():
                archive.writestr(name, content)
        return out.getvalue()
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as handle:
        _edit(handle, instructions)
    return buffer.getvalue()


def model_file(data: bytes) -> tuple[str, bytes]:
    """The (suffix, content) of the model file an input stands for."""
    if len(data) < 2:
        return ".h5", data
    how, choice, rest = data[0] % 4, data[1], data[2:]
    if how == 0:
        return SUFFIXES[choice % len(SUFFIXES)], rest
    seed, content = _seed(choice)
    if how == 1:
        cut = int.from_bytes(rest[:3].ljust(3, b"\0"), "big") % len(content)
        return seed.suffix, content[:cut]
    if how == 2:
        patched = bytearray(content)
        for i in range(0, min(len(rest), 64) - 3, 4):
            offset = int.from_bytes(rest[i : i + 3], "big") % len(patched)
            patched[offset] = rest[i + 3]
        return seed.suffix, bytes(patched)
    if seed.suffix == ".tflite":
        seed, content = _seed(0)
    with warnings.catch_warnings():  # NaN cast into an integer array is one of the edits
        warnings.simplefilter("ignore", RuntimeWarning)
        return seed.suffix, _edited(seed, content, rest)


def one_input(data: bytes) -> None:
    global _dir
    if _dir is None:
        quiet()
        _dir = scratch_dir()
    suffix, content = model_file(data)
    path = _dir / f"fuzz{suffix}"
    path.write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = load_model(path, seed=1)
        except ModelError as err:
            assert "\n" not in str(err).strip(), f"multi-line model error: {err}"
            return
    x = np.zeros(model.dimension)
    x[0] = 0.1
    model.step(x)
    model.predict(x)
    model.reset()
