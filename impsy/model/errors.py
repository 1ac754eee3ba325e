"""The error raised for model files impsy cannot use.

It is an ``ImpsyError`` because every cause is in the user's hands: a wrong
path, a truncated download, a file from an unsupported tool, a damaged or
hostile file, or a model whose sizes do not match the dataset or config it
is used with. Whatever the file holds, the message is one line of bounded
length: it is printed by ``impsy run``, returned by the web UI and shown in
logs, and a hostile file must not be able to fill any of them.
"""

import re

from impsy.errors import ImpsyError
from impsy.model.limits import MAX_MESSAGE


class ModelError(ImpsyError):
    """A model file is unreadable, unsupported, or does not match what it is used with.

    The message is folded onto one line (LiteRT's and h5py's own explanations,
    quoted inside it, can span several) and cut at :data:`MAX_MESSAGE` characters.
    """

    def __init__(self, message: str) -> None:
        text = re.sub(r"\s*[\r\n]+\s*", " ", message).strip()
        if len(text) > MAX_MESSAGE:
            text = f"{text[: MAX_MESSAGE - 40]}... ({len(text) - MAX_MESSAGE + 40} more characters)"
        super().__init__(text)


class ModelWarning(UserWarning):
    """impsy is running a model differently from how it was asked, and says so."""
