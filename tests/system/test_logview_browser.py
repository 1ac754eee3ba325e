"""The log view as a performer uses it: a real `impsy run`, a real browser, a real log.

Open a log from the Files page, see it plotted over time, mark one span bad
by dragging across the plot and one good by typing its times, save: the
marks land beside the log, and `impsy dataset` then leaves the bad rows out.
Browser and run as in ``test_webui_browser.py`` (Debian's chromium, headless).
"""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from playwright.sync_api import expect

from impsy.cli.dataset import dataset
from impsy.dataset.marks import marks_path
from impsy.dataset.npz import read_weights
from impsy.model.nll import read_performances
from tests.dataset.test_build import write_log
from tests.system.test_webui_browser import browser, open_page, screenshot, start_run  # noqa: F401

LOG = "2026-12-02T10-00-00-9d-mdrnn.log"


def test_mark_spans_of_a_log_good_and_bad_and_the_dataset_follows(tmp_path, open_page):  # noqa: F811
    run = start_run(tmp_path, mode="useronly")
    try:
        log = run.cwd / "logs" / LOG
        rows = 161  # one every 1/8 s (exact in binary) for 20 s: eight knobs at their own speeds
        write_log(
            log,
            [
                (i / 8, "interface", [0.5 + 0.45 * np.sin(0.04 * i * (k + 1)) for k in range(8)])
                for i in range(rows)
            ],
        )
        page = open_page(run, "files")
        logs = page.get_by_role("table", name="Logs")
        logs.get_by_role("button", name=f"view {LOG}").click()
        view = page.get_by_role("region", name=f"Log {LOG}")
        expect(view).to_contain_text("160 rows over 20.0 s, dimension 9")

        plot = view.get_by_role("img", name="the performance over time")
        box = plot.bounding_box()
        assert box is not None
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] * 0.25, y)  # about 5 s
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.45, y, steps=5)  # about 9 s
        page.mouse.up()
        start, end = (
            float(view.get_by_label("from (s)").input_value()),
            float(view.get_by_label("to (s)").input_value()),
        )
        assert 4.0 < start < 6.0 and 8.0 < end < 10.0, (start, end)
        view.get_by_role("button", name="Mark bad").click()
        view.get_by_label("from (s)").fill("12")
        view.get_by_label("to (s)").fill("15")
        view.get_by_role("button", name="Mark good").click()
        expect(view.get_by_role("list", name="marked spans").get_by_role("listitem")).to_have_count(
            2
        )
        view.get_by_role("button", name="Save marks").click()
        expect(view.locator(".notice.ok")).to_contain_text(f"saved 2 mark(s) beside {LOG}")
        screenshot(page, "files-logview")

        saved = json.loads(marks_path(log).read_text())["spans"]
        assert [s["mark"] for s in saved] == ["bad", "good"]
        assert saved[1]["start"] == 12 and saved[1]["end"] == 15
        bad_start, bad_end = saved[0]["start"], saved[0]["end"]

        result = CliRunner().invoke(
            dataset,
            ["-c", str(run.config), "-S", str(run.cwd / "logs"), "-O", str(tmp_path / "out")],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        made = tmp_path / "out" / "training-dataset-9d.npz"
        pieces = read_performances(made)
        times = np.arange(1, rows) / 8
        bad = (times >= bad_start) & (times <= bad_end)
        assert len(pieces) == 2 and sum(len(p) for p in pieces) == rows - 1 - int(bad.sum())
        good = [w for w in np.concatenate(read_weights(made)) if w == 2.0]
        assert len(good) == 25  # 12.0, 12.125, ..., 15.0 s
    finally:
        run.stop()
