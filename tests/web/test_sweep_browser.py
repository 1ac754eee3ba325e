"""A sweep's table in a real browser: the Training page of a real ``impsy run``.

The sweep field is checked as it is typed by ``impsy train``'s own parser (the
server's), and a sweep record in the models folder (``NAME-sweep.json``, as
``impsy train --sweep`` writes it; here one of four trials, one of them failed)
opens as the trials table with the chosen trial marked. Headless Chromium, as
``tests/system/test_webui_browser.py`` drives it. A sweep run from the page's
API, with its per-trial progress, is ``tests/web/test_jobs.py``'s.

``IMPSY_SCREENSHOTS=1`` also saves the card to ``docs/screenshots/training-sweep.png``
(docs/webui.md shows it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.system import test_webui_browser as webui
from tests.system.test_webui_browser import SCREENSHOTS, Run, start_run

browser = webui.browser  # one headless Chromium, pages at 1280x800
open_page = webui.open_page

RECORD = {
    "studio": "ray at 192.168.1.20:6379",
    "wall_seconds": 42.2,
    "selected_by": "val_nll (whole validation performances)",
    "best": 4,
    "trials": [
        {"number": 1, "params": {"units": 16, "dropout": 0.0}, "val_nll": 5.5195,
         "epochs_run": 3, "best_epoch": 3, "seconds": 14.2, "error": None, "files": {}},
        {"number": 2, "params": {"units": 16, "dropout": 0.1}, "val_nll": 5.2871,
         "epochs_run": 3, "best_epoch": 2, "seconds": 13.9, "error": None, "files": {}},
        {"number": 3, "params": {"units": 32, "dropout": 0.0}, "val_nll": None,
         "epochs_run": 0, "best_epoch": 0, "seconds": 0.0, "error": "worker died", "files": {}},
        {"number": 4, "params": {"units": 32, "dropout": 0.1}, "val_nll": 4.5153,
         "epochs_run": 3, "best_epoch": 3, "seconds": 9.8, "error": None,
         "files": {"keras": "/home/me/models/swept.keras",
                   "tflite": "/home/me/models/swept.tflite"}},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory) -> Iterator[Run]:
    cwd = tmp_path_factory.mktemp("webui-sweep")
    (cwd / "models").mkdir()
    (cwd / "models" / "swept-sweep.json").write_text(json.dumps(RECORD, indent=2))
    server = start_run(cwd, mode="useronly")
    yield server
    server.stop()


def test_the_sweep_field_is_checked_by_impsy_trains_parser(sweep_run, open_page):
    page = open_page(sweep_run, "training")
    field = page.get_by_label("Sweep (optional)")
    note = page.locator("#tr-sweep-check")
    field.fill("units=16,32 dropout=0,0.1")
    expect(note).to_have_text(
        "4 trials: units=16 dropout=0 | units=16 dropout=0.1 | units=32 dropout=0 | "
        "units=32 dropout=0.1"
    )
    field.fill("units=16,big")
    expect(note).to_have_text("--sweep 'units=16,big': 'big' is not an integer")
    expect(field).to_have_attribute("aria-invalid", "true")
    field.fill("")
    expect(note).to_have_text("empty: one training")


def test_a_sweep_record_opens_as_its_table_with_the_chosen_trial_marked(sweep_run, open_page):
    page = open_page(sweep_run, "training")
    expect(page.locator("#sw-record option")).to_have_text(["swept-sweep.json"])
    page.get_by_role("button", name="Show sweep").click()
    table = page.get_by_role("table", name="sweep trials")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(4)
    headers = table.locator("thead th").all_inner_texts()
    assert headers[:3] == ["trial", "units", "dropout"]
    column = {name: i for i, name in enumerate(headers)}
    for row, trial in zip(rows.all(), RECORD["trials"], strict=True):
        cells = row.locator("td").all_inner_texts()
        assert cells[0].strip() == str(trial["number"])
        assert [float(c) for c in cells[1:3]] == list(trial["params"].values())
        shown = f"{trial['val_nll']:.4f}" if trial["val_nll"] is not None else "–"
        assert cells[column["val_nll"]] == shown
    best = table.locator("tr.best")
    expect(best).to_have_count(1)
    expect(best).to_have_attribute("data-trial", str(RECORD["best"]))
    expect(best.locator("td.chosen")).to_have_text("★ chosen")
    expect(table.locator("td.chosen").filter(has_text="chosen")).to_have_count(1)
    expect(table.locator('tr[data-trial="3"]')).to_contain_text("failed: worker died")
    expect(table.locator("caption")).to_have_text(
        "4 trials on ray at 192.168.1.20:6379, 42.2 s; chosen by lowest val_nll: trial 4"
    )
    expect(page.get_by_label("chosen trial's model", exact=True)).to_contain_text(
        "models/swept.tflite"
    )
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        card = page.locator("section[aria-labelledby='sw-h']")
        card.scroll_into_view_if_needed()
        card.screenshot(path=str(SCREENSHOTS / "training-sweep.png"))
