"""A user's machine in a temporary folder, for running real ``impsy`` processes.

Each test gets its own home, XDG config and data folders (platformdirs reads
the XDG variables on Linux) and a working directory, with no IMPSY_CONFIG
inherited from whoever runs the tests, so which config impsy picks depends on
the test alone. ``hide_training_packages`` makes a folder that, first on
PYTHONPATH, makes TensorFlow, Keras and keras-mdn-layer fail to import the way
they do when impsy's train extra is not installed, without touching the venv.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

IMPSY = [sys.executable, "-m", "impsy"]


@dataclass
class Machine:
    """The folders of one pretend user; ``env`` is the environment impsy runs with."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def work(self) -> Path:
        """The working directory impsy is started in (empty unless a test fills it)."""
        return self.root / "work"

    @property
    def user_config(self) -> Path:
        return self.root / "xdg-config" / "impsy" / "config.toml"

    @property
    def user_logs(self) -> Path:
        return self.root / "xdg-data" / "impsy" / "logs"

    def env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key != "IMPSY_CONFIG"}
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.root / "xdg-config"),
            XDG_DATA_HOME=str(self.root / "xdg-data"),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def impsy(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        """Run ``impsy ARGS`` to completion in the working directory."""
        return subprocess.run(
            [*IMPSY, *args],
            cwd=self.work,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        """Start ``impsy ARGS`` in the working directory, stdout and stderr together."""
        return subprocess.Popen(
            [*IMPSY, *args],
            cwd=self.work,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def make_machine(tmp_path: Path) -> Machine:
    machine = Machine(tmp_path)
    machine.home.mkdir()
    machine.work.mkdir()
    return machine


TRAINING_PACKAGES = ("tensorflow", "keras", "keras_mdn_layer")


def hide_training_packages(folder: Path, packages: tuple[str, ...] = TRAINING_PACKAGES) -> Path:
    """Packages in ``folder`` that raise what Python raises for a package not installed."""
    for name in packages:
        package = folder / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{name}'\", name={name!r})\n"
        )
    return folder
