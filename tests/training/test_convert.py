"""``impsy convert``: IMPSY's and impsy's weight files to ``.tflite``, same outputs as numpy."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from click.testing import CliRunner  # noqa: E402

from impsy.cli.convert import convert, convert_tflite  # noqa: E402
from impsy.model import load_model  # noqa: E402
from impsy.model.nll import read_performances  # noqa: E402
from tests.paths import ROOT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

STEM = "musicMDRNN-dim9-layers2-units64-mixtures5-scale10"
DATA_9D = ROOT / "tests" / "data" / "training-dataset-9d.npz"


def invoke(command, *args):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


def agree(tflite: Path, weights: Path, gate: str, steps: int = 40) -> float:
    """Largest difference in raw MDN output over ``steps`` real rows, state carried."""
    lite, reference = load_model(tflite), load_model(weights, gate=gate)
    performance = read_performances(DATA_9D)[16][:steps]
    return max(
        float(np.max(np.abs(lite.step(row).raw - reference.step(row).raw))) for row in performance
    )


@pytest.mark.parametrize(
    ("suffix", "gate"), [(".h5", "hard_sigmoid"), (".keras", "hard_sigmoid"), (".h5", "sigmoid")]
)
def test_impsy_files_convert_and_agree_with_the_numpy_engine(tmp_path, suffix, gate):
    source = tmp_path / f"{STEM}{suffix}"
    shutil.copy(ROOT / "models" / f"{STEM}{suffix}", source)
    args = [source] if gate == "hard_sigmoid" else [source, "--gate", gate]
    result = invoke(convert, *args)
    assert result.exit_code == 0, result.output
    assert f"gate {gate}" in result.output
    output = tmp_path / f"{STEM}.tflite"
    model = load_model(output)
    assert (model.dimension, model._engine.units, model._engine.layers) == (9, 64, 2)
    assert model._engine.state_map_source == "signature"
    assert agree(output, source, gate) < 1e-4


def test_never_overwrites_without_force(tmp_path):
    source = tmp_path / f"{STEM}.h5"
    shutil.copy(ROOT / "models" / f"{STEM}.h5", source)
    target = tmp_path / "out.tflite"
    target.write_bytes(b"precious")
    refused = invoke(convert_tflite, source, "-o", target)
    assert refused.exit_code == 2 and "--force" in refused.output
    assert target.read_bytes() == b"precious"
    assert invoke(convert_tflite, source, "-o", target, "--force").exit_code == 0
    assert load_model(target).dimension == 9


def test_optimise_reports_size_and_nll_change(tmp_path):
    source = tmp_path / f"{STEM}.h5"
    shutil.copy(ROOT / "models" / f"{STEM}.h5", source)
    dataset = tmp_path / "small.npz"
    perfs = np.empty(2, dtype=object)
    perfs[0], perfs[1] = read_performances(DATA_9D)[16][:200], read_performances(DATA_9D)[31][:200]
    np.savez_compressed(dataset, perfs=perfs)
    result = invoke(convert, source, "--optimise", "--dataset", dataset)
    assert result.exit_code == 0, result.output
    output = tmp_path / f"{STEM}-dynamic.tflite"
    assert output.is_file()
    change = re.search(r"\(change ([-+]\d+\.\d+)\)", result.output)
    assert change and np.isfinite(float(change.group(1)))  # measured, not bounded: see TRAIN.md
    sizes = re.search(r"size: ([\d,]+) -> ([\d,]+) bytes", result.output)
    assert int(sizes.group(2).replace(",", "")) == output.stat().st_size
    assert output.stat().st_size < 120_000  # the float32 conversion is ~248 kB


def test_unknown_suffix_is_an_error(tmp_path):
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"x")
    result = invoke(convert, bogus)
    assert result.exit_code == 2 and ".keras and .h5" in result.output
