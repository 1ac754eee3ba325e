"""The loss plot: what the figure shows (read back from the matplotlib objects), the PNG.

Histories here are dicts shaped as :mod:`impsy.training.callbacks` logs
them; ``test_train.py`` checks the plot of a real training run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.colors import to_rgb
from PIL import Image

from impsy.training.loss_plot import (
    HEIGHT,
    LOSS_LABEL,
    NONE_KEPT,
    WIDTH,
    loss_figure,
    write_loss_plot,
)

LOSS = [9.0, 5.0, 3.0, 2.5, 2.2, 2.0, 1.9, 1.85]
VAL = [8.0, 4.0, 3.2, 3.0, 2.9, 3.1, 3.3, 3.4]
HISTORY = [
    {"epoch": i + 1, "loss": a, "val_loss": b, "learning_rate": 0.01, "seconds": 0.5}
    for i, (a, b) in enumerate(zip(LOSS, VAL, strict=True))
]
WITH_NLL = [dict(h, val_nll=h["val_loss"] + (0.5 if h["epoch"] != 4 else 0.0)) for h in HISTORY]
TRAINING, VALIDATION, NLL = (
    "training loss (windows)",
    "validation loss (windows)",
    "validation NLL (whole performances)",
)


def lines(figure) -> dict[str, object]:
    return {line.get_label(): line for line in figure.axes[0].get_lines()}


def vertical_lines(figure) -> list[float]:
    return [
        float(line.get_xdata()[0])
        for line in figure.axes[0].get_lines()
        if len(line.get_xdata()) == 2 and line.get_xdata()[0] == line.get_xdata()[1]
    ]


def legend(figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].get_legend().get_texts()]


def test_axes_title_lines_and_the_kept_epoch():
    figure = loss_figure(HISTORY, 5, "musicMDRNN-dim3-layers2-units16-mixtures5-scale10")
    (axes,) = figure.axes
    assert axes.get_title() == "musicMDRNN-dim3-layers2-units16-mixtures5-scale10: loss per epoch"
    assert axes.get_xlabel() == "epoch"
    assert axes.get_ylabel() == LOSS_LABEL and "nats" in LOSS_LABEL
    drawn = lines(figure)
    for label, values in ((TRAINING, LOSS), (VALIDATION, VAL)):
        assert list(drawn[label].get_xdata()) == list(range(1, 9)), "one point per epoch"
        assert list(drawn[label].get_ydata()) == values
    assert NLL not in drawn, "no val_nll in this history"
    best = drawn["kept: epoch 5 (val_loss 2.9000)"]
    assert (list(best.get_xdata()), list(best.get_ydata())) == ([5], [2.9])
    assert vertical_lines(figure) == [5.0]
    assert legend(figure) == [TRAINING, VALIDATION, "kept: epoch 5 (val_loss 2.9000)"]
    assert all(float(t).is_integer() for t in axes.get_xticks()), "epochs are whole"


def test_runs_selected_by_whole_performances_mark_the_val_nll():
    figure = loss_figure(WITH_NLL, 4, "m")
    drawn = lines(figure)
    assert list(drawn[NLL].get_ydata()) == [h["val_nll"] for h in WITH_NLL]
    best = drawn["kept: epoch 4 (val_nll 3.0000)"]
    assert (list(best.get_xdata()), list(best.get_ydata())) == ([4], [3.0])
    assert legend(figure)[:3] == [TRAINING, VALIDATION, NLL]


def test_a_fine_tune_that_kept_its_starting_weights_marks_no_epoch():
    figure = loss_figure(WITH_NLL, 0, "m")
    assert not [label for label in lines(figure) if label.startswith("kept: epoch")]
    assert vertical_lines(figure) == []
    assert legend(figure)[-1] == NONE_KEPT


def test_a_single_epoch_shows_its_points_and_one_integer_tick():
    figure = loss_figure(HISTORY[:1], 1, "m")
    drawn = lines(figure)
    assert list(drawn[TRAINING].get_xdata()) == [1] and drawn[TRAINING].get_marker() == "o"
    low, high = figure.axes[0].get_xlim()
    assert [t for t in figure.axes[0].get_xticks() if low <= t <= high] == [1]


def test_a_first_epoch_far_above_the_rest_does_not_flatten_them():
    history = [dict(h) for h in HISTORY]
    history[0]["loss"] = 5000.0
    axes = loss_figure(history, 5, "m").axes[0]
    low, high = axes.get_ylim()
    assert high < 100 and all(low <= v <= high for v in LOSS[1:] + VAL)
    assert any("above the top of the axis" in t.get_text() for t in axes.texts)
    axes = loss_figure(HISTORY, 5, "m").axes[0]
    assert axes.get_ylim()[1] >= max(LOSS) and not axes.texts


def test_nan_epochs_leave_gaps_not_errors():
    history = [dict(h) for h in HISTORY]
    history[-1]["loss"] = history[-1]["val_loss"] = float("nan")  # TerminateOnNaN's last epoch
    figure = loss_figure(history, 5, "m")
    assert np.isnan(lines(figure)[TRAINING].get_ydata()[-1])
    assert np.isfinite(figure.axes[0].get_ylim()).all()


def test_writes_a_png_of_the_stated_size_with_both_lines(tmp_path):
    path = write_loss_plot(tmp_path / "m-loss.png", HISTORY, 5, "m")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
        image.verify()
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    for colour in ("tab:blue", "tab:orange"):
        rgb = np.round(np.array(to_rgb(colour)) * 255).astype(np.uint8)
        assert (pixels == rgb).all(axis=-1).sum() > 200, f"{colour} line drawn"


def test_importing_impsy_for_run_or_training_does_not_load_matplotlib():
    """matplotlib loads when a plot is drawn, never for `impsy run` or on import."""
    script = (
        "import sys, impsy.cli, impsy.app, impsy.training.loss_plot, impsy.training.trainer, "
        "impsy.training.recipes; print('matplotlib' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stdout + result.stderr


def test_train_without_matplotlib_stops_before_training_in_one_line(tmp_path, monkeypatch):
    from impsy.cli.train import train
    from impsy.dataset.npz import write_dataset

    rng = np.random.default_rng(0)
    data = write_dataset(tmp_path / "d.npz", [rng.random((40, 3)) for _ in range(4)])
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what `import` sees when absent
    with pytest.raises(ImportError):
        import matplotlib  # noqa: F401
    result = CliRunner().invoke(
        train, ["-S", str(data), "-O", str(tmp_path / "out"), "-M", "xxs", "-N", "1"]
    )
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "matplotlib" in line and "[train]" in line, line
    assert not Path(tmp_path / "out").exists(), "nothing trained or written"
