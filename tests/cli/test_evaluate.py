"""``impsy evaluate`` and the NLL it reports."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

from impsy.cli.evaluate import evaluate
from impsy.model.nll import mixture_log_prob, read_performances
from tests.paths import ROOT

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10"
DATA_9D = ROOT / "tests" / "data" / "training-dataset-9d.npz"
DATA_4D = ROOT / "tests" / "data" / "training-dataset-4d-12ksmall.npz"
ROW = re.compile(r"^\s+(\d+)\s+(\d+)\s+(-?\d+\.\d+)$", re.MULTILINE)
OVERALL = re.compile(r"mean NLL per step: (-?\d+\.\d+) over (\d+) steps in (\d+) performances")


def run(*args: str):
    return CliRunner().invoke(evaluate, [str(a) for a in args])


def overall(output: str) -> float:
    return float(OVERALL.search(output).group(1))


def test_prints_a_row_per_performance_and_the_step_weighted_mean():
    result = run(f"{MODEL}.h5", DATA_9D, "--limit", "6")
    assert result.exit_code == 0, result.output
    rows = [(int(i), int(n), float(m)) for i, n, m in ROW.findall(result.stdout)]
    performances = read_performances(DATA_9D)[:6]
    scorable = [i for i, p in enumerate(performances) if len(p) > 1]
    assert [i for i, _, _ in rows] == scorable
    assert [n for _, n, _ in rows] == [len(performances[i]) - 1 for i in scorable]
    weighted = sum(n * m for _, n, m in rows) / sum(n for _, n, _ in rows)
    assert overall(result.stdout) == pytest.approx(weighted, abs=1e-3)
    match = OVERALL.search(result.stdout)
    assert int(match.group(2)) == sum(n for _, n, _ in rows)
    assert "gate hard_sigmoid" in result.stdout


def test_gate_option_changes_the_score():
    auto = run(f"{MODEL}.h5", DATA_9D, "--limit", "3")
    sigmoid = run(f"{MODEL}.h5", DATA_9D, "--limit", "3", "--gate", "sigmoid")
    assert auto.exit_code == sigmoid.exit_code == 0
    assert "gate sigmoid" in sigmoid.stdout
    assert overall(auto.stdout) < overall(sigmoid.stdout)


def test_tflite_with_litert_matches_h5_with_sigmoid():
    lite = run(f"{MODEL}.tflite", DATA_9D, "--limit", "3", "--engine", "litert")
    h5 = run(f"{MODEL}.h5", DATA_9D, "--limit", "3", "--gate", "sigmoid")
    assert lite.exit_code == 0 and "litert engine" in lite.stdout
    assert overall(lite.stdout) == pytest.approx(overall(h5.stdout), abs=1e-3)


def test_equal_length_performances_stored_as_one_3d_array(tmp_path):
    performances = [p[:40] for p in read_performances(DATA_9D) if len(p) >= 40][:3]
    stacked = tmp_path / "stacked.npz"
    np.savez(stacked, perfs=np.stack(performances))
    listed = tmp_path / "listed.npz"
    as_objects = np.empty(len(performances), dtype=object)
    as_objects[:] = performances
    np.savez(listed, perfs=as_objects)
    a, b = run(f"{MODEL}.h5", stacked), run(f"{MODEL}.h5", listed)
    assert a.exit_code == b.exit_code == 0
    assert np.load(stacked, allow_pickle=True)["perfs"].ndim == 3
    assert ROW.findall(a.stdout) == ROW.findall(b.stdout)
    assert len(ROW.findall(a.stdout)) == 3


def test_dimension_mismatch_is_one_line_not_a_traceback():
    result = run(f"{MODEL}.h5", DATA_4D)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {DATA_4D} has dimension 4 but {MODEL}.h5 is dimension 9"
    ]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((f"{MODEL}.h5", "missing.npz"), "missing.npz"),
        ((f"{MODEL}.h5", DATA_9D, "--engine", "litert"), "litert engine runs .tflite"),
        (("nothing.tflite", DATA_9D), "no such model file"),
    ],
)
def test_user_errors_are_reported_on_one_line(args, message):
    result = run(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_log_prob_of_a_standard_normal():
    # one component, one dimension, mu 0, sigma 1: log p(0) = -ln(2 pi) / 2
    raw = np.array([[0.0, 1.0, 0.0]])
    assert mixture_log_prob(raw, np.array([[0.0]]), 1, 1)[0] == pytest.approx(
        -0.5 * math.log(2 * math.pi)
    )
    # at one sigma away, the density drops by exp(-1/2)
    assert mixture_log_prob(raw, np.array([[1.0]]), 1, 1)[0] == pytest.approx(
        -0.5 * math.log(2 * math.pi) - 0.5
    )


def test_log_prob_of_a_two_component_mixture():
    # weights 1/4 and 3/4 (logits 0, ln 3); components N(0, 1) and N(10, 2) in one dimension
    raw = np.array([[0.0, 10.0, 1.0, 2.0, 0.0, math.log(3)]])
    x = 1.0
    density = 0.25 * math.exp(-0.5 * x**2) / math.sqrt(2 * math.pi) + 0.75 * math.exp(
        -0.5 * ((x - 10) / 2) ** 2
    ) / (2 * math.sqrt(2 * math.pi))
    assert mixture_log_prob(raw, np.array([[x]]), 1, 2)[0] == pytest.approx(math.log(density))
