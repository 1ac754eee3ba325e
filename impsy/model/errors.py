"""The error raised for model files impsy cannot use.

It is an ``ImpsyError`` because every cause is in the user's hands: a wrong
path, a truncated download, a file from an unsupported tool, or a model whose
sizes do not match the dataset or config it is used with.
"""

import re

from impsy.errors import ImpsyError


class ModelError(ImpsyError):
    """A model file is unreadable, unsupported, or does not match what it is used with.

    The message is folded onto one line: LiteRT's and h5py's own explanations,
    quoted inside it, can span several.
    """

    def __init__(self, message: str) -> None:
        super().__init__(re.sub(r"\s*[\r\n]+\s*", " ", message).strip())


class ModelWarning(UserWarning):
    """impsy is running a model differently from how it was asked, and says so."""
