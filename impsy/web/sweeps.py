"""A sweep followed from the web UI: each trial's progress, then its trials table.

The web UI runs a sweep as ``impsy train --sweep SPEC`` (a job like any
training), so what it knows comes from that process's lines, whichever
studio runs the trials: on the local studio ``trial N/M: params`` comes
before a trial's (unlabelled) epoch lines and ``trial N done: ...`` after
them; on a Ray studio Tune runs trials side by side and each of their lines
arrives labelled ``trial N: ...``. When the job ends, its ``NAME-sweep.json``
(written by ``impsy train``) is the table: the same record a person can
open later from the models folder. The text of ``--sweep`` is checked by
the command line's own parser, so the page and ``impsy train`` agree on
what a sweep is. Pure logic: the job manager hands in lines and records.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from impsy.errors import ImpsyError
from impsy.studio.sweep import expand, parse_grid
from impsy.training.progress import parse_epoch
from impsy.web.responses import BadRequest

TRIAL_START = re.compile(r"^trial (\d+)/(\d+): ")
"""The local studio: the trial whose lines follow."""
TRIAL_LABEL = re.compile(r"^trial (\d+): (.*)$")
"""A Ray studio: one line of trial N, labelled."""
TRIAL_DONE = re.compile(r"^trial (\d+) done: val_nll (\S+) after (\d+) epochs")
RECORD_SUFFIX = "-sweep.json"
RESULT_KEYS = ("val_nll", "epochs_run", "best_epoch", "seconds", "error")


def check_spec(spec: Any) -> list[dict[str, Any]]:
    """The trials ``--sweep SPEC`` would run, by the command line's parser; else BadRequest
    with its message."""
    if not isinstance(spec, str) or not spec.strip():
        raise BadRequest(f'sweep must be text such as "units=16,32 dropout=0,0.1", got {spec!r}')
    try:
        return expand(parse_grid([spec]))
    except ImpsyError as err:
        raise BadRequest(str(err)) from None


def _trial_row(number: int, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": number,
        "params": params,
        "state": "pending",
        "epoch": None,
        "epochs": None,
        "progress": [],
        "val_nll": None,
        "epochs_run": None,
        "best_epoch": None,
        "seconds": None,
        "error": None,
    }


def _columns(trials: list[dict[str, Any]]) -> list[str]:
    """The swept options, in the order the trials name them (the CLI table's columns)."""
    return list(dict.fromkeys(key for trial in trials for key in trial["params"]))


@dataclass
class SweepProgress:
    """What is known about a running sweep's trials, line by line."""

    spec: str
    trials: list[dict[str, Any]]
    current: int | None = None
    """The trial whose line came last."""
    best: int | None = None
    record: str | None = None
    """``models/NAME-sweep.json`` once impsy train has written it."""
    studio: str | None = None
    wall_seconds: float | None = None
    outputs: list[str] = field(default_factory=list)

    @classmethod
    def planned(cls, spec: str, params: list[dict[str, Any]]) -> SweepProgress:
        return cls(spec, [_trial_row(n, p) for n, p in enumerate(params, start=1)])

    def _trial(self, number: int) -> dict[str, Any] | None:
        return self.trials[number - 1] if 1 <= number <= len(self.trials) else None

    def take(self, line: str) -> bool:
        """Note a line of the job; False for lines that are not a trial's (outputs, errors)."""
        text = line.strip()
        labelled = TRIAL_LABEL.match(text)
        if labelled:
            number, text = int(labelled[1]), labelled[2].strip()
        else:
            started = TRIAL_START.match(text)
            if started:
                self._begin(int(started[1]))
                return True
            number = self.current
        done = TRIAL_DONE.match(text)
        if done:
            self._finish_trial(int(done[1]), float(done[2]), int(done[3]))
            return True
        epoch = parse_epoch(text)
        if epoch is not None:
            if number is not None:
                self._epoch(number, epoch)
            return True
        if labelled:
            self._begin(number)
            return True
        return False

    def _begin(self, number: int) -> None:
        trial = self._trial(number)
        if trial is not None and trial["state"] == "pending":
            trial["state"] = "running"
        self.current = number

    def _epoch(self, number: int, epoch: dict[str, Any]) -> None:
        self._begin(number)
        trial = self._trial(number)
        if trial is None:
            return
        if trial["progress"] and epoch["epoch"] <= trial["progress"][-1]["epoch"]:
            # a Ray trial started again from its checkpoint: its epochs from there on
            trial["progress"] = [p for p in trial["progress"] if p["epoch"] < epoch["epoch"]]
        trial["progress"].append(epoch)
        trial["epoch"], trial["epochs"] = epoch["epoch"], epoch["epochs"]

    def _finish_trial(self, number: int, val_nll: float, epochs: int) -> None:
        trial = self._trial(number)
        if trial is not None:
            trial["state"] = "done"
            trial["val_nll"] = val_nll if math.isfinite(val_nll) else None
            trial["epochs_run"] = epochs

    def finish(self, record: dict[str, Any], name: str) -> None:
        """The finished sweep's record (its ``NAME-sweep.json``) is the table."""
        view = sweep_view(record, name)
        known = {t["number"]: t for t in self.trials}
        for row in view["trials"]:
            trial = known.get(row["number"])
            if trial is None:
                self.trials.append(row)
            else:
                trial.update({key: row[key] for key in (*RESULT_KEYS, "state", "params")})
        self.best = view["best"]
        self.studio = view["studio"]
        self.wall_seconds = view["wall_seconds"]
        self.outputs = view["outputs"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "count": len(self.trials),
            "columns": _columns(self.trials),
            "current": self.current,
            "best": self.best,
            "record": self.record,
            "studio": self.studio,
            "wall_seconds": self.wall_seconds,
            "outputs": self.outputs,
            "trials": self.trials,
        }


def _number(value: Any, what: str, name: str, whole: bool = False) -> Any:
    if value is None:
        return None
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise BadRequest(f"{name}: {what} must be a number, got {value!r}")
    return value


def sweep_view(record: Any, name: str) -> dict[str, Any]:
    """A ``NAME-sweep.json`` (as ``impsy train --sweep`` writes it) as the page's table;
    BadRequest naming the file and key for anything else."""
    if not isinstance(record, dict) or not isinstance(record.get("trials"), list):
        raise BadRequest(f"{name}: not a sweep record (no trials list)")
    rows = []
    for index, trial in enumerate(record["trials"]):
        where = f"trials[{index}]"
        if not isinstance(trial, dict) or not isinstance(trial.get("params"), dict):
            raise BadRequest(f"{name}: {where} must be an object with params")
        number = _number(trial.get("number"), f"{where}.number", name, whole=True)
        if number is None:
            raise BadRequest(f"{name}: {where}.number is missing")
        row = _trial_row(number, trial["params"])
        for key in ("val_nll", "seconds"):
            row[key] = _number(trial.get(key), f"{where}.{key}", name)
        for key in ("epochs_run", "best_epoch"):
            row[key] = _number(trial.get(key), f"{where}.{key}", name, whole=True)
        error = trial.get("error")
        row["error"] = None if error is None else str(error)
        row["state"] = "done" if row["val_nll"] is not None and error is None else "failed"
        rows.append(row)
    best = _number(record.get("best"), "best", name, whole=True)
    if best is not None and best not in {row["number"] for row in rows}:
        raise BadRequest(f"{name}: best is trial {best}, which is not in trials")
    chosen = next((t for t in record["trials"] if t.get("number") == best), {})
    files = chosen.get("files") if isinstance(chosen.get("files"), dict) else {}
    outputs = [
        f"models/{Path(str(files[kind])).name}" for kind in ("keras", "tflite") if kind in files
    ]
    studio = record.get("studio")
    return {
        "name": name,
        "columns": _columns(rows),
        "best": best,
        "studio": studio if isinstance(studio, str) else None,
        "wall_seconds": _number(record.get("wall_seconds"), "wall_seconds", name),
        "selected_by": str(record.get("selected_by", "")),
        "outputs": outputs,
        "trials": rows,
    }
