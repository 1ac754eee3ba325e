"""``impsy convert`` (also ``convert-tflite``): a ``.keras``/``.h5`` model to ``.tflite``.

Reads every format ``impsy run`` reads, IMPSY's Keras 2 ``.h5`` and Keras
2.15 ``.keras`` included (which Keras 3 cannot open), and writes a
builtin-ops ``.tflite`` that LiteRT and IMPSY 1.2.1 run. Keras 2 weights
keep Keras 2's hard_sigmoid gate unless ``--gate`` says otherwise.
``--optimise`` quantises the weights (dynamic range); with ``--dataset``
the command reports what that costs in NLL. Nothing is overwritten without
``--force``. Converting needs TensorFlow: without impsy's ``train`` extra
the command says so in one line (see ``impsy.cli.train.require_train_extra``).
"""

from __future__ import annotations

from pathlib import Path

import click

from impsy.cli.errors import user_errors
from impsy.cli.options import gate_option


def _convert(
    model_file: str,
    output: str | None,
    gate: str,
    optimise: bool,
    dataset: str | None,
    force: bool,
    command: str,
) -> None:
    from impsy.cli.train import require_train_extra

    require_train_extra(command)
    from impsy.training.convert import convert_file, default_output

    source = Path(model_file)
    target = Path(output) if output else default_output(source, optimise)
    result = convert_file(source, target, gate=gate, optimise=optimise, force=force)
    click.echo(
        f"impsy: wrote {result.path} ({result.bytes:,} bytes): dimension {result.dimension}, "
        f"{result.units} units x {result.layers} layers, {result.mixtures} mixtures, "
        f"gate {result.gate} ({result.gate_reason})"
        + (", dynamic-range quantised" if optimise else "")
    )
    if dataset is not None:
        _compare(source, result, dataset)


def _compare(source: Path, result, dataset: str) -> None:
    """NLL of the source weights (numpy engine) and of the new .tflite on a dataset."""
    from impsy.model import load_model, nll

    performances = nll.read_performances(dataset)
    before = nll.evaluate(load_model(source, gate=result.gate), performances)
    after = nll.evaluate(load_model(result.path), performances)
    click.echo(
        f"mean NLL per step on {dataset} ({after.steps} steps): {source.name} "
        f"{before.mean_nll:.4f}, {result.path.name} {after.mean_nll:.4f} "
        f"(change {after.mean_nll - before.mean_nll:+.4f})"
    )
    click.echo(f"size: {source.stat().st_size:,} -> {result.bytes:,} bytes")


def _command(name: str, hidden: bool = False) -> click.Command:
    @click.command(name, hidden=hidden)
    @click.argument("model_file", type=click.Path(dir_okay=False))
    @click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False),
        help="Output .tflite (default: beside MODEL_FILE, same name).",
    )
    @gate_option("LSTM gate to bake in (auto: Keras 2's hard_sigmoid for Keras 2 files).")
    @click.option(
        "--optimise",
        "--optimize",
        is_flag=True,
        help="Dynamic-range quantisation: ~4x smaller weights, slightly less accurate.",
    )
    @click.option(
        "--dataset",
        type=click.Path(dir_okay=False),
        help="A .npz dataset to report the NLL before and after conversion on.",
    )
    @click.option("--force", is_flag=True, help="Overwrite an existing output file.")
    @user_errors
    def command(model_file, output, gate, optimise, dataset, force) -> None:
        """Convert MODEL_FILE (.keras or .h5, IMPSY's included) to a .tflite."""
        _convert(model_file, output, gate, optimise, dataset, force, name)

    return command


convert = _command("convert")
convert_tflite = _command("convert-tflite")
