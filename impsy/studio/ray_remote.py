"""What runs on a Ray studio: the store that keeps datasets and jobs, the training task,
and the Tune trial of a sweep.

The store (:class:`StudioStore`) is one detached actor per cluster, found by
name. It holds each dataset once, under the SHA-256 of its bytes, in the
cluster's object store (put there by the actor, so it outlives the client
that sent it): a second job on the same data sends only the hash. A
fine-tune's starting model (``--init-from``) travels the same way, by the
hash of its bytes, and is written into the job's temporary folder on the
worker, where the trainer reads it as it would on the client. It is
also each job's channel: the progress lines the worker prints, which the
client reads as they come, the job's latest epoch checkpoint, and a sweep's
trial files. Keeping the checkpoint in the store, not on the worker's disk,
is what lets a job whose worker was killed go on from its last epoch on any
other worker (Ray runs the task again; it finds the checkpoint).

Ray is imported inside the functions: only a Ray worker, or a client that
chose a Ray studio, ever loads it. The class is made an actor by the
client (``ray.remote(StudioStore)``) so this module imports without Ray.
"""

from __future__ import annotations

import json
import math
import os
import socket
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from impsy.errors import ImpsyError
from impsy.studio.job import job_from_record, sha256_bytes

STORE_NAME = "impsy-studio-store"
NAMESPACE = "impsy"
MAX_DATASET_BYTES = 2 << 30
"""The store forgets the least recently used datasets past this much (2 GiB)."""
MAX_LINES = 5000
"""Progress lines kept per job (a long training prints one per epoch)."""


TRIAL_CPUS = 1.0
"""CPUs a sweep's trial asks for: as many trials run at once as the cluster has CPUs."""


def thread_env(cpus: float) -> dict[str, str]:
    """TensorFlow's thread pools sized to the CPUs Ray gave a job or trial: trials side
    by side must not each run a thread per core of the machine."""
    threads = str(max(1, int(cpus)))
    return {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads}


class StudioStore:
    """Files by hash (datasets, starting models), and each job's lines, checkpoint and
    files (a Ray actor). The ``datasets`` counters count starting models too."""

    def __init__(self) -> None:
        self.datasets: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self.uploads = 0
        self.reuses = 0
        self.jobs: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------ datasets
    def has(self, sha: str) -> bool:
        """Whether the dataset is here (a hit counts as a reuse)."""
        if sha in self.datasets:
            self.datasets.move_to_end(sha)
            self.reuses += 1
            return True
        return False

    def put(self, sha: str, data: bytes) -> bool:
        """Keep ``data`` under ``sha`` (checked); False when it was here already."""
        if sha256_bytes(data) != sha:
            raise ValueError(f"dataset bytes do not hash to {sha}")
        if sha in self.datasets:
            return False
        import ray

        self.datasets[sha] = (ray.put(data), len(data))
        self.uploads += 1
        while sum(size for _, size in self.datasets.values()) > MAX_DATASET_BYTES:
            if len(self.datasets) == 1:
                break
            self.datasets.popitem(last=False)
        return True

    def dataset(self, sha: str) -> list[Any]:
        """``[ref]`` to the bytes (in a list, so the caller gets the reference itself)."""
        if sha not in self.datasets:
            raise KeyError(f"dataset {sha} is not in the studio")
        return [self.datasets[sha][0]]

    def stats(self) -> dict[str, int]:
        return {
            "datasets": len(self.datasets),
            "uploads": self.uploads,
            "reuses": self.reuses,
            "bytes": sum(size for _, size in self.datasets.values()),
            "jobs": len(self.jobs),
        }

    # ------------------------------------------------------------ jobs
    def _job(self, job: str) -> dict[str, Any]:
        return self.jobs.setdefault(job, {"lines": [], "first": 0, "checkpoints": {}, "files": {}})

    def push(self, job: str, line: str) -> None:
        entry = self._job(job)
        entry["lines"].append(line)
        if len(entry["lines"]) > MAX_LINES:
            entry["lines"].pop(0)
            entry["first"] += 1

    def lines(self, job: str, start: int) -> list[str]:
        """The job's lines from number ``start`` on (0-based, counting forgotten ones)."""
        entry = self._job(job)
        return entry["lines"][max(0, start - entry["first"]) :]

    def save_checkpoint(self, job: str, key: str, data: bytes) -> None:
        self._job(job)["checkpoints"][key] = data

    def checkpoint(self, job: str, key: str) -> bytes | None:
        return self._job(job)["checkpoints"].get(key)

    def put_files(self, job: str, key: str, files: dict[str, Any]) -> None:
        self._job(job)["files"][key] = files

    def files(self, job: str, key: str) -> dict[str, Any] | None:
        return self._job(job)["files"].get(key)

    def drop(self, job: str) -> None:
        self.jobs.pop(job, None)


class StoreCheckpoints:
    """A job's checkpoint kept in the store (a ``CheckpointStore``)."""

    def __init__(self, store: Any, job: str, key: str = "job") -> None:
        self.store, self.job, self.key = store, job, key

    def load(self) -> bytes | None:
        import ray

        return ray.get(self.store.checkpoint.remote(self.job, self.key))

    def save(self, data: bytes) -> None:
        import ray

        ray.get(self.store.save_checkpoint.remote(self.job, self.key, data))


def _fetch(store: Any, sha: str, folder: Path, name: str, default: str = "dataset.npz") -> Path:
    """The store's file ``sha`` written to ``folder`` under ``name``'s last part (Keras
    reads a model by its suffix, so the client's file name is kept)."""
    import ray

    data = ray.get(ray.get(store.dataset.remote(sha))[0])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (Path(name).name or default)
    path.write_bytes(data)
    return path


def _job_here(
    store: Any, sha: str, record: dict[str, Any], folder: Path, init_sha: str | None
) -> tuple[Any, Path]:
    """The job with this worker's paths: its dataset and starting model (if any) fetched
    into ``folder``, its outputs written under it."""
    dataset = _fetch(store, sha, folder, record["options"]["dataset"])
    replaced: dict[str, Any] = {"dataset": dataset, "destination": folder / "out", "force": True}
    if init_sha is not None:
        name = record["options"]["init_from"] or "init.keras"
        replaced["init_from"] = _fetch(store, init_sha, folder / "init", name, "init.keras")
    return job_from_record(record, **replaced), dataset


def _reporter(store: Any, job: str, prefix: str = "") -> Any:
    """Progress lines to the store, each delivered before the next (a line sent without
    waiting can be lost when a worker exits right after it, as a Tune trial does)."""
    import ray

    def report(line: str) -> None:
        ray.get(store.push.remote(job, prefix + line))

    return report


def _outcome(outputs: dict[str, Path], summary: dict[str, Any], record: dict[str, Any]) -> dict:
    """The files as bytes, the summary as the client will keep it (its own dataset path)."""
    from impsy import __version__

    summary = dict(summary)
    summary["dataset"] = {**summary["dataset"], "file": record["options"]["dataset"]}
    if record["options"].get("init_from") is not None:  # the client's path, not the worker's
        summary["options"] = {**summary["options"], "init_from": record["options"]["init_from"]}
    summary["studio"] = {"backend": "ray", "host": socket.gethostname(), "impsy": __version__}
    files = {kind: path.read_bytes() for kind, path in outputs.items() if kind != "summary"}
    files["summary"] = (json.dumps(summary, indent=2) + "\n").encode("utf-8")
    return {"files": files, "summary": summary, "impsy": __version__}


def train_task(
    job_id: str, sha: str, record: dict[str, Any], store: Any, init_sha: str | None = None
) -> dict[str, Any]:
    """A Ray task: train the job on this worker; its files and summary come back.

    ``init_sha`` names the starting model (``--init-from``) in the store."""
    from impsy.studio.local import train_here
    from impsy.training.trainer import load_performances

    report = _reporter(store, job_id)
    report(f"studio: training on {socket.gethostname()} (worker pid {os.getpid()})")
    with tempfile.TemporaryDirectory(prefix="impsy-studio-") as tmp:
        job, dataset = _job_here(store, sha, record, Path(tmp), init_sha)
        performances = load_performances(dataset, None)
        result = train_here(job, performances, report, StoreCheckpoints(store, job_id))
        return _outcome(result.outputs, result.summary, record)


def tune_trial(
    config: dict[str, Any],
    job_id: str,
    sha: str,
    records: list[dict[str, Any]],
    params: list[dict[str, Any]],
    store: Any,
    init_sha: str | None = None,
) -> None:
    """A Ray Tune trial of a sweep: train trial ``config["trial"]``, score it, report it."""
    from ray import tune

    from impsy.studio.local import trial_here
    from impsy.training.trainer import load_performances

    number = int(config["trial"])
    record = records[number - 1]
    report = _reporter(store, job_id, f"trial {number}: ")
    report(f"on {socket.gethostname()} (worker pid {os.getpid()})")
    with tempfile.TemporaryDirectory(prefix="impsy-trial-") as tmp:
        job, dataset = _job_here(store, sha, record, Path(tmp), init_sha)
        performances = load_performances(dataset, None)
        checkpoints = StoreCheckpoints(store, job_id, f"trial{number}")
        trial, result = trial_here(
            job, number, params[number - 1], performances, report, checkpoints
        )
        if result is not None:
            import ray

            outcome = _outcome(result.outputs, result.summary, record)
            ray.get(store.put_files.remote(job_id, f"trial{number}", outcome["files"]))
    score = trial.val_nll if trial.val_nll is not None else math.inf
    tune.report({"val_nll": score, "trial_json": json.dumps(trial.record())})


def sweep_task(
    job_id: str,
    sha: str,
    records: list[dict[str, Any]],
    params: list[dict[str, Any]],
    store: Any,
    cpus_per_trial: float = TRIAL_CPUS,
    init_sha: str | None = None,
) -> list[dict[str, Any]]:
    """A Ray task (no CPU of its own) that runs the trials with Ray Tune on the cluster.

    Tune runs here, on the studio, not on the client: its results folder is
    this node's, and a client on a Raspberry Pi only sends the job and reads
    lines. A trial whose worker dies is started again (``max_failures``) and
    goes on from its checkpoint in the store.
    """
    from ray import tune

    trainable = tune.with_resources(
        tune.with_parameters(
            tune_trial,
            job_id=job_id,
            sha=sha,
            records=records,
            params=params,
            store=store,
            init_sha=init_sha,
        ),
        {"cpu": cpus_per_trial},
    )
    with tempfile.TemporaryDirectory(prefix="impsy-tune-") as tmp:
        tuner = tune.Tuner(
            trainable,
            param_space={"trial": tune.grid_search(list(range(1, len(records) + 1)))},
            # a trial's process is kept for the next trial: TensorFlow is imported once per
            # CPU, not once per trial
            tune_config=tune.TuneConfig(metric="val_nll", mode="min", reuse_actors=True),
            run_config=tune.RunConfig(
                name=f"impsy-{job_id}",
                storage_path=tmp,
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=2),
            ),
        )
        grid = tuner.fit()
        outcomes: list[dict[str, Any]] = []
        for result in grid:
            number = int(result.config["trial"])
            if result.error is not None or "trial_json" not in (result.metrics or {}):
                reason = str(result.error).strip().splitlines() if result.error else []
                outcomes.append(
                    {"number": number, "params": params[number - 1],
                     "error": reason[-1] if reason else "no result"}
                )  # fmt: skip
            else:
                outcomes.append(json.loads(result.metrics["trial_json"]))
    return sorted(outcomes, key=lambda o: o["number"])


def raise_cause(err: BaseException, where: str) -> None:
    """A task's failure as one ImpsyError: the worker's own message where it has one."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, ImpsyError):
        raise ImpsyError(f"{where}: {cause}") from None
    text = str(cause or err).strip().splitlines()
    raise ImpsyError(f"{where}: the job failed: {text[-1] if text else type(err).__name__}")
