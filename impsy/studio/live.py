"""Training from a running performance: the ``train`` and ``model/use`` rows' target.

``train`` starts ``impsy train`` as a process of its own (at a lower
priority) with the configured studio's flags, so neither TensorFlow nor Ray
is ever imported by the performing process, whichever studio trains. Its
lines are read on the loop as they come (an asyncio pipe: the loop never
waits on it); the epoch lines become the progress ``train/status`` reports.
When the job ends the sender hears where the model is; with ``use`` the
model is then swapped in as ``model/use`` would.

``model/use`` loads a model file from the models folder on a worker thread
(after the same limited-child-process check the web UI's model swap does),
reads and checks the player profile beside it (:mod:`impsy.studio.profile`)
there too, and swaps it into the engine on the loop, between two steps; the
profile then sets how it plays. A model whose profile is broken is not
swapped in: the sender hears why and nothing changes. ``profile/save`` keeps
the current settings beside the playing model.

When: ``now`` (the default) swaps as soon as the model is loaded; ``bar``
waits, while the sequencer plays, for its next bar line, by the sequencer's
own bar listeners (the hook its pattern model swaps on, see
``impsy.sequencer.learn.live``), so the new model takes over on the one. The
loading still happens at once, off the loop: only the swap waits. With the
sequencer stopped (or none in this run) ``bar`` swaps at once, and stopping
the sequencer while a model waits swaps it then. A second model asked for
while one waits takes its place (the first one's sender hears so).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from impsy.engine.table import Pending
from impsy.errors import CommandError, ImpsyError
from impsy.training.progress import parse_epoch

if TYPE_CHECKING:
    from impsy.config import Config
    from impsy.engine.core import Engine

OUTPUT_LINE = re.compile(r"^\s*(keras|tflite|summary|plot): (.+?)\s*$")
NICE = 10
SIZES = ("xxs", "xs", "s", "m", "l", "xl")
MODEL_SUFFIXES = (".tflite", ".keras", ".h5")
LOG_LINES = 20
AT = ("now", "bar")
"""When a model comes in: as soon as it is loaded, or at the sequencer's next bar line."""
log = logging.getLogger("impsy")


class BarLines(Protocol):
    """What a swap at the bar needs of the sequencer (``impsy.sequencer.sequencer.Sequencer``:
    the studio stands beside the sequencer, not above it, so it knows only this much)."""

    @property
    def playing(self) -> bool: ...

    bar_listeners: list[Callable[[int], None]]
    """Called with each bar line's number as the transport crosses it."""

    def add_listener(self, callback: Callable[[Any], None]) -> None: ...

    def remove_listener(self, callback: Callable[[Any], None]) -> None: ...


def load_checked_model(path: Path, model_config: Any) -> Any:
    """On a worker thread: check ``path`` in a limited child process, then load and warm it.

    Only a file known to load, within bounded memory and time, is loaded in
    the performing process (a hostile file cannot take its memory or stall it).
    """
    import numpy as np

    from impsy.model import load_model
    from impsy.model.loader import check_model_file

    check_model_file(path, engine=model_config.engine, gate=model_config.gate)
    model = load_model(
        path, engine=model_config.engine, gate=model_config.gate, seed=model_config.seed
    )
    model.step(np.zeros(model.dimension, dtype=np.float32))
    model.reset()
    return model


def prepare_model(
    path: Path, model_config: Any, dimension: int
) -> tuple[Any, dict[str, Any] | None]:
    """On a worker thread: the checked, loaded model and its checked player profile.

    ``model/use`` and the web UI's "use this model" both load this way, so a
    model that cannot play here, or whose profile is broken, is refused before
    anything changes (CommandError).
    """
    from impsy.model.errors import ModelError
    from impsy.studio.profile import read_profile

    try:
        model = load_checked_model(path, model_config)
    except (ModelError, OSError, ValueError) as err:
        raise CommandError(f"{path.name}: cannot load: {err}") from None
    if model.dimension != dimension:  # refused now, not when a swap at the bar comes
        raise CommandError(
            f"{path.name}: model dimension {model.dimension} does not match this run's {dimension}"
        )
    try:
        profile = read_profile(path, model.dimension)
    except ImpsyError as err:
        raise CommandError(f"{path.name} not swapped in: {err}") from None
    return model, profile


def swap_in(engine: Engine, model: Any, profile: dict[str, Any] | None, path: Path) -> None:
    """On the loop, between two steps: ``model`` (from :func:`prepare_model`) in, then its
    profile."""
    from impsy.studio.profile import apply_profile, describe, profile_path

    engine.swap_model(model)
    if profile:
        where = profile_path(path)
        apply_profile(engine, profile, where)  # checked on the worker thread
        log.info("profile: %s (%s)", where.name, describe(profile))


def studio_flags(config: Config) -> list[str]:
    """``impsy train``'s flags for the config's ``[studio]`` (none: the local studio)."""
    studio = config.studio
    if studio is None or studio.backend == "local":
        return ["--studio", "local"]
    return ["--studio", studio.backend, "--studio-address", studio.address or "local"]


def studio_label(config: Config) -> str:
    """``local`` or ``ray at ADDRESS``: where the config's trainings run, for people."""
    flags = studio_flags(config)
    return flags[1] if len(flags) == 2 else f"{flags[1]} at {flags[3]}"


class LiveTraining:
    """One training job at a time beside the performance, and model swaps on command."""

    def __init__(self, engine: Engine, config: Config, root: Path | None = None) -> None:
        self.engine = engine
        self.config = config
        self.root = (root or Path.cwd()).resolve()
        self.datasets = self.root / "datasets"
        self.models = self.root / "models"
        self.process: asyncio.subprocess.Process | None = None
        self.task: asyncio.Task[None] | None = None
        self.state = "idle"
        self.progress: dict[str, Any] | None = None
        self.best: float | None = None
        self.output: str = ""
        self.error: str = ""
        self.started = 0.0
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.sequencer: BarLines | None = None
        self._waiting: tuple[Any, dict[str, Any] | None, Path, asyncio.Future[None]] | None = None
        """A loaded model waiting for the bar line: it, its profile, its file, its swap."""
        self._use_profile()  # the model it starts with plays as its profile says

    def follow_bars(self, sequencer: BarLines) -> None:
        """Swap models asked for ``at bar`` on ``sequencer``'s bar lines (``impsy.app``)."""
        self.sequencer = sequencer
        sequencer.bar_listeners.append(self._bar)

    # ------------------------------------------------------------ player profiles
    def _use_profile(self) -> None:
        """Apply the profile beside the engine's model (``impsy.studio.profile``); a broken
        one is an ImpsyError naming the file (at start-up: impsy run refuses to start)."""
        from impsy.studio.profile import describe, load_profile, profile_path

        profile = load_profile(self.engine)
        if profile:
            where = profile_path(Path(self.engine.model.path)).name
            log.info("profile: %s (%s)", where, describe(profile))

    def save_profile(self) -> str:
        """``profile/save``: the playing model's settings beside its file."""
        from impsy.studio.profile import save_profile

        return save_profile(self.engine)

    # ------------------------------------------------------------ train
    def train(
        self,
        dataset: str | None = None,
        size: str | None = None,
        epochs: int | None = None,
        use: bool | None = None,
        at: str | None = None,
    ) -> Pending:
        """Start ``impsy train`` on ``datasets/<dataset>`` with the configured studio; with
        ``use``, the model comes in when it is back, ``at`` ``now`` or the next ``bar``."""
        at = self._when(at)
        if self.task is not None and not self.task.done():
            raise CommandError("a training job is running already; train/cancel stops it")
        name = dataset or f"training-dataset-{self.engine.dimension}d.npz"
        path = self._inside(self.datasets, name, (".npz",), "dataset")
        if not path.is_file():
            raise CommandError(f"train: no dataset {name} in {self.datasets}")
        stem = time.strftime("live-%Y%m%d-%H%M%S")
        argv = [
            "train", "-S", str(path), "-O", str(self.models), "-M", size or "s",
            "-N", str(epochs or 100), "--name", stem, *studio_flags(self.config),
        ]  # fmt: skip
        loop = asyncio.get_running_loop()
        done: asyncio.Future[object] = loop.create_future()
        self.state, self.progress, self.best = "running", None, None
        self.output = self.error = ""
        self.started = time.time()
        self.log.clear()
        self.task = loop.create_task(self._run(argv, bool(use), done, at))
        return Pending(done)

    async def _run(
        self, argv: list[str], use: bool, done: asyncio.Future[object], at: str = "now"
    ) -> None:
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "impsy", *argv,
                cwd=self.root,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"},
                start_new_session=True,
            )  # fmt: skip
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, self.process.pid, NICE)
            await self._follow(self.process)
            code = await self.process.wait()
        except OSError as err:
            self._fail(done, f"train: cannot start impsy train: {err}")
            return
        if self.state == "cancelled":
            self._fail(done, "train: cancelled", state="cancelled")
            return
        if code != 0 or not self.output:
            self._fail(done, f"train: {self.error or f'impsy train exited with status {code}'}")
            return
        if use:
            try:
                await self._use(Path(self.output), at)
            except CommandError as err:
                if self.state == "cancelled":
                    self._fail(done, "train: cancelled", state="cancelled")
                else:
                    self._fail(done, f"train: the model was trained but not swapped in: {err}")
                return
        self.state = "done"
        done.set_result(self.output)

    async def _follow(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while True:
            try:
                raw = await process.stdout.readline()
            except ValueError:  # a line over the stream limit
                continue
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._take(line)

    def _take(self, line: str) -> None:
        self.log.append(line)
        epoch = parse_epoch(line)
        if epoch is not None:
            self.progress = epoch
            score = epoch["val_nll"] if epoch["val_nll"] is not None else epoch["val_loss"]
            if epoch["best"] and score is not None:
                self.best = score
            return
        found = OUTPUT_LINE.match(line)
        if found and found[1] == "keras":
            self.output = found[2]
        elif line.startswith("error: "):
            self.error = line[len("error: ") :]

    def _fail(self, done: asyncio.Future[object], message: str, state: str = "failed") -> None:
        self.state = state
        self.error = self.error or message
        if not done.done():
            done.set_exception(CommandError(message))

    def cancel(self) -> None:
        """Stop the running job (its process group: a local Ray started for it too)."""
        if self.task is None or self.task.done() or self.process is None:
            raise CommandError("no training job is running")
        self.state = "cancelled"
        waiting = self._waiting
        if waiting is not None and self.output and waiting[2] == Path(self.output):
            self._drop_waiting("train: cancelled")  # trained, but it never comes in
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)

    def status(self) -> dict[str, Any]:
        """Flat name/value pairs (an OSC reply carries no lists)."""
        out: dict[str, Any] = {
            "state": self.state,
            "studio": studio_label(self.config),
            "seconds": round(time.time() - self.started, 1) if self.started else 0.0,
            "model": self.output,
            "error": self.error,
        }
        if self.progress is not None:
            out["epoch"] = self.progress["epoch"]
            out["epochs"] = self.progress["epochs"]
            if self.progress["loss"] is not None:
                out["loss"] = self.progress["loss"]
            if self.progress["val_loss"] is not None:
                out["val_loss"] = self.progress["val_loss"]
        if self.best is not None:
            out["best"] = self.best
        out["waiting"] = self._waiting[2].name if self._waiting is not None else ""
        return out

    async def close(self) -> None:
        """Stop a running job when the performance stops: nothing is left behind."""
        self._drop_waiting("the performance stopped")
        if self.task is not None and not self.task.done():
            with contextlib.suppress(CommandError):
                self.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self.task), 5.0)

    # ------------------------------------------------------------ model/use
    def use(self, file: str, at: str | None = None) -> Pending:
        """Load ``models/<file>`` on a worker thread, then play with it from the next step
        (``at`` ``now``) or from the sequencer's next bar line (``bar``)."""
        at = self._when(at)
        path = self._inside(self.models, file.removeprefix("models/"), MODEL_SUFFIXES, "model")
        if not path.is_file():
            raise CommandError(f"model/use: no model {path.name} in {self.models}")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[object] = loop.create_future()

        async def swap() -> None:
            try:
                await self._use(path, at)
            except CommandError as err:
                done.set_exception(err)
            else:
                done.set_result(str(path))

        loop.create_task(swap())
        return Pending(done)

    @staticmethod
    def _when(at: str | None) -> str:
        if at is None:
            return "now"
        if at not in AT:
            raise CommandError(f"at: expected one of {', '.join(AT)}, got {at!r}")
        return at

    async def _use(self, path: Path, at: str = "now") -> None:
        """Load ``path`` (off the loop), then swap it in now or at the next bar line."""
        model, profile = await asyncio.to_thread(
            prepare_model, path, self.config.model, self.engine.dimension
        )
        if at == "bar" and self.sequencer is not None and self.sequencer.playing:
            swapped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self._waiting is not None:
                *_, before, replaced = self._waiting
                if not replaced.done():
                    replaced.set_exception(
                        CommandError(f"{before.name}: replaced by {path.name} before the bar line")
                    )
            else:  # its stop is heard only while a model waits (events cost on every step)
                self.sequencer.add_listener(self._transport)
            self._waiting = (model, profile, path, swapped)
            await swapped
        else:
            swap_in(self.engine, model, profile, path)

    def _swap_waiting(self) -> None:
        """The model waiting for the bar line comes in now; its sender hears how it went."""
        if self._waiting is None:
            return
        model, profile, path, swapped = self._waiting
        self._waiting = None
        if self.sequencer is not None:
            self.sequencer.remove_listener(self._transport)
        if swapped.done():  # its sender's performance stopped meanwhile
            return
        try:
            swap_in(self.engine, model, profile, path)
        except (CommandError, ImpsyError) as err:
            swapped.set_exception(CommandError(str(err)))
        else:
            swapped.set_result(None)

    def _drop_waiting(self, why: str) -> None:
        """Forget the model waiting for the bar line; its sender hears ``why``."""
        if self._waiting is None:
            return
        *_, path, swapped = self._waiting
        self._waiting = None
        if self.sequencer is not None:
            self.sequencer.remove_listener(self._transport)
        if not swapped.done():
            swapped.set_exception(CommandError(f"{path.name}: not swapped in: {why}"))

    def _bar(self, _number: int) -> None:
        """A bar line of the sequencer: a waiting model comes in on it."""
        self._swap_waiting()

    def _transport(self, event: Any) -> None:
        """Stopped before the bar line: no bar line will come, so a waiting model comes now."""
        if event.kind == "transport" and not event.data.get("playing", True):
            self._swap_waiting()

    @staticmethod
    def _inside(folder: Path, name: str, suffixes: tuple[str, ...], what: str) -> Path:
        """``folder/name`` for a plain file name with one of ``suffixes``; else CommandError."""
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise CommandError(f"{what} must be a file name inside {folder}, got {name!r}")
        if Path(name).suffix.lower() not in suffixes:
            raise CommandError(f"{what} {name!r} must end in {', '.join(suffixes)}")
        return folder / name
