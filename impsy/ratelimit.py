"""Warnings about bad input, at most one per key per interval.

A controller spewing malformed messages must not flood the terminal or
slow the loop, but the musician still needs to hear that it is happening.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("impsy")


class RateLimitedWarning:
    """Log the first warning of each kind, then a summary at most every ``interval`` s.

    ``level`` is the logging level of the lines (a warning by default; news
    such as clients connecting is information, rate-limited all the same).
    """

    def __init__(self, interval: float = 5.0, level: int = logging.WARNING) -> None:
        self.interval = interval
        self.level = level
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warn(self, key: str, message: str) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        extra = self._suppressed.pop(key, 0)
        suffix = f" ({extra} more like this since the last warning)" if extra else ""
        log.log(self.level, "%s%s", message, suffix)
        self._last[key] = now
