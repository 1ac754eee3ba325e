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
@user_errors
def evaluate(model_file: str, dataset_file: str, gate: str, engine: str, limit: int | None) -> None:
    """Mean NLL per step of MODEL_FILE on the performances in DATASET_FILE (.npz)."""
    from impsy.model import ModelError, load_model, nll

    model = load_model(model_file, engine=engine, gate=gate)
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
    click.echo(f"{'performance':>11}  {'steps':>7}  {'mean NLL':>10}")
    for score in result.performances:
        click.echo(f"{score.index:>11}  {score.steps:>7}  {score.mean_nll:>10.4f}")
    click.echo(
        f"mean NLL per step: {result.mean_nll:.4f} over {result.steps} steps in "
        f"{len(result.performances)} performances (model space, data x 10; "
        f"data space: {result.mean_nll - nll.data_space_offset(model.dimension):.4f})"
    )
