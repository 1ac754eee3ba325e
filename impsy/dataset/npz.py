"""IMPSY's dataset file: one ``.npz`` with the single key ``perfs``.

``perfs`` is a 1-D object array of float32 ``(N_i, D)`` performances. It
is built element by element, because ``np.array(list_of_arrays)`` turns
performances of equal length into one 3-D float array (a different file
layout) and raises on ragged ones in NumPy 2. Readers must cope with both
layouts anyway (:func:`impsy.model.nll.read_performances` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def dataset_file_name(dimension: int) -> str:
    """IMPSY's name, which its ``train`` looks for in a dataset directory."""
    return f"training-dataset-{dimension}d.npz"


def performances_array(performances: Sequence[np.ndarray]) -> np.ndarray:
    """The 1-D object array IMPSY stores, whatever the performances' lengths."""
    array = np.empty(len(performances), dtype=object)
    for index, performance in enumerate(performances):
        array[index] = np.asarray(performance, dtype=np.float32)
    return array


def write_dataset(path: str | Path, performances: Sequence[np.ndarray]) -> Path:
    """Save performances as IMPSY does (compressed, key ``perfs``); returns the path."""
    path = Path(path)
    np.savez_compressed(path, perfs=performances_array(performances))
    return path
