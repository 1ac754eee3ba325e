"""``impsy patterns train SOURCES...``: learn a pattern model from your own loops.

Reads bank files, MIDI files and audio loops (or folders of them), trains the pattern
VAE (NumPy: no TensorFlow, so it runs on the runtime install and on a
Raspberry Pi) and writes it as one ``.npz``. Prints what it read, what it
skipped and why, and how the model came out.
"""

from __future__ import annotations

import click

from impsy.cli.errors import user_errors


@click.group("patterns")
def patterns() -> None:
    """Pattern models: learn your loops, then play them with latent knobs."""


@patterns.command("train")
@click.argument("sources", nargs=-1, required=True)
@click.option("-o", "--output", default="patterns.npz", show_default=True, help="Model file.")
@click.option(
    "--latent", type=click.IntRange(2, 4), default=4, show_default=True, help="Latent knobs."
)
@click.option("--epochs", type=click.IntRange(1, 10_000), default=300, show_default=True)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Stop after the epoch that passes this many seconds.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--drums/--no-drums",
    default=True,
    show_default=True,
    help="Read MIDI files through the General MIDI drum map (one track per drum part); "
    "--no-drums: one track per MIDI track and channel.",
)
@click.option(
    "--tempo",
    type=click.FloatRange(20.0, 400.0),
    default=120.0,
    show_default=True,
    help="The audio loops' tempo in BPM (their length must be whole bars of four beats).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="FILE",
    help="Leave this file out of the folders given (repeatable).",
)
@user_errors
def train_patterns(
    sources: tuple[str, ...],
    output: str,
    latent: int,
    epochs: int,
    seconds: float,
    seed: int,
    drums: bool,
    tempo: float,
    exclude: tuple[str, ...],
) -> None:
    """Train a pattern model on the bars of SOURCES (banks, MIDI files, audio loops, folders)."""
    from impsy.errors import ImpsyError
    from impsy.sequencer.learn.knobs import PatternKnobs, steps_changed_per_tenth
    from impsy.sequencer.learn.material import collect
    from impsy.sequencer.learn.vae import PatternVAE

    material = collect(sources, drums=drums, tempo=tempo, exclude=exclude)
    for path, count in material.sources:
        click.echo(f"  {count:5d} bars  {path}")
    for path, why in material.skipped:
        click.echo(f"  skipped  {path}: {why}")
    bars = material.bars
    if not len(bars):
        raise ImpsyError("no bars to learn from in " + ", ".join(sources))
    tracks, steps = bars.shape[1], bars.shape[2]
    model = PatternVAE(tracks, steps, latent=latent, seed=seed)
    history = model.fit(bars, epochs=epochs, seconds=seconds)
    model.remember(bars, material.sources)  # the web UI's map of the training bars
    model.save(output)
    knobs = PatternKnobs(model)
    smooth = ", ".join(f"{steps_changed_per_tenth(knobs, k):.2f}" for k in range(latent))
    click.echo(
        f"{len(bars)} bars of {tracks} tracks x {steps} steps: {len(history.loss)} epochs in "
        f"{history.seconds:.1f} s, loss {history.loss[0]:.2f} -> {history.loss[-1]:.2f}\n"
        f"steps changed per 0.1 of each knob: {smooth}\n"
        f"wrote {output}"
    )
