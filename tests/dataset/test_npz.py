"""Dataset ``.npz`` reading: early IMPSY's Python 2 files load, hostile pickles do not.

``tests/data/impsy-py2-dataset.npz`` was written by Python 2.7 and NumPy
1.16 with IMPSY's own ``np.savez_compressed(..., perfs=np.array(perfs))``
(``tests/data/make_impsy_py2_dataset.py``, which the tests import to know
what the file holds). The hostile pickles are live: the test first shows
that Python's own unpickler runs them, then that impsy's reader refuses them.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pickle
import pickletools
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from impsy.cli.evaluate import evaluate
from impsy.dataset.npz import read_npz_array, write_dataset
from impsy.model import ModelError
from impsy.model.nll import read_performances
from tests.paths import DATA, MODELS

PY2_DATASET = DATA / "impsy-py2-dataset.npz"
MODEL = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"


def _generator():
    spec = importlib.util.spec_from_file_location(
        "make_impsy_py2_dataset", DATA / "make_impsy_py2_dataset.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WRITTEN = _generator().performances()
"""What the Python 2 script wrote: four float64 (N, 9) performances."""


def npy_pickle(path: Path) -> bytes:
    """The pickle inside ``perfs.npy`` (after the ``.npy`` header)."""
    with zipfile.ZipFile(path) as archive, archive.open("perfs.npy") as file:
        np.lib.format.read_magic(file)
        np.lib.format.read_array_header_1_0(file)
        return file.read()


def write_pickle_npz(path: Path, payload: bytes) -> Path:
    """An ``.npz`` whose ``perfs`` is an object array header followed by ``payload``."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|O", "fortran_order": False, "shape": (1,)}
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("perfs.npy", header.getvalue() + payload)
    return path


def test_the_file_is_a_python2_numpy_pickle():
    """Precondition: Python 2 str opcodes and NumPy 1's names, which Python 3 cannot
    read as numpy reads them by default (ASCII)."""
    ops = list(pickletools.genops(npy_pickle(PY2_DATASET)))
    names = {op.name for op, _, _ in ops}
    assert {"BINSTRING", "SHORT_BINSTRING"} <= names, "array bytes as Python 2 str"
    assert not names & {"BINUNICODE", "SHORT_BINBYTES", "BINBYTES"}, "nothing Python 3 writes"
    assert {arg for op, arg, _ in ops if op.name == "GLOBAL"} == {
        "numpy.core.multiarray _reconstruct",
        "numpy ndarray",
        "numpy dtype",
    }
    with pytest.raises(UnicodeError):
        np.load(PY2_DATASET, allow_pickle=True)["perfs"]


def test_reads_a_python2_impsy_dataset_as_written():
    raw = read_npz_array(PY2_DATASET, "perfs")
    assert raw.dtype == object and raw.shape == (4,)
    for got, written in zip(raw, WRITTEN, strict=True):
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, written)
    performances = read_performances(PY2_DATASET)
    assert [p.shape for p in performances] == [(42, 9), (57, 9), (33, 9), (61, 9)]
    for got, written in zip(performances, WRITTEN, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, written.astype(np.float32))


def test_evaluate_scores_a_python2_dataset_as_the_same_data_written_today(tmp_path):
    today = write_dataset(tmp_path / "training-dataset-9d.npz", WRITTEN)
    old = CliRunner().invoke(evaluate, [str(MODEL), str(PY2_DATASET)])
    new = CliRunner().invoke(evaluate, [str(MODEL), str(today)])
    assert old.exit_code == 0, old.output
    assert "in 4 performances" in old.stdout
    assert old.stdout.replace(str(PY2_DATASET), "X") == new.stdout.replace(str(today), "X")


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_train_reads_a_python2_dataset(tmp_path):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from impsy.cli.train import train

    result = CliRunner().invoke(
        train,
        ["-S", str(PY2_DATASET), "-O", str(tmp_path), "--dimension", "9", "-M", "xxs",
         "--sequence-length", "8", "-B", "16", "-N", "1", "--name", "old"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "old.json").read_text())
    assert summary["dataset"]["performances"] == 4
    assert summary["dataset"]["rows"] == sum(len(p) for p in WRITTEN)
    assert summary["architecture"]["dimension"] == 9


def live_pickle(module: str, name: str, argument: str) -> bytes:
    """Protocol 2, as Python 2 writes it: ``module.name(argument)``, argument a str."""
    return (
        b"\x80\x02c" + f"{module}\n{name}\n".encode()
        + b"U" + bytes([len(argument)]) + argument.encode()
        + b"\x85R."
    )  # fmt: skip


HOSTILE = [
    ("__builtin__", "eval", "open({marker!r}, 'w').close()"),
    ("builtins", "eval", "open({marker!r}, 'w').close()"),
    ("__builtin__", "exec", "open({marker!r}, 'w').close()"),
    ("os", "system", "touch {marker}"),
    ("posix", "system", "touch {marker}"),  # how Python 2 on Linux names os.system
]


@pytest.mark.parametrize(("module", "name", "code"), HOSTILE, ids=lambda v: str(v)[:12])
def test_a_hostile_pickle_is_refused_in_one_line(tmp_path, module, name, code):
    marker = tmp_path / "ran"
    payload = live_pickle(module, name, code.format(marker=str(marker)))
    pickle.loads(payload)  # Python's own unpickler runs it (mapping __builtin__ to builtins)
    assert marker.exists(), "precondition: the pickle is live"
    marker.unlink()
    path = write_pickle_npz(tmp_path / "training-dataset-9d.npz", payload)
    with pytest.raises(ModelError) as caught:
        read_performances(path)
    assert str(caught.value) == (
        f"{path}: not a readable dataset .npz (not a dataset array (it names "
        f"{module}.{name}, which is not an array))"
    )
    result = CliRunner().invoke(evaluate, [str(MODEL), str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: {caught.value}"]
    assert not marker.exists()


def test_a_hostile_global_inside_a_python2_dataset_is_refused(tmp_path):
    """The real file with one of its numpy names swapped for __builtin__.eval: the check
    is on every global, not on the first one."""
    payload = npy_pickle(PY2_DATASET)
    swapped = payload.replace(b"cnumpy\ndtype\n", b"c__builtin__\neval\n")
    assert swapped != payload and swapped.startswith(payload[:40])
    with zipfile.ZipFile(PY2_DATASET) as archive:
        header = archive.read("perfs.npy")[: -len(payload)]
    path = tmp_path / "swapped.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("perfs.npy", header + swapped)
    with pytest.raises(ValueError, match=r"it names __builtin__\.eval, which is not an array"):
        read_npz_array(path, "perfs")
