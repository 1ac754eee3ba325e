"""Writes ``impsy-py2-dataset.npz``: a dataset as early IMPSY wrote it, on Python 2.

Why: early IMPSY ran on Python 2, and its ``training-dataset-*.npz`` files
hold ``perfs`` as a Python 2 pickle, which impsy must still read (see
``impsy/dataset/npz.py``). The file in ``tests/data`` was written by this
script under Python 2.7.18 with NumPy 1.16.6 (the last NumPy for Python 2)::

    pip download numpy==1.16.6 --python-version 27 --implementation cp \\
        --abi cp27mu --platform manylinux1_x86_64 --only-binary=:all: --no-deps -d np27
    python -m zipfile -e np27/numpy-1.16.6-*.whl np27/site
    PYTHONPATH=np27/site python2.7 tests/data/make_impsy_py2_dataset.py \\
        tests/data/impsy-py2-dataset.npz

It is Python 2 and 3 code, so the tests import :func:`performances` to
know what the file must hold. The values are integer arithmetic then one
division, so both interpreters compute the same float64s.
"""

import sys

import numpy as np

DIMENSION = 9
LENGTHS = (42, 57, 33, 61)


def performance(number, length):
    """Performance ``number``: float64 (length, 9) rows of dt then eight controls in [0, 1]."""
    step = np.arange(length).reshape(length, 1)
    dt = 0.01 * (1 + (step * (number + 2)) % 9)
    control = np.arange(1, DIMENSION).reshape(1, DIMENSION - 1)
    controls = ((step * (control + 2) + 13 * number + 5 * control) % 101) / 100.0
    return np.hstack([dt, controls])


def performances():
    """Every performance the file holds, in order (ragged lengths, as logs are)."""
    return [performance(number, length) for number, length in enumerate(LENGTHS)]


if __name__ == "__main__":
    # IMPSY's own two lines: NumPy 1.x makes a ragged list an object array.
    raw_perfs = np.array(performances())
    np.savez_compressed(sys.argv[1], perfs=raw_perfs)
