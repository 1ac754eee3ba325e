"""The two errors a person can cause and fix, for every layer to raise.

``ImpsyError`` is a problem with the user's files, settings or devices: the
command line prints it as one line and exits non-zero. ``CommandError`` is a
runtime command with a bad argument: the front end that received it (OSC,
the web API, a controller rule) reports it to whoever sent it, and the
performance goes on. Anything else is a bug and keeps its traceback.
"""


class ImpsyError(Exception):
    """A problem with the user's files, settings or devices, stated for a person."""


class CommandError(ValueError):
    """A runtime command that cannot be run as sent; the message is for the sender."""
