"""Player profiles: how a model plays, saved beside it with ``profile/save`` and loaded with it.

Real performances (``impsy.app.build``) on a copy of the repository's 9-D
model in a temporary models/ folder; the profile is a real file beside it.
"""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest

from impsy.app import RunOptions, build
from impsy.config import load_config_text
from impsy.errors import CommandError, ImpsyError
from impsy.studio.profile import profile_path
from tests.paths import ROOT

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"


def performance(tmp_path, name: str):
    config = load_config_text(
        f'log_input = false\n[interaction]\nmode = "callresponse"\n[model]\nfile = "{name}"\n',
        str(tmp_path / "config.toml"),
    )
    return build(config, RunOptions(logdir=tmp_path))


def test_a_profile_saved_beside_a_model_is_loaded_with_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    first = tmp_path / "models" / "mine.h5"
    other = tmp_path / "models" / "other.h5"
    shutil.copy(MODEL, first)
    shutil.copy(MODEL, other)

    tuned = performance(tmp_path, "models/mine.h5")
    commands = tuned.commands
    for name, value in (("pitemp", 1.5), ("sigmatemp", 0.05), ("timescale", 2.0)):
        commands.call(name, [value])
    commands.call("threshold", [0.4])
    saved = commands.call("profile/save")
    assert saved == "models/mine.profile.json"  # beside the model, as the config names it
    assert json.loads(profile_path(first).read_text()) == {
        "pitemp": 1.5, "sigmatemp": 0.05, "timescale": 2.0, "threshold": 0.4,
    }  # fmt: skip

    again = performance(tmp_path, "models/mine.h5").engine  # at start: the profile applies
    assert (again.model.pi_temp, again.model.sigma_temp) == (1.5, 0.05)
    assert (again.settings.timescale, again.settings.threshold) == (2.0, 0.4)

    async def swap() -> tuple[float, float]:
        plain = performance(tmp_path, "models/other.h5")  # no profile beside it
        assert plain.engine.settings.timescale == 1.0
        await plain.commands.call("model/use", ["mine.h5"]).wait()
        return plain.engine.model.pi_temp, plain.engine.settings.timescale

    assert asyncio.run(swap()) == (1.5, 2.0)  # swapped in: its profile comes with it


def test_a_broken_profile_stops_start_up_with_its_file_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    shutil.copy(MODEL, tmp_path / "models" / "mine.h5")
    path = tmp_path / "models" / "mine.profile.json"
    path.write_text('{"pitemp": -1}')
    with pytest.raises(ImpsyError, match=r"mine\.profile\.json: pitemp must be a positive"):
        performance(tmp_path, "models/mine.h5")
    path.write_text('{"volume": 1}')
    with pytest.raises(ImpsyError, match="unknown key 'volume'"):
        performance(tmp_path, "models/mine.h5")


def test_saving_a_profile_needs_a_model(tmp_path):
    config = load_config_text(
        '[interaction]\nmode = "useronly"\n[model]\ndimension = 3\nfile = ""\n', "c.toml"
    )
    empty = build(config, RunOptions(logdir=tmp_path, no_model=True))
    with pytest.raises(CommandError, match="no model is playing"):
        empty.commands.call("profile/save")
