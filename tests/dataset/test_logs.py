"""IMPSY's log format: writing lines, reading them back, and skipping broken rows."""

import datetime as dt

import numpy as np
import pytest

from impsy.dataset.logs import (
    BAD_NUMBER,
    BAD_TIMESTAMP,
    TOO_FEW,
    TOO_MANY,
    format_log_line,
    parse_log_lines,
    read_log_file,
)

T0 = dt.datetime(2026, 9, 26, 10, 0, 0, 250000)


def test_line_format_matches_impsy():
    line = format_log_line(T0, "interface", [0.5, 60 / 127])
    assert line == "2026-09-26T10:00:00.250000,interface,0.5,0.47244094488188976"


def test_whole_second_timestamps_have_no_fraction_like_isoformat():
    line = format_log_line(dt.datetime(2026, 1, 2, 3, 4, 5), "rnn", [1.0])
    assert line == "2026-01-02T03:04:05,rnn,1.0"


def test_numpy_values_print_in_their_own_shortest_form():
    values32 = np.array([60 / 127, 0.1], dtype=np.float32)
    assert format_log_line(T0, "rnn", values32).endswith(",rnn,0.47244096,0.1")
    values64 = np.array([60 / 127, 0.1])
    assert format_log_line(T0, "rnn", values64).endswith(",rnn,0.47244094488188976,0.1")


def test_round_trip_through_format_and_parse():
    steps = [(0.0, [0.5, 0.25]), (0.5, [0.75, 0.25]), (0.75, [0.75, 1.0]), (2.0, [0.0, 1.0])]
    lines = [
        format_log_line(T0 + dt.timedelta(seconds=offset), "interface", values)
        for offset, values in steps
    ]
    lines.insert(2, format_log_line(T0 + dt.timedelta(seconds=0.6), "rnn", [0.1, 0.2]))
    rows, skipped = parse_log_lines(lines, dimension=3, dtype=np.float64)
    assert skipped == {}
    assert rows.tolist() == [[0.5, 0.75, 0.25], [0.25, 0.75, 1.0], [1.25, 0.0, 1.0]]


def test_rows_are_float32_by_default():
    lines = ["2026-09-26T10:00:00,interface,0.5", "2026-09-26T10:00:01,interface,0.25"]
    rows, _ = parse_log_lines(lines, dimension=2)
    assert rows.dtype == np.float32
    assert rows.tolist() == [[1.0, 0.25]]


@pytest.mark.parametrize(
    "lines",
    [[], ["2026-09-26T10:00:00,interface,0.5,0.5"], ["2026-09-26T10:00:00,rnn,0.5,0.5"] * 3],
)
def test_fewer_than_two_interface_rows_give_an_empty_array(lines):
    rows, skipped = parse_log_lines(lines, dimension=3)
    assert rows.shape == (0, 3)
    assert skipped == {}


def test_malformed_rows_are_skipped_and_counted_by_reason():
    lines = [
        "2026-09-26T10:00:00,interface,0.5,0.5\n",
        "\n",
        "2026-09-26T10:00:01,interface,0.5\n",
        "2026-09-26T10:00:01,interface,0.5,0.5,0.5\n",
        "2026-09-26T10:00:01,interface,abc,0.5\n",
        "2026-09-26T10:00:01,interface,nan,0.5\n",
        "yesterday,interface,0.5,0.5\n",
        "garbage\n",
        "2026-09-26T10:00:01,rnn,0.5\n",
        "2026-09-26T10:00:03,interface,0.25,1\n",
    ]
    rows, skipped = parse_log_lines(lines, dimension=3)
    assert rows.tolist() == [[3.0, 0.25, 1.0]]
    assert skipped == {TOO_FEW: 2, TOO_MANY: 1, BAD_NUMBER: 2, BAD_TIMESTAMP: 1}


def test_timestamps_with_and_without_a_zone_do_not_mix():
    lines = [
        "2026-09-26T10:00:00,interface,0.5",
        "2026-09-26T10:00:01+00:00,interface,0.5",
        "2026-09-26T10:00:02,interface,0.5",
    ]
    rows, skipped = parse_log_lines(lines, dimension=2)
    assert rows.tolist() == [[2.0, 0.5]]
    assert skipped == {BAD_TIMESTAMP: 1}


def test_read_log_file_survives_undecodable_bytes(tmp_path):
    path = tmp_path / "2026-09-26T10-00-00-2d-mdrnn.log"
    path.write_bytes(
        b"2026-09-26T10:00:00.000000,interface,0.5\n"
        b"2026-09-26T10:00:00.500000,interface,\xff\xfe\n"
        b"2026-09-26T10:00:01.500000,interface,0.75\n"
    )
    rows, skipped = read_log_file(path, dimension=2)
    assert rows.tolist() == [[1.5, 0.75]]
    assert skipped == {BAD_NUMBER: 1}


def test_a_logged_file_reads_back(tmp_path):
    path = tmp_path / "perf.log"
    values = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]
    with open(path, "w", encoding="utf-8") as file:
        for second, row in enumerate(values):
            file.write(format_log_line(T0 + dt.timedelta(seconds=second), "interface", row) + "\n")
    rows, skipped = read_log_file(path, dimension=3, dtype=np.float64)
    assert skipped == {}
    assert rows.tolist() == [[1.0, 0.3, 0.4], [1.0, 0.5, 0.6]]
