"""The benchmark report's bookkeeping: recording rows, checking goals, drawing the table.

Also the helpers every benchmark script shares: OSC bytes (``wire.py``), tables and
percentiles (``tables.py``). Only the arithmetic and the file format are tested
here; the numbers themselves are measured by ``make bench``, never asserted.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.paths import BENCHMARKS

sys.path.insert(0, str(BENCHMARKS))

import report  # noqa: E402
import results  # noqa: E402
import tables  # noqa: E402
import wire  # noqa: E402


def test_record_appends_one_json_line_per_call(tmp_path, monkeypatch):
    path = tmp_path / "results.jsonl"
    monkeypatch.setenv(results.ENV, str(path))
    results.record("round trip", 150.0, "µs", reference=30_000.0, goal="<= 200")
    results.record("rate", 30_000, "msg/s", goal=">= 10000", better="higher", note="paced")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row["measure"] for row in rows] == ["round trip", "rate"]
    assert rows[0]["reference"] == 30_000.0 and rows[0]["goal"] == "<= 200"
    assert rows[1]["better"] == "higher" and rows[1]["note"] == "paced"


def test_record_is_a_no_op_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(results.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    results.record("anything", 1.0, "s")
    assert list(tmp_path.iterdir()) == []


def test_record_stores_nan_as_not_measured(tmp_path, monkeypatch):
    path = tmp_path / "results.jsonl"
    monkeypatch.setenv(results.ENV, str(path))
    results.record("lateness", float("nan"), "ms", reference=float("inf"))
    row = json.loads(path.read_text())
    assert row["impsy"] is None and row["reference"] is None


def test_record_rejects_an_unknown_direction(tmp_path, monkeypatch):
    monkeypatch.setenv(results.ENV, str(tmp_path / "r.jsonl"))
    with pytest.raises(ValueError, match="better"):
        results.record("x", 1.0, "s", better="faster")


def row(impsy, reference=None, goal="", better="lower", unit="µs"):
    return {"measure": "m", "impsy": impsy, "reference": reference, "unit": unit,
            "goal": goal, "better": better, "note": ""}  # fmt: skip


def test_ratio_says_how_many_times_better_impsy_is():
    assert report.ratio(row(20.0, 100.0)) == pytest.approx(5.0)
    assert report.ratio(row(30_000.0, 100.0, better="higher")) == pytest.approx(300.0)
    assert report.ratio(row(0.0, 100.0)) is None  # nothing to divide by
    assert report.ratio(row(20.0)) is None  # IMPSY not measured


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (row(150.0, goal="<= 200"), "yes"),
        (row(250.0, goal="<= 200"), "**no**"),
        (row(30_000.0, goal=">= 10000", better="higher"), "yes"),
        (row(-0.05, goal="|x| <= 0.1"), "yes"),
        (row(-0.5, goal="|x| <= 0.1"), "**no**"),
        (row(20.0, 100.0, goal="ratio >= 5"), "yes"),
        (row(25.0, 100.0, goal="ratio >= 5"), "**no**"),
        (row(20.0, goal="ratio >= 5"), "no IMPSY"),
        (row(None, goal="<= 200"), "not measured"),
        (row(5.0), "—"),
    ],
)
def test_verdict_checks_each_kind_of_goal(case, expected):
    assert report.verdict(case)[0] == expected


def test_table_and_notes_show_a_missed_goal_and_by_how_much():
    rows = [row(250.0, 32_000.0, goal="<= 200") | {"measure": "OSC round trip, median"}]
    lines = report.table(rows)
    assert lines[0] == (
        "| measure | IMPSY 1.2.1 | impsy | ratio | host floor | impsy ÷ floor | goal | met? |"
    )
    assert lines[2] == (
        "| OSC round trip, median | 32,000 µs | 250 µs | 128× | — | — | ≤ 200 µs | **no** |"
    )
    (note,) = report.missed_notes(rows)
    assert "missed by 50 µs (25 %)" in note and "model itself asks" in note


def test_update_readme_replaces_only_the_marked_table(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{report.README_BEGIN}\nold table\n{report.README_END}\nafter\n")
    monkeypatch.setattr(report, "README", readme)
    assert report.update_readme([row(150.0, goal="<= 200")], "summary line")
    text = readme.read_text()
    assert "old table" not in text and "summary line" in text and "| m | — | 150 µs |" in text
    assert text.startswith("before\n") and text.endswith(f"{report.README_END}\nafter\n")


def test_a_failing_script_is_reported_not_fatal(tmp_path, monkeypatch):
    script = tmp_path / "broken.py"
    script.write_text(
        "from results import record\nrecord('half done', 1.0, 's')\nraise SystemExit(3)\n"
    )
    monkeypatch.setattr(report, "LOGS", tmp_path)
    monkeypatch.setattr(report, "HERE", tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(BENCHMARKS))
    bench = report.Bench("broken", (), (), 60)
    outcome = report.run_bench(bench, [], tmp_path / "r.jsonl", quick=False)
    assert outcome.status == "failed (exit 3)"
    assert [r["measure"] for r in report.read_records(tmp_path / "r.jsonl")] == ["half done"]


def test_report_lists_its_scripts_and_rejects_unknown_names():
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "report.py"), "--only", "nonsense"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "unknown script(s): nonsense" in done.stderr and "engine" in done.stderr


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_a_hanging_script_is_stopped_at_its_time_limit(tmp_path, monkeypatch, sigint):
    """Also when the report runs with SIGINT ignored, as a shell's background job (CI) does:
    the script must still get the SIGINT that stops it, not wait out the 30 s grace period
    for SIGKILL."""
    script = tmp_path / "hangs.py"
    script.write_text("import time\nprint('started', flush=True)\ntime.sleep(600)\n")
    monkeypatch.setattr(report, "LOGS", tmp_path)
    monkeypatch.setattr(report, "HERE", tmp_path)
    handler = signal.getsignal(signal.SIGINT)
    ignored = sigint == "ignored"
    signal.signal(signal.SIGINT, signal.SIG_IGN if ignored else signal.default_int_handler)
    try:
        bench = report.Bench("hangs", (), (), 1)
        outcome = report.run_bench(bench, [], tmp_path / "r", quick=False)
    finally:
        signal.signal(signal.SIGINT, handler)
    assert outcome.status == "timed out after 1 s"
    assert outcome.seconds < 20, "stopped by SIGINT, not by the SIGKILL 30 s later"
    assert "started" in (tmp_path / "hangs.log").read_text()


def test_training_row_comes_from_train_py_json(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(
        json.dumps(
            {
                "impsy_1_2_1": {"wall_seconds": 600.0, "test_nll": -4.5},
                "impsy": {"reached": {"epoch": 7, "seconds": 240.0, "test_nll": -4.6}},
                "ratio": 0.4,
                "quick": False,
            }
        )
    )
    (found,) = report.train_rows(path)
    assert (found["impsy"], found["reference"]) == (240.0, 600.0)
    assert report.verdict(found)[0] == "yes"  # 2.5x faster against a 2x goal
    path.write_text(
        json.dumps(
            {
                "impsy_1_2_1": {"wall_seconds": 600.0, "test_nll": -4.5},
                "impsy": {"windows": {"reached": None}, "windows+mirror": {"reached": None}},
            }
        )
    )
    rows = report.train_rows(path)
    assert [r["measure"][-16:] for r in rows] == ["recipe `windows`", "`windows+mirror`"]
    assert report.verdict(rows[0])[0] == "**no**"  # did not get there at all
    path.write_text("{not json")
    assert report.train_rows(path) == []


def test_osc_messages_round_trip_and_status_replies_become_dicts():
    message = wire.osc_message("/x", 1, 0.5, "battle", True)
    assert len(message) % 4 == 0
    assert wire.parse_osc(message) == ("/x", [1, 0.5, "battle", True])
    gesture = wire.interface_message([0.25] * 8)
    assert gesture == wire.osc_message("/interface", *[0.25] * 8)
    assert wire.parse_osc(gesture) == ("/interface", [0.25] * 8)
    reply = wire.osc_message(wire.STATUS, "events_in", 12, "mode", "battle")
    assert reply.startswith(wire.STATUS_PREFIX) and not reply.startswith(wire.PREDICTION_PREFIX)
    assert wire.parse_status(reply) == {"events_in": 12, "mode": "battle"}
    assert wire.parse_osc(wire.STATUS_QUERY) == (wire.STATUS, [])


def test_markdown_table_aligns_columns_and_checks_row_lengths():
    lines = tables.markdown_table(("a", "b", "c"), [("x", 1, "")], align="lr")
    assert lines == ["| a | b | c |", "| --- | ---: | --- |", "| x | 1 |  |"]
    with pytest.raises(ValueError, match="cells"):
        tables.markdown_table(("a", "b"), [("x",)])
    with pytest.raises(ValueError, match="align"):
        tables.markdown_table(("a",), [], align="c")


def test_percentile_is_numpys_and_nan_when_nothing_was_measured():
    values = [4.0, 1.0, 3.0, 2.0]
    assert tables.percentile(values, 50) == 2.5
    assert tables.percentile(values, 50, method="higher") == 3.0  # sorted(v)[int(0.5 * 4)]
    assert tables.percentile([], 99) != tables.percentile([], 99)  # NaN
