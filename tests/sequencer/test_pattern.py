"""Patterns, banks and their files: validation, round trips, readable errors, config."""

from __future__ import annotations

import json

import pytest

from impsy.app import check_config
from impsy.config import ConfigError, load_config_text
from impsy.sequencer.files.storage import BankFileError, load_bank, save_bank
from impsy.sequencer.pattern import Bank, Pattern, PatternError, Step, Track


def sample_bank() -> Bank:
    lead = Track.empty("lead", 16, port="Volca", channel=3)
    lead.steps[0] = Step(on=True, notes=(60, 64, 67), velocity=90, gate=2.5, probability=0.5)
    lead.steps[5].cc = {74: 100}
    drums = Track.empty("drums", 12, steps_per_beat=3, muted=True)
    return Bank([Pattern("verse", [lead, drums]), Pattern("chorus", [lead.copy()])], song=[0, 1])


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_bank_round_trips_through_files(tmp_path, suffix: str) -> None:
    bank = sample_bank()
    path = save_bank(bank, tmp_path / f"bank{suffix}")
    assert load_bank(path) == bank
    assert "chorus" in path.read_text()  # human-readable


def test_to_dict_is_json_and_from_dict_restores() -> None:
    bank = sample_bank()
    data = json.loads(json.dumps(bank.to_dict()))
    assert Bank.from_dict(data) == bank
    assert data["patterns"][0]["tracks"][0]["steps"][5]["cc"] == {"74": 100}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["patterns"][0]["tracks"][0].update(channel=17), "tracks[0].channel"),
        (lambda d: d["patterns"][0]["tracks"][0]["steps"][0].update(gate=0), "steps[0].gate"),
        (lambda d: d["patterns"][0]["tracks"][0]["steps"][0].update(notes=[]), "steps[0].notes"),
        (lambda d: d["patterns"][0]["tracks"][1].update(steps_per_beat=5), "steps_per_beat"),
        (lambda d: d["patterns"][0]["tracks"][0].update(steps=65), "tracks[0].steps"),
        (lambda d: d.update(song=[0, 2]), "song[1]"),
        (lambda d: d["patterns"][0]["tracks"][0]["steps"][1].update(pitch=3), "unknown key"),
    ],
)
def test_bad_values_name_the_field(change, where: str) -> None:  # noqa: ANN001
    data = sample_bank().to_dict()
    change(data)
    with pytest.raises(PatternError, match=where.replace("[", r"\[").replace("]", r"\]")):
        Bank.from_dict(data)


def test_a_track_may_be_written_with_a_step_count() -> None:
    track = Track.from_dict({"name": "x", "steps": 8})
    assert track.length == 8 and not any(s.on for s in track.steps)


def test_unreadable_bank_files_name_the_file(tmp_path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("song = [")
    with pytest.raises(BankFileError, match="broken.toml: not valid TOML"):
        load_bank(broken)
    with pytest.raises(BankFileError, match="missing.json: cannot read"):
        load_bank(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"patterns": [{"name": "p", "tracks": []}]}))
    with pytest.raises(BankFileError, match=r"bad.json: bank.patterns\[0\].tracks"):
        load_bank(bad)


def test_sequencer_config_defaults_and_tracks() -> None:
    config = load_config_text("[sequencer]\n", "s.toml")
    seq = config.sequencer
    assert seq is not None and config.warnings == ()
    assert (seq.tempo, seq.clock, seq.quantise, seq.ghosts, seq.autostart) == (
        120.0,
        "internal",
        100.0,
        0,
        False,
    )
    assert len(seq.tracks) == 1 and seq.tracks[0].port == ""
    config = load_config_text(
        '[sequencer]\ntracks = [{ name = "bass", port = "Volca", channel = 2 }, { steps = 8 }]',
        "s.toml",
    )
    assert [(t.name, t.port, t.channel, t.steps) for t in config.sequencer.tracks] == [
        ("bass", "Volca", 2, 16),
        ("track 2", "", 1, 8),
    ]
    assert load_config_text("", "s.toml").sequencer is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("tempo = 10", "s.toml: [sequencer] tempo: expected a number 20-300, got 10"),
        ("swing = 0.9", "[sequencer] swing: expected a number 0-0.75"),
        ('clock = "midi"', "[sequencer] clock: expected one of internal, master, follow"),
        ('clock = "follow"', '[sequencer] clock_in: clock = "follow" needs clock_in'),
        ("tracks = [{ channel = 0 }]", "[sequencer] tracks[0].channel: expected an integer 1-16"),
        ("tracks = [{ steps_per_beat = 5 }]", "[sequencer] tracks[0].steps_per_beat"),
        ("model_track = 2", "[sequencer] model_track: expected -1 (none) or a track index 0-0"),
        ('mapping = [["note_on", 1]]', "[sequencer] mapping"),
        ("quantise = 101", "[sequencer] quantise: expected a number 0-100"),
        ('edit_mode = "jam"', "[sequencer] edit_mode: expected one of step, live"),
        (
            'controllers = [{ profile = "nope", in_device = "x" }]',
            "[sequencer] controllers[0].profile: controller profile 'nope': no such built-in",
        ),
        ('controllers = [{ profile = "generic" }]', "[sequencer] controllers[0].in_device"),
    ],
)
def test_sequencer_config_errors_name_file_section_and_key(body: str, message: str) -> None:
    """As ``impsy run`` checks a config: parsed, then its controller profiles loaded."""
    with pytest.raises(ConfigError) as caught:
        check_config(load_config_text(f"[sequencer]\n{body}\n", "s.toml"))
    assert message in str(caught.value)


def test_unknown_sequencer_keys_warn() -> None:
    config = load_config_text("[sequencer]\ntempoo = 100\n", "s.toml")
    assert config.warnings == (
        "s.toml: [sequencer] tempoo: unknown key, ignored; did you mean tempo?",
    )
