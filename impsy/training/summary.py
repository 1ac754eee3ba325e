"""The facts of a training run, written as JSON beside the model.

Enough to reproduce the run (data hash, split, seed, options, library
versions) and to judge the model (best validation loss and its epoch, the
test NLL measured on the exported file) without rerunning anything.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("impsy", "tensorflow", "keras", "keras-mdn-layer", "numpy")


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Installed versions of the packages that shape a trained model, and Python's."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def write_summary(path: Path, summary: dict[str, Any]) -> Path:
    """Write ``summary`` as indented JSON (keys in the order given)."""
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return path
