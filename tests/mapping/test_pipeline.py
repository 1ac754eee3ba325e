"""The input pipeline: sparse updates become dense [dt, x...] model inputs."""

import numpy as np
import pytest

from impsy.dataset.logs import INTERFACE
from impsy.mapping.midi import MidiDecoder
from impsy.mapping.pipeline import InputState
from impsy.mapping.spec import ControlChange, NoteOn


def test_first_dt_runs_from_start_time_and_later_from_last_interaction():
    state = InputState(3, [0.25, 0.75], start_time=10.0)
    first = state.apply([(0, 0.5)], 10.5)
    second = state.apply([(1, 0.0)], 12.0)
    assert first.model_input.tolist() == [0.5, 0.5, 0.75]
    assert second.model_input.tolist() == [1.5, 0.5, 0.0]
    assert state.last_time == 12.0


def test_ignored_messages_neither_produce_input_nor_reset_dt():
    state = InputState(2, [0.0], start_time=0.0)
    assert state.apply(None, 1.0) is None
    assert state.apply([], 2.0) is None
    assert state.apply([(0, 1.0)], 3.0).model_input.tolist() == [3.0, 1.0]


def test_several_updates_from_one_message_are_one_interaction():
    state = InputState(4, [0.0, 0.0, 0.0], start_time=0.0)
    interaction = state.apply([(0, 0.25), (2, 0.5)], 0.125)
    assert interaction.model_input.tolist() == [0.125, 0.25, 0.0, 0.5]
    assert interaction.values.tolist() == [0.25, 0.0, 0.5]


def test_returned_arrays_are_independent_of_the_state():
    state = InputState(3, [0.0, 0.0], start_time=0.0)
    interaction = state.apply([(0, 1.0)], 1.0)
    interaction.values[:] = 9.0
    interaction.model_input[:] = 9.0
    state.values[:] = 9.0
    assert state.values.tolist() == [1.0, 0.0]
    assert state.apply([(1, 0.5)], 2.0).model_input.tolist() == [1.0, 1.0, 0.5]


def test_dense_input_replaces_every_value():
    state = InputState(3, [0.1, 0.2], start_time=5.0)
    interaction = state.apply_dense([0.75, 1.25], 5.25)
    assert interaction.model_input.dtype == np.float64
    assert interaction.model_input.tolist() == [0.25, 0.75, 1.25]
    with pytest.raises(ValueError, match="expected 2 values"):
        state.apply_dense([0.5], 6.0)


def test_initial_values_must_match_the_dimension():
    with pytest.raises(ValueError, match="expected 2 initial values"):
        InputState(3, [0.0], start_time=0.0)
    with pytest.raises(ValueError, match="at least 2"):
        InputState(1, [], start_time=0.0)


def test_decoded_midi_drives_the_pipeline():
    decoder = MidiDecoder([NoteOn(1), ControlChange(1, 1)])
    state = InputState(3, [0.0, 0.0], start_time=0.0)
    events = [(0.5, [0x90, 60, 100]), (0.75, [0x80, 60, 0]), (1.0, [0xB0, 1, 127])]
    results = [state.apply(decoder.decode(message), time) for time, message in events]
    assert results[1] is None
    assert results[0].model_input.tolist() == [0.5, 60 / 127, 0.0]
    assert results[2].model_input.tolist() == [0.5, 60 / 127, 1.0]
    assert INTERFACE == "interface"
