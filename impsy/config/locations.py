"""Where impsy finds its config and writes its logs, decided in one place for every command.

impsy keeps IMPSY's folder-per-project layout (``impsy init``: ./config.toml,
./logs, ./datasets, ./models, used by running impsy in that folder) and adds
two ways to run from anywhere: the ``IMPSY_CONFIG`` environment variable, and
a per-user config and data folder (platformdirs: ``~/.config/impsy`` and
``~/.local/share/impsy`` on Linux, honouring ``XDG_CONFIG_HOME`` and
``XDG_DATA_HOME``). ``impsy run``, ``webui``, ``status``, ``check-config``,
``dataset``, ``train`` and ``export-session`` all resolve here, so they agree
on which file is used, and the start-up summary can say which and why.

The config, first found wins:

1. ``--config FILE`` on the command line;
2. ``IMPSY_CONFIG`` (a file that is not there is an error, never skipped);
3. ``./config.toml`` in the working directory;
4. the per-user ``config.toml``;
5. the packaged default.

Logs go to ``--logdir`` when given. Otherwise a config of the working
directory's project (``./config.toml``) or named on the command line logs to
``./logs``, as IMPSY does; a config found without a project here (IMPSY_CONFIG,
per-user, packaged default) logs to the per-user data folder's ``logs``, so
running impsy from the home folder does not scatter ``logs/`` folders.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from impsy.errors import ImpsyError

APP_NAME = "impsy"
ENV_VAR = "IMPSY_CONFIG"
LOCAL_CONFIG = Path("config.toml")
PROJECT_LOGS = Path("logs")

COMMAND_LINE = "command line"
ENVIRONMENT = "IMPSY_CONFIG"
WORKING_DIRECTORY = "working directory"
PER_USER = "per-user"
PACKAGED = "packaged default"

USER_LOGS_WHY = {
    ENVIRONMENT: "per-user data folder, as the config came from IMPSY_CONFIG",
    PER_USER: "per-user data folder, as the config is the per-user one",
    PACKAGED: "per-user data folder, as there is no project here",
}


def user_config_file() -> Path:
    """The per-user config file (it may not exist): platformdirs' user config folder."""
    import platformdirs

    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "config.toml"


def user_data_dir() -> Path:
    """The per-user data folder (it may not exist): platformdirs' user data folder."""
    import platformdirs

    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def packaged_config_file() -> Path:
    """The default config shipped inside the package."""
    from importlib.resources import files

    return Path(str(files("impsy") / "data" / "default.toml"))


@dataclass(frozen=True)
class Locations:
    """The config a command uses and the folder its logs go to, each with why."""

    config: Path
    origin: str
    """Where the config came from: COMMAND_LINE, ENVIRONMENT, WORKING_DIRECTORY, PER_USER
    or PACKAGED."""
    config_reason: str
    logdir: Path
    logdir_reason: str

    @property
    def project(self) -> bool:
        """Whether the config belongs to a folder-per-project layout (logs in ./logs)."""
        return self.origin in (COMMAND_LINE, WORKING_DIRECTORY)

    def describe_config(self) -> str:
        """``PATH (why)``, for the start-up summary and the commands that print it."""
        return f"{self.config} ({self.config_reason})"

    def describe_logdir(self) -> str:
        return f"{self.logdir} ({self.logdir_reason})"


def resolve(
    config: str | os.PathLike[str] | None = None,
    logdir: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Locations:
    """Choose the config and the log folder (see the module docstring for the rules).

    ``config`` and ``logdir`` are the command line's ``--config`` and
    ``--logdir`` (None when not given). A missing ``IMPSY_CONFIG`` file is an
    ``ImpsyError`` naming the variable; a missing ``--config`` file is left to
    the config loader, which names the file.
    """
    environ = os.environ if environ is None else environ
    named = environ.get(ENV_VAR, "")
    local = LOCAL_CONFIG.is_file()
    if config is not None:
        path, origin, why = Path(config), COMMAND_LINE, "--config"
    elif named:
        path, origin = Path(named).expanduser(), ENVIRONMENT
        _check_named(path, named)
        why = ENV_VAR + ("; ./config.toml here is not used" if local else "")
    elif local:
        path, origin, why = (
            LOCAL_CONFIG,
            WORKING_DIRECTORY,
            "./config.toml in the working directory",
        )
    elif (user := user_config_file()).is_file():
        path, origin, why = user, PER_USER, "per-user; no ./config.toml here"
    else:
        path, origin = packaged_config_file(), PACKAGED
        why = f"packaged default; no ./config.toml here and no per-user {user}"
    if logdir is not None:
        folder, folder_why = Path(logdir), "--logdir"
    elif origin in (COMMAND_LINE, WORKING_DIRECTORY):
        folder, folder_why = PROJECT_LOGS, "./logs in the working directory"
    else:
        folder, folder_why = user_data_dir() / "logs", USER_LOGS_WHY[origin]
    return Locations(path, origin, why, folder, folder_why)


def _check_named(path: Path, value: str) -> None:
    if path.is_file():
        return
    what = "a folder, not a config file" if path.is_dir() else "no such file"
    raise ImpsyError(
        f"{ENV_VAR}={value}: {what}; point {ENV_VAR} at a .toml config file, "
        "or unset it to use ./config.toml or the per-user config"
    )
