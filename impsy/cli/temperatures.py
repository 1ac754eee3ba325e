"""``impsy temperatures MODEL DATASET``: which ``pitemp`` and ``sigmatemp`` play like the data.

For each pair in a grid of pi and sigma temperatures the model plays on its
own, from stretches of the dataset's performances, and what it plays is
compared with the dataset: the distributions of dt, of each dimension's
values and of its step-to-step changes (see :mod:`impsy.model.guidance` for
the distance). Prints a row per pair and recommends the closest, with the
config lines to use. The NumPy engine runs the model (a ``.tflite`` is run
through the ``.keras``/``.h5`` weights beside it), seeded, so the same
command prints the same numbers.
"""

from __future__ import annotations

import click

from impsy.cli.errors import user_errors
from impsy.cli.options import gate_option, limit_option

DEFAULT_PI = "0.25,0.5,0.75,1,1.5"
DEFAULT_SIGMA = "0.0025,0.005,0.01,0.02,0.04"


def _floats(ctx: click.Context, param: click.Parameter, value: str) -> tuple[float, ...]:
    """A comma-separated list of numbers."""
    try:
        numbers = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected numbers separated by commas") from None
    if not numbers:
        raise click.BadParameter("expected at least one number")
    return numbers


def _load(model_file: str, gate: str):
    """The model on the NumPy engine; a ``.tflite`` through the weights beside it."""
    from pathlib import Path

    from impsy.model import ModelError, load_model
    from impsy.model.loader import sibling_weights

    path = Path(model_file)
    if path.suffix.lower() != ".tflite":
        return load_model(path, engine="numpy", gate=gate)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    weights = sibling_weights(path)
    if weights is None:
        raise ModelError(
            f"{path}: this command runs the numpy engine, which needs the model's .keras or .h5 "
            f"weights beside it (expected {path.stem}.keras, .h5 or .weights.h5)"
        )
    if gate != "auto":
        return load_model(weights, engine="numpy", gate=gate)
    # A .tflite runs the gate it was converted with: sigmoid, for IMPSY's and impsy's.
    model = load_model(weights, engine="numpy", gate="sigmoid")
    model.gate_reason = f"as {path.name} was converted"
    return model


@click.command("temperatures")
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.argument("dataset_file", type=click.Path(dir_okay=False))
@click.option(
    "--pi",
    "pi_temps",
    default=DEFAULT_PI,
    show_default=True,
    callback=_floats,
    help="Pi temperatures to try, comma-separated.",
)
@click.option(
    "--sigma",
    "sigma_temps",
    default=DEFAULT_SIGMA,
    show_default=True,
    callback=_floats,
    help="Sigma temperatures to try, comma-separated.",
)
@click.option(
    "--steps",
    type=click.IntRange(min=2),
    default=8000,
    show_default=True,
    help="Events the model plays per pair, shared among the seed states.",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Seed states: stretches of the dataset the model is primed on before playing.",
)
@click.option(
    "--prime",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Rows in each seed state.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@gate_option(
    "LSTM gate activation (auto: hard_sigmoid for Keras 2 files, sigmoid for a .tflite's)."
)
@limit_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@user_errors
def temperatures(
    model_file: str,
    dataset_file: str,
    pi_temps: tuple[float, ...],
    sigma_temps: tuple[float, ...],
    steps: int,
    seeds: int,
    prime: int,
    seed: int,
    gate: str,
    limit: int | None,
    as_json: bool,
) -> None:
    """Recommend pitemp and sigmatemp for MODEL_FILE from the playing in DATASET_FILE (.npz)."""
    import time

    from impsy.model import ModelError, nll
    from impsy.model.guidance import check_grid, guide

    check_grid(pi_temps, sigma_temps)
    if steps < 2 * seeds:
        raise click.BadParameter(f"{steps} is fewer than 2 per seed state", param_hint="--steps")
    model = _load(model_file, gate)
    performances = nll.read_performances(dataset_file)
    if limit is not None:
        performances = performances[:limit]
    dimensions = {p.shape[1] for p in performances}
    if dimensions - {model.dimension}:
        found = ", ".join(str(d) for d in sorted(dimensions))
        raise ModelError(
            f"{dataset_file} has dimension {found} but {model_file} is dimension {model.dimension}"
        )
    if not any(len(p) > 1 for p in performances):
        raise ModelError(f"{dataset_file}: expected a performance with two or more rows")
    began = time.perf_counter()
    result = guide(model, performances, pi_temps, sigma_temps, steps, seeds, prime, seed)
    seconds = time.perf_counter() - began
    if as_json:
        _print_json(result, model, model_file, dataset_file, performances, prime)
    else:
        _print_table(result, model, dataset_file, performances, prime, seconds)


def _print_table(result, model, dataset_file, performances, prime, seconds) -> None:
    best = result.best
    rows = sum(len(p) for p in performances)
    click.echo(model.describe())
    click.echo(
        f"{dataset_file}: {len(performances)} performances, {rows} rows; the model played "
        f"{result.steps} events per pair from {len(result.seeds)} seed states of up to {prime} "
        f"rows (seed {result.seed}) in {seconds:.1f} s"
    )
    click.echo(
        "distance to the data per feature: W1 / the data's spread (0: the same distribution, "
        "1: as far as always playing the data's median); dt as log10(dt), change and value "
        "averaged over the dimensions, total = their mean"
    )
    noise = result.noise
    close = result.close_to_best() if noise == noise else [best]  # noise is NaN with one seed
    click.echo(f"{'pi':>6} {'sigma':>8} {'dt':>7} {'change':>7} {'value':>7} {'total':>7}")
    for cell in result.cells:
        d = cell.distances
        mark = "  *" if cell is best else "  ~" if cell in close else ""
        click.echo(
            f"{cell.pi_temp:>6g} {cell.sigma_temp:>8g} {d.dt:>7.3f} {d.change:>7.3f} "
            f"{d.value:>7.3f} {d.total:>7.3f}{mark}"
        )
    if noise == noise:
        click.echo(
            f"* the closest; ~ within twice the sampling noise of it (about {noise:.3f} per "
            "total, from the two halves of the seed states): as close as this run can tell, "
            "more --steps and --seeds tell them apart"
        )
    for note in result.edges():
        click.echo(f"note: {note}: the best may lie outside the grid, try a wider one")
    click.echo(
        f"recommended: pi {best.pi_temp:g}, sigma {best.sigma_temp:g} "
        f"(total {best.distances.total:.3f}); in the config:"
    )
    click.echo(f"[model]\npitemp = {best.pi_temp:g}\nsigmatemp = {best.sigma_temp:g}")


def _print_json(result, model, model_file, dataset_file, performances, prime) -> None:
    import json

    def finite(x: float) -> float | None:
        return x if x == x and abs(x) != float("inf") else None

    def cell_dict(cell) -> dict:
        d = cell.distances
        return {
            "pi_temp": cell.pi_temp,
            "sigma_temp": cell.sigma_temp,
            "dt": finite(d.dt),
            "change": finite(d.change),
            "value": finite(d.value),
            "total": finite(d.total),
            "changes": [finite(x) for x in d.changes],
            "values": [finite(x) for x in d.values],
            "halves": None if cell.halves is None else [finite(x) for x in cell.halves],
        }

    best = result.best
    out = {
        "model": str(model_file),
        "model_description": model.describe(),
        "dataset": str(dataset_file),
        "performances": len(performances),
        "rows": sum(len(p) for p in performances),
        "steps": result.steps,
        "seeds": [
            {"performance": s.performance, "start": s.start, "rows": len(s.rows)}
            for s in result.seeds
        ],
        "prime": prime,
        "seed": result.seed,
        "min_dt": result.min_dt,
        "cells": [cell_dict(cell) for cell in result.cells],
        "noise": finite(result.noise),
        "close_to_best": [
            {"pi_temp": c.pi_temp, "sigma_temp": c.sigma_temp} for c in result.close_to_best()
        ],
        "edges": result.edges(),
        "best": cell_dict(best),
        "config": {"model": {"pitemp": best.pi_temp, "sigmatemp": best.sigma_temp}},
    }
    click.echo(json.dumps(out, indent=2))
