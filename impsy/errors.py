"""One base class for every error a user can cause and fix.

The command line prints these as a single line and exits non-zero; anything
else is a bug and keeps its traceback.
"""


class ImpsyError(Exception):
    """A problem with the user's files, settings or devices, stated for a person."""
