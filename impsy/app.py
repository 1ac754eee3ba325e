"""The composition root: one performance built from a config, started and stopped.

Every other package is a part that knows only the parts below it; this
module alone knows them all. From a config it loads the model, makes the
engine (on the loop's clock), the run's command table with the engine's
rows, the adapters of the config's sections, and hands each part what it
needs through its constructor: the OSC adapter gets the command table; the
sequencer gets the OSC adapter it plays through, the MIDI adapter whose
clock it may follow and the table its controllers run (its ``seq/...`` rows
are registered here); the web UI gets the engine, the table and the
sequencer. ``impsy run`` is ``run``; tests and benchmarks use ``build``.

Start-up refuses anything that would fail later (a missing model file, a
model whose dimension disagrees with the mappings, a controller profile
with a mistake, a port in use), so once "listening" is printed the
performance does not stop on a setup mistake. Shutdown on SIGINT/SIGTERM
releases sounding notes, stops the adapters and closes the log before
exiting 0; a second signal exits at once.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from impsy import config as config_files
from impsy.config import Config, ConfigError, check_model_dimension
from impsy.config.locations import Locations
from impsy.engine.commands import ENGINE_COMMANDS
from impsy.engine.core import MODEL_MODES, Engine, Settings
from impsy.engine.ports import Adapter, Model
from impsy.engine.priority import raise_priority
from impsy.engine.table import Command, CommandTable
from impsy.errors import ImpsyError

if TYPE_CHECKING:
    from impsy.config.schema import SequencerConfig
    from impsy.sequencer.adapter import SequencerAdapter

log = logging.getLogger("impsy")


@dataclass
class RunOptions:
    """Choices from the command line that are not config keys."""

    logdir: Path = Path("logs")
    no_model: bool = False
    threaded_model: bool | None = None
    locations: Locations | None = None
    """Why this config and log folder were chosen (``impsy.config.locations``), for the
    start-up summary; None for runs built without the command line (tests, benchmarks)."""


def resolve_model_path(config: Config, root: Path | None = None) -> Path | None:
    """The model file: relative to the working directory (as IMPSY), else to the config.

    ``root`` stands for the working directory where the caller's folder is
    another (the web UI's config editor checks against its own folder).

    A file found in neither place that has the name of a model packaged with
    impsy (the bundled default) is the packaged copy, so the packaged default
    config, and any config naming ``models/<that name>`` as IMPSY's do, plays
    in any folder. A file that is there always wins, so a model of your own
    with that name is the one used.
    """
    if not config.model.file:
        return None
    path = Path(config.model.file).expanduser()
    if root is not None and not path.is_absolute():
        path = root / path
    if path.exists():
        return path
    if not path.is_absolute():
        beside_config = Path(config.source).parent / path
        if beside_config.exists():
            return beside_config
    from impsy.model.loader import packaged_model

    return packaged_model(path.name) or path


def load_performance_model(
    config: Config, options: RunOptions, root: Path | None = None
) -> Model | None:
    """The model this run plays with, or None when it only logs (``root``: as resolved)."""
    mode = config.interaction.mode
    path = None if options.no_model else resolve_model_path(config, root)
    if path is None:
        if mode in MODEL_MODES:
            reason = "--no-model was given" if options.no_model else "[model] file is empty"
            raise ImpsyError(
                f"{config.source}: {mode} mode needs a model but {reason}; "
                "set [model] file, or use --mode useronly to log without a model"
            )
        return None
    if not path.exists():
        if mode not in MODEL_MODES:
            log.warning("model file %s not found; logging without a model", path)
            return None
        raise ImpsyError(
            f"{config.source}: [model] file: {path} does not exist; "
            "train one with `impsy train`, point [model] file at an existing model, "
            "or use --no-model --mode useronly to log without one"
        )
    if path.is_dir():
        raise ImpsyError(
            f"{config.source}: [model] file: {path} is a folder, not a model file; point "
            "[model] file at a .tflite, .keras or .h5 file"
        )
    from impsy.model import ModelError, load_model
    from impsy.model.loader import packaged_models

    if path.parent == packaged_models() and path != Path(config.model.file).expanduser():
        log.info("model: %s is not here; playing the copy packaged with impsy", config.model.file)
    try:
        model = load_model(
            path, engine=config.model.engine, gate=config.model.gate, seed=config.model.seed
        )
    except ModelError as err:  # name the config and the key too: the file alone is half the story
        raise ImpsyError(f"{config.source}: [model] file: {err}") from None
    check_model_dimension(config, model.dimension, path)
    model.pi_temp = config.model.pitemp
    model.sigma_temp = config.model.sigmatemp
    return model


def every_command() -> tuple[Command, ...]:
    """Every row a run can have: the engine's, the sequencer's (with ``[sequencer]``), then
    the studio's (training beside the performance, model swaps).

    What ``impsy commands`` prints and the reference in the docs is made of.
    """
    from impsy.sequencer.commands import ALL_SEQUENCER_COMMANDS
    from impsy.studio.commands import STUDIO_COMMANDS

    return ENGINE_COMMANDS + ALL_SEQUENCER_COMMANDS + STUDIO_COMMANDS


def check_config(config: Config, *, model: bool = False, root: Path | None = None) -> Model | None:
    """What parsing a config cannot check alone: the web UI's exposure, the profiles.

    A web UI other machines can reach needs a token long enough
    (``impsy.web.security.check_bind``). A profile's rules run rows of the
    command table, so they are checked against the rows a run with a
    sequencer has. ``clock = "link"`` needs Link's binding installed (the
    ``link`` extra). Each mistake is a ``ConfigError`` naming the config file
    and the key.

    With ``model``, the model file is also loaded as ``impsy run`` loads it
    at start-up (``load_performance_model``: the path from
    ``resolve_model_path``, the NumPy or LiteRT engine, never TensorFlow) and
    returned, so ``impsy check-config`` refuses what ``impsy run`` would, in
    the same words. ``build`` leaves that to ``build_engine``, which knows
    about ``--no-model``.
    """
    if config.webui is not None:
        from impsy.web.security import check_bind

        try:
            check_bind(config.webui.host, config.webui.token)
        except ImpsyError as err:
            raise ConfigError(f"{config.source}: {err}") from None
    if config.oscquery is not None:
        from impsy.web.oscquery.server import check_oscquery

        try:
            check_oscquery(config.oscquery)
        except ImpsyError as err:
            raise ConfigError(f"{config.source}: {err}") from None
    if config.sequencer is not None and config.sequencer.controllers:
        from impsy.sequencer.controllers.profiles import check_profiles

        check_profiles(config)
    if config.sequencer is not None and config.sequencer.clock == "link":
        from impsy.sequencer.link import check_available

        try:
            check_available("[sequencer] clock")
        except ImpsyError as err:
            raise ConfigError(f"{config.source}: {err}") from None
    return load_performance_model(config, RunOptions(), root) if model else None


def check_edited_config(config: Config, root: Path) -> None:
    """The web UI's config editor's check: ``check_config`` with the model, from ``root``.

    Handed to the web UI (``WebContext.check_config``), which cannot import
    this module, so the editor and its wizard refuse exactly what
    ``impsy check-config`` and ``impsy run`` refuse, in the same words.
    """
    check_config(config, model=True, root=root)


def named(config: Config, error: ImpsyError) -> ImpsyError:
    """``error`` with the config file's name in front, unless it already says it.

    Parts say which section and key went wrong (``[osc] client_ip 'x': cannot
    resolve it``); only the composition root knows which file that was.
    """
    text = str(error)
    if text.startswith(str(config.source)):
        return error
    return ImpsyError(f"{config.source}: {text}")


def load_config(path: str | Path) -> Config:
    """A config file read and checked completely, as ``impsy run`` uses it."""
    config = config_files.load_config(path)
    check_config(config)
    return config


def build_adapters(config: Config, dimension: int, commands: CommandTable) -> list[Adapter]:
    """The adapters of the config's sections, in start order; the sequencer last.

    The sequencer plays through the OSC and MIDI adapters made before it,
    and its ``seq/...`` rows join ``commands``, bound to it.
    """
    adapters: list[Adapter] = []
    midi = osc = None
    if config.midi is not None:
        from impsy.io.midi.adapter import MidiAdapter

        midi = MidiAdapter(config.midi, dimension)
        adapters.append(midi)
    if config.osc is not None:
        from impsy.io.osc import OSCAdapter

        osc = OSCAdapter(config.osc, dimension, commands)
        adapters.append(osc)
    if config.websocket is not None:
        from impsy.io.websocket import WebSocketAdapter

        adapters.append(WebSocketAdapter(config.websocket, dimension))
    if config.serial is not None:
        from impsy.io.serial.csv import SerialCSVAdapter

        adapters.append(SerialCSVAdapter(config.serial, dimension))
    if config.serialmidi is not None:
        from impsy.io.serial.midi import SerialMidiAdapter

        adapters.append(SerialMidiAdapter(config.serialmidi, dimension))
    if config.sequencer is not None:
        adapters.append(build_sequencer(config.sequencer, dimension, commands, osc=osc, midi=midi))
    return adapters


def build_sequencer(
    config: SequencerConfig,
    dimension: int,
    commands: CommandTable,
    *,
    osc: Any = None,
    midi: Any = None,
) -> SequencerAdapter:
    """The sequencer, its ``seq/...`` rows registered on the part each runs on: playing
    and editing on the sequencer, files on its patterns folder, the status on the adapter
    (which has the OSC client)."""
    from impsy.sequencer import commands as rows
    from impsy.sequencer.adapter import SequencerAdapter

    adapter = SequencerAdapter(config, dimension, commands, osc=osc, midi=midi)
    commands.register(rows.SEQUENCER_COMMANDS, adapter.sequencer)
    commands.register(rows.FILE_COMMANDS, adapter.files)
    commands.register(rows.STATUS_COMMANDS, adapter)
    commands.register(rows.LEARN_COMMANDS, adapter.learning)
    return adapter


def build_engine(config: Config, options: RunOptions) -> Engine:
    """The engine alone (its model loaded), on the running loop's clock."""
    model = load_performance_model(config, options)
    dimension = model.dimension if model is not None else config.model.dimension
    event_log = None
    if config.log_input or config.log_predictions:
        from impsy.engine.eventlog import EventLog

        event_log = EventLog(options.logdir, dimension)
    settings = Settings(
        mode=config.interaction.mode,
        threshold=config.interaction.threshold,
        timescale=config.model.timescale,
        input_thru=config.interaction.input_thru,
        log_input=config.log_input,
        log_predictions=config.log_predictions,
        verbose=config.verbose,
        lead=config.model.lead,
    )
    engine = Engine(dimension, settings, model, event_log, threaded_model=options.threaded_model)
    engine.note_dimensions = config.note_dimensions()
    if config.steering is not None:
        engine.configure_steering(config.steering)
    return engine


@dataclass
class Performance:
    """One run's parts, wired together: ``start`` opens them, ``stop`` closes them."""

    config: Config
    engine: Engine
    commands: CommandTable
    adapters: list[Adapter]
    sequencer: Any = None
    """The sequencer's ``SequencerControl`` when the config has one."""
    learning: Any = None
    """Its pattern model (``PatternLearning``), for the web UI's views of it."""
    training: Any = None
    """The ``train`` and ``model/use`` rows' target (``impsy.studio.live.LiveTraining``)."""

    async def start(self, extra: list[Adapter] | None = None) -> None:
        """Open every adapter (and ``extra`` ones, last), then start the engine's clock."""
        await self.open(extra)
        self.engine.begin()

    async def open(self, extra: list[Adapter] | None = None) -> None:
        """Open every adapter (and ``extra`` ones, last); the engine's clock not yet."""
        await self.engine.open([*self.adapters, *(extra or [])])

    async def stop(self) -> None:
        if self.training is not None:
            await self.training.close()  # a training job started from here stops too
        await self.engine.stop()

    def web_context(self, options: RunOptions) -> Any:
        """What the web UI of this run needs, handed to it explicitly."""
        from impsy.web.context import WebContext

        return WebContext.create(
            self.config,
            self.engine,
            logdir=options.logdir,
            commands=self.commands,
            sequencer=self.sequencer,
            learning=self.learning,
            check_config=check_edited_config,
        )


def build(config: Config, options: RunOptions | None = None) -> Performance:
    """Every part of a run of ``config``, wired and not yet started."""
    options = options or RunOptions()
    check_config(config)
    engine = build_engine(config, options)
    commands = CommandTable()
    commands.register(ENGINE_COMMANDS, engine)
    from impsy.studio.commands import STUDIO_COMMANDS
    from impsy.studio.live import LiveTraining

    training = LiveTraining(engine, config)
    commands.register(STUDIO_COMMANDS, training)
    adapters = build_adapters(config, engine.dimension, commands)
    sequencer = adapters[-1].sequencer if config.sequencer is not None else None
    learning = adapters[-1].learning if config.sequencer is not None else None
    if sequencer is not None:
        training.follow_bars(sequencer)  # model/use ... bar swaps on its bar lines
    return Performance(config, engine, commands, adapters, sequencer, learning, training)


def summary(
    engine: Engine,
    config: Config,
    webui_url: str | None = None,
    where: Locations | None = None,
) -> list[str]:
    """The start-up summary: the config and why it was chosen, model, mode, io, log, web UI.

    ``where`` is the command line's choice of config and log folder, with why;
    a run built without one (tests, benchmarks) shows the paths alone.
    """
    lines = [f"impsy: config {where.describe_config() if where else config.source}"]
    if engine.model is not None:
        lines.append(f"model: {engine.model.describe()}")
        if engine.predictor is not None and engine.predictor.threaded:
            lines.append("model: runs on a worker thread (too slow to run on the event loop)")
    else:
        lines.append(f"model: none (logging only), dimension {engine.dimension}")
    lines.append(
        f"mode: {engine.settings.mode} (threshold {engine.settings.threshold:g} s, "
        f"timescale {engine.settings.timescale:g}, input_thru {engine.settings.input_thru})"
    )
    for adapter in engine.adapters:
        lines.append(f"io: {adapter.describe()}")
    if not engine.adapters:
        lines.append("io: none configured: add an [osc] section to play")
    if engine.event_log is None:
        lines.append("log: off")
    elif where is not None and engine.event_log.path.parent == where.logdir:
        lines.append(f"log: {engine.event_log.path} ({where.logdir_reason})")
    else:
        lines.append(f"log: {engine.event_log.path}")
    if webui_url is not None:
        token = config.webui is not None and config.webui.token is not None
        note = " (open it once with ?token=<[webui] token>)" if token else ""
        lines.append(f"webui: {webui_url}{note}")
    return lines


async def start_webui(performance: Performance, options: RunOptions) -> Any:
    """The web UI on this loop, beside the engine; ImpsyError if it cannot listen."""
    from impsy.web.server import WebServer

    server = WebServer(performance.web_context(options))
    await server.start()
    return server


async def start_oscquery(performance: Performance) -> Any:
    """OSCQuery (``[oscquery]``) on this loop, its own port; ImpsyError if it cannot listen."""
    from impsy.web.oscquery.server import OscQueryServer

    config = performance.config
    assert config.oscquery is not None and config.osc is not None  # [oscquery] needs [osc]
    server = OscQueryServer(
        config.oscquery,
        config.osc,
        performance.engine,
        performance.commands,
        performance.sequencer,
        learning=performance.learning,
        sequencer_adapter=next((a for a in performance.adapters if a.name == "sequencer"), None),
    )
    await server.start()
    return server


async def serve(config: Config, options: RunOptions, ready=None) -> None:  # noqa: ANN001
    """Run until SIGINT/SIGTERM. ``ready(engine)`` is called once listening."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            os._exit(1)  # the musician insists: leave now
        stop.set()

    performance = build(config, options)  # refuses a setup mistake before anything starts
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    webui = oscquery = None
    engine = performance.engine
    try:
        try:
            await performance.open()
            if config.webui is not None:
                webui = await start_webui(performance, options)
            if config.oscquery is not None:
                oscquery = await start_oscquery(performance)
        except ImpsyError as err:  # a port in use, a device name: say which file too
            raise named(config, err) from None
        # Everything loaded so far lives for the whole run; moving it out of the
        # collector's view keeps full collections short during the performance.
        gc.freeze()
        # On the loop's thread, once everything slow has loaded: threads and processes
        # started from here on run at ordinary priority (see the module).
        priority = raise_priority(config.realtime)
        engine.realtime = priority.realtime
        engine.begin()  # last: the model's first deadlines wait for nothing slow
        for line in summary(engine, config, webui.url if webui else None, options.locations):
            click.echo(line)
        click.echo(f"timing: {priority.describe()}")
        if oscquery is not None:
            click.echo(f"oscquery: {oscquery.url} (the OSC namespace, for OSCQuery clients)")
        click.echo("impsy: listening (Ctrl-C to stop)", nl=True)
        if ready is not None:
            ready(engine)
        await stop.wait()
        click.echo("impsy: stopping")
    finally:
        if oscquery is not None:
            await oscquery.stop()
        if webui is not None:
            await webui.stop()
        await performance.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    counters = engine.counters
    click.echo(
        f"impsy: stopped after {counters.events_in} gestures, {counters.outputs} outputs, "
        f"{counters.log_rows} log rows"
    )


def run(config: Config, options: RunOptions) -> None:
    """Blocking entry point for the command line."""
    from impsy.engine import loop as impsy_loop

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    log.debug("starting at %.3f", start)
    impsy_loop.run(serve(config, options))
