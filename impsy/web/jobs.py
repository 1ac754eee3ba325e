"""``/api/jobs``: build a dataset or train a model from the browser.

Each job is ``python -m impsy dataset|train`` in its own process group, so
TensorFlow (and Ray, when ``[studio]`` names a Ray studio: the job then runs
there and its lines come back through that process) never loads in the
server, the performance keeps its CPU share (the job runs at a lower
priority), and cancel stops everything the job started. Its output is read
line by line on the loop; the per-epoch lines ``impsy train`` prints become
the progress the page plots. A sweep (``impsy train --sweep``) is a training
job too: its lines become each trial's progress, and its ``NAME-sweep.json``
the trials table (:mod:`impsy.web.sweeps`).
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
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from impsy.config.sizes import MAX_DIMENSION
from impsy.studio.live import studio_flags, studio_label
from impsy.training.progress import parse_epoch
from impsy.web.context import JOBS
from impsy.web.files import check_name, existing_file
from impsy.web.responses import BadRequest, read_json, reply
from impsy.web.sweeps import RECORD_SUFFIX, SweepProgress, check_spec, sweep_view

if TYPE_CHECKING:
    from impsy.web.context import WebContext

OUTPUT_LINE = re.compile(r"^\s*(keras|tflite|summary|plot|sweep): (.+?)\s*$")
LOG_LINES = 40
MAX_RECORD_BYTES = 4 * 1024 * 1024
"""A sweep record of 256 trials is ~100 kB; a bigger file is not one impsy wrote."""
KEEP_JOBS = 20
SIZES = ("xxs", "xs", "s", "m", "l", "xl")
NICE = 10


@dataclass
class Job:
    """One dataset or training run and what is known about it so far."""

    id: str
    kind: str
    args: list[str]
    expected: list[Path] = field(default_factory=list)
    state: str = "running"
    started: float = field(default_factory=time.time)
    ended: float | None = None
    returncode: int | None = None
    progress: list[dict[str, Any]] = field(default_factory=list)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    outputs: list[str] = field(default_factory=list)
    plot: str | None = None
    error: str | None = None
    studio: str = ""
    """Where a training runs: ``local`` or ``ray at ADDRESS`` (the config's ``[studio]``)."""
    sweep: SweepProgress | None = None
    """A sweep's trials (``impsy train --sweep``); None for one training."""
    process: asyncio.subprocess.Process | None = None
    task: asyncio.Task | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "started": self.started,
            "ended": self.ended,
            "returncode": self.returncode,
            "args": self.args,
            "progress": self.progress,
            "log_tail": list(self.log),
            "outputs": self.outputs,
            "plot": self.plot,
            "error": self.error,
            "studio": self.studio,
            "sweep": self.sweep.as_dict() if self.sweep is not None else None,
        }

    def take_line(self, line: str, root: Path) -> None:
        self.log.append(line)
        if self.sweep is not None and self.sweep.take(line):
            return
        epoch = parse_epoch(line)
        if epoch is not None:
            self.progress.append(epoch)
            return
        found = OUTPUT_LINE.match(line)
        if found and self.kind == "train":
            path = Path(found[2])
            name = f"models/{path.name}"
            if found[1] in ("keras", "tflite"):
                self.outputs.append(name)
            elif found[1] == "plot":
                self.plot = name
            elif found[1] == "sweep" and self.sweep is not None:
                self.sweep.record = name
        if line.startswith("error: "):
            self.error = line[len("error: ") :]


class JobManager:
    """Runs one job at a time and remembers the last few."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)

    def running(self) -> Job | None:
        return next((job for job in self.jobs.values() if job.state == "running"), None)

    async def start(
        self, kind: str, args: list[str], expected: list[Path], sweep: SweepProgress | None = None
    ) -> Job:
        busy = self.running()
        if busy is not None:
            raise BadRequest(
                f"job {busy.id} ({busy.kind}) is still running; wait or cancel it", 409
            )
        job = Job(str(next(self._ids)), kind, args, expected, sweep=sweep)
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        job.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "impsy",
            *args,
            cwd=self.ctx.root,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        _lower_priority(job.process.pid)
        self.jobs[job.id] = job
        job.task = asyncio.ensure_future(self._follow(job))
        self._forget_old()
        return job

    async def _follow(self, job: Job) -> None:
        assert job.process is not None and job.process.stdout is not None
        stream = job.process.stdout
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line over the stream limit: keep going
                raw = b"(line too long)\n"
            if not raw:
                break
            for part in raw.decode("utf-8", "replace").replace("\r", "\n").splitlines():
                if part.strip():
                    job.take_line(part.rstrip(), self.ctx.root)
        job.returncode = await job.process.wait()
        job.ended = time.time()
        if job.state == "cancelled":
            return
        if job.returncode == 0:
            if job.kind == "dataset":
                job.outputs = [f"datasets/{p.name}" for p in job.expected if p.is_file()]
            if job.sweep is not None:
                await self._read_sweep(job)  # done comes with its table, never before it
                if job.state == "cancelled":
                    return
            job.state = "done"
        else:
            job.state = "failed"
            if job.error is None:
                job.error = job.log[-1] if job.log else f"exit status {job.returncode}"

    async def _read_sweep(self, job: Job) -> None:
        """The finished sweep's table from the record impsy train wrote."""
        assert job.sweep is not None
        if job.sweep.record is None:
            job.error = "the sweep ended without writing its NAME-sweep.json"
            return
        name = job.sweep.record.removeprefix("models/")
        try:
            record = await asyncio.to_thread(_read_record, self.ctx, name)
            job.sweep.finish(record, name)
        except (BadRequest, OSError, ValueError) as err:
            job.error = f"{name}: cannot read the sweep's record: {err}"

    async def cancel(self, job: Job) -> None:
        if job.state != "running" or job.process is None:
            raise BadRequest(f"job {job.id} is {job.state}, not running", 409)
        job.state = "cancelled"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(job.task), 5.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.process.pid, signal.SIGKILL)
            await job.task

    def _forget_old(self) -> None:
        finished = [j for j in self.jobs.values() if j.state != "running"]
        for job in finished[: max(0, len(self.jobs) - KEEP_JOBS)]:
            del self.jobs[job.id]

    async def close(self) -> None:
        """Stop a running job when the server stops: nothing is left behind."""
        job = self.running()
        if job is not None:
            with contextlib.suppress(Exception):
                await self.cancel(job)


def _read_record(ctx: WebContext, name: str) -> Any:
    """A ``NAME-sweep.json`` of the models folder, parsed (blocking: a worker thread's job)."""
    if not name.endswith(RECORD_SUFFIX):
        raise BadRequest(f"{name} is not a sweep record (NAME{RECORD_SUFFIX})")
    path = existing_file(ctx, "models", name)
    if path.stat().st_size > MAX_RECORD_BYTES:
        raise BadRequest(f"{name}: over {MAX_RECORD_BYTES // 1024 // 1024} MB: not a sweep record")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise BadRequest(f"{name}: not JSON: {err}") from None


def _lower_priority(pid: int) -> None:
    """Training yields the CPU to the performance (set from here: no pre-exec hook)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, pid, NICE)


def _int(
    body: dict[str, Any], key: str, default: int | None, low: int = 1, high: int | None = None
) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    too_high = high is not None and isinstance(value, int) and value > high
    if isinstance(value, bool) or not isinstance(value, int) or value < low or too_high:
        within = f"{low}-{high}" if high is not None else f">= {low}"
        raise BadRequest(f"{key} must be an integer {within}, got {value!r}")
    return value


def dataset_args(ctx: WebContext, body: dict[str, Any]) -> tuple[list[str], list[Path]]:
    dimension = _int(body, "dimension", ctx.config.model.dimension, low=2, high=MAX_DIMENSION)
    source = body.get("source", None)
    logdir = ctx.logdir
    if source not in (None, "", "logs"):
        raise BadRequest('source must be "logs" (the run\'s log folder)')
    output = ctx.folders["datasets"] / f"training-dataset-{dimension}d.npz"
    args = ["dataset", "-D", str(dimension), "-S", str(logdir), "-O", str(output.parent)]
    if ctx.config_path.is_file():
        args += ["-c", str(ctx.config_path)]
    args.append("--force")
    return args, [output]


def train_args(ctx: WebContext, body: dict[str, Any]) -> tuple[list[str], SweepProgress | None]:
    """``impsy train``'s arguments for the page's form (a sweep's ``--sweep`` included),
    and the sweep's planned trials (None for one training)."""
    name = body.get("dataset")
    if not isinstance(name, str):
        raise BadRequest("dataset must be the name of a file in datasets/")
    dataset = existing_file(ctx, "datasets", name)
    size = body.get("modelsize", "s")
    if size not in SIZES:
        raise BadRequest(f"modelsize must be one of {', '.join(SIZES)}, got {size!r}")
    args = ["train", "-S", str(dataset), "-O", str(ctx.folders["models"]), "-M", size]
    options = {
        "numepochs": ("-N", 100),
        "patience": ("-P", 10),
        "batchsize": ("-B", 64),
        "sequence_length": ("--sequence-length", 50),
    }
    for key, (flag, default) in options.items():
        args += [flag, str(_int(body, key, default))]
    seed = _int(body, "seed", 2345, low=0)
    args += ["--seed", str(seed)]
    model_name = body.get("name")
    if model_name:
        if not isinstance(model_name, str):
            raise BadRequest("name must be a string")
        check_name("models", f"{model_name}.keras")
        args += ["--name", model_name]
    if body.get("force") is True:
        args.append("--force")
    spec, sweep = body.get("sweep"), None
    if spec not in (None, ""):
        trials = check_spec(spec)  # first: a spec that is not text is refused, not stripped
        sweep = SweepProgress.planned(spec.strip(), trials)
        args += ["--sweep", sweep.spec]
    return args + studio_flags(ctx.config), sweep  # the configured studio trains: local or Ray


async def post_dataset(request: web.Request) -> web.Response:
    jobs: JobManager = request.app[JOBS]
    args, expected = dataset_args(jobs.ctx, await read_json(request))
    job = await jobs.start("dataset", args, expected)
    return reply(job.as_dict(), status=202)


async def post_train(request: web.Request) -> web.Response:
    jobs: JobManager = request.app[JOBS]
    args, sweep = train_args(jobs.ctx, await read_json(request))
    job = await jobs.start("train", args, [], sweep)
    job.studio = studio_label(jobs.ctx.config)
    return reply(job.as_dict(), status=202)


def _job(request: web.Request) -> Job:
    jobs: JobManager = request.app[JOBS]
    job = jobs.jobs.get(request.match_info["id"])
    if job is None:
        raise BadRequest(f"no job {request.match_info['id']}", 404)
    return job


async def get_jobs(request: web.Request) -> web.Response:
    jobs: JobManager = request.app[JOBS]
    return reply({"jobs": [job.as_dict() for job in reversed(jobs.jobs.values())]})


async def get_job(request: web.Request) -> web.Response:
    return reply(_job(request).as_dict())


async def post_cancel(request: web.Request) -> web.Response:
    job = _job(request)
    await request.app[JOBS].cancel(job)
    return reply(job.as_dict())


async def get_sweep_check(request: web.Request) -> web.Response:
    """What ``--sweep`` text would run, checked by ``impsy train``'s own parser."""
    trials = check_spec(request.query.get("sweep", ""))
    return reply({"count": len(trials), "trials": trials})


async def get_sweep(request: web.Request) -> web.Response:
    """The trials table of a ``NAME-sweep.json`` in the models folder."""
    jobs: JobManager = request.app[JOBS]
    name = request.match_info["name"]
    record = await asyncio.to_thread(_read_record, jobs.ctx, name)
    return reply(sweep_view(record, name))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/jobs/dataset", post_dataset)
    app.router.add_post("/api/jobs/train", post_train)
    app.router.add_get("/api/jobs", get_jobs)
    app.router.add_get("/api/jobs/{id}", get_job)
    app.router.add_post("/api/jobs/{id}/cancel", post_cancel)
    app.router.add_get("/api/sweeps/check", get_sweep_check)
    app.router.add_get("/api/sweeps/{name}", get_sweep)
