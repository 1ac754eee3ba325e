"""What a training job carries to a studio: the dataset by its hash, the options, the seed.

A job is plain data so it can travel: the options as JSON values (paths as
strings), the recipe, and the dataset named by the SHA-256 of its bytes. The
hash is the dataset's identity in a studio: bytes the studio already holds
under it are not sent again, and a file renamed or copied is still the same
dataset. The seed is one of the options, so a job run anywhere trains the
same model from the same data.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from impsy.training.trainer import TrainOptions, options_record

PATH_FIELDS = ("dataset", "destination", "init_from")
TUPLE_FIELDS = ("augment",)


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``: a dataset's name in a studio."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class TrainJob:
    """One training: the options (dataset and destination are paths on this machine)
    and the recipe (``single`` or a name from :mod:`impsy.training.recipes`)."""

    options: TrainOptions
    recipe: str = "single"

    @property
    def seed(self) -> int:
        return self.options.seed

    def record(self) -> dict[str, Any]:
        """The job as JSON values, for the wire."""
        return {"options": options_record(self.options), "recipe": self.recipe}


def options_from_record(record: dict[str, Any], **replaced: Any) -> TrainOptions:
    """``TrainOptions`` from :func:`options_record`'s values; ``replaced`` overrides
    fields (a worker puts its own dataset and destination paths in)."""
    known = {f.name for f in dataclasses.fields(TrainOptions)}
    values = {k: v for k, v in record.items() if k in known}
    for key in PATH_FIELDS:
        if values.get(key) is not None:
            values[key] = Path(values[key])
    for key in TUPLE_FIELDS:
        if key in values:
            values[key] = tuple(values[key])
    values.update(replaced)
    return TrainOptions(**values)


def job_from_record(record: dict[str, Any], **replaced: Any) -> TrainJob:
    """The job a record describes (with ``replaced`` option fields)."""
    return TrainJob(options_from_record(record["options"], **replaced), record["recipe"])
