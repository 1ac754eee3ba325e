"""``impsy temperatures``: the table, the recommendation, JSON, and one-line errors."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from click.testing import CliRunner

from impsy.cli import main
from impsy.cli.temperatures import temperatures
from tests.paths import DATA, MODELS

STEM = "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained"
MODEL = MODELS / f"{STEM}.keras"
DATA_9D = DATA / "training-dataset-9d.npz"
DATA_4D = DATA / "training-dataset-4d-12ksmall.npz"
SMALL = ("--pi", "0.5,1", "--sigma", "0.005,0.02", "--steps", "400", "--seeds", "4")
ROW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)(?:\s+(\d+\.\d{3})){4}(  [*~])?$", re.M)


def run(*args):
    return CliRunner().invoke(temperatures, [str(a) for a in args])


def test_prints_a_row_per_pair_and_recommends_the_closest():
    result = run(MODEL, DATA_9D, *SMALL)
    assert result.exit_code == 0, result.output
    rows = ROW.findall(result.stdout)
    assert [(float(pi), float(sigma)) for pi, sigma, _, _ in rows] == [
        (0.5, 0.005),
        (0.5, 0.02),
        (1.0, 0.005),
        (1.0, 0.02),
    ]
    lines = result.stdout.splitlines()
    table = [line for line in lines if ROW.match(line)]
    totals = [float(line.split()[5]) for line in table]
    best = table[totals.index(min(totals))]
    assert best.endswith("  *") and sum(line.endswith("*") for line in table) == 1
    pi, sigma = best.split()[:2]
    assert lines[-4].startswith(f"recommended: pi {pi}, sigma {sigma} (total {min(totals):.3f})")
    assert lines[-3:] == ["[model]", f"pitemp = {pi}", f"sigmatemp = {sigma}"]
    assert "400 events per pair from 4 seed states" in result.stdout


def test_json_holds_every_cell_and_the_same_recommendation():
    text = run(MODEL, DATA_9D, *SMALL)
    result = run(MODEL, DATA_9D, *SMALL, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert len(out["cells"]) == 4 and len(out["cells"][0]["changes"]) == 8
    best = out["best"]
    assert best["total"] == min(cell["total"] for cell in out["cells"])
    assert out["config"] == {"model": {"pitemp": best["pi_temp"], "sigmatemp": best["sigma_temp"]}}
    assert f"pitemp = {best['pi_temp']:g}" in text.stdout, "seeded: the same answer both ways"
    assert out["steps"] == 400 and len(out["seeds"]) == 4


def test_a_tflite_runs_through_the_weights_beside_it_and_is_registered():
    result = CliRunner().invoke(
        main, ["temperatures", str(MODELS / f"{STEM}.tflite"), str(DATA_9D), *SMALL]
    )
    assert result.exit_code == 0, result.output
    assert f"{STEM}.keras: numpy engine" in result.stdout
    assert f"as {STEM}.tflite was converted" in result.stdout
    assert "temperatures" in CliRunner().invoke(main, ["--help"]).stdout


def test_dimension_mismatch_is_one_line():
    result = run(MODEL, DATA_4D, *SMALL)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {DATA_4D} has dimension 4 but {MODEL} is dimension 9"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((MODEL, "missing.npz"), "missing.npz: not a readable dataset .npz"),
        (("nothing.keras", DATA_9D), "nothing.keras: no such model file"),
        ((MODEL, DATA_9D, "--pi", "0"), "pi temperature must be a finite number above 0"),
    ],
)
def test_bad_files_and_values_are_one_line(args, message):
    result = run(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert "Traceback" not in result.output


def test_a_tflite_without_weights_beside_it_says_what_it_needs(tmp_path):
    lonely = tmp_path / "lonely.tflite"
    shutil.copy(MODELS / f"{STEM}.tflite", lonely)
    result = run(lonely, DATA_9D)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {lonely}: this command runs the numpy engine, which needs the model's .keras "
        "or .h5 weights beside it (expected lonely.keras, .h5 or .weights.h5)"
    ]


def test_an_unreadable_dataset_names_the_file(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    result = run(MODEL, junk)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {junk}: not a readable dataset .npz")


def test_a_list_that_is_not_numbers_is_a_usage_error():
    result = run(MODEL, DATA_9D, "--sigma", "0.01,lots")
    assert result.exit_code == 2 and "expected numbers separated by commas" in result.output
