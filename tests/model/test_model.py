"""Loading IMPSY's bundled dim-9 model in all three formats and running it.

The three files hold the same network, so they check each other: run with
the same gate, their raw MDN outputs must agree step for step.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from impsy.model import SCALE, MixtureParams, ModelError, load_model
from impsy.model.nll import evaluate, read_performances
from impsy.model.tensor_map import state_key
from tests.paths import ROOT

SHARED = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10"
H5, KERAS, TFLITE = (Path(f"{SHARED}{suffix}") for suffix in (".h5", ".keras", ".tflite"))
DATASET = ROOT / "tests" / "data" / "training-dataset-9d.npz"


def events(count: int, seed: int = 0) -> np.ndarray:
    """Plausible IMPSY events: small positive dt, then values in [0, 1]."""
    rng = np.random.default_rng(seed)
    rows = rng.random((count, 9))
    rows[:, 0] *= 0.5
    return rows


@pytest.mark.parametrize(("path", "engine"), [(H5, "numpy"), (KERAS, "numpy"), (TFLITE, "litert")])
def test_loads_shared_file_with_introspected_sizes(path, engine):
    model = load_model(path)
    assert (model.dimension, model.units, model.layers, model.mixtures) == (9, 64, 2, 5)
    assert model.engine == engine
    assert model.path == path
    line = model.describe()
    assert "\n" not in line
    for part in (path.name, engine, "dimension 9", "64 units", "2 layers", "5 mixtures"):
        assert part in line


def test_shared_files_agree_with_the_same_gate():
    """The .h5 and .keras run with sigmoid must reproduce the sigmoid-converted .tflite."""
    models = [load_model(H5, gate="sigmoid"), load_model(KERAS, gate="sigmoid"), load_model(TFLITE)]
    for event in events(20):
        raw = [model.step(event).raw for model in models]
        np.testing.assert_allclose(raw[0], raw[2], atol=1e-4, rtol=0)
        np.testing.assert_allclose(raw[1], raw[2], atol=1e-4, rtol=0)


def test_params_views_follow_the_mdn_layout():
    """keras-mdn-layer's output is [mu (K*D), sigma (K*D), pi logits (K)], mixture-major."""
    raw = np.arange(2 * (2 * 3 + 1), dtype=np.float32)  # K=2, D=3
    params = MixtureParams(raw, dimension=3, mixtures=2)
    assert params.mu.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert params.sigma.tolist() == [[6, 7, 8], [9, 10, 11]]
    assert params.pi_logits.tolist() == [12, 13]


def test_step_params_have_positive_sigma_and_model_space_scale():
    model = load_model(H5)
    params = model.step(events(1)[0])
    assert params.raw.shape == (5 * (2 * 9 + 1),)
    assert params.mu.shape == params.sigma.shape == (5, 9)
    assert params.pi_logits.shape == (5,)
    assert np.all(params.sigma > 0)
    assert SCALE == 10.0


@pytest.mark.parametrize("path", [H5, TFLITE])
def test_state_is_carried_between_steps_and_cleared_by_reset(path):
    model = load_model(path)
    event = events(1)[0]
    first = model.step(event).raw.copy()
    second = model.step(event).raw.copy()
    assert np.max(np.abs(first - second)) > 1e-3  # same input, different state
    model.reset()
    np.testing.assert_array_equal(model.step(event).raw, first)


@pytest.mark.parametrize("path", [H5, TFLITE])
def test_set_state_goes_back_to_a_copied_state_exactly(path):
    """The player predicts ahead and goes back: stepping from a restored state gives what
    stepping from the original gave, on both engines."""
    model = load_model(path)
    for event in events(5):
        model.step(event)
    saved = model.state()
    after = [model.step(event).raw.copy() for event in events(3)]
    model.set_state(saved)
    again = [model.step(event).raw.copy() for event in events(3)]
    for a, b in zip(after, again, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="state arrays"):
        model.set_state(saved[:1])


@pytest.mark.parametrize("path", [H5, TFLITE])
def test_state_holds_h_and_c_per_layer_and_reset_zeroes_it(path):
    model = load_model(path)
    model.step(events(1)[0])
    state = model.state()
    assert len(state) == 4 and all(s.shape == (64,) for s in state)
    assert all(np.any(s != 0) for s in state)
    model.reset()
    assert all(np.all(s == 0) for s in model.state())


def test_sigma_temp_zero_returns_a_component_mean_unscaled():
    model = load_model(H5, seed=3)
    model.sigma_temp = 0.0
    params = model.step(events(1)[0])
    sample = model.sample(params)
    means = params.mu / SCALE
    assert any(np.allclose(sample, row, rtol=0, atol=1e-7) for row in means)


def test_temperatures_are_live():
    """Changing pi_temp between calls changes which components are chosen."""
    model = load_model(H5, seed=0)
    params = model.step(events(1)[0])
    favourite = int(np.argmax(params.pi_logits))
    means = params.mu / SCALE
    model.sigma_temp = 0.0
    model.pi_temp = 1e-3  # practically argmax
    picks = {int(np.argmin(np.abs(means - model.sample(params)).sum(axis=1))) for _ in range(50)}
    assert picks == {favourite}
    model.pi_temp = 100.0  # practically uniform
    picks = {int(np.argmin(np.abs(means - model.sample(params)).sum(axis=1))) for _ in range(200)}
    assert picks == set(range(5))


def test_sigma_temp_scales_the_spread():
    model = load_model(H5, seed=0)
    params = model.step(events(1)[0])
    model.pi_temp = 1e-3
    k = int(np.argmax(params.pi_logits))
    for sigma_temp in (0.01, 0.25):
        model.sigma_temp = sigma_temp
        draws = np.array([model.sample(params) for _ in range(4000)])
        expected = params.sigma[k] * np.sqrt(sigma_temp) / SCALE
        np.testing.assert_allclose(draws.std(axis=0), expected, rtol=0.1)
        np.testing.assert_allclose(
            draws.mean(axis=0), params.mu[k] / SCALE, atol=4 * expected.max() / 60
        )


@pytest.mark.parametrize("path", [H5, TFLITE])
def test_same_seed_same_performance(path):
    def perform(model):
        x = events(1)[0]
        out = []
        for _ in range(30):
            x = model.predict(x)
            out.append(x)
        return np.array(out)

    a, b = load_model(path, seed=1234), load_model(path, seed=1234)
    first = perform(a)
    np.testing.assert_array_equal(first, perform(b))
    a.reset()
    a.seed(1234)
    np.testing.assert_array_equal(first, perform(a))
    a.reset()
    a.seed(99)
    assert not np.array_equal(first, perform(a))


def test_predict_is_sample_of_step():
    a, b = load_model(H5, seed=7), load_model(H5, seed=7)
    for event in events(5):
        np.testing.assert_array_equal(a.predict(event), b.sample(b.step(event)))


def test_wrong_event_length_is_refused():
    model = load_model(H5)
    with pytest.raises(ValueError, match="9 values"):
        model.step(np.zeros(4))


def test_gate_auto_picks_hard_sigmoid_for_keras2_files_and_sigmoid_for_tflite():
    assert load_model(H5).gate == "hard_sigmoid"
    assert load_model(KERAS).gate == "hard_sigmoid"  # Keras 2.15 zip holding the 2019 weights
    assert load_model(TFLITE).gate == "sigmoid"
    assert load_model(H5, gate="sigmoid").gate == "sigmoid"


def test_gate_auto_is_the_better_fit_on_the_dataset():
    """On recorded performances the auto gate must score the lower NLL of the two."""
    performances = [p for p in read_performances(DATASET) if len(p) > 1][:3]
    scores = {
        gate: evaluate(load_model(H5, gate=gate), performances).mean_nll
        for gate in ("sigmoid", "hard_sigmoid")
    }
    assert min(scores, key=scores.get) == load_model(H5).gate


def test_colon_zero_names_mark_keras2_without_a_version(tmp_path):
    copy = tmp_path / "weights.h5"
    shutil.copy(H5, copy)
    with h5py.File(copy, "r+") as handle:
        del handle.attrs["keras_version"]
    assert load_model(copy).gate == "hard_sigmoid"


def test_tflite_gate_cannot_be_changed():
    with pytest.raises(ModelError, match="converted"):
        load_model(TFLITE, gate="hard_sigmoid")


def test_litert_tensor_map_is_exposed():
    tensor_map = load_model(TFLITE).tensor_map
    assert tensor_map["inputs"] == ["inputs", "state_h_0", "state_c_0", "state_h_1", "state_c_1"]
    assert tensor_map["mdn_output"] == "Identity"
    assert sorted(tensor_map["state_outputs"]) == sorted(tensor_map["inputs"][1:])


def test_loading_and_predicting_never_imports_tensorflow():
    code = textwrap.dedent(
        f"""
        import sys
        import impsy.model
        assert "ai_edge_litert" not in sys.modules, "import impsy.model loaded LiteRT"
        for suffix in (".h5", ".keras", ".tflite"):
            model = impsy.model.load_model({str(SHARED)!r} + suffix)
            model.predict([0.1] * 9)
        assert "tensorflow" not in sys.modules
        assert "keras" not in sys.modules
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("state_h_0", "state_h_0"),
        ("serving_default_state_c_12:0", "state_c_12"),
        ("model/state_h_1", "state_h_1"),
        ("Identity_1", None),
        ("inputs", None),
        ("mystate_h_0", None),
    ],
)
def test_state_names_with_prefixes_and_suffixes(name, key):
    assert state_key(name) == key


# --- files impsy must refuse with a ModelError ---------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "absent.tflite")


def test_unknown_extension(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\0" * 64)
    with pytest.raises(ModelError, match="unknown model file type .onnx"):
        load_model(path)


@pytest.mark.parametrize("source", [H5, KERAS, TFLITE])
def test_truncated_file(tmp_path, source):
    path = tmp_path / source.name
    path.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    with pytest.raises(ModelError, match=path.name):
        load_model(path)


@pytest.mark.parametrize("suffix", [".h5", ".keras", ".tflite"])
def test_random_bytes(tmp_path, suffix):
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError, match=path.name):
        load_model(path)


def test_h5_with_a_dense_network_names_what_it_found(tmp_path):
    path = tmp_path / "dense.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = "2.2.4"
        handle.attrs["layer_names"] = [b"dense_1"]
        layer = handle.create_group("dense_1")
        layer.attrs["weight_names"] = [b"dense_1/kernel:0", b"dense_1/bias:0"]
        layer.create_dataset("dense_1/kernel:0", data=np.zeros((9, 16), np.float32))
        layer.create_dataset("dense_1/bias:0", data=np.zeros(16, np.float32))
    with pytest.raises(ModelError, match=r"not an IMPSY MDRNN.*dense_1/kernel:0 \(9, 16\)"):
        load_model(path)


def test_h5_without_keras_weights(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("data", data=np.zeros(3))
    with pytest.raises(ModelError, match="without Keras weights"):
        load_model(path)


def test_mdn_that_does_not_fit_the_lstm(tmp_path):
    path = tmp_path / "mismatch.h5"
    shutil.copy(H5, path)
    with h5py.File(path, "r+") as handle:
        del handle["td_mdn/td_mdn/pis/kernel:0"]
        handle["td_mdn/td_mdn/pis"].create_dataset("kernel:0", data=np.zeros((32, 5), np.float32))
    with pytest.raises(ModelError, match="MDN layer"):
        load_model(path)


def test_engine_and_file_must_match():
    with pytest.raises(ModelError, match="litert engine runs .tflite"):
        load_model(H5, engine="litert")
    with pytest.raises(ModelError, match="numpy engine runs .h5/.keras"):
        load_model(TFLITE, engine="numpy")
    with pytest.raises(ModelError, match="unknown engine"):
        load_model(H5, engine="cuda")
    with pytest.raises(ModelError, match="unknown gate"):
        load_model(H5, gate="relu")
