"""IMPSY's dataset file: one ``.npz`` with the single key ``perfs``.

``perfs`` is a 1-D object array of float32 ``(N_i, D)`` performances. It
is built element by element, because ``np.array(list_of_arrays)`` turns
performances of equal length into one 3-D float array (a different file
layout) and raises on ragged ones in NumPy 2. Readers must cope with both
layouts anyway (:func:`impsy.model.nll.read_performances` does).

An object array can only be stored as a pickle, and ``np.load`` with
pickles allowed would run whatever a crafted file asks for. So
:func:`read_npz_array` unpickles with a restricted unpickler that rebuilds
numpy arrays and refuses every other name: a dataset is data, not code.

Early IMPSY ran on Python 2, and its datasets are Python 2 pickles: the
same numpy names (``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``,
``numpy.dtype``), but every array's bytes and dtype code stored as a Python 2
``str``. Python 3 decodes those as ASCII by default and fails on the first
byte over 127, so they are read as latin-1, as numpy's ``np.load`` documents
for Python 2 files: a byte-for-byte mapping that numpy turns back into the
array's bytes. No name is added for them: a Python 2 numpy pickle names no
``__builtin__`` (or other Python 2 module), and one that does is refused.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# What numpy's pickle of an array of arrays names, and nothing else: a dataset
# file cannot make the unpickler call anything but numpy's array constructors.
# Names are compared as the file spells them, before Python 3's renaming of
# Python 2 modules, so ``__builtin__.eval`` is refused like ``builtins.eval``.
ARRAY_GLOBALS = frozenset(
    {
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "_reconstruct"),  # NumPy 1.x, Python 2 files too
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # array bytes in pickle protocol 2
    }
)


def dataset_file_name(dimension: int) -> str:
    """IMPSY's name, which its ``train`` looks for in a dataset directory."""
    return f"training-dataset-{dimension}d.npz"


def performances_array(performances: Sequence[np.ndarray]) -> np.ndarray:
    """The 1-D object array IMPSY stores, whatever the performances' lengths."""
    array = np.empty(len(performances), dtype=object)
    for index, performance in enumerate(performances):
        array[index] = np.asarray(performance, dtype=np.float32)
    return array


def write_dataset(
    path: str | Path,
    performances: Sequence[np.ndarray],
    weights: Sequence[np.ndarray] | None = None,
) -> Path:
    """Save performances as IMPSY does (compressed, key ``perfs``); returns the path.

    ``weights`` (one float per row of each performance, from marked spans:
    :mod:`impsy.dataset.marks`) go under a key of their own, ``weights``, which
    IMPSY never reads; without them the file is exactly IMPSY's.
    """
    path = Path(path)
    arrays = {"perfs": performances_array(performances)}
    if weights is not None:
        if [len(w) for w in weights] != [len(p) for p in performances]:
            raise ValueError("one weight per row of each performance is needed")
        arrays["weights"] = performances_array(weights)
    np.savez_compressed(path, **arrays)
    return path


def read_weights(path: str | Path) -> list[np.ndarray] | None:
    """The per-row weights a dataset carries (key ``weights``), or None without any."""
    try:
        array = read_npz_array(path, "weights")
    except KeyError:
        return None
    return [np.asarray(w, dtype=np.float32) for w in array]


class _ArraysOnly(pickle.Unpickler):
    """Rebuilds numpy arrays; any other global in the pickle stops it."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in ARRAY_GLOBALS:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which is not an array")
        return super().find_class(module, name)


def read_npz_array(path: str | Path, key: str) -> np.ndarray:
    """``key`` from an ``.npz``; object arrays only through ``_ArraysOnly``.

    Reads the pickles Python 3 and Python 2 numpy write. Raises KeyError for
    a missing key, ValueError for anything unreadable or for a pickle naming
    something other than numpy's array constructors.
    """
    with np.load(path, allow_pickle=False) as archive:
        if key not in archive.files:
            raise KeyError(key)
        try:
            return archive[key]
        except ValueError:  # "Object arrays cannot be loaded when allow_pickle=False"
            pass
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as file:
        version = np.lib.format.read_magic(file)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(file)
        else:
            np.lib.format.read_array_header_2_0(file)
        try:
            # latin1: a Python 2 str (array bytes, dtype codes) as the same bytes
            array = _ArraysOnly(file, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError) as err:
            raise ValueError(f"not a dataset array ({err})") from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f"not a dataset array (a pickled {type(array).__name__})")
    return array
