"""Command-line overrides go through the same validation as the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from impsy.config import ConfigError, load_config_text, with_overrides

CC8 = ", ".join(f'["control_change", 1, {n}]' for n in range(1, 9))
TEXT = f"""
verbose = false
[interaction]
mode = "callresponse"
[model]
dimension = 9
file = "models/a.tflite"
[midi]
in_device = ["K"]
input."K" = [{CC8}]
"""


def config():
    return load_config_text(TEXT, "configs/x.toml")


def test_overrides_replace_values_and_leave_the_original_alone() -> None:
    original = config()
    changed = with_overrides(
        original,
        mode="filter",
        threshold=2,
        input_thru=True,
        sigmatemp=0.5,
        pitemp=2.0,
        timescale=0.5,
        verbose=True,
        log_input=False,
        log_predictions=True,
        seed=3,
    )
    assert changed.interaction.mode == "polyphony"
    assert changed.interaction.threshold == 2.0
    assert changed.interaction.input_thru is True
    assert (changed.model.sigmatemp, changed.model.pitemp, changed.model.timescale) == (
        0.5,
        2.0,
        0.5,
    )
    assert (changed.verbose, changed.log_input, changed.log_predictions) == (True, False, True)
    assert changed.model.seed == 3
    assert changed.midi == original.midi
    assert original.interaction.mode == "callresponse" and original.verbose is False


def test_none_means_not_given() -> None:
    original = config()
    assert with_overrides(original, mode=None, dimension=None) == original


def test_model_file_override_accepts_a_path_and_empty_means_no_model() -> None:
    assert (
        with_overrides(config(), model_file=Path("models/b.tflite")).model.file == "models/b.tflite"
    )
    assert with_overrides(config(), model_file="").model.file is None


def test_dimension_override_that_breaks_mappings_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        with_overrides(config(), dimension=4)
    message = str(caught.value)
    assert message.startswith('configs/x.toml (with overrides dimension=4): [midi] input."K": ')
    assert "has 8 entries" in message and "expected exactly 3" in message


def test_override_message_shows_a_path_as_written() -> None:
    with pytest.raises(ConfigError, match=r"\(with overrides model_file='m.tflite', dimension=5\)"):
        with_overrides(config(), model_file=Path("m.tflite"), dimension=5)


def test_bad_override_value_is_reported_like_a_bad_file_value() -> None:
    with pytest.raises(ConfigError, match=r"\[model\] timescale: expected a number greater than 0"):
        with_overrides(config(), timescale=-1)


def test_override_creates_a_missing_section() -> None:
    plain = load_config_text("", "empty.toml")
    assert with_overrides(plain, mode="battle").interaction.mode == "battle"


def test_unknown_override_name_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="cannot override colour"):
        with_overrides(config(), colour="red")
