"""Playback planning: clamped dt, clipped values, timescale only on the wait."""

import math

import numpy as np
import pytest

from impsy.engine.playback import MIN_DT, plan_playback


def test_timescale_stretches_the_wait_but_not_the_next_input():
    plan = plan_playback([0.5, 0.25, 0.75], timescale=3.0)
    assert plan.wait == 1.5
    assert plan.values.tolist() == [0.25, 0.75]
    assert plan.next_model_input.tolist() == [0.5, 0.25, 0.75]


@pytest.mark.parametrize("dt", [0.0, -3.0, 0.0001, math.nan])
def test_small_negative_or_nan_dt_becomes_the_minimum(dt):
    plan = plan_playback([dt, 0.5], timescale=1.0)
    assert MIN_DT == 0.001
    assert plan.wait == 0.001
    assert plan.next_model_input.tolist() == [0.001, 0.5]


def test_values_are_clipped_in_both_outputs():
    plan = plan_playback(np.array([0.1, -0.5, 1.5, 0.5], dtype=np.float32), timescale=1.0)
    assert plan.values.tolist() == [0.0, 1.0, 0.5]
    assert plan.next_model_input[1:].tolist() == [0.0, 1.0, 0.5]


def test_the_model_output_is_left_untouched():
    output = np.array([-1.0, 2.0])
    plan_playback(output, timescale=2.0)
    assert output.tolist() == [-1.0, 2.0]


@pytest.mark.parametrize("output", [[0.5], [], [[0.5, 0.5]]])
def test_output_must_be_a_vector_with_dt_and_values(output):
    with pytest.raises(ValueError, match="expected a vector"):
        plan_playback(output, timescale=1.0)
