"""The log view's API: a logged performance as a plot over time, and its marks beside it.

A real web UI (``served``) over a real log file in logs/; the marks it saves
are what ``impsy dataset`` reads (``tests/dataset/test_marks.py``).
"""

from __future__ import annotations

import json

from impsy.dataset.marks import marks_path
from tests.dataset.test_build import write_log
from tests.web.test_api import run, served

LOG = "2026-09-26T10-00-00-9d-mdrnn.log"


def test_a_log_is_plotted_over_time_and_marks_are_saved_beside_it(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            log = tmp_path / "logs" / LOG
            write_log(log, [(0.5 * i, "interface", [i / 10] * 8) for i in range(11)])
            before = log.read_bytes()
            status, view = await web.get(f"/api/logs/{LOG}/performance")
            assert status == 200, view
            assert view["dimension"] == 9 and view["rows"] == 10 and view["seconds"] == 5.0
            assert view["times"] == [0.5 * i for i in range(1, 11)]
            assert view["values"][0] == [0.1] * 8 and view["marks"] == []

            spans = {"spans": [{"start": 1.0, "end": 2.0, "mark": "bad"}]}
            status, saved = await web.send("PUT", f"/api/logs/{LOG}/marks", json=spans)
            assert status == 200 and saved == spans
            assert json.loads(marks_path(log).read_text()) == spans
            assert log.read_bytes() == before  # the log itself is never touched
            status, view = await web.get(f"/api/logs/{LOG}/performance")
            assert view["marks"] == spans["spans"]

            wrong = {"spans": [{"start": 2.0, "end": 1.0, "mark": "bad"}]}
            status, error = await web.send("PUT", f"/api/logs/{LOG}/marks", json=wrong)
            assert status == 400 and "spans[0]" in error["error"]
            status, error = await web.get("/api/logs/missing-9d-mdrnn.log/performance")
            assert status == 404
            status, error = await web.get("/api/logs/..%2Fconfig.toml/marks")
            assert status in (400, 404)

    run(main())
