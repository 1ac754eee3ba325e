"""``/api/config``: read, validate, save, and a wizard that writes configs that run.

Validation is the config loader itself (``load_config_text``) and then the
composition root's check handed in as ``WebContext.check_config``, so the
page accepts exactly what ``impsy run`` accepts; its one-line messages name a
section and key, which are mapped back to a line of the text so the editor
can show the error beside it.

The wizard offers the machine's ports (``GET /api/ports``) and can learn a
MIDI input mapping from the controls a musician moves (``/api/midi/learn``).
Both run ``impsy ports`` as a subprocess rather than calling RtMidi here:
making a MIDI client (on JACK, a JACK client) holds the GIL for milliseconds,
which a thread would not spare the event loop, and making one while the
performance's MIDI input callbacks are armed can deadlock
(``impsy.io.midi.backend``). In its own process a listing or a learn can do
neither to the performance. A learn never uses the performance's ports: it
opens its own connection, and a port the performance reads is refused (its
messages are gestures already, and its mapping is in the config).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from impsy.config import default_config_text, load_config_text
from impsy.config.modes import canonical_mode
from impsy.config.sizes import MAX_DIMENSION
from impsy.errors import ImpsyError
from impsy.io.midi.learn import MAX_SECONDS, describe, proposal
from impsy.io.midi.ports import match_port
from impsy.mapping.spec import MappingError, parse_mapping_list
from impsy.web.context import CTX
from impsy.web.responses import BadRequest, read_json, reply
from impsy.web.status import adapter_health

if TYPE_CHECKING:
    from impsy.web.context import WebContext

_LINE = re.compile(r": line (\d+)(?:, column \d+)?(?: \(end of file\))?: ")
_KEY = re.compile(r": (\[[A-Za-z_]+\])(?: ([A-Za-z_]+)(?:\.(\"[^\"]*\"|[A-Za-z_]+))?)?: ")
_TOP_KEY = re.compile(r": ([a-z_]+): ")
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]\[]+?)\s*\]\]?\s*(#.*)?$")
MAX_CONFIG_CHARS = 256 * 1024


def _key_line(text: str, section: str | None, key: str | None) -> int | None:
    """The 1-based line where ``[section]`` (or its ``key``) is written, if it can be found."""
    current: str | None = None
    section_line = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            current = header[1].split(".")[0].strip()
            if current == section and section_line is None:
                section_line = number
            continue
        if current != section or key is None:
            continue
        stripped = line.lstrip()
        if re.match(rf"{re.escape(key)}\s*[=.]", stripped) or re.match(
            rf"\"?{re.escape(key)}\"?\s*=", stripped
        ):
            return number
    return section_line


def locate(text: str, message: str) -> dict[str, Any]:
    """``{"line", "key", "message"}`` for one loader message (error or warning)."""
    found = _LINE.search(message)
    if found:
        return {"line": int(found[1]), "key": None, "message": message}
    found = _KEY.search(message)
    if found:
        section = found[1].strip("[]")
        key = found[2]
        line = _key_line(text, section, key)
        shown = f"[{section}] {key}" if key else f"[{section}]"
        return {"line": line, "key": shown, "message": message}
    found = _TOP_KEY.search(message)
    if found:
        return {"line": _key_line(text, None, found[1]), "key": found[1], "message": message}
    return {"line": None, "key": None, "message": message}


def validate(
    text: str, label: str, root: Path, check: Callable[[Any, Path], None] | None
) -> dict[str, Any]:
    """The verdict of ``impsy run``'s own checks on ``text``, model file included.

    Parsing is the config loader (``load_config_text``); the rest is
    ``check`` (``WebContext.check_config``, the composition root's check:
    the web UI's exposure, the controller profiles, the model file named,
    loaded as a run loads it, and its dimension), with model paths resolved
    from ``root``. So the editor, ``impsy check-config`` and ``impsy run``
    refuse the same configs in the same words.
    """
    try:
        config = load_config_text(text, label)
        if check is not None:
            check(config, root)
    except (ImpsyError, ValueError, OSError) as err:
        return {"ok": False, "errors": [locate(text, str(err))], "warnings": []}
    warnings = [locate(text, w) for w in config.warnings]
    return {"ok": True, "errors": [], "warnings": warnings}


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


async def _text(request: web.Request) -> str:
    body = await read_json(request)
    text = body.get("text")
    if not isinstance(text, str):
        raise BadRequest('expected {"text": "<the config file>"}')
    if len(text) > MAX_CONFIG_CHARS:
        raise BadRequest("config text too large", 413)
    return text


async def get_config(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    path = ctx.config_path
    exists = path.is_file()
    text = path.read_text(encoding="utf-8") if exists else default_config_text()
    return reply({"path": str(path), "text": text, "exists": exists})


async def post_validate(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    text = await _text(request)
    return reply(
        await asyncio.to_thread(validate, text, ctx.config_path.name, ctx.root, ctx.check_config)
    )


async def put_config(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    text = await _text(request)
    verdict = await asyncio.to_thread(
        validate, text, ctx.config_path.name, ctx.root, ctx.check_config
    )
    if not verdict["ok"]:
        first = verdict["errors"][0]["message"]
        return reply({"ok": False, "error": first, "errors": verdict["errors"]}, status=400)
    await asyncio.to_thread(atomic_write, ctx.config_path, text)
    return reply({"ok": True, "path": str(ctx.config_path), "warnings": verdict["warnings"]})


# ------------------------------------------------------------------ wizard
def _port(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise BadRequest(f"{key} must be a port number 1-65535, got {value!r}")
    return value


def _q(value: str) -> str:
    return json.dumps(value)  # a TOML basic string is a JSON string for printable text


def wizard_text(body: dict[str, Any], webui: tuple[str, int, str | None]) -> str:
    """A config from the wizard's few answers; BadRequest on a bad answer.

    ``webui`` is the running web UI's host, port and token: the new config
    keeps them (``webui_port`` in the answers may move the port), so the
    browser that wrote it can still reach impsy after the restart.
    """
    mode = body.get("mode", "callresponse")
    if not isinstance(mode, str) or canonical_mode(mode) is None:
        raise BadRequest(f"unknown mode {mode!r}")
    dimension = body.get("dimension", 9)
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 2:
        raise BadRequest(f"dimension must be an integer >= 2, got {dimension!r}")
    model = body.get("model") or ""
    if not isinstance(model, str):
        raise BadRequest(f"model must be a file name, got {model!r}")
    lines = [
        "# Written by the impsy web UI's config wizard.",
        'title = "impsy web UI setup"',
        "log_input = true",
        "",
        "[interaction]",
        f"mode = {_q(canonical_mode(mode))}",
        "threshold = 0.1",
        "",
        "[model]",
        f"dimension = {dimension}",
    ]
    if model:
        lines.append(f"file = {_q(model)}")
    osc = body.get("osc")
    if osc is not None:
        if not isinstance(osc, dict):
            raise BadRequest("osc must be an object with server_port and client_port")
        lines += [
            "",
            "[osc]",
            'server_ip = "127.0.0.1"',
            f"server_port = {_port(osc, 'server_port', 6000)}",
            'client_ip = "127.0.0.1"',
            f"client_port = {_port(osc, 'client_port', 6001)}",
        ]
    midi = body.get("midi")
    if midi is not None:
        lines += _wizard_midi(midi, dimension)
    serial = body.get("serial")
    if serial is not None:
        lines += _wizard_serial(serial)
    host, port, token = webui
    lines += ["", "[webui]", f"host = {_q(host)}", f"port = {_port(body, 'webui_port', port)}"]
    if token:
        lines.append(f"token = {_q(token)}")
    return "\n".join(lines + [""])


def _mapping_list(midi: dict[str, Any], key: str, dimension: int) -> str | None:
    """``midi[key]`` (a learned mapping list) as TOML, checked as the loader checks it."""
    entries = midi.get(key)
    if entries is None:
        return None
    try:
        parsed = parse_mapping_list(entries, dimension - 1)
    except MappingError as err:
        raise BadRequest(f"midi.{key} {err}") from None
    return "[" + ", ".join(json.dumps(entry.to_list()) for entry in parsed) + "]"


def _wizard_midi(midi: Any, dimension: int) -> list[str]:
    """MIDI ports; each mapped with consecutive CCs on channel 1, or with a learned list."""
    if not isinstance(midi, dict):
        raise BadRequest("midi must be an object with in_device and out_device")
    first = midi.get("first_cc", 1)
    if isinstance(first, bool) or not isinstance(first, int) or not 0 <= first <= 128 - dimension:
        raise BadRequest(f"first_cc must be 0-{128 - dimension} for dimension {dimension}")
    consecutive = (
        "[" + ", ".join(f'["control_change", 1, {first + i}]' for i in range(dimension - 1)) + "]"
    )
    lines = ["", "[midi]"]
    for key, table in (("in_device", "input"), ("out_device", "output")):
        name = midi.get(key) or ""
        if not isinstance(name, str):
            raise BadRequest(f"{key} must be a port name")
        mapping = _mapping_list(midi, f"{table}_mapping", dimension) or consecutive
        lines.append(f"{key} = [{_q(name)}]" if name else f"{key} = []")
        if name:
            lines.append(f"{table}.{_q(name)} = {mapping}")
    return lines


def _wizard_serial(serial: Any) -> list[str]:
    """A ``[serial]`` section (comma-separated values, one event per line)."""
    if not isinstance(serial, dict):
        raise BadRequest("serial must be an object with port and baudrate")
    port = serial.get("port")
    if not isinstance(port, str) or not port.strip():
        raise BadRequest("serial port must be a device path such as /dev/ttyUSB0")
    baudrate = serial.get("baudrate", 115200)
    if isinstance(baudrate, bool) or not isinstance(baudrate, int) or baudrate < 1:
        raise BadRequest(f"serial baudrate must be a positive integer, got {baudrate!r}")
    return ["", "[serial]", f"port = {_q(port.strip())}", f"baudrate = {baudrate}"]


async def post_wizard(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    body = await read_json(request)
    text = wizard_text(body, (ctx.host, ctx.port, ctx.token))
    verdict = await asyncio.to_thread(
        validate, text, ctx.config_path.name, ctx.root, ctx.check_config
    )
    if not verdict["ok"]:
        raise BadRequest(verdict["errors"][0]["message"])
    saved = body.get("save") is True
    if saved:
        await asyncio.to_thread(atomic_write, ctx.config_path, text)
    return reply({"ok": True, "text": text, "saved": saved, "path": str(ctx.config_path)})


# ------------------------------------------------------------------- ports
PORTS_TIMEOUT_S = 20.0
"""The longest a listing may take (one takes ~0.2 s: a Python start and two MIDI clients)."""
LEARN_SECONDS = 10.0
"""How long a learn listens unless asked otherwise (at most ``MAX_SECONDS``)."""
LEARN_START_S = 20.0
"""The longest a learn may take to open its port."""
LEARN_STOP_S = 5.0
"""How long a learn may take to end after it was told to stop, before it is killed."""


def impsy_command(*args: str) -> list[str]:
    """``impsy ARGS`` with this Python, as a subprocess runs it."""
    return [sys.executable, "-m", "impsy", *args]


def _serial_paths(ctx: WebContext) -> list[str]:
    """The serial ports the running config names (virtual ones are listed only so)."""
    config = ctx.config
    return [s.port for s in (config.serial, config.serialmidi) if s is not None]


def _error_line(stderr: bytes, fallback: str) -> str:
    """The ``error: ...`` line a failed ``impsy`` printed, else its last line, else ``fallback``."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    for line in reversed(lines):
        if line.startswith("error: "):
            return line.removeprefix("error: ")
    return lines[-1] if lines else fallback


class PortLister:
    """Runs ``impsy ports --json`` in a subprocess; requests arriving meanwhile share it."""

    def __init__(self) -> None:
        self._running: asyncio.Future[dict[str, Any]] | None = None

    async def listing(self, ctx: WebContext) -> dict[str, Any]:
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._list(ctx))
        return await asyncio.shield(self._running)

    async def _list(self, ctx: WebContext) -> dict[str, Any]:
        serial = [f"--serial={path}" for path in _serial_paths(ctx)]
        process = await asyncio.create_subprocess_exec(
            *impsy_command("ports", "--json", "--no-config", *serial),
            cwd=ctx.root,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), PORTS_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise BadRequest(
                f"listing the ports took more than {PORTS_TIMEOUT_S:g} s; is the MIDI system hung?",
                504,
            ) from None
        try:
            body = json.loads(out)
            return {"midi": body["midi"], "serial": body["serial"]}
        except (ValueError, KeyError, TypeError):
            reason = _error_line(err, f"exit status {process.returncode}")
            raise BadRequest(f"listing the ports failed: {reason}", 500) from None


@dataclass(eq=False)
class LearnSession:
    """One MIDI learn: its ``impsy ports --learn`` process and what it has heard so far."""

    id: int
    port: str
    """The name asked for."""
    device: str
    """The system port it picked (and listens to)."""
    dimension: int
    seconds: float
    state: str = "starting"
    """``starting``, ``listening``, ``done`` or ``failed``."""
    api: str | None = None
    learned: list[list[Any]] = field(default_factory=list)
    reason: str | None = None
    error: str | None = None
    listening_since: float | None = None
    process: asyncio.subprocess.Process | None = None
    task: asyncio.Task[None] | None = None
    listening: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def slots(self) -> int:
        return self.dimension - 1

    @property
    def active(self) -> bool:
        return self.state in ("starting", "listening")

    def snapshot(self) -> dict[str, Any]:
        """The answer of ``GET /api/midi/learn`` (see API.md)."""
        remaining = None
        if self.state == "listening" and self.listening_since is not None:
            remaining = max(0.0, self.seconds - (time.monotonic() - self.listening_since))
        mapping, filled = proposal(self.learned, self.slots)
        return {
            "id": self.id,
            "state": self.state,
            "port": self.port,
            "device": self.device,
            "api": self.api,
            "dimension": self.dimension,
            "slots": self.slots,
            "seconds": self.seconds,
            "remaining": remaining,
            "learned": self.learned,
            "labels": [describe(entry) for entry in self.learned],
            "mapping": mapping,
            "filled": filled,
            "reason": self.reason,
            "error": self.error,
        }


class MidiLearn:
    """The one MIDI learn a web UI runs at a time, and the last one's result."""

    def __init__(self) -> None:
        self.session: LearnSession | None = None
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def start(
        self, ctx: WebContext, port: str, device: str, dimension: int, seconds: float
    ) -> LearnSession:
        """Start listening to ``device``; returns once its port is open (or raises BadRequest)."""
        async with self._lock:
            if self.session is not None and self.session.active:
                raise BadRequest(
                    f"MIDI learn is already listening to {self.session.device!r}; stop it first",
                    409,
                )
            session = LearnSession(next(self._ids), port, device, dimension, seconds)
            self.session = session
            session.process = await asyncio.create_subprocess_exec(
                *impsy_command(
                    "ports",
                    "--json",
                    "--no-config",
                    f"--learn={device}",
                    f"--seconds={seconds:g}",
                    f"--dimension={dimension}",
                ),
                cwd=ctx.root,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            session.task = asyncio.ensure_future(self._follow(session))
            waiting = asyncio.ensure_future(session.listening.wait())
            done, _ = await asyncio.wait(
                {waiting, session.task}, timeout=LEARN_START_S, return_when=asyncio.FIRST_COMPLETED
            )
            waiting.cancel()
            if session.state == "listening":
                return session
            if not done:
                await self._end(session)
                session.state, session.error = "failed", "the MIDI port did not open in time"
            raise BadRequest(f"MIDI learn could not start: {session.error}", 503)

    async def stop(self) -> LearnSession | None:
        """End the running learn early (it keeps what it heard); the last session."""
        session = self.session
        if session is not None and session.active:
            await self._end(session)
        return session

    async def close(self) -> None:
        """End a learn that is still running (the server is stopping)."""
        if self.session is not None and self.session.active:
            await self._end(self.session)

    async def _end(self, session: LearnSession) -> None:
        """Stop the learn's process: SIGTERM, and SIGKILL only if it does not end soon.

        A JACK client killed outright stalls the JACK server (and everything
        on it, the performance included) for its client timeouts, ~20 s seen
        here; one that ends on SIGTERM closes its port first.
        """
        process, task = session.process, session.task
        assert process is not None and task is not None
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)  # it ends as "stopped", keeping what it heard
        try:
            await asyncio.wait_for(asyncio.shield(task), LEARN_STOP_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await task

    async def _follow(self, session: LearnSession) -> None:
        """Read the learn's events until it ends; a learn past its time is stopped."""
        process = session.process
        assert process is not None and process.stdout is not None and process.stderr is not None
        errors = asyncio.ensure_future(process.stderr.read())
        try:
            await asyncio.wait_for(
                self._events(session, process.stdout), session.seconds + LEARN_START_S
            )
        except TimeoutError:
            session.error = f"MIDI learn did not end {session.seconds:g} s after it began"
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), LEARN_STOP_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        returncode = await process.wait()
        stderr = await errors
        if session.state != "done":
            session.state = "failed"
            if session.error is None:
                session.error = _error_line(stderr, f"it ended with exit status {returncode}")

    async def _events(self, session: LearnSession, stdout: asyncio.StreamReader) -> None:
        async for raw in stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            kind = event.get("event")
            if kind == "listening":
                session.state, session.api = "listening", event.get("api")
                session.listening_since = time.monotonic()
                session.listening.set()
            elif kind == "entry":
                session.learned.append(event["entry"])
            elif kind == "done":
                session.learned = event["learned"]
                session.reason, session.state = event["reason"], "done"


PORTS: web.AppKey[PortLister] = web.AppKey("ports", PortLister)
LEARN: web.AppKey[MidiLearn] = web.AppKey("midi_learn", MidiLearn)


async def get_ports(request: web.Request) -> web.Response:
    return reply(await request.app[PORTS].listing(request.app[CTX]))


def _performance_input(ctx: WebContext, device: str, inputs: list[str]) -> str | None:
    """The ``[midi] in_device`` of the running performance that reads ``device``, if any.

    One that is connected to it, or one still waiting whose name picks it (it
    will be connected within a second).
    """
    if ctx.engine is None:
        return None
    for adapter in ctx.engine.adapters:
        for port in adapter_health(adapter).get("ports") or ():
            if port.get("direction") != "input":
                continue
            if port.get("device") == device or (
                port.get("state") == "waiting" and match_port(port["name"], inputs) == device
            ):
                return str(port["name"])
    return None


def _learn_request(body: dict[str, Any], ctx: WebContext) -> tuple[str, int, float]:
    port = body.get("port")
    if not isinstance(port, str) or not port.strip():
        raise BadRequest('expected {"port": "<a MIDI input>", "seconds": 10, "dimension": 9}')
    dimension = body.get("dimension", ctx.config.model.dimension)
    if isinstance(dimension, bool) or not isinstance(dimension, int):
        raise BadRequest(f"dimension must be an integer 2-{MAX_DIMENSION}, got {dimension!r}")
    if not 2 <= dimension <= MAX_DIMENSION:
        raise BadRequest(f"dimension must be 2-{MAX_DIMENSION}, got {dimension}")
    seconds = body.get("seconds", LEARN_SECONDS)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise BadRequest(f"seconds must be a number 1-{MAX_SECONDS:g}, got {seconds!r}")
    if not 1 <= seconds <= MAX_SECONDS:
        raise BadRequest(f"seconds must be 1-{MAX_SECONDS:g}, got {seconds:g}")
    return port.strip(), dimension, float(seconds)


async def post_learn(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CTX]
    learn = request.app[LEARN]
    port, dimension, seconds = _learn_request(await read_json(request), ctx)
    if learn.session is not None and learn.session.active:
        raise BadRequest(
            f"MIDI learn is already listening to {learn.session.device!r}; stop it first", 409
        )
    midi = (await request.app[PORTS].listing(ctx))["midi"]
    if midi["error"] is not None:
        raise BadRequest(midi["error"], 503)
    inputs = [entry["name"] for entry in midi["inputs"]]
    device = match_port(port, inputs)
    if device is None:
        shown = ", ".join(
            repr(entry["config_name"]) for entry in midi["inputs"] if not entry["own"]
        )
        raise BadRequest(f"no MIDI input matches {port!r} (inputs: {shown or 'none'})", 404)
    used = _performance_input(ctx, device, inputs)
    if used is not None:
        raise BadRequest(
            f"{device!r} is the running performance's [midi] in_device {used!r}: its mapping is "
            "in the config already; learn from a port the performance does not read",
            409,
        )
    session = await learn.start(ctx, port, device, dimension, seconds)
    return reply(session.snapshot(), status=202)


async def get_learn(request: web.Request) -> web.Response:
    session = request.app[LEARN].session
    if session is None:
        raise BadRequest("no MIDI learn has been started", 404)
    return reply(session.snapshot())


async def post_learn_stop(request: web.Request) -> web.Response:
    session = await request.app[LEARN].stop()
    if session is None:
        raise BadRequest("no MIDI learn has been started", 404)
    return reply(session.snapshot())


async def _close_learn(app: web.Application) -> None:
    await app[LEARN].close()


def add_routes(app: web.Application) -> None:
    app[PORTS] = PortLister()
    app[LEARN] = MidiLearn()
    app.on_shutdown.append(_close_learn)
    app.router.add_get("/api/config", get_config)
    app.router.add_post("/api/config/validate", post_validate)
    app.router.add_put("/api/config", put_config)
    app.router.add_post("/api/config/wizard", post_wizard)
    app.router.add_get("/api/ports", get_ports)
    app.router.add_post("/api/midi/learn", post_learn)
    app.router.add_get("/api/midi/learn", get_learn)
    app.router.add_post("/api/midi/learn/stop", post_learn_stop)
