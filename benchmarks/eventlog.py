"""How long the engine's loop is held by writing one log row (write + flush).

Every gesture is written and flushed before the next is handled, so this is
time the event loop cannot spend on anything else. Prints p50/p99/max in us.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from results import record

from impsy.engine.eventlog import EventLog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--dimension", type=int, default=9)
    args = parser.parse_args()
    values = np.random.default_rng(0).random(args.dimension - 1)
    with tempfile.TemporaryDirectory() as tmp:
        log = EventLog(tmp, args.dimension)
        times = np.empty(args.rows)
        for i in range(args.rows):
            start = time.perf_counter()
            log.write("interface", values)
            times[i] = time.perf_counter() - start
        log.close()
    p50, p99 = np.percentile(times, [50, 99]) * 1e6
    print(
        f"log row write+flush over {args.rows} rows: p50 {p50:.1f} us, p99 {p99:.1f} us, "
        f"max {times.max() * 1e6:.1f} us"
    )
    record("log row write + flush (loop held), p99", p99, "µs")


if __name__ == "__main__":
    main()
