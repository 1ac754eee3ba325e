"""``.tflite`` files where LiteRT is not installed: the weights beside them run on NumPy.

LiteRT is the ``litert`` extra, so a runtime install has none. These tests
hide it in this process the way a missing package is missing
(``sys.modules[name] = None`` makes its import raise ``ModuleNotFoundError``)
after loading the same files with the real LiteRT, so each fallback is
checked against what LiteRT computes. ``tests/system/test_install.py`` runs
a real install without it.
"""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

from impsy.model import ModelError, load_model
from impsy.model.litert_engine import litert_available
from impsy.model.loader import packaged_model
from tests.model.test_model import events
from tests.paths import MODELS, SPEC

DEFAULT = "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.tflite"
IMPSY_2019 = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
CONFORMANCE = SPEC / "models" / "conformance-dim3-layers2-units16-mixtures5.tflite"


def hide_litert(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ai_edge_litert", "ai_edge_litert.interpreter"):
        monkeypatch.setitem(sys.modules, name, None)


def test_litert_available_follows_the_import(monkeypatch):
    assert litert_available(), "the test extra installs LiteRT (impsy[litert])"
    hide_litert(monkeypatch)
    assert not litert_available()


@pytest.mark.parametrize(
    ("path", "weights"),
    [
        (packaged_model(DEFAULT), DEFAULT.replace(".tflite", ".keras")),
        (IMPSY_2019, IMPSY_2019.with_suffix(".h5").name),
    ],
    ids=["packaged default", "IMPSY 2019"],
)
def test_a_tflite_runs_its_sibling_weights_and_computes_what_litert_does(
    path, weights, monkeypatch
):
    """IMPSY's 2019 .h5 is Keras 2 ("auto" would pick hard_sigmoid); its .tflite is sigmoid."""
    lite = load_model(path)
    assert lite.engine == "litert"
    hide_litert(monkeypatch)
    model = load_model(path)
    assert (model.engine, model.gate, model.path, model.weights_path.name) == (
        "numpy",
        "sigmoid",
        path,
        weights,
    )
    assert "LiteRT not installed" in model.describe()
    for event in events(20):
        np.testing.assert_allclose(model.step(event).raw, lite.step(event).raw, atol=1e-4, rtol=0)


def test_a_tflite_alone_is_one_line_saying_what_to_install(tmp_path, monkeypatch):
    alone = tmp_path / CONFORMANCE.name
    shutil.copy(CONFORMANCE, alone)
    assert load_model(alone).engine == "litert"
    hide_litert(monkeypatch)
    with pytest.raises(ModelError) as caught:
        load_model(alone)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{alone}: running a .tflite needs LiteRT, which is not installed")
    assert "pip install ai-edge-litert (or impsy[litert])" in message
    assert f"no {alone.stem}.h5, .weights.h5 or .keras beside it" in message


def test_engine_litert_without_litert_says_to_install_it(monkeypatch):
    hide_litert(monkeypatch)
    with pytest.raises(ModelError, match="engine 'litert' needs LiteRT, which is not installed"):
        load_model(IMPSY_2019, engine="litert")


def test_a_tflite_keeps_its_converted_gate_without_litert(monkeypatch):
    """hard_sigmoid is refused for a .tflite with LiteRT; without it, the same."""
    with pytest.raises(ModelError, match="runs the gate it was converted with"):
        load_model(IMPSY_2019, gate="hard_sigmoid")
    hide_litert(monkeypatch)
    with pytest.raises(ModelError, match="runs the gate it was converted with"):
        load_model(IMPSY_2019, gate="hard_sigmoid")
