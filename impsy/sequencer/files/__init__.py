"""The sequencer's files: pattern banks, Standard MIDI Files, tempo logs and session export.

Everything here reads or writes bytes on disk and nothing runs on a clock,
so the sequencer's core never waits on a file.
"""
