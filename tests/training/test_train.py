"""``impsy train`` end to end on tiny generated data: files, loading, determinism, best epoch.

Every run here is real TensorFlow training (size xxs, 8-step windows, a
few epochs), so the module shares runs between tests through fixtures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from click.testing import CliRunner  # noqa: E402
from PIL import Image  # noqa: E402

from impsy.cli.evaluate import evaluate  # noqa: E402
from impsy.cli.train import train  # noqa: E402
from impsy.dataset.npz import write_dataset  # noqa: E402
from impsy.model import load_model  # noqa: E402
from impsy.model.formats import read_keras  # noqa: E402
from impsy.model.nll import evaluate as nll_evaluate  # noqa: E402
from impsy.model.nll import read_performances  # noqa: E402
from impsy.training.loss_plot import HEIGHT, WIDTH, loss_figure  # noqa: E402
from impsy.training.windows import augment_windows  # noqa: E402
from tests.model.archives import MiB, zip_bomb  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
STEM = "musicMDRNN-dim3-layers2-units16-mixtures5-scale10"
FAST = ["-M", "xxs", "--sequence-length", "8", "-B", "16"]


def make_dataset(path: Path, seed: int = 0) -> Path:
    """Eight 3-D performances: a knob that drifts and one that jumps, at irregular times."""
    rng = np.random.default_rng(seed)
    perfs = []
    for length in (120, 90, 150, 60, 110, 80, 5, 100):
        dt = rng.gamma(2.0, 0.05, length)
        walk = np.clip(0.5 + np.cumsum(rng.normal(0, 0.05, length)), 0, 1)
        jumps = rng.choice([0.1, 0.5, 0.9], length)
        perfs.append(np.stack([dt, walk, jumps], axis=1).astype(np.float32))
    return write_dataset(path, perfs)


def run_train(tmp: Path, data: Path, *args: str, out: str = "out"):
    result = CliRunner().invoke(
        train, ["-S", str(data), "-O", str(tmp / out), *FAST, *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return tmp / out


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data") / "training-dataset-3d.npz")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data) -> Path:
    tmp = tmp_path_factory.mktemp("train")
    return run_train(
        tmp, data, "-N", "4", "--seed", "7", "--test-performances", "2", "--learning-rate", "0.01"
    )


def test_writes_keras_tflite_summary_and_png(trained):
    for name in (f"{STEM}.keras", f"{STEM}.tflite", f"{STEM}.json", f"{STEM}-loss.png"):
        assert (trained / name).is_file(), name
    with Image.open(trained / f"{STEM}-loss.png") as image:
        assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
        image.verify()


def test_loss_plot_of_a_real_run_marks_the_epoch_it_kept(trained):
    """The figure drawn from the run's history: one point per epoch for each loss, and
    the marker at the epoch the history's lowest validation loss names (the summary's)."""
    summary = json.loads((trained / f"{STEM}.json").read_text())
    history = summary["history"]
    figure = loss_figure(history, summary["best_epoch"], summary["model"])
    assert figure.axes[0].get_title() == f"{STEM}: loss per epoch"
    drawn = {line.get_label(): line for line in figure.axes[0].get_lines()}
    epochs = list(range(1, summary["epochs_run"] + 1))
    for label, key in (
        ("training loss (windows)", "loss"),
        ("validation loss (windows)", "val_loss"),
    ):
        assert list(drawn[label].get_xdata()) == epochs
        assert list(drawn[label].get_ydata()) == [entry[key] for entry in history]
    val = [entry["val_loss"] for entry in history]
    kept = int(np.argmin(val)) + 1  # the first lowest: a later tie does not improve
    assert kept == summary["best_epoch"]
    (marker,) = [line for label, line in drawn.items() if label.startswith("kept: epoch")]
    assert list(marker.get_xdata()) == [kept] and list(marker.get_ydata()) == [min(val)]


def test_summary_records_split_sizes_and_test_nll(trained, data):
    summary = json.loads((trained / f"{STEM}.json").read_text())
    split = summary["split"]
    assert len(split["test"]) == 2 and split["validation"]
    assert sorted(split["train"] + split["validation"] + split["test"]) == list(range(8))
    assert summary["architecture"] == {
        "dimension": 3,
        "units": 16,
        "layers": 2,
        "mixtures": 5,
        "scale": 10,
        "recurrent_activation": "sigmoid",
    }
    assert summary["epochs_run"] == 4 and 1 <= summary["best_epoch"] <= 4
    assert summary["seed"] == 7 and summary["dataset"]["sha256"]
    best = min(h["val_loss"] for h in summary["history"])
    assert summary["best_val_loss"] == pytest.approx(best)
    perfs = read_performances(data)
    expected = nll_evaluate(
        load_model(trained / f"{STEM}.keras"), [perfs[i] for i in split["test"]]
    )
    assert summary["test_nll"]["mean_nll"] == pytest.approx(expected.mean_nll, abs=1e-6)
    assert summary["versions"]["tensorflow"].startswith("2.")


def test_an_unweighted_dataset_keeps_keras_own_validation_loss(trained, data):
    """No row weights: the kept epoch's val_loss is Keras's own mean over the fixed
    validation windows (T apart from each performance's row 0), bit for bit; the weighted
    window loss with every weight 1 agrees with it (float64 against Keras's float32)."""
    from impsy.model.formats import read_keras
    from impsy.training.network import build_training_model, mixture_loss, weights_from_mdrnn
    from impsy.training.scoring import weighted_window_loss

    summary = json.loads((trained / f"{STEM}.json").read_text())
    perfs = read_performances(data)
    t = 8
    windows = np.stack(
        [
            perfs[i][s : s + t + 1]
            for i in summary["split"]["validation"]
            for s in range(0, len(perfs[i]) - t, t)
        ]
    ) * np.float32(10)
    model = build_training_model(3, 16, 5, 2)
    model.set_weights(weights_from_mdrnn(read_keras(trained / f"{STEM}.keras")))
    model.compile(loss=mixture_loss(3, 5))
    keras_loss = model.evaluate(windows[:, :-1], windows[:, 1:], batch_size=16, verbose=0)
    kept = summary["history"][summary["best_epoch"] - 1]
    assert kept["val_loss"] == keras_loss
    ones = np.ones(len(windows))
    score = weighted_window_loss(windows[:, :-1], windows[:, 1:], ones, 16)(model)
    assert score == pytest.approx(keras_loss, rel=1e-5)


def test_tflite_and_keras_load_and_predict_the_same(trained, data):
    keras_model = load_model(trained / f"{STEM}.keras")
    lite = load_model(trained / f"{STEM}.tflite")
    assert (lite.dimension, keras_model.dimension) == (3, 3)
    assert lite._engine.state_map_source == "signature"
    assert set(lite.tensor_map["state_outputs"]) == {
        "state_h_0",
        "state_c_0",
        "state_h_1",
        "state_c_1",
    }
    perf = read_performances(data)[0][:20]
    for row in perf:
        a, b = keras_model.step(row), lite.step(row)
        np.testing.assert_allclose(a.raw, b.raw, atol=1e-4)
    sample = lite.predict(perf[-1]) if hasattr(lite, "predict") else None
    if sample is not None:
        assert np.asarray(sample).shape == (3,)


@pytest.mark.parametrize("suffix", [".keras", ".tflite"])
def test_evaluate_reads_what_train_writes(trained, data, suffix):
    result = CliRunner().invoke(evaluate, [str(trained / f"{STEM}{suffix}"), str(data)])
    assert result.exit_code == 0, result.output
    assert "mean NLL per step" in result.output


def improved_flags() -> tuple[list[float], object]:
    """A Keras callback recording ``logs["improved"]`` at each epoch's end, and its list."""
    import keras

    seen: list[float] = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001
            seen.append(logs["improved"])

    return seen, Record()


def test_same_seed_gives_the_same_weights(tmp_path, data, trained):
    """Run again, through the trainer's function with trained's options: the same weights
    and file. Also: logs["improved"] is 1 exactly when an epoch beat every earlier one
    (what the benchmark's test scoring follows)."""
    from impsy.training.trainer import TrainOptions, load_performances, train_model

    seen, record = improved_flags()
    options = TrainOptions(
        dataset=data, destination=tmp_path / "again", size="xxs", sequence_length=8,
        batch_size=16, epochs=4, seed=7, test_performances=2, learning_rate=0.01,
    )  # fmt: skip
    result = train_model(
        options, load_performances(data, None), report=lambda _line: None, extra_callbacks=[record]
    )
    again = tmp_path / "again"
    first = read_keras(trained / f"{STEM}.keras")
    second = read_keras(again / f"{STEM}.keras")
    for a, b in zip(first.lstm, second.lstm, strict=True):
        np.testing.assert_array_equal(a.kernel, b.kernel)
        np.testing.assert_array_equal(a.recurrent_kernel, b.recurrent_kernel)
    np.testing.assert_array_equal(first.mdn.mu_kernel, second.mdn.mu_kernel)
    assert (trained / f"{STEM}.tflite").read_bytes() == (again / f"{STEM}.tflite").read_bytes()
    losses = [entry["val_loss"] for entry in result.history]
    assert seen == [float(loss < min(losses[:i], default=np.inf)) for i, loss in enumerate(losses)]


def test_best_validation_weights_are_exported(tmp_path, data):
    """Val loss rises after epoch k: the export must equal a run stopped at epoch k."""
    # Two performances, one to train and one to validate, around different values: the
    # model first moves toward both, then narrows onto the training one and val rises.
    rng = np.random.default_rng(1)
    perfs = [
        np.column_stack([rng.gamma(2.0, 0.05, 80), rng.normal(centre, 0.02, (80, 2))])
        for centre in (0.2, 0.8)
    ]
    data = write_dataset(tmp_path / "two.npz", perfs)
    long_run = run_train(
        tmp_path,
        data,
        "-N",
        "10",
        "--seed",
        "3",
        "--learning-rate",
        "0.02",
        "--no-earlystopping",
        out="long",
    )
    summary = json.loads((long_run / f"{STEM}.json").read_text())
    best = summary["best_epoch"]
    assert best < summary["epochs_run"], "precondition: validation loss must rise after its best"
    short_run = run_train(
        tmp_path,
        data,
        "-N",
        str(best),
        "--seed",
        "3",
        "--learning-rate",
        "0.02",
        "--no-earlystopping",
        out="short",
    )
    exported, at_best = (
        read_keras(long_run / f"{STEM}.keras"),
        read_keras(short_run / f"{STEM}.keras"),
    )
    for a, b in zip(exported.lstm, at_best.lstm, strict=True):
        np.testing.assert_array_equal(a.kernel, b.kernel)
    np.testing.assert_array_equal(exported.mdn.pi_kernel, at_best.mdn.pi_kernel)


def test_mirrored_strategy_runs_on_cpu_and_outputs_are_not_overwritten(tmp_path, data):
    out = run_train(tmp_path, data, "-N", "1", "--strategy", "mirrored")
    assert (out / f"{STEM}.tflite").is_file()
    result = CliRunner().invoke(train, ["-S", str(data), "-O", str(out), *FAST, "-N", "1"])
    assert result.exit_code == 2 and "--force" in result.output


def test_init_from_starts_from_the_given_weights(tmp_path, data, trained):
    """Fine-tuning with a vanishing learning rate exports the weights it started from."""
    start = trained / f"{STEM}.keras"
    out = run_train(
        tmp_path,
        data,
        "-N",
        "1",
        "--seed",
        "7",
        "--test-performances",
        "2",
        "--learning-rate",
        "1e-12",
        "--init-from",
        str(start),
        "--dropout",
        "0.1",
        "--recurrent-dropout",
        "0.1",
    )
    before, after = load_model(start), load_model(out / f"{STEM}.keras")
    for event in read_performances(data)[0][:20]:
        assert np.allclose(before.step(event).raw, after.step(event).raw, atol=1e-5)


def test_init_from_holds_the_file_to_impsys_model_limits(tmp_path, data):
    """A zip bomb given to --init-from is refused from its zip directory, with the file and
    the limit named, before Keras's loader (which has no limits) unpacks it."""
    bomb = zip_bomb(tmp_path / "bomb.keras", 200 * MiB)
    args = ["-S", str(data), "-O", str(tmp_path / "out"), *FAST, "-N", "1"]
    result = CliRunner().invoke(train, [*args, "--init-from", str(bomb)])
    assert result.exit_code == 2, result.output
    assert f"--init-from: {bomb}: " in result.output
    assert "model.weights.h5" in result.output and "MiB" in result.output
    assert not (tmp_path / "out" / f"{STEM}.keras").exists()


def test_select_by_performances_keeps_the_epoch_with_the_best_whole_performance_nll(tmp_path, data):
    """--select-by performances: the exported file's validation NLL is the best one logged."""
    out = run_train(
        tmp_path, data, "-N", "3", "--seed", "5", "--test-performances", "2",
        "--select-by", "performances", "--no-earlystopping", "--augment", "permute",
    )  # fmt: skip
    summary = json.loads((out / f"{STEM}.json").read_text())
    assert summary["selected_by"] == "val_nll"
    assert summary["options"]["augment"] == ["permute"]
    logged = [entry["val_nll"] for entry in summary["history"]]
    assert summary["best_val_loss"] == min(logged)
    performances = read_performances(data)
    validation = [performances[i] for i in summary["split"]["validation"]]
    exported = nll_evaluate(load_model(out / f"{STEM}.keras"), validation)
    assert exported.mean_nll == pytest.approx(min(logged), abs=1e-4)


def test_fine_tuning_exports_the_starting_weights_when_no_epoch_beats_them(tmp_path, data, trained):
    """A learning rate that wrecks the weights: the run keeps what it started from, and
    no epoch's logs["improved"] says it beat the starting weights."""
    from impsy.training.trainer import TrainOptions, load_performances, train_model

    start = trained / f"{STEM}.keras"
    seen, record = improved_flags()
    options = TrainOptions(
        dataset=data, destination=tmp_path / "out", size="xxs", sequence_length=8,
        batch_size=16, epochs=2, seed=7, test_performances=2, learning_rate=50.0,
        init_from=start, select_by="performances",
    )  # fmt: skip
    train_model(
        options, load_performances(data, None), report=lambda _line: None, extra_callbacks=[record]
    )
    out = tmp_path / "out"
    summary = json.loads((out / f"{STEM}.json").read_text())
    assert summary["best_epoch"] == 0
    assert not any(entry["val_nll"] <= summary["best_val_loss"] for entry in summary["history"])
    assert seen == [0.0, 0.0], "no epoch beat the starting weights"
    before, after = load_model(start), load_model(out / f"{STEM}.keras")
    for event in read_performances(data)[0][:20]:
        np.testing.assert_array_equal(before.step(event).raw, after.step(event).raw)


def test_augmentation_permutes_or_mirrors_controls_and_leaves_dt_alone():
    rng = np.random.default_rng(0)
    windows = rng.random((64, 5, 4)).astype(np.float32) * 10
    permuted = augment_windows(windows, ("permute",), rng)
    np.testing.assert_array_equal(permuted[:, :, 0], windows[:, :, 0])
    # each window's controls are its own columns, in one order for all its rows
    for before, after in zip(windows, permuted, strict=True):
        columns = [
            int(np.flatnonzero((before[:, 1:] == c[:, None]).all(axis=0))[0])
            for c in after[:, 1:].T
        ]
        assert sorted(columns) == [0, 1, 2]
    assert not np.array_equal(permuted, windows)
    mirrored = augment_windows(windows, ("flip",), rng)
    np.testing.assert_array_equal(mirrored[:, :, 0], windows[:, :, 0])
    same = np.isclose(mirrored[:, :, 1:], windows[:, :, 1:])
    flipped = np.isclose(mirrored[:, :, 1:], 10 - windows[:, :, 1:])
    assert (same | flipped).all() and same.any() and flipped.any()
    # a whole control is mirrored or not, never some of its rows
    assert (flipped.all(axis=1) | same.all(axis=1)).all()


def test_staged_recipe_runs_its_stages_from_one_another_on_one_split(tmp_path):
    """--recipe staged: two runs, the second from the first's weights on the first's split,
    and the last one's model under the final name, with every stage in the summary."""
    rng = np.random.default_rng(3)
    perfs = []
    for length in (420, 380, 450, 330, 400, 360):  # longer than stage 2's 301-row windows
        dt = rng.gamma(2.0, 0.05, length)
        walk = np.clip(0.5 + np.cumsum(rng.normal(0, 0.05, length)), 0, 1)
        perfs.append(np.stack([dt, walk, rng.choice([0.1, 0.9], length)], 1).astype(np.float32))
    data = write_dataset(tmp_path / "long.npz", perfs)
    result = CliRunner().invoke(
        train,
        ["-S", str(data), "-O", str(tmp_path / "out"), "-M", "xxs", "-N", "1", "--seed", "4",
         "--test-performances", "1", "--recipe", "staged", "--name", "r"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "stage 2/2" in result.output
    out = tmp_path / "out"
    summary = json.loads((out / "r.json").read_text())
    stages = summary["recipe"]["stages"]
    assert [s["settings"]["sequence_length"] for s in stages] == [20, 300]
    assert stages[1]["settings"]["augment"] == ["permute"]
    assert stages[1]["selected_by"] == "val_nll"
    assert [s["epochs_run"] for s in stages] == [1, 1], "-N applies to every stage"
    folder = out / "r-stages"
    assert stages[0]["settings"]["init_from"] is None
    assert stages[1]["settings"]["init_from"] == str(folder / "stage0.keras")
    splits = [json.loads((folder / f"stage{n}.json").read_text())["split"] for n in range(2)]
    assert splits[0] == splits[1] == summary["split"]
    assert {p.name for p in out.iterdir()} >= {"r.keras", "r.tflite", "r.json", "r-loss.png"}
    final, last = load_model(out / "r.keras"), load_model(folder / "stage1.keras")
    for event in perfs[0][:20]:
        np.testing.assert_array_equal(final.step(event).raw, last.step(event).raw)
    from impsy.cli.train import RECIPES as CLI_RECIPES
    from impsy.training.recipes import RECIPES

    assert tuple(CLI_RECIPES) == RECIPES, "--recipe offers exactly the recipes there are"
    again = CliRunner().invoke(
        train, ["-S", str(data), "-O", str(out), "--recipe", "staged", "--name", "r"]
    )
    assert again.exit_code != 0 and "--force" in again.output, "checked before training"


def test_the_training_model_scores_every_step_as_the_one_step_model_does():
    """The training model applies the MDN to ``(batch, T, units)`` directly, not inside
    ``TimeDistributed`` (IMPSY's way), which Keras 3's TensorFlow backend traces once per
    time step (a 300-step window: 38 s to trace against 5 s). Its output at every step must
    still be the one-step model's, which is what impsy saves and runs."""
    import keras

    from impsy.training.network import build_inference_model, build_training_model

    keras.utils.set_random_seed(3)
    trained = build_training_model(3, 8, 4, 2)
    assert not [layer for layer in trained.layers if "TimeDistributed" in type(layer).__name__]
    one_step = build_inference_model(3, 8, 4, 2)
    one_step.set_weights(trained.get_weights())
    rows = np.random.default_rng(5).uniform(0, 1, (12, 3)).astype(np.float32) * 10
    whole = np.asarray(trained(rows[None]))[0]
    states = [np.zeros((1, 8), np.float32) for _ in range(4)]
    for t, row in enumerate(rows):
        out, *states = (np.asarray(a) for a in one_step([row[None, None], *states]))
        np.testing.assert_allclose(out[0], whole[t], rtol=1e-5, atol=1e-5)
