"""The model's own log rows are kept and written between deadlines; gestures' rows at once.

``EventLog.write_later`` keeps a row stamped when the note was played; the
engine writes the kept rows once the loop's next deadline is ``LOG_ROOM_S``
away (or after ``LOG_PATIENCE_S``); a gesture's row writes them first, so
the file stays in time order; closing writes whatever is kept.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import numpy as np

from impsy.clock import LoopClock, ManualClock
from impsy.engine import loop as impsy_loop
from impsy.engine.core import LOG_PATIENCE_S, LOG_ROOM_S, LOG_ROWS_AT_ONCE, Engine, Settings
from impsy.engine.eventlog import EventLog
from tests.engine.test_timing import START, Recorded, Recorder


def rows(log: EventLog) -> list[list[str]]:
    if not log.path.exists():
        return []
    return [line.split(",") for line in log.path.read_text().splitlines()]


def test_kept_rows_are_written_by_flush_in_order_with_the_time_they_were_kept(tmp_path):
    log = EventLog(tmp_path, 3)
    log.write_later("rnn", [0.1, 0.2])
    kept_at = dt.datetime.now()
    log.write_later("rnn", [0.3, 0.4])
    assert (log.pending, log.rows, rows(log)) == (2, 0, [])
    log.flush()
    written = rows(log)
    assert [r[1:] for r in written] == [["rnn", "0.1", "0.2"], ["rnn", "0.3", "0.4"]]
    assert dt.datetime.fromisoformat(written[0][0]) <= kept_at
    assert (log.pending, log.rows) == (0, 2)


def test_a_gestures_row_writes_the_kept_rows_first_and_close_writes_the_rest(tmp_path):
    log = EventLog(tmp_path, 3)
    log.write_later("rnn", [0.1, 0.2])
    log.write("interface", [0.5, 0.6])
    log.write_later("rnn", [0.7, 0.8])
    log.close()
    assert [r[1] for r in rows(log)] == ["rnn", "interface", "rnn"]
    assert log.rows == 3


def test_a_played_notes_row_is_kept_then_written_on_the_manual_clock(tmp_path):
    """On a manual clock nothing is known of other deadlines: kept rows go out at the same
    instant, right after the callback that played them."""
    clock = ManualClock(START)
    settings = Settings("battle", 0.5, 0.05, False, False, True)
    engine = Engine(
        9, settings, Recorded(), EventLog(tmp_path, 9), clock=clock, threaded_model=False
    )
    out = Recorder(clock)
    engine.adapters.append(out)
    engine.begin()
    while len(out.sent) < 20:
        clock.advance(0.001)
    written = rows(engine.event_log)
    assert len(written) == len(out.sent) == engine.counters.log_rows
    assert engine.event_log.pending == 0
    for row, (_, values) in zip(written, out.sent, strict=True):
        assert row[1] == "rnn"
        assert np.allclose([float(v) for v in row[2:]], values, atol=1e-6)


def test_on_the_loop_kept_rows_wait_for_room_before_the_next_deadline(tmp_path):
    """A deadline due in less than LOG_ROOM_S: the rows are written just after it."""
    order: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        settings = Settings("useronly", 0.5, 1.0, False, False, True)
        engine = Engine(9, settings, None, EventLog(tmp_path, 9), clock=LoopClock(loop))
        log = engine.event_log
        deadline = loop.time() + LOG_ROOM_S / 2
        loop.call_at(deadline, lambda: order.append(f"deadline, {log.pending} kept"))
        engine._play_model(np.full(8, 0.5), loop.time())  # played: its row is kept
        assert log.pending == 1 and engine._log_flush is not None
        await asyncio.sleep(LOG_ROOM_S + 0.01)
        order.append(f"later, {log.pending} kept, {log.rows} written")

    impsy_loop.run(main())
    assert order == ["deadline, 1 kept", "later, 0 kept, 1 written"]


def test_kept_rows_are_written_after_at_most_the_patience_however_busy_the_loop(tmp_path):
    async def main() -> float:
        loop = asyncio.get_running_loop()
        settings = Settings("useronly", 0.5, 1.0, False, False, True)
        engine = Engine(9, settings, None, EventLog(tmp_path, 9), clock=LoopClock(loop))
        log = engine.event_log
        stop = loop.time() + LOG_PATIENCE_S * 3

        def dense() -> None:  # a deadline always less than LOG_ROOM_S away
            if loop.time() < stop and log.pending:
                loop.call_at(loop.time() + LOG_ROOM_S / 4, dense)

        start = loop.time()
        engine._play_model(np.full(8, 0.5), start)
        dense()
        while log.pending:
            await asyncio.sleep(0.001)
        return loop.time() - start

    waited = impsy_loop.run(main())
    assert LOG_PATIENCE_S <= waited < LOG_PATIENCE_S * 3


def test_many_kept_rows_are_written_a_few_at_a_time_oldest_first(tmp_path):
    log = EventLog(tmp_path, 2)
    for i in range(5):
        log.write_later("rnn", [i / 10])
    log.flush(2)
    assert [r[2] for r in rows(log)] == ["0.0", "0.1"] and log.pending == 3
    log.flush()
    assert [r[2] for r in rows(log)] == ["0.0", "0.1", "0.2", "0.3", "0.4"]


def test_the_engine_writes_a_long_run_of_kept_rows_in_batches(tmp_path):
    clock = ManualClock(START)
    settings = Settings("useronly", 0.5, 1.0, False, False, True)
    engine = Engine(9, settings, None, EventLog(tmp_path, 9), clock=clock)
    for _ in range(LOG_ROWS_AT_ONCE * 2 + 3):
        engine.event_log.write_later("rnn", np.full(8, 0.5))
    engine._flush_log()
    assert engine.event_log.rows == LOG_ROWS_AT_ONCE
    clock.advance(0.0)
    assert engine.event_log.pending == 0
    assert engine.counters.log_rows == LOG_ROWS_AT_ONCE * 2 + 3
