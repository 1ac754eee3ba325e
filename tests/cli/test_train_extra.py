"""Commands that need TensorFlow say how to install it, in one line, when it is missing.

The dev venv has the train extra, so each test hides it: a folder first on
PYTHONPATH whose ``tensorflow``, ``keras`` and ``keras_mdn_layer`` raise the
``ModuleNotFoundError`` Python raises for a package that is not installed.
"""

from __future__ import annotations

import sys

import pytest

from tests.cli.places import hide_training_packages, make_machine
from tests.paths import MODELS, ROOT

H5 = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"


def assert_install_hint(result, command: str, missing: str, tensorflow_ran: bool = False) -> None:
    """Exit status 2 and one line; TensorFlow's own start-up chatter may precede it."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    if tensorflow_ran:
        assert [line for line in lines if line.startswith("error:")] == lines[-1:], lines
        lines = lines[-1:]
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith(f"error: impsy {command} needs impsy's train extra"), line
    assert f"No module named '{missing}'" in line
    # The dev venv is an editable install of this clone: the hint installs the clone's extra
    # into the Python that ran impsy.
    assert f"{sys.executable} -m pip install -e '{ROOT}[train]'" in line, line
    assert f"make test` in {ROOT}" in line


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("train", ["-S", "no-such-dataset.npz"]),
        ("convert", [str(H5), "-o", "out.tflite"]),
        ("convert-tflite", [str(H5), "-o", "out.tflite"]),
    ],
)
def test_without_the_train_extra_the_command_says_how_to_install_it(tmp_path, command, args):
    machine = make_machine(tmp_path)
    hidden = hide_training_packages(tmp_path / "hidden")
    result = machine.impsy(command, *args, PYTHONPATH=str(hidden))
    # Checked first: the missing extra is reported, not the missing dataset.
    assert_install_hint(result, command, "tensorflow")
    assert not (machine.work / "out.tflite").exists()


def test_a_half_installed_extra_names_the_missing_package(tmp_path):
    """TensorFlow and Keras import; keras-mdn-layer does not."""
    machine = make_machine(tmp_path)
    hidden = hide_training_packages(tmp_path / "hidden", ("keras_mdn_layer",))
    result = machine.impsy("train", "-S", "no-such-dataset.npz", PYTHONPATH=str(hidden))
    assert_install_hint(result, "train", "keras_mdn_layer", tensorflow_ran=True)


def test_help_needs_no_train_extra(tmp_path):
    machine = make_machine(tmp_path)
    hidden = hide_training_packages(tmp_path / "hidden")
    for command in ("train", "convert"):
        result = machine.impsy(command, "--help", PYTHONPATH=str(hidden))
        assert result.returncode == 0, result.stderr
        assert f"Usage: python -m impsy {command}" in result.stdout


def test_with_the_train_extra_the_check_passes(tmp_path):
    """The same command with the extra visible gets past the check to the dataset."""
    machine = make_machine(tmp_path)
    result = machine.impsy("train", "-S", "no-such-dataset.npz")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "train extra" not in result.stderr
    assert "no-such-dataset.npz" in result.stderr.strip().splitlines()[-1]
