"""impsy's wheel, built once for every test here that installs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE")
"""What the build reads besides the package itself."""


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:  # noqa: ANN001
    """Built from a copy of the checkout (the shared tree stays untouched), the way a user
    builds one (``pip wheel``); a session's install tests (pip, uv, the Pi's install.sh)
    share it, which saves a build of 5-8 s each."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCE_FILES:
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "impsy", source / "impsy", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(work)]
    built = subprocess.run([*command, str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    (built,) = work.glob("impsy-*.whl")
    return built
