"""``impsy check-config`` refuses what ``impsy run`` refuses about the model, in its words.

Each case runs both real commands on the same file and compares their one
error line. The model is loaded as ``impsy run`` loads it, without TensorFlow:
the last test hides TensorFlow and still checks .tflite, .keras and .h5 models.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.places import Machine, hide_training_packages, make_machine
from tests.osc_client import free_udp_port
from tests.paths import MODELS

TFLITE = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
KERAS = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.keras"
H5 = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return make_machine(tmp_path)


def write(machine: Machine, model: str, mode: str = "callresponse", dimension: int = 9) -> Path:
    path = machine.work / "stage.toml"
    path.write_text(
        f'[interaction]\nmode = "{mode}"\n[model]\nfile = "{model}"\ndimension = {dimension}\n'
        f"[osc]\nserver_port = {free_udp_port()}\nclient_port = {free_udp_port()}\n"
    )
    return path


def refusals(machine: Machine, config: Path) -> tuple[str, str]:
    """The one error line of check-config (exit 1) and of run (exit 2) on ``config``."""
    checked = machine.impsy("check-config", str(config))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stdout == ""
    ran = machine.impsy("run", "-c", str(config))
    assert ran.returncode == 2, ran.stdout + ran.stderr
    lines = [line for line in checked.stderr.splitlines() if not line.startswith("INFO:")]
    assert len(lines) == 1, checked.stderr
    (run_line,) = [line for line in ran.stderr.splitlines() if line.startswith("error:")]
    return lines[0], run_line


def test_a_missing_model_file_is_refused_as_run_refuses_it(machine):
    config = write(machine, "models/not-trained-yet.tflite")
    checked, ran = refusals(machine, config)
    assert checked == ran
    assert checked.startswith(
        f"error: {config}: [model] file: models/not-trained-yet.tflite does not exist"
    )


def test_a_folder_named_as_the_model_is_refused_as_run_refuses_it(machine):
    (machine.work / "models" / "folder.tflite").mkdir(parents=True)
    config = write(machine, "models/folder.tflite")
    checked, ran = refusals(machine, config)
    assert checked == ran
    assert "models/folder.tflite" in checked


def test_a_model_of_another_dimension_is_refused_as_run_refuses_it(machine):
    config = write(machine, str(TFLITE), dimension=5)
    checked, ran = refusals(machine, config)
    assert checked == ran
    assert str(config) in checked and "dimension" in checked


def test_a_file_that_is_not_a_model_is_refused_as_run_refuses_it(machine):
    """The model is loaded, not only looked for."""
    fake = machine.work / "models" / "broken.tflite"
    fake.parent.mkdir()
    fake.write_bytes(b"not a flatbuffer at all" * 10)
    checked, ran = refusals(machine, write(machine, str(fake)))
    assert checked == ran
    assert "broken.tflite" in checked


def test_useronly_without_the_model_file_is_ok_with_a_warning(machine):
    """``impsy run`` logs without a model then, so check-config passes and says so."""
    config = write(machine, "models/not-trained-yet.tflite", mode="useronly")
    result = machine.impsy("check-config", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ok {config} (useronly, dimension 9, osc)\n"
    assert result.stderr.splitlines() == [
        "warning: model file models/not-trained-yet.tflite not found; logging without a model"
    ]


@pytest.mark.parametrize("model", [TFLITE, KERAS, H5], ids=lambda path: path.suffix)
def test_check_config_loads_models_without_tensorflow(machine, model):
    hidden = hide_training_packages(machine.root / "hidden")
    config = write(machine, str(model))
    result = machine.impsy("check-config", str(config), PYTHONPATH=str(hidden))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ok {config} (callresponse, dimension 9, osc)\n"


def test_no_model_checks_a_config_for_another_machine(machine):
    """Its model is not here: --no-model leaves the model out, as `impsy run --no-model`."""
    config = write(machine, "/opt/elsewhere/model.tflite")
    result = machine.impsy("check-config", "--no-model", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ok {config} (callresponse, dimension 9, osc)\n"
    assert machine.impsy("check-config", str(config)).returncode == 1
