"""The default model inside the package, and how a config's ``[model] file`` finds it.

The rule (``impsy.app.resolve_model_path``): the file relative to the working
directory, else relative to the config, else, when it has the name of a
packaged model, the packaged copy. Each case runs on real files in a
temporary working directory.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from impsy.app import RunOptions, load_performance_model, resolve_model_path
from impsy.config import load_config
from impsy.errors import ImpsyError
from impsy.model.loader import packaged_model, packaged_model_files, packaged_models
from tests.paths import MODELS, ROOT

STEM = "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained"
NAME = f"{STEM}.tflite"


def config_naming(folder: Path, file: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(f'[model]\nfile = "{file}"\n[osc]\n')
    return path


def test_the_packaged_files_are_the_repositorys_default_model():
    files = packaged_model_files(NAME)
    assert [path.name for path in files] == [f"{STEM}.keras", f"{STEM}.tflite"]
    for path in files:
        assert path.read_bytes() == (MODELS / path.name).read_bytes(), path.name
    assert (packaged_models() / "LICENSE.md").is_file()


def test_the_packaged_default_config_names_the_packaged_model():
    named = load_config(ROOT / "impsy" / "data" / "default.toml").model.file
    assert packaged_model(Path(named).name) == packaged_models() / NAME


@pytest.mark.parametrize("name", ["", f"models/{NAME}", f"../data/models/{NAME}", "nope.tflite"])
def test_packaged_model_takes_a_bare_name_of_a_packaged_file(name):
    assert packaged_model(name) is None


def test_a_missing_default_model_is_the_packaged_copy(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    config = load_config(config_naming(tmp_path / "elsewhere", f"models/{NAME}"))
    assert resolve_model_path(config) == packaged_models() / NAME
    with caplog.at_level(logging.INFO, logger="impsy"):
        model = load_performance_model(config, RunOptions())
    assert model.path == packaged_models() / NAME
    assert f"models/{NAME} is not here; playing the copy packaged with impsy" in caplog.text


def test_an_absolute_path_to_a_missing_default_model_is_the_packaged_copy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(config_naming(tmp_path, str(tmp_path / "gone" / NAME)))
    assert resolve_model_path(config) == packaged_models() / NAME


def test_a_file_here_wins_over_the_packaged_copy(tmp_path, monkeypatch):
    """A model of your own with the default's name, in ./models, is the one played."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    shutil.copy(MODELS / f"{STEM}.keras", tmp_path / "models" / f"{STEM}.keras")
    config = load_config(config_naming(tmp_path / "elsewhere", f"models/{STEM}.keras"))
    assert resolve_model_path(config) == Path("models") / f"{STEM}.keras"


def test_a_file_beside_the_config_wins_over_the_packaged_copy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    shutil.copy(MODELS / NAME, project / "models" / NAME)
    config = load_config(config_naming(project, f"models/{NAME}"))
    assert resolve_model_path(config) == project / "models" / NAME


def test_a_missing_model_of_another_name_is_still_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(config_naming(tmp_path / "elsewhere", "models/mine.tflite"))
    assert resolve_model_path(config) == Path("models/mine.tflite")
    with pytest.raises(ImpsyError, match=r"\[model\] file: models/mine.tflite does not exist"):
        load_performance_model(config, RunOptions())
