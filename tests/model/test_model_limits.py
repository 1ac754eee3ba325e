"""The model-file limits refuse hostile files and never a real model.

Every limit lives in :mod:`impsy.model.limits`. Its caps are only safe to
keep if no real model reaches them, so every model in the repository is
loaded here, both in this process and through the checking process the web
UI uses (``check_model_file``), and so is a real xl model built by Keras at
impsy's largest dimension, saved with its optimizer state: the largest
``.keras`` impsy's own training writes. The checking process is tested for
what it promises: its memory and time limits hold and are reported as one
line, and a file at the caps still fits in its memory.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from impsy.config.sizes import MAX_DIMENSION, MODEL_SIZES
from impsy.model import load_model
from impsy.model.errors import ModelError
from impsy.model.limits import (
    CHECK_MEMORY_BYTES,
    MAX_ARRAY_BYTES,
    MAX_WEIGHTS_BYTES,
    MiB,
)
from impsy.model.loader import check_model_file
from tests.model.archives import entries, weights_bytes, write_keras, zip_bomb
from tests.paths import ROOT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras on NumPy 2

MODEL_FILES = sorted(
    path
    for folder in ("models", "impsy/data/models", "tests")
    for path in (ROOT / folder).rglob("*")
    if path.suffix in (".keras", ".h5", ".tflite") and path.is_file()
)


def test_the_repository_has_models_to_check() -> None:
    names = {path.suffix for path in MODEL_FILES}
    assert names == {".keras", ".h5", ".tflite"} and len(MODEL_FILES) >= 7, MODEL_FILES


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_model_in_the_repository_loads_under_the_limits(path: Path) -> None:
    model = load_model(path)
    assert check_model_file(path) == model.dimension


def _xl_keras_with_optimizer_state(path: Path) -> Path:
    """An xl MDRNN at impsy's largest dimension, trained one batch with Adam and saved by
    Keras: its ``model.weights.h5`` carries the optimizer's two moments per weight."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras")
    pytest.importorskip("keras_mdn_layer")
    from impsy.training.network import build_training_model, mixture_loss

    size = MODEL_SIZES["xl"]
    model = build_training_model(
        MAX_DIMENSION, size.units, size.mixtures, size.layers, sequence_length=2
    )
    model.compile(optimizer=keras.optimizers.Adam(), loss=mixture_loss(MAX_DIMENSION, 5))
    batch = np.random.default_rng(1).random((1, 2, MAX_DIMENSION)).astype("float32")
    model.train_on_batch(batch, batch)
    model.save(path)
    return path


def test_the_largest_real_keras_file_loads_under_the_limits(tmp_path: Path) -> None:
    """85 MB of weights and optimizer state: the caps have room above it."""
    path = _xl_keras_with_optimizer_state(tmp_path / "xl.keras")
    with zipfile.ZipFile(path) as archive:
        weights = archive.getinfo("model.weights.h5").file_size
    assert 80 * MiB < weights < MAX_WEIGHTS_BYTES / 1.4, weights
    model = load_model(path)
    assert (model.dimension, model.units, model.layers) == (MAX_DIMENSION, 512, 3)
    assert check_model_file(path) == MAX_DIMENSION


def test_a_file_at_the_caps_fits_in_the_checking_process(tmp_path: Path) -> None:
    """120 MiB of arrays in a 120 MiB ``model.weights.h5`` (just under both caps) are
    unpacked and read in the child's memory limit: refused as not an MDRNN, for what it
    holds, not for running out of memory."""
    buffer = io.BytesIO(weights_bytes())
    with h5py.File(buffer, "r+") as handle:
        handle.create_dataset("layers/zzz_extra/vars/0", data=np.ones(120 * MiB // 4, "f4"))
    data = buffer.getvalue()
    assert 120 * MiB < len(data) < min(MAX_WEIGHTS_BYTES, MAX_ARRAY_BYTES + MiB)
    path = write_keras(tmp_path / "big.keras", entries(model_weights_h5=data))
    with pytest.raises(ModelError, match="not an IMPSY MDRNN") as caught:
        check_model_file(path, memory=CHECK_MEMORY_BYTES)
    assert "memory" not in str(caught.value)


def test_the_checking_process_refuses_a_zip_bomb_with_its_reason(tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.keras", 900 * MiB)
    with pytest.raises(ModelError, match="would unpack to 900.0 MiB") as caught:
        check_model_file(bomb)
    assert str(caught.value).startswith(f"{bomb}: ")


def test_the_checking_process_has_a_memory_limit(tmp_path: Path) -> None:
    """Under too small a limit even a real model cannot load: the limit is applied, and
    running out of it is one line, not a crash of the caller."""
    path = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.keras"
    with pytest.raises(ModelError) as caught:
        check_model_file(path, memory=64 * MiB)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert "64 MiB" in message, message


def test_the_checking_process_has_a_time_limit() -> None:
    path = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.keras"
    with pytest.raises(ModelError, match="took longer than 0.01 s; impsy gave up"):
        check_model_file(path, seconds=0.01)


def test_the_checking_process_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such model file"):
        check_model_file(tmp_path / "gone.keras")
