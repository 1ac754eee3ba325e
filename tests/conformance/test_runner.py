"""IMPSY 1.2.1's conformance vectors, run through the runner and the CLI command."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from impsy.cli.conformance import conformance
from impsy.conformance.runner import first_difference, run_spec
from tests.paths import SPEC

VECTOR_FILES = sorted((SPEC / "vectors").glob("*.json"))


def _case_count() -> int:
    return sum(len(json.loads(path.read_text())["cases"]) for path in VECTOR_FILES)


def _spec_with(tmp_path: Path, documents: dict[str, object]) -> Path:
    """A spec directory holding only the given vector documents (name -> JSON value or text)."""
    vectors = tmp_path / "spec" / "vectors"
    vectors.mkdir(parents=True)
    for name, document in documents.items():
        text = document if isinstance(document, str) else json.dumps(document)
        (vectors / name).write_text(text)
    return vectors.parent


def _vector(name: str) -> dict:
    return json.loads((SPEC / "vectors" / name).read_text())


def test_every_vendored_case_passes():
    results = list(run_spec(SPEC))
    failures = [f"{r.file}:{r.case}: {r.detail}" for r in results if not r.passed]
    assert failures == []
    assert len(VECTOR_FILES) == 8
    assert len(results) == _case_count() == 36


def test_cli_prints_a_line_per_case_and_the_total():
    result = CliRunner().invoke(conformance, [str(SPEC)])
    lines = result.output.splitlines()
    assert result.exit_code == 0, result.output
    assert lines[-1] == "36 passed, 0 failed"
    assert "PASS midi_output:polyphonic_notes_on_one_channel" in lines
    assert "PASS model:fixed_weight_model_steps" in lines
    assert len(lines) == 37


def test_corrupted_vector_makes_the_cli_fail(tmp_path):
    document = _vector("midi_output.json")
    document["cases"][0]["expected"][1][2] = [176, 42, 33]  # IMPSY sends 32 for 0.25
    spec = _spec_with(tmp_path, {"midi_output.json": document})
    result = CliRunner().invoke(conformance, [str(spec)])
    assert result.exit_code == 1
    assert (
        "FAIL midi_output:note_and_cc_encoding: expected[1][2][2]: expected 33, got 32"
        in result.output.splitlines()
    )
    assert result.output.splitlines()[-1] == "10 passed, 1 failed"


def test_unknown_vector_file_kind_fails(tmp_path):
    spec = _spec_with(
        tmp_path,
        {
            "osc_input.json": {"description": "?", "tolerance": 0, "cases": [{"name": "a"}]},
            "playback.json": _vector("playback.json"),
        },
    )
    result = CliRunner().invoke(conformance, [str(spec)])
    assert result.exit_code == 1
    assert "FAIL osc_input:*: unknown vector file kind 'osc_input'" in result.output
    assert result.output.splitlines()[-1] == "2 passed, 1 failed"


def test_case_with_an_unknown_field_fails_instead_of_being_skipped(tmp_path):
    document = _vector("playback.json")
    document["cases"][1]["jitter"] = 0.5
    del document["cases"][0]["timescale"]
    spec = _spec_with(tmp_path, {"playback.json": document})
    result = CliRunner().invoke(conformance, [str(spec)])
    lines = result.output.splitlines()
    assert result.exit_code == 1
    assert lines == [
        "FAIL playback:timescale_and_clamping: case not understood: missing field 'timescale'",
        "FAIL playback:slower_timescale: case not understood: unknown field 'jitter'",
        "0 passed, 2 failed",
    ]


def test_unknown_step_shape_fails(tmp_path):
    document = _vector("midi_output.json")
    document["cases"] = document["cases"][2:3]  # all_notes_off
    document["cases"][0]["steps"][0] = {"panic": True}
    spec = _spec_with(tmp_path, {"midi_output.json": document})
    result = CliRunner().invoke(conformance, [str(spec)])
    assert result.exit_code == 1
    assert "FAIL midi_output:all_notes_off: case not understood: step 0" in result.output


def test_unreadable_vector_file_fails(tmp_path):
    spec = _spec_with(tmp_path, {"dataset.json": "{not json"})
    result = CliRunner().invoke(conformance, [str(spec)])
    assert result.exit_code == 1
    assert result.output.startswith("FAIL dataset:*: cannot read dataset.json")
    assert result.output.splitlines()[-1] == "0 passed, 1 failed"


def test_missing_directory_exits_non_zero(tmp_path):
    result = CliRunner().invoke(conformance, [str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_no_cases_is_not_a_pass(tmp_path):
    spec = _spec_with(tmp_path, {})
    result = CliRunner().invoke(conformance, [str(spec)])
    assert result.exit_code == 1
    assert "0 passed, 0 failed" in result.output


@pytest.mark.parametrize(
    ("expected", "got", "difference"),
    [
        (1.0, 1.005, None),
        (1.0, 1.02, "expected: expected 1.0, got 1.02"),
        ([1, [2, 3]], [1, [2, 4]], "expected[1][1]: expected 3, got 4"),
        ([1, 2], [1], "expected: expected [1, 2], got [1]"),
        ({"a": 1}, {}, "expected.a: expected 1, got nothing"),
        ({}, {"b": 2}, "expected.b: expected nothing, got 2"),
        (None, [], "expected: expected null, got []"),
        ([[0, 0.5]], [(0, 0.5)], None),
        ("x", "y", 'expected: expected "x", got "y"'),
        (True, 1, "expected: expected true, got 1"),
    ],
)
def test_first_difference_reports_the_path_and_both_values(expected, got, difference):
    assert first_difference(expected, got, 0.01) == difference
