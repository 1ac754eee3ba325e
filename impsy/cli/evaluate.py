"""``impsy evaluate MODEL DATASET``: how well a model predicts recorded performances.

Prints the mean negative log-likelihood per step (model space, the units of
IMPSY's training loss) over the whole dataset and per performance. It is how
the gate activation for legacy files was chosen, and a quick check that a
model suits a dataset before performing with it.
"""

from __future__ import annotations

import click

from impsy.cli.errors import user_errors
from impsy.cli.options import gate_option, limit_option


@click.command("evaluate")
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.argument("dataset_file", type=click.Path(dir_okay=False))
@gate_option("LSTM gate activation (auto: hard_sigmoid for Keras 2 files).")
@click.option(
    "--engine",
    type=click.Choice(["auto", "numpy", "litert"]),
    default="auto",
    show_default=True,
    help="Inference engine (auto: litert for .tflite, numpy otherwise).",
)
@limit_option
@click.option(
    "--steps",
    "steps_file",
    type=click.Path(dir_okay=False),
    help="Also write every scored step's NLL to this CSV (performance,step,nll): the "
    "values the surprise meter reported while the log was recorded.",
)
@user_errors
def evaluate(
    model_file: str,
    dataset_file: str,
    gate: str,
    engine: str,
    limit: int | None,
    steps_file: str | None,
) -> None:
    """Mean NLL per step of MODEL_FILE on the performances in DATASET_FILE.

    DATASET_FILE is a dataset (.npz, from impsy dataset) or one performance
    log (.log, read as impsy dataset reads it: the performer's rows only).
    """
    from impsy.model import ModelError, load_model, nll

    model = load_model(model_file, engine=engine, gate=gate)
    if dataset_file.endswith(".log"):
        performances = [_log_rows(dataset_file, model.dimension)]
    else:
        performances = nll.read_performances(dataset_file)
    if limit is not None:
        performances = performances[:limit]
    dimensions = {p.shape[1] for p in performances}
    if dimensions - {model.dimension}:
        found = ", ".join(str(d) for d in sorted(dimensions))
        raise ModelError(
            f"{dataset_file} has dimension {found} but {model_file} is dimension {model.dimension}"
        )
    click.echo(model.describe())
    result = nll.evaluate(model, performances)
    if not result.steps:
        raise ModelError(f"{dataset_file}: no performance has two or more rows to score")
    if steps_file is not None:
        _write_steps(steps_file, model, performances)
    click.echo(f"{'performance':>11}  {'steps':>7}  {'mean NLL':>10}")
    for score in result.performances:
        click.echo(f"{score.index:>11}  {score.steps:>7}  {score.mean_nll:>10.4f}")
    click.echo(
        f"mean NLL per step: {result.mean_nll:.4f} over {result.steps} steps in "
        f"{len(result.performances)} performances (model space, data x 10; "
        f"data space: {result.mean_nll - nll.data_space_offset(model.dimension):.4f})"
    )


def _log_rows(path: str, dimension: int):  # noqa: ANN202 - an (N, D) float32 array
    """One log's training rows, as ``impsy dataset`` builds them (skipped rows skipped)."""
    from impsy.dataset.logs import read_log_file
    from impsy.model import ModelError

    try:
        parsed = read_log_file(path, dimension)
    except OSError as err:
        raise ModelError(f"{path}: cannot read the log ({err.strerror or err})") from None
    for reason, count in sorted(parsed.skipped.items()):
        click.echo(f"{path}: skipped {count} row(s): {reason}")
    return parsed.rows


def _write_steps(path: str, model, performances) -> None:  # noqa: ANN001
    """``performance,step,nll`` for every scored step (step 1 is the second row)."""
    from impsy.model import nll

    lines = ["performance,step,nll"]
    for index, performance in enumerate(performances):
        for step, value in enumerate(nll.performance_nll(model, performance), start=1):
            lines.append(f"{index},{step},{float(value)!r}")
    model.reset()
    with open(path, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
