"""Checks a datagram must pass before python-osc parses it, and python-osc's own warnings.

python-osc (1.9, 1.10) trusts the element sizes inside a bundle: a negative
size makes its parser step backwards forever, so one 24-byte datagram would
hang the event loop (found by ``fuzz/osc.py``). It also reports an empty or
unknown bundle element and an unsupported type tag with ``logging.warning``
on the root logger, once per occurrence: a stream of odd datagrams would
flood the terminal past the adapter's rate limit. So bundles are walked
here first, and those warnings are caught and turned into a flag the
adapter counts as bad input.
"""

from __future__ import annotations

import logging

BUNDLE_PREFIX = b"#bundle\0"
BUNDLE_HEADER = 16  # "#bundle\0" and the 8-byte time tag
MAX_BUNDLE_DEPTH = 8


def bundle_problem(data: bytes, depth: int = 0) -> str | None:
    """Why the OSC bundle ``data`` cannot be parsed safely, or None if it can.

    Every element must have a positive size that fits in what is left and be
    a message (``/...``) or a bundle, nested at most ``MAX_BUNDLE_DEPTH`` deep.
    """
    if depth > MAX_BUNDLE_DEPTH:
        return "bundles nested too deep"
    if len(data) < BUNDLE_HEADER:
        return "a bundle without its time tag"
    index = BUNDLE_HEADER
    while index < len(data):
        if index + 4 > len(data):
            return "a bundle element size cut short"
        size = int.from_bytes(data[index : index + 4], "big", signed=True)
        index += 4
        if size <= 0 or index + size > len(data):
            return "a bundle element size out of range"
        element = data[index : index + size]
        if element.startswith(BUNDLE_PREFIX):
            problem = bundle_problem(element, depth + 1)
            if problem is not None:
                return problem
        elif not element.startswith(b"/"):
            return "a bundle element that is neither a message nor a bundle"
        index += size
    return None


class LibraryWarnings(logging.Filter):
    """Drops python-osc's warnings from the root logger, counting them in ``seen``."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "pythonosc" in record.pathname:
            self.seen += 1
            return False
        return True


LIBRARY_WARNINGS = LibraryWarnings()
logging.getLogger().addFilter(LIBRARY_WARNINGS)  # python-osc logs on the root logger itself
