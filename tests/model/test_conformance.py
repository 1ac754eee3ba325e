"""The model against IMPSY 1.2.1's conformance vectors for its fixed-weight ``.tflite``.

``model.json`` records, for a tiny committed model, the raw MDN output of
every step (with a reset in the middle), the sizes that must be
introspected, which output tensor carries which state, and which mixture
component each uniform draw selects at ``pi_temp``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from impsy.model import SCALE, load_model
from impsy.model.sampling import mixture_weights, pick_mixture
from tests.paths import SPEC

DOCUMENT = json.loads((SPEC / "vectors" / "model.json").read_text())
TOLERANCE = DOCUMENT["tolerance"]
CASES = DOCUMENT["cases"]


@pytest.fixture(params=CASES, ids=[case["name"] for case in CASES])
def case(request):
    return request.param


def test_introspected_sizes(case):
    model = load_model(SPEC / case["model_file"])
    expected = case["expected"]["introspected"]
    assert model.dimension == expected["dimension"]
    assert model.units == expected["units"]
    assert model.mixtures == expected["mixtures"]
    assert model.layers == expected["layers"]


def test_tensor_map(case):
    model = load_model(SPEC / case["model_file"])
    assert model.tensor_map == case["expected"]["tensors"]


def test_steps(case):
    model = load_model(SPEC / case["model_file"])
    checked = 0
    for step, expected in zip(case["steps"], case["expected"]["steps"], strict=True):
        if step.get("reset"):
            model.reset()
            continue
        params = model.step(np.array(step["input"]))
        np.testing.assert_allclose(params.raw, expected["mdn_output"], atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(params.mu / SCALE, expected["mu"], atol=TOLERANCE, rtol=0)
        std = params.sigma * np.sqrt(case["sigma_temp"]) / SCALE
        np.testing.assert_allclose(std, expected["std"], atol=TOLERANCE, rtol=0)
        weights = mixture_weights(params.pi_logits, case["pi_temp"])
        np.testing.assert_allclose(weights, expected["pi"], atol=TOLERANCE, rtol=0)
        picks = [pick_mixture(weights, u) for u in case["uniform_draws"]]
        assert picks == expected["mixture_for_draw"]
        checked += 1
    assert checked == sum(1 for step in case["steps"] if "input" in step)


def test_steps_after_reset_repeat_the_first_steps(case):
    """The document's own claim, checked on our output: a reset restarts the sequence."""
    model = load_model(SPEC / case["model_file"])
    outputs = []
    for step in case["steps"]:
        if step.get("reset"):
            model.reset()
            outputs.append(None)
        else:
            outputs.append(model.step(np.array(step["input"])).raw.copy())
    cut = next(i for i, out in enumerate(outputs) if out is None)
    after = outputs[cut + 1 :]
    for before, again in zip(outputs[: len(after)], after, strict=True):
        np.testing.assert_array_equal(before, again)
