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
        "steering": {  # nothing steered: each of the 9 dimensions plays as in IMPSY
            "roles": ["both"] * 9, "held": [None] * 9, "pinned": [],
            "ranges": [None] * 9, "notes": [None] * 9, "density": 0.0,
        },
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


def steer(commands) -> None:  # noqa: ANN001
    """Every kind of steering, through the rows a performer sends."""
    commands.call("hold", [1, 0.25])  # human, pinned at 0.25
    commands.call("hold", [3, 0.7])
    commands.call("role", [3, "human"])  # human from 0.7, moved by gestures
    commands.call("role", [2, "model"])
    commands.call("role", [0, "human"])  # dt: the performer's (its value as the engine has it)
    commands.call("range", [0, 0.05])  # open above
    commands.call("range", [4, 0.2, 0.8])
    commands.call("notes", [5, 60, 62, 64])
    commands.call("scale", [62, "major", 6, 7])
    commands.call("range", [7, 0.4, 0.6])  # the scale's notes inside a range
    commands.call("density", [2.5])


def test_the_steering_is_kept_in_the_profile_and_comes_back_with_the_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    shutil.copy(MODEL, tmp_path / "models" / "mine.h5")
    shutil.copy(MODEL, tmp_path / "models" / "other.h5")
    tuned = performance(tmp_path, "models/mine.h5")
    steer(tuned.commands)
    report = tuned.commands.call("steering")
    shown = tuned.engine.steering.describe()
    tuned.commands.call("profile/save")
    saved = json.loads((tmp_path / "models" / "mine.profile.json").read_text())["steering"]
    assert saved["roles"] == ["human", "human", "model", "human"] + ["both"] * 5
    assert saved["held"][1:4] == [0.25, None, 0.7] and saved["pinned"] == [1]
    assert saved["ranges"][0] == [0.05, None] and saved["ranges"][4] == [0.2, 0.8]
    assert saved["notes"][5] == [60, 62, 64] and saved["notes"][6][:3] == [1, 2, 4]  # D major
    assert saved["density"] == 2.5

    again = performance(tmp_path, "models/mine.h5")  # at start, on a fresh engine
    assert again.commands.call("steering") == report
    assert again.engine.steering.describe() == shown  # the pinned dimension too

    async def swap() -> tuple[dict, dict]:
        plain = performance(tmp_path, "models/other.h5")
        plain.commands.call("range", [8, 0.1, 0.2])  # replaced: the profile says no range
        await plain.commands.call("model/use", ["mine.h5"]).wait()
        return plain.commands.call("steering"), plain.engine.steering.describe()

    assert asyncio.run(swap()) == (report, shown)


def test_a_profile_of_only_the_four_numbers_leaves_the_steering_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    shutil.copy(MODEL, tmp_path / "models" / "mine.h5")
    shutil.copy(MODEL, tmp_path / "models" / "other.h5")
    (tmp_path / "models" / "mine.profile.json").write_text(
        '{"pitemp": 1.5, "sigmatemp": 0.05, "timescale": 2.0, "threshold": 0.4}'
    )

    async def swap() -> tuple[dict, dict, float]:
        plain = performance(tmp_path, "models/other.h5")
        steer(plain.commands)
        before = plain.commands.call("steering")
        await plain.commands.call("model/use", ["mine.h5"]).wait()
        return before, plain.commands.call("steering"), plain.engine.model.pi_temp

    before, after, pitemp = asyncio.run(swap())
    assert after == before and pitemp == 1.5


NINE = ["both"] * 9
BAD_PROFILES = [
    (
        {"pitemp": 3.0, "steering": {"roles": NINE, "colour": "red"}},
        r"mine\.profile\.json: unknown key 'steering\.colour'",
    ),
    (
        {"pitemp": 3.0, "steering": {"roles": ["both", "human", "model", "model"]}},
        r"mine\.profile\.json: steering\.roles has 4 entries; this model's dimension is 9",
    ),
    (
        {"steering": {"roles": NINE, "ranges": [None] * 8}},
        r"steering\.ranges has 8 entries; this model's dimension is 9",
    ),
    (
        {"steering": {"roles": ["model", *NINE[1:]]}},
        r"steering\.roles\[0\]: dt \(dimension 0\) can be human or both",
    ),
    (
        {"steering": {"roles": NINE, "held": [None, 0.5, *[None] * 7]}},
        r"steering\.held\[1\]: only a human dimension keeps a value; dimension 1 is both",
    ),
    (
        {"steering": {"roles": NINE, "ranges": [None, [0.9, 0.1], *[None] * 7]}},
        r"steering\.ranges\[1\]: range: low 0\.9 is above high 0\.1",
    ),
    (  # the last thing built fails: nothing before it may have been applied
        {
            "pitemp": 3.0,
            "timescale": 3.0,
            "steering": {
                "roles": ["human", *NINE[1:]],
                "ranges": [None, None, [0.9, 1.0], *[None] * 6],
                "notes": [None, None, [60], *[None] * 6],
                "density": 5.0,
            },
        },
        r"steering\.notes\[2\]: .*no allowed note lies inside 0\.9-1",
    ),
    (
        {"steering": {"roles": NINE, "density": 5000}},
        r"steering\.density: density must be a number from -1000 to 1000",
    ),
]


@pytest.mark.parametrize(
    ("profile", "message"),
    BAD_PROFILES,
    ids=[
        "unknown-key", "other-dimension", "wrong-length", "dt-model", "held-not-human",
        "range-reversed", "notes-outside-range", "density",
    ],
)  # fmt: skip
def test_a_bad_profile_is_refused_with_one_error_and_changes_nothing(
    tmp_path, monkeypatch, profile, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    shutil.copy(MODEL, tmp_path / "models" / "mine.h5")
    shutil.copy(MODEL, tmp_path / "models" / "other.h5")
    (tmp_path / "models" / "mine.profile.json").write_text(json.dumps(profile))
    with pytest.raises(ImpsyError, match=message):  # at start: impsy run stops, file named
        performance(tmp_path, "models/mine.h5")

    async def swap() -> None:
        playing = performance(tmp_path, "models/other.h5")
        playing.commands.call("role", [3, "human"])
        playing.commands.call("range", [2, 0.1, 0.5])
        before = (playing.engine.model, playing.engine.model.pi_temp)
        steering = playing.commands.call("steering")
        timescale = playing.engine.settings.timescale
        with pytest.raises(CommandError, match=f"mine\\.h5 not swapped in: .*{message}"):
            await playing.commands.call("model/use", ["mine.h5"]).wait()
        assert (playing.engine.model, playing.engine.model.pi_temp) == before
        assert playing.engine.settings.timescale == timescale
        assert playing.commands.call("steering") == steering

    asyncio.run(swap())
