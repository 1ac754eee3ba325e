"""What the web handlers share: the config, the run's parts (if any) and the folders.

Everything a handler reaches is given here by whoever builds the web UI
(``impsy.app`` for a performance, ``impsy webui`` without one): the engine,
its command table and the sequencer, never found by looking through the
engine's adapters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from impsy.config import Config
    from impsy.engine.core import Engine
    from impsy.engine.table import CommandTable
    from impsy.sequencer.control import SequencerControl
    from impsy.sequencer.learn.live import PatternLearning

UPLOAD_LIMIT = 50 * 1024 * 1024
"""Largest model upload accepted, in bytes (IMPSY's largest models are ~5 MB)."""
JSON_LIMIT = 1024 * 1024
"""Largest JSON body accepted, in bytes (a config file is a few KB)."""


def packaged_default() -> Path:
    return Path(str(files("impsy") / "data" / "default.toml"))


def editable_config_path(config: Config | None, root: Path) -> Path:
    """The file the config editor writes: the run's config, never the packaged default."""
    if config is None:
        return root / "config.toml"
    source = Path(config.source)
    try:
        is_default = source.resolve() == packaged_default().resolve()
    except OSError:
        is_default = False
    if is_default or not source.suffix:
        return root / "config.toml"
    return source if source.is_absolute() else root / source


@dataclass
class WebContext:
    """Shared state of one web UI; ``engine`` and ``commands`` are None under ``impsy webui``."""

    config: Config
    root: Path
    logdir: Path
    engine: Engine | None = None
    commands: CommandTable | None = None
    sequencer: SequencerControl | None = None
    learning: PatternLearning | None = None
    """The sequencer's pattern model (its ``learn/...`` rows' target), for the read-only
    views of ``impsy.web.patterns``."""
    host: str = "127.0.0.1"
    port: int = 4000
    token: str | None = None
    upload_limit: int = UPLOAD_LIMIT
    config_path: Path = field(default=Path("config.toml"))
    check_config: Callable[[Config, Path], None] | None = None
    """The whole check of a config beyond parsing (``impsy.app.check_edited_config``:
    the web UI's exposure, the controller profiles, the model file and its
    dimension), handed in by whoever builds the web UI so that the config
    editor refuses what ``impsy run`` refuses; None only in tests of parts."""

    @classmethod
    def create(
        cls,
        config: Config,
        engine: Engine | None = None,
        root: Path | None = None,
        *,
        commands: CommandTable | None = None,
        sequencer: SequencerControl | None = None,
        learning: PatternLearning | None = None,
        logdir: Path | str | None = None,
        host: str | None = None,
        port: int | None = None,
        check_config: Callable[[Config, Path], None] | None = None,
    ) -> WebContext:
        """Folders resolved against ``root`` (the working directory, as IMPSY)."""
        root = (root or Path.cwd()).resolve()
        webui = config.webui
        logdir = Path(logdir or "logs")
        return cls(
            config=config,
            root=root,
            logdir=logdir if logdir.is_absolute() else root / logdir,
            engine=engine,
            commands=commands,
            sequencer=sequencer,
            learning=learning,
            host=host if host is not None else (webui.host if webui else "127.0.0.1"),
            port=port if port is not None else (webui.port if webui else 4000),
            token=webui.token if webui else None,
            upload_limit=int(webui.max_upload_mb * 1024 * 1024) if webui else UPLOAD_LIMIT,
            config_path=editable_config_path(config, root),
            check_config=check_config,
        )

    @property
    def folders(self) -> dict[str, Path]:
        """The file kinds the Files page manages, and where they live."""
        return {
            "logs": self.logdir,
            "datasets": self.root / "datasets",
            "models": self.root / "models",
        }

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


CTX: web.AppKey[WebContext] = web.AppKey("ctx", WebContext)
LIVE: web.AppKey[Any] = web.AppKey("live", object)
JOBS: web.AppKey[Any] = web.AppKey("jobs", object)
