"""The error raised for model files impsy cannot use.

It is an ``ImpsyError`` because every cause is in the user's hands: a wrong
path, a truncated download, a file from an unsupported tool, or a model whose
sizes do not match the dataset or config it is used with.
"""

from impsy.errors import ImpsyError


class ModelError(ImpsyError):
    """A model file is unreadable, unsupported, or does not match what it is used with."""


class ModelWarning(UserWarning):
    """impsy is running a model differently from how it was asked, and says so."""
