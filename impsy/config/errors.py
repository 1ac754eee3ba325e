"""The one error type a bad config raises.

Every config problem funnels through ``ConfigError`` so the command line and
the web UI can show it as a single line without a traceback: a musician
fixing a file on stage needs the file, the key and the fix, nothing else.
"""

from __future__ import annotations

import re

from impsy.errors import ImpsyError


def one_line(message: str) -> str:
    """Fold line breaks away, because callers promise a one-line message."""
    return re.sub(r"\s*[\r\n]+\s*", " ", message).strip()


class ConfigError(ImpsyError):
    """A config file that cannot be used; the message names file, section, key and fix."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))
