"""``impsy run``: from a config file to a running performance and back.

Start-up refuses anything that would fail later (a missing model file, a
model whose dimension disagrees with the mappings, a port in use), so once
"listening" is printed the performance does not stop on a setup mistake.
Shutdown on SIGINT/SIGTERM releases sounding notes, stops the adapters and
closes the log before exiting 0; a second signal exits at once.
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

import click

from impsy.config import Config, check_model_dimension
from impsy.engine.core import MODEL_MODES, Engine, Settings
from impsy.errors import ImpsyError

log = logging.getLogger("impsy")


@dataclass
class RunOptions:
    """Choices from the command line that are not config keys."""

    logdir: Path = Path("logs")
    no_model: bool = False
    threaded_model: bool | None = None


def resolve_model_path(config: Config) -> Path | None:
    """The model file: relative to the working directory (as IMPSY), else to the config."""
    if not config.model.file:
        return None
    path = Path(config.model.file).expanduser()
    if path.is_absolute() or path.exists():
        return path
    beside_config = Path(config.source).parent / path
    return beside_config if beside_config.exists() else path


def load_performance_model(config: Config, options: RunOptions):  # noqa: ANN201 - MDRNN | None
    """The model this run plays with, or None when it only logs."""
    mode = config.interaction.mode
    path = None if options.no_model else resolve_model_path(config)
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
    from impsy.model import load_model

    model = load_model(
        path, engine=config.model.engine, gate=config.model.gate, seed=config.model.seed
    )
    check_model_dimension(config, model.dimension, path)
    model.pi_temp = config.model.pitemp
    model.sigma_temp = config.model.sigmatemp
    return model


def build_adapters(config: Config, dimension: int) -> list:
    adapters = []
    if config.midi is not None:
        from impsy.io.midi.adapter import MidiAdapter

        adapters.append(MidiAdapter(config.midi, dimension))
    if config.osc is not None:
        from impsy.io.osc import OSCAdapter

        adapters.append(OSCAdapter(config.osc, dimension))
    if config.websocket is not None:
        from impsy.io.websocket import WebSocketAdapter

        adapters.append(WebSocketAdapter(config.websocket, dimension))
    if config.serial is not None:
        from impsy.io.serial.csv import SerialCSVAdapter

        adapters.append(SerialCSVAdapter(config.serial, dimension))
    if config.serialmidi is not None:
        from impsy.io.serial.midi import SerialMidiAdapter

        adapters.append(SerialMidiAdapter(config.serialmidi, dimension))
    if config.sequencer is not None:  # last: it plays through the OSC and MIDI adapters above
        from impsy.sequencer.adapter import SequencerAdapter

        adapters.append(SequencerAdapter(config.sequencer, dimension))
    return adapters


def build_engine(config: Config, options: RunOptions) -> Engine:
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
    )
    return Engine(dimension, settings, model, event_log, threaded_model=options.threaded_model)


def summary(engine: Engine, config: Config, webui_url: str | None = None) -> list[str]:
    lines = [f"impsy: config {config.source}"]
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
    lines.append(f"log: {engine.event_log.path if engine.event_log else 'off'}")
    if webui_url is not None:
        token = config.webui is not None and config.webui.token is not None
        note = " (open it once with ?token=<[webui] token>)" if token else ""
        lines.append(f"webui: {webui_url}{note}")
    return lines


async def start_webui(config: Config, engine: Engine, options: RunOptions):  # noqa: ANN201
    """The web UI on this loop, beside the engine; ImpsyError if it cannot listen."""
    from impsy.web.context import WebContext
    from impsy.web.server import WebServer

    server = WebServer(WebContext.create(config, engine, logdir=options.logdir))
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

    if config.webui is not None:
        from impsy.web.security import check_bind

        check_bind(config.webui.host, config.webui.token)  # before anything starts
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    webui = None
    engine = build_engine(config, options)
    try:
        await engine.start(build_adapters(config, engine.dimension))
        if config.webui is not None:
            webui = await start_webui(config, engine, options)
        # Everything loaded so far lives for the whole run; moving it out of the
        # collector's view keeps full collections short during the performance.
        gc.freeze()
        for line in summary(engine, config, webui.url if webui else None):
            click.echo(line)
        click.echo("impsy: listening (Ctrl-C to stop)", nl=True)
        if ready is not None:
            ready(engine)
        await stop.wait()
        click.echo("impsy: stopping")
    finally:
        if webui is not None:
            await webui.stop()
        await engine.stop()
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
