"""The start-up check that a config and a model file agree on the dimension."""

from __future__ import annotations

import os

from impsy.config.errors import ConfigError
from impsy.config.schema import Config


def check_model_dimension(
    config: Config, model_dimension: int, model_path: str | os.PathLike[str]
) -> None:
    """Refuse to start when the config and the model disagree about the dimension.

    The rule: the dimension read from the model file is the truth. A config
    whose ``[model] dimension``, or any mapping list's length (which must be
    the dimension minus dt), disagrees with it is refused here, at start-up,
    with a message naming both numbers, both files and what to change. The
    alternative, IMPSY's behaviour (issue #79), is a crash or silently wrong
    output in the middle of a performance. The config is never adjusted to
    fit: a mismatch usually means the wrong model or the wrong config was
    picked, and guessing would hide that.
    """
    model = os.fspath(model_path)
    configured = config.model.dimension
    fix = (
        f"set dimension = {model_dimension} under [model] and give every mapping list "
        f"{model_dimension - 1} entries, or use a model trained with dimension {configured}"
    )
    if configured != model_dimension:
        raise ConfigError(
            f"{config.source}: [model] dimension: the config says {configured} but the model "
            f"file {model} has dimension {model_dimension} ({model_dimension - 1} values plus "
            f"dt); {fix}"
        )
    for where, mappings in config.mapping_lists():
        if len(mappings) != model_dimension - 1:
            raise ConfigError(
                f"{config.source}: {where}: has {len(mappings)} entries but the model file "
                f"{model} has dimension {model_dimension}, so it needs {model_dimension - 1}; "
                f"{fix}"
            )
