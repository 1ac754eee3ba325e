"""A real engine on a real event loop, driven one input at a time from outside the loop.

The fuzz targets call adapter entry points (``datagram_received``,
``_received``) directly, as the loop would, then let the loop run once so
whatever the input scheduled (a handover, a battle player, a reset) runs too.
Observers check what reaches the engine: every gesture and every played
prediction must be finite, and played predictions must lie in [0, 1].
"""

from __future__ import annotations

import asyncio
import logging
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from impsy.engine import loop as impsy_loop
from impsy.engine.commands import ENGINE_COMMANDS
from impsy.engine.core import Engine, Settings
from impsy.engine.table import CommandTable

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"
CORPUS = ROOT / "tests" / "fuzz_corpus"
DIMENSION = 9
MAX_WARNING_KINDS = 64


class _Failures(logging.Handler):
    """Keeps every logged exception (a failed engine task): the fuzzer must see those."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])


FAILURES = _Failures()


def quiet() -> None:
    """Keep rate-limited warnings off the fuzzer's terminal, but catch logged exceptions."""
    logger = logging.getLogger("impsy")
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    if FAILURES not in logger.handlers:
        logger.addHandler(FAILURES)


def check_values(kind: str, values: np.ndarray, when: float) -> None:
    """An engine observer: nothing non-finite ever reaches the engine or the outputs."""
    assert values.shape == (DIMENSION - 1,), f"{kind}: shape {values.shape}"
    assert np.all(np.isfinite(values)), f"{kind}: non-finite values {values}"
    if kind == "rnn":
        assert np.all((values >= 0.0) & (values <= 1.0)), f"played values outside [0, 1]: {values}"
    assert math.isfinite(when)


class SpoilableModel:
    """A real MDRNN whose answers pass through ``spoil`` first: the stand-in for a model
    that fails at run time (an accelerator error, a NaN), which no real file does on cue.

    ``spoil`` returns ``None`` to leave an answer alone, or the damaged array,
    or raises. The fuzz harness and the model-fault tests both build on it.
    """

    label = "spoilable"

    def __init__(self, model) -> None:  # noqa: ANN001 - an impsy.model MDRNN
        self.real = model
        self.dimension = model.dimension
        self.path = model.path

    pi_temp = property(lambda self: self.real.pi_temp)
    sigma_temp = property(lambda self: self.real.sigma_temp)

    @pi_temp.setter
    def pi_temp(self, value: float) -> None:
        self.real.pi_temp = value

    @sigma_temp.setter
    def sigma_temp(self, value: float) -> None:
        self.real.sigma_temp = value

    def spoil(self, array: np.ndarray) -> np.ndarray | None:
        return None

    def step(self, x: np.ndarray):  # noqa: ANN201 - MixtureParams or a stand-in
        params = self.real.step(x)
        spoiled = self.spoil(params.raw)
        return params if spoiled is None else SimpleNamespace(raw=spoiled)

    def predict(self, x: np.ndarray) -> np.ndarray:
        y = self.real.predict(x)
        spoiled = self.spoil(y)
        return y if spoiled is None else spoiled

    def reset(self) -> None:
        self.real.reset()

    def describe(self) -> str:
        return f"{self.label} {self.real.describe()}"


class FlakyModel(SpoilableModel):
    """The bundled model, failing now and then: every 97th call raises, every 89th is NaN.

    The OSC target runs with it, so fuzzed mode switches, pauses and
    timescales meet the engine's model-failure paths too.
    """

    label = "flaky"

    def __init__(self, model) -> None:  # noqa: ANN001 - an impsy.model MDRNN
        super().__init__(model)
        self.calls = 0

    def spoil(self, array: np.ndarray) -> np.ndarray | None:
        self.calls += 1
        if self.calls % 97 == 0:
            raise RuntimeError(f"flaky model, call {self.calls}")
        if self.calls % 89:
            return None
        damaged = np.array(array, dtype=np.float64)
        damaged[0] = np.nan
        return damaged


class LiveEngine:
    """An ``Engine`` started on impsy's own loop, with the given adapters.

    ``commands``, when given, gets the engine's rows, as ``impsy.app`` does.
    """

    def __init__(
        self,
        adapters: list,
        mode: str = "useronly",
        with_model: bool = False,
        commands: CommandTable | None = None,
    ) -> None:
        quiet()
        model = None
        if with_model:
            from impsy.model import load_model

            model = FlakyModel(load_model(MODEL, seed=1))
        settings = Settings(
            mode=mode,
            threshold=0.1,
            timescale=1.0,
            input_thru=False,
            log_input=False,
            log_predictions=False,
        )
        self.loop = impsy_loop.new_event_loop()
        self.engine = Engine(DIMENSION, settings, model, None, threaded_model=False)
        self.engine.add_observer(check_values)
        if commands is not None:
            commands.register(ENGINE_COMMANDS, self.engine)
        self.adapters = adapters
        self.errors: list[BaseException] = []
        self.loop.set_exception_handler(self._loop_error)
        self.loop.run_until_complete(self.engine.start(adapters))

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        # The loop would log an exception from a callback and carry on; a fuzzer must see it.
        self.errors.append(context.get("exception") or AssertionError(context.get("message")))

    def feed(self, callback, *args) -> None:  # noqa: ANN001
        """Call ``callback(*args)`` on the loop, as the loop calls a protocol, then run once."""
        self.loop.call_soon(callback, *args)
        self.spin()

    def feed_reads(self, read, data: bytes) -> None:  # noqa: ANN001
        """``data`` cut by :func:`chunks`, each piece handed to ``read`` in one loop callback
        (as a device's reader gets a burst of reads), then the loop runs once."""

        def deliver() -> None:
            for piece in chunks(data):
                read(piece)

        self.feed(deliver)

    def spin(self) -> None:
        """Run the loop for one iteration: what the last input scheduled gets its turn."""
        self.loop.call_soon(self.loop.stop)
        self.loop.run_forever()
        self.errors += FAILURES.errors
        FAILURES.errors.clear()
        # One rate-limit entry per kind of problem: if input can make new kinds, memory
        # grows with every odd message and each one prints a fresh warning.
        kinds = len(self.engine._warn._last)
        if kinds > MAX_WARNING_KINDS:
            self.errors.append(AssertionError(f"{kinds} kinds of warning: keys depend on input"))
        if self.errors:
            error = self.errors[0]
            self.errors.clear()
            raise error

    def counts(self) -> tuple[int, int]:
        """(events_in, bad_input) so far."""
        counters = self.engine.counters
        return counters.events_in, counters.bad_input

    def close(self) -> None:
        self.loop.run_until_complete(self.engine.stop())
        self.loop.close()


def chunks(data: bytes) -> list[bytes]:
    """Split ``data`` into reads of varying size, as a serial port delivers a stream.

    The first byte picks the read size (1-64 bytes), so the fuzzer explores
    messages split anywhere, including mid-line and mid-message.
    """
    if not data:
        return []
    size = 1 + data[0] % 64
    body = data[1:]
    return [body[i : i + size] for i in range(0, len(body), size)]


MAPPING = """[
  ["note_on", 1], ["note_velocity", 1], ["control_change", 1, 1],
  ["control_change", 2, 2, 10, 20], ["pitch_bend", 1], ["note_on", 10, 64],
  ["control_change", 16, 127], ["pitch_bend", 16],
]"""
"""Every mapping kind, on the lowest and highest channels: what the MIDI-shaped targets decode."""


def mapped_config(section: str, **keys: str):  # noqa: ANN201 - a Config
    """A real config with ``[section]`` using ``MAPPING`` both ways, through the real loader."""
    from impsy.config import load_config_text

    lines = "\n".join(f"{key} = {value}" for key, value in keys.items())
    text = (
        f'[model]\ndimension = {DIMENSION}\n[interaction]\nmode = "useronly"\n'
        f"[{section}]\n{lines}\ninput = {MAPPING}\noutput = {MAPPING}\n"
    )
    return load_config_text(text, f"fuzz-{section}.toml")


def scratch_dir() -> Path:
    """A private directory for files the targets write (in memory where the OS allows)."""
    import atexit
    import shutil
    import tempfile

    shm = Path("/dev/shm")
    path = Path(tempfile.mkdtemp(prefix="impsy-fuzz-", dir=shm if shm.is_dir() else None))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


class QuietLogging:
    """``quiet()`` for a while, then the ``impsy`` logger exactly as it was (for the tests)."""

    def __enter__(self) -> None:
        logger = logging.getLogger("impsy")
        self._saved = (logger.level, logger.propagate, list(logger.handlers))
        quiet()

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("impsy")
        level, logger.propagate, logger.handlers[:] = self._saved
        logger.setLevel(level)  # through setLevel: it also clears the enabled-level caches
