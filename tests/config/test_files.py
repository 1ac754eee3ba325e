"""The configs shipped in configs/ and the packaged default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from impsy.config import default_config_text, load_config, load_config_text
from tests.paths import ROOT

SHIPPED = sorted((ROOT / "configs").glob("*.toml"))
DEFAULT = ROOT / "configs" / "default.toml"
PACKAGED = ROOT / "impsy" / "data" / "default.toml"


def test_configs_folder_has_the_default_and_examples() -> None:
    names = {path.name for path in SHIPPED}
    assert {"default.toml", "midi-example.toml", "websocket-example.toml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_every_shipped_config_loads_without_warnings(path: Path) -> None:
    assert load_config(path).warnings == ()


def test_packaged_default_is_byte_identical_to_configs_default() -> None:
    assert PACKAGED.read_bytes() == DEFAULT.read_bytes()
    assert default_config_text() == DEFAULT.read_text(encoding="utf-8")


def test_default_config_is_osc_and_webui_on_localhost() -> None:
    config = load_config(DEFAULT)
    assert config.adapters == ("osc",)
    assert config.osc is not None
    assert (config.osc.server_ip, config.osc.server_port) == ("127.0.0.1", 6000)
    assert (config.osc.client_ip, config.osc.client_port) == ("127.0.0.1", 6001)
    assert config.osc.output_address == "/impsy"
    assert config.interaction.mode == "callresponse"
    assert config.model.dimension == 9
    bundled = "models/musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.tflite"
    assert config.model.file == bundled
    assert (ROOT / config.model.file).is_file()
    assert config.webui is not None
    assert (config.webui.host, config.webui.port) == ("127.0.0.1", 4000)
    assert config.sequencer is not None and not config.sequencer.autostart


def test_default_config_commented_hardware_examples_are_valid() -> None:
    """Uncommenting the examples, as the file tells a user to, must give a working config."""
    lines = DEFAULT.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# --- Hardware adapters"))
    enabled = [line.removeprefix("# ") for line in lines[start + 1 :]]
    config = load_config_text("\n".join(lines[:start] + enabled), "default.toml, examples on")
    assert config.adapters == ("midi", "osc", "websocket", "serial", "serialmidi")
    assert config.midi is not None and config.midi.thru_matrix["X-TOUCH"] == ("Volca FM",)


def test_every_key_in_the_default_config_has_a_comment() -> None:
    """Each key explains itself on its own line or in the comment line just above it."""
    lines = DEFAULT.read_text(encoding="utf-8").splitlines()
    keys = [i for i, line in enumerate(lines) if re.match(r"(# )?[a-z_]+(\.\"[^\"]+\")? = ", line)]
    assert len(keys) > 40
    for i in keys:
        assert " # " in lines[i] or lines[i - 1].startswith("#"), lines[i]
