"""The Ray studio's client: connect, send the dataset once, follow the job, fetch the files.

``RayStudio(address)`` is what ``impsy train --studio ray`` (or a config's
``[studio] backend = "ray"``) uses. The address is tried first with a plain
connection (:mod:`impsy.studio.reach`), so a studio that is not there is
one line naming it, in seconds. Then a job:

1. the dataset's SHA-256 is asked of the studio's store; only when it is
   not there are the bytes sent (once per dataset per cluster); a
   fine-tune's starting model (``--init-from``), first read and checked
   here by impsy's own model reader, is sent the same way;
2. the job (options, recipe, seed, the hash) runs as a Ray task on a worker
   with one CPU, retried on another worker if that one dies (it goes on from
   the store's checkpoint of its last epoch);
3. the client prints the job's lines as the worker prints them (a few times
   a second), so ``impsy train`` and the web UI's job view show the same
   epochs, losses and best-so-far as a local run;
4. the model files and the summary come back as bytes and are written
   where a local run writes them.

Ray is imported here only inside methods; this module is itself imported
only when a Ray studio is chosen.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from impsy.config.studio_address import parse_address
from impsy.errors import ImpsyError
from impsy.studio.job import TrainJob, sha256_bytes
from impsy.studio.local import Report, SweepResult, keep_best
from impsy.studio.ray_remote import (
    NAMESPACE,
    STORE_NAME,
    TRIAL_CPUS,
    StudioStore,
    raise_cause,
    thread_env,
)
from impsy.studio.reach import check_reachable
from impsy.studio.sweep import Trial, best_trial, trial_options
from impsy.training.trainer import TrainResult, check_outputs, output_paths, output_stem

POLL_SECONDS = 0.2
"""How often the client asks for new progress lines."""
JOB_RETRIES = 3
"""Times Ray runs a training task again after its worker died."""
STUDIO_EXTRA = "pip install 'impsy[studio]'"


def import_ray() -> Any:
    """Ray, or one ImpsyError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ImpsyError(
            f"a Ray studio needs impsy's studio extra (Ray), which is not installed: {STUDIO_EXTRA}"
        ) from None
    return ray


CLIENT_ATTEMPTS = 2
"""Tries of a Ray Client connection (``ray://``) before giving up."""
CLIENT_RETRY_S = 1.0


def _reason(err: BaseException) -> str:
    """One line for the user: Ray's first line, and the last line of a server's traceback
    when the first only says that the server failed."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {lines[-1]}"
    return lines[0]


class RayStudio:
    """A Ray cluster (or a Ray started for the job) that trains impsy's jobs."""

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = parse_address(address)
        self._store: Any = None

    def describe(self) -> str:
        return f"ray at {self.address}"

    # ------------------------------------------------------------ connection
    def connect(self) -> Any:
        """Ray, connected to the studio (once per process); ImpsyError naming the address."""
        check_reachable(self.address)
        ray = import_ray()
        if ray.is_initialized():
            return ray
        options: dict[str, Any] = {
            "namespace": NAMESPACE,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
        }
        if self.address.local:
            options["include_dashboard"] = False
        else:
            options["address"] = self.address.text
        # Ray Client starts a server process per client on the head; on a busy head that can
        # fail to come up in time ("Initialization failure from server"), so ask once more.
        attempts = CLIENT_ATTEMPTS if self.address.text.startswith("ray://") else 1
        for attempt in range(attempts):
            try:
                ray.init(**options)
                return ray
            except Exception as err:  # noqa: BLE001 - Ray raises many kinds; the user needs one line
                if attempt + 1 < attempts:
                    with contextlib.suppress(Exception):
                        ray.shutdown()
                    time.sleep(CLIENT_RETRY_S)
                    continue
                raise ImpsyError(
                    f"the Ray studio at {self.address}: cannot connect: {_reason(err)}"
                ) from None
        raise AssertionError("unreachable")  # the loop returns or raises

    def store(self) -> Any:
        """The cluster's store actor, created on first use (detached: it outlives jobs)."""
        if self._store is None:
            ray = self.connect()
            actor = ray.remote(StudioStore).options(
                name=STORE_NAME,
                namespace=NAMESPACE,
                lifetime="detached",
                get_if_exists=True,
                num_cpus=0,
            )
            self._store = actor.remote()
        return self._store

    def stats(self) -> dict[str, int]:
        """The store's counters: datasets held, uploads, reuses, bytes, open jobs."""
        ray = self.connect()
        return ray.get(self.store().stats.remote())

    def upload(self, path: Path, report: Report, what: str = "dataset") -> str:
        """The file's hash, its bytes sent only when the studio does not hold them."""
        ray = self.connect()
        store = self.store()
        data = Path(path).read_bytes()
        sha = sha256_bytes(data)
        if ray.get(store.has.remote(sha)):
            report(f"studio: {what} {sha[:12]} is in the studio already: not sent again")
        else:
            ray.get(store.put.remote(sha, data))
            report(f"studio: {what} {sha[:12]} sent ({len(data) / 1024:.0f} KiB)")
        return sha

    # ------------------------------------------------------------ one job
    def train(self, job: TrainJob, performances: list[np.ndarray], report: Report) -> TrainResult:
        """Run ``job`` on the studio; its files are written to the job's destination."""
        from impsy.studio.ray_remote import train_task

        paths = output_paths(job.options.destination, output_stem(job.options, _dim(performances)))
        check_outputs(paths, job.options.force)  # before the job, not after it
        _check_init_model(job, performances)
        ray = self.connect()
        report(f"studio: {self.describe()}")
        sha = self.upload(job.options.dataset, report)
        init_sha = self._upload_init_model(job, report)
        job_id = uuid.uuid4().hex[:12]
        task = ray.remote(train_task).options(num_cpus=1, max_retries=JOB_RETRIES)
        ref = task.remote(job_id, sha, job.record(), self.store(), init_sha)
        outcome = self._follow(ray, ref, job_id, report)
        job.options.destination.mkdir(parents=True, exist_ok=True)
        for kind, data in outcome["files"].items():
            paths[kind].write_bytes(data)
        self._check_version(outcome.get("impsy"), report)
        summary = outcome["summary"]
        return TrainResult(outputs=paths, summary=summary, history=summary.get("history", []))

    def _upload_init_model(self, job: TrainJob, report: Report) -> str | None:
        """The starting model's hash in the studio (sent if not there); None without one."""
        if job.options.init_from is None:
            return None
        return self.upload(job.options.init_from, report, "starting model")

    def _follow(self, ray: Any, ref: Any, job_id: str, report: Report, drop: bool = True) -> Any:
        """Print the job's lines until it ends; its result, or one ImpsyError.

        ``drop`` forgets the job in the store afterwards; a sweep keeps it until
        the best trial's files are fetched. Interrupted here (Ctrl-C, or the
        SIGTERM a web UI or ``train/cancel`` sends), the job is cancelled on the
        studio too: nothing goes on training for nobody.
        """
        store = self.store()
        seen = 0
        failed = True
        try:
            with _terminate_as_interrupt():
                while True:
                    ready, _ = ray.wait([ref], timeout=POLL_SECONDS)
                    lines = ray.get(store.lines.remote(job_id, seen))
                    seen += len(lines)
                    for line in lines:
                        report(line)
                    if ready:
                        break
        except KeyboardInterrupt:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True, recursive=True)
            report("studio: job cancelled")
            raise
        finally:
            with contextlib.suppress(Exception):  # the studio may be gone: say what we have
                for line in ray.get(store.lines.remote(job_id, seen), timeout=5):
                    report(line)
        try:
            result = ray.get(ref)
            failed = False
        except Exception as err:  # noqa: BLE001 - a RayTaskError wraps the worker's error
            raise_cause(err, f"the Ray studio at {self.address}")
        finally:
            if drop or failed:
                with contextlib.suppress(Exception):
                    store.drop.remote(job_id)
        return result

    def _check_version(self, theirs: str | None, report: Report) -> None:
        from impsy import __version__

        if theirs is not None and theirs != __version__:
            report(
                f"studio: warning: the studio runs impsy {theirs}, this machine {__version__}; "
                "install the same version on both"
            )

    # ------------------------------------------------------------ sweeps
    def sweep(
        self,
        job: TrainJob,
        trials: list[dict[str, Any]],
        performances: list[np.ndarray],
        report: Report,
    ) -> SweepResult:
        """The trials as Ray Tune trials on the studio; the best one's files come back."""
        import tempfile

        from impsy.studio.ray_remote import sweep_task

        started = time.perf_counter()
        stem = output_stem(job.options, _dim(performances))
        check_outputs(output_paths(job.options.destination, stem), job.options.force)
        _check_init_model(job, None)  # trials may differ in size: each checks its own fit
        ray = self.connect()
        report(f"studio: {self.describe()}: {len(trials)} trials as Ray Tune trials")
        sha = self.upload(job.options.dataset, report)
        init_sha = self._upload_init_model(job, report)
        records = [
            TrainJob(options, job.recipe).record()
            for options in trial_options(job.options, trials, stem)
        ]
        job_id = uuid.uuid4().hex[:12]
        task = ray.remote(sweep_task).options(
            num_cpus=0, max_retries=0, runtime_env={"env_vars": thread_env(TRIAL_CPUS)}
        )
        store = self.store()
        ref = task.remote(job_id, sha, records, trials, store, init_sha=init_sha)
        outcomes = self._follow(ray, ref, job_id, report, drop=False)
        done = [Trial(**{k: v for k, v in o.items() if k != "files"}) for o in outcomes]
        best = best_trial(done)
        outputs: dict[str, Path] = {}
        if best is not None:
            files = ray.get(store.files.remote(job_id, f"trial{best.number}")) or {}
            with tempfile.TemporaryDirectory(prefix="impsy-sweep-") as tmp:
                fetched = {}
                for kind, data in files.items():
                    fetched[kind] = Path(tmp) / f"best.{kind}"
                    fetched[kind].write_bytes(data)
                outputs = keep_best(job, performances, best, fetched)
            best.files = {kind: str(path) for kind, path in outputs.items()}
        store.drop.remote(job_id)
        return SweepResult(done, best, outputs, time.perf_counter() - started, self.describe())


def _check_init_model(job: TrainJob, performances: list[np.ndarray] | None) -> None:
    """The starting model read here, within impsy's limits, before anything is sent; with
    ``performances``, also held to the job's size and the data's dimension."""
    if job.options.init_from is None:
        return
    from impsy.training.trainer import check_init_model, resolved_size

    if performances is None:
        check_init_model(job.options.init_from)
    else:
        check_init_model(job.options.init_from, _dim(performances), resolved_size(job.options))


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt meanwhile (main thread only), so a job stopped
    by its parent is cancelled on the studio as Ctrl-C cancels it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dim(performances: list[np.ndarray]) -> int:
    return int(performances[0].shape[1])
