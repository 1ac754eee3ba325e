"""Feedback: spans of a logged performance marked good or bad, beside the log, in the dataset.

Real log files (written as impsy writes them), real marks files, ``impsy
dataset`` through its command line, and the training window source that
draws windows by weight.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from impsy.dataset.marks import Span, marks_path, parse_marks, read_marks, write_marks
from impsy.dataset.npz import read_weights, write_dataset
from impsy.errors import ImpsyError
from impsy.training.trainer import _row_weights
from impsy.training.windows import WindowSource
from tests.dataset.test_build import load_perfs, run, write_log

LOG = "2026-09-26T10-00-00-3d-mdrnn.log"
MARKS = {
    "spans": [{"start": 2.0, "end": 4.0, "mark": "bad"}, {"start": 6.0, "end": 7.0, "mark": "good"}]
}


def marked_log(tmp_path):
    """21 interface rows 0.5 s apart (the first only starts the clock): rows at 0.5..10 s;
    bad 2-4 s covers 5 rows, good 6-7 s covers 3."""
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / LOG
    write_log(log, [(0.5 * i, "interface", [i / 20, 1 - i / 20]) for i in range(21)])
    marks_path(log).write_text(json.dumps(MARKS), encoding="utf-8")
    return logs


def test_marks_live_beside_the_log_and_a_mistake_names_the_entry(tmp_path):
    log = tmp_path / LOG
    assert marks_path(log).name == LOG + ".marks.json"
    assert read_marks(log) == []  # no file: no marks
    write_marks(log, [Span(1.0, 2.0, "good")])
    assert read_marks(log) == [Span(1.0, 2.0, "good")]
    for bad, said in (
        ({"spans": [{"start": 3, "end": 1, "mark": "bad"}]}, "spans[0]: start and end"),
        (
            {"spans": [{"start": 0, "end": 1, "mark": "meh"}]},
            "spans[0]: mark must be one of good, bad",
        ),
        ({"spans": [{"start": 0, "end": 1, "mark": "bad", "x": 1}]}, "spans[0]: expected start"),
        ([], "expected"),
    ):
        with pytest.raises(ImpsyError, match=re.escape(said)):
            parse_marks(bad, "f.json")


def test_bad_spans_are_dropped_and_good_ones_weighted_up(tmp_path):
    logs = marked_log(tmp_path)
    result = run("-S", logs, "-O", tmp_path / "out", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    output = tmp_path / "out" / "training-dataset-3d.npz"
    with np.load(output, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["perfs", "weights"]
    first, second = load_perfs_any(output)
    times_first = np.cumsum(first[:, 0]).round(6).tolist()
    assert times_first == [0.5, 1.0, 1.5]  # before the bad span
    assert len(second) == 12 and np.isclose(second[0, 0], 0.5)  # from 4.5 s, its own dt
    np.testing.assert_allclose(second[:, 1], [i / 20 for i in range(9, 21)], rtol=1e-6)
    weights = read_weights(output)
    assert [w.tolist() for w in weights] == [[1, 1, 1], [1, 1, 1, 2, 2, 2] + [1] * 6]
    assert re.search(r"bad rows dropped +5$", result.output, re.MULTILINE)
    assert re.search(r"good rows +3$", result.output, re.MULTILINE)


def test_bad_spans_can_be_kept_with_a_lower_weight_or_marks_ignored(tmp_path):
    logs = marked_log(tmp_path)
    result = run("-S", logs, "-O", tmp_path / "w", "--bad-weight", "0.25", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    (perf,) = load_perfs_any(tmp_path / "w" / "training-dataset-3d.npz")
    assert len(perf) == 20
    (weights,) = read_weights(tmp_path / "w" / "training-dataset-3d.npz")
    assert weights.tolist() == [1] * 3 + [0.25] * 5 + [1] * 3 + [2] * 3 + [1] * 6
    result = run("-S", logs, "-O", tmp_path / "plain", "--no-marks", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    (perf,) = load_perfs(tmp_path / "plain" / "training-dataset-3d.npz")  # IMPSY's file: perfs only
    assert len(perf) == 20


def load_perfs_any(path):
    from impsy.model.nll import read_performances

    return read_performances(path)


def test_training_draws_windows_in_proportion_to_their_weight():
    a = np.zeros((400, 3), np.float32)
    b = np.ones((400, 3), np.float32)
    c = np.full((400, 3), 2.0, np.float32)
    weights = [np.ones(400), np.full(400, 3.0), np.zeros(400)]
    source = WindowSource([a, b, c], 11, weights=weights)
    batches = source.training_batches(10, 100, np.random.default_rng(0))
    seen = np.concatenate([next(batches)[1][:, 0, 1] for _ in range(60)])  # model space x10
    counts = {value: int(np.sum(seen == value)) for value in (0.0, 10.0, 20.0)}
    assert counts[20.0] == 0  # weight 0: never drawn
    assert 2.5 < counts[10.0] / counts[0.0] < 3.5, counts  # weight 3 against 1


def test_training_reads_the_weights_and_refuses_ones_that_do_not_fit(tmp_path):
    perfs = [np.ones((5, 3), np.float32), np.ones((4, 3), np.float32)]
    path = write_dataset(tmp_path / "d.npz", perfs, [np.full(5, 2.0), np.ones(4)])
    lines: list[str] = []
    weights = _row_weights(path, perfs, lines.append)
    assert [w.tolist() for w in weights] == [[2.0] * 5, [1.0] * 4]
    assert lines == ["row weights: 5 of 9 rows weighted (marked spans); windows drawn by weight"]
    assert _row_weights(write_dataset(tmp_path / "plain.npz", perfs), perfs, lines.append) is None
    with pytest.raises(ImpsyError, match="do not match"):
        _row_weights(path, perfs[:1], lines.append)
