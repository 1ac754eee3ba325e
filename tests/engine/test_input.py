"""What reaches the log and the model from a gesture with values outside [0, 1].

OSC lets a sender put any number in ``/interface`` (doubles, 64-bit
integers); the log is training data and the model was trained on [0, 1].
The engine clips, counts and says so; the values in range pass untouched.
"""

from __future__ import annotations

import logging

import numpy as np

from impsy.clock import ManualClock
from impsy.engine.core import Engine, Settings
from impsy.engine.eventlog import EventLog
from tests.engine.test_timing import Recorded


def test_values_outside_0_1_are_clipped_before_the_log_and_the_model(tmp_path, caplog):
    model = Recorded()
    log = EventLog(tmp_path, 9)
    settings = Settings("polyphony", 0.5, 1.0, False, True, False)
    engine = Engine(9, settings, model, log, clock=ManualClock(), threaded_model=False)
    engine.begin()
    wild = [-9.2e18, 1e30, 0.5, 1.0, 0.0, 2, -1, 0.25]
    with caplog.at_level(logging.WARNING, logger="impsy"):
        engine.user_values(wild, "osc")
        engine.user_values([0.1] * 8, "osc")
        engine.user_values(wild, "osc")
    engine.halt()
    log.close()
    clipped = [0.0, 1.0, 0.5, 1.0, 0.0, 1.0, 0.0, 0.25]
    assert np.allclose(model.inputs[0][1:], clipped), "the model sees [0, 1] only"
    assert np.allclose(model.inputs[1][1:], [0.1] * 8), "values in range pass untouched"
    rows = [line.split(",")[2:] for line in log.path.read_text().splitlines()]
    assert [
        np.allclose([float(v) for v in row], want)
        for row, want in zip(rows, (clipped, [0.1] * 8, clipped), strict=True)
    ] == [True] * 3
    assert engine.status()["clipped_input"] == 2
    warnings = [r.getMessage() for r in caplog.records if "clipped" in r.getMessage()]
    assert len(warnings) == 1, "reported once per 5 s, not per gesture"
    assert "osc" in warnings[0] and "-9.2e+18" in warnings[0]
