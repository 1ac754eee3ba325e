"""Performance logs to training data: IMPSY's log format, read and written in one place."""

from impsy.dataset.logs import (
    INTERFACE,
    RNN,
    ParsedLog,
    format_log_line,
    parse_log_lines,
    read_log_file,
)

__all__ = ["INTERFACE", "RNN", "ParsedLog", "format_log_line", "parse_log_lines", "read_log_file"]
