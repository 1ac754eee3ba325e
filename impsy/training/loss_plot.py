"""The loss plot ``impsy train`` writes beside a model: losses per epoch, drawn with matplotlib.

Why a picture as well as the summary JSON (which keeps the same numbers as
``history``, for programs): a person can see at a glance whether the
validation loss levelled off or turned up, and which epoch's weights were
kept, the export being the best epoch and not the last.

The figure has the training loss, the validation loss (windows) and, when
the run selected by whole performances, the validation NLL per epoch; axes
labelled with units; the model's name in the title; a legend; and the kept
epoch marked. :func:`loss_figure` builds it and returns it (tests inspect
it), :func:`write_loss_plot` saves it as a PNG of :data:`WIDTH` x
:data:`HEIGHT` pixels.

matplotlib is in the ``train`` extra and imported only inside these
functions, so importing this module, or anything ``impsy run`` uses, never
loads it. Figures are ``matplotlib.figure.Figure`` objects drawn on an Agg
canvas, not pyplot's: no display, no global backend switch, nothing kept
open between runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from impsy.errors import ImpsyError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH, HEIGHT, DPI = 800, 500, 100
"""The PNG's size in pixels, and the dots per inch that give it from the figure size."""
LOSS_LABEL = "loss: mean NLL per step (nats, model space = data x 10)"
"""The y axis: keras-mdn-layer's loss and ``impsy evaluate``'s score are the same quantity."""
SERIES = (
    ("loss", "training loss (windows)", "tab:blue"),
    ("val_loss", "validation loss (windows)", "tab:orange"),
    ("val_nll", "validation NLL (whole performances)", "tab:green"),
)
"""History key, legend label and colour of each line; ``val_nll`` only where logged."""
BEST_LABEL = "kept: epoch {epoch} ({key} {value:.4f})"
NONE_KEPT = "no epoch beat the starting weights: they were kept"


def require_matplotlib() -> None:
    """Raise ImpsyError naming the fix when matplotlib is missing (call before training)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImpsyError(
            "matplotlib is not installed; impsy train draws its loss plot with it: "
            "pip install 'impsy[train]'"
        ) from None


def selected_by(history: Sequence[Mapping[str, float]]) -> str:
    """The history key the best epoch was chosen by: ``val_nll`` when every epoch has one."""
    return "val_nll" if history and all("val_nll" in h for h in history) else "val_loss"


def _upper_limit(values: list[float]) -> float | None:
    """A top for the y axis that keeps a first epoch far above the rest from flattening
    them (the old plot's rule), or None when every value fits."""
    finite = sorted(v for v in values if math.isfinite(v))
    if len(finite) < 3:
        return None
    low, high = finite[0], finite[-1]
    median = finite[len(finite) // 2]
    p90 = finite[min(len(finite) - 1, math.ceil(0.9 * len(finite)) - 1)]
    top = p90 + (median - low)
    return top + 0.05 * (top - low) if top < high else None


def loss_figure(
    history: Sequence[Mapping[str, float]],
    best_epoch: int | None,
    model: str,
) -> Figure:
    """The loss plot of one run, not yet saved.

    ``history`` is the run's per-epoch records (``loss``, ``val_loss`` and
    perhaps ``val_nll``, as :mod:`impsy.training.callbacks` logs them, epoch
    ``i`` at index ``i - 1``); ``best_epoch`` the epoch whose weights were
    exported (0 or None: none beat a fine-tune's starting weights); ``model``
    the name the title shows.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    epochs = [int(h.get("epoch", i + 1)) for i, h in enumerate(history)]
    values: list[float] = []
    for key, label, colour in SERIES:
        if not history or any(key not in h for h in history):
            continue
        series = [float(h[key]) for h in history]
        values += series
        axes.plot(epochs, series, label=label, color=colour, marker="o", markersize=3)
    monitor = selected_by(history)
    if best_epoch and 1 <= best_epoch <= len(history):
        value = float(history[best_epoch - 1][monitor])
        axes.axvline(best_epoch, color="grey", linestyle="--", linewidth=1)
        axes.plot(
            [best_epoch],
            [value],
            linestyle="none",
            marker="*",
            markersize=14,
            color="black",
            label=BEST_LABEL.format(epoch=best_epoch, key=monitor, value=value),
        )
    elif history:
        axes.plot([], [], linestyle="none", label=NONE_KEPT)
    top = _upper_limit(values)
    if top is not None:
        axes.set_ylim(top=top)
        axes.annotate(
            "some values lie above the top of the axis",
            xy=(0.99, 0.98),
            xycoords="axes fraction",
            ha="right",
            va="top",
            fontsize="small",
            color="grey",
        )
    axes.set_xlabel("epoch")
    axes.set_ylabel(LOSS_LABEL)
    axes.set_title(f"{model}: loss per epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if epochs:
        axes.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)  # one epoch: a point, not a span
    axes.grid(True, alpha=0.3)
    if history:
        axes.legend(loc="best", fontsize="small")
    return figure


def write_loss_plot(
    path: Path,
    history: Sequence[Mapping[str, float]],
    best_epoch: int | None,
    model: str,
) -> Path:
    """Save :func:`loss_figure` as a ``WIDTH`` x ``HEIGHT`` PNG at ``path``; returns it."""
    loss_figure(history, best_epoch, model).savefig(path, format="png", dpi=DPI)
    return path
