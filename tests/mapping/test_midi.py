"""The MIDI codec beyond IMPSY's vectors: edge cases, state, and byte-stream parsing."""

import math

import numpy as np
import pytest

from impsy.mapping.midi import MidiDecoder, MidiEncoder, MidiStreamParser, round_half_up
from impsy.mapping.spec import ControlChange, NoteOn, NoteVelocity, PitchBend, parse_mapping_list

# Decoding


def test_note_on_sets_note_over_127_and_ignores_velocity_zero():
    decoder = MidiDecoder([NoteOn(1)])
    assert decoder.decode([0x90, 60, 100]) == [(0, 60 / 127)]
    assert decoder.decode(bytes([0x90, 60, 0])) is None
    assert decoder.decode([0x80, 60, 64]) is None


def test_velocity_only_mapping_updates_just_the_velocity_dimension():
    decoder = MidiDecoder([NoteOn(1), NoteVelocity(2)])
    assert decoder.decode([0x91, 64, 90]) == [(1, 90 / 127)]


def test_note_and_velocity_updates_come_in_index_order():
    decoder = MidiDecoder([NoteVelocity(3), ControlChange(3, 1), NoteOn(3)])
    assert decoder.decode([0x92, 48, 32]) == [(0, 32 / 127), (2, 48 / 127)]


def test_cc_range_clamps_then_scales_to_unit():
    decoder = MidiDecoder([ControlChange(1, 20, 10, 20)])
    assert decoder.decode([0xB0, 20, 5]) == [(0, 0.0)]
    assert decoder.decode([0xB0, 20, 15]) == [(0, 0.5)]
    assert decoder.decode([0xB0, 20, 30]) == [(0, 1.0)]


def test_pitch_bend_is_fourteen_bit_over_16383():
    decoder = MidiDecoder([PitchBend(2)])
    assert decoder.decode([0xE1, 0, 64]) == [(0, 8192 / 16383)]
    assert decoder.decode([0xE1, 127, 127]) == [(0, 1.0)]
    assert decoder.decode([0xE0, 0, 64]) is None


@pytest.mark.parametrize(
    "message",
    [[], [0x90], [0x90, 60], [0x90, 60, 100, 1], [0x90, 128, 100], [0xB0, 7, 200], [0xF8]],
)
def test_malformed_or_short_messages_are_ignored(message):
    decoder = MidiDecoder([NoteOn(1), ControlChange(1, 7)])
    assert decoder.decode(message) is None


def test_decoder_accepts_parsed_config_entries():
    mapping = parse_mapping_list([["note_on", 10], ["control_change", 10, 74, 0, 63]])
    decoder = MidiDecoder(mapping)
    assert decoder.decode([0x99, 36, 90]) == [(0, 36 / 127)]
    assert decoder.decode([0xB9, 74, 63]) == [(1, 1.0)]


# Encoding


def test_round_half_up_rounds_exact_halves_up():
    assert [round_half_up(x) for x in (0.5, 1.5, 2.5, 2.4999, -0.5)] == [1, 2, 3, 2, 0]


def test_half_way_cc_value_rounds_up_not_to_even():
    # Range 0-1: value 0.5 lands on exactly 0.5, which banker's rounding would send as 0.
    encoder = MidiEncoder([ControlChange(1, 1, 0, 1)])
    assert encoder.encode([0.5]) == [(0xB0, 1, 1)]


def test_values_are_clipped_and_nan_treated_as_zero():
    encoder = MidiEncoder([ControlChange(1, 1), ControlChange(1, 2), ControlChange(1, 3)])
    assert encoder.encode([-2.0, 3.0, math.nan]) == [(0xB0, 1, 0), (0xB0, 2, 127), (0xB0, 3, 0)]


def test_float32_values_encode_like_float64():
    encoder = MidiEncoder([NoteOn(1)])
    assert encoder.encode(np.array([60 / 127], dtype=np.float32)) == [(0x90, 60, 127)]


def test_cc_and_pitch_bend_are_resent_after_all_notes_off():
    encoder = MidiEncoder([ControlChange(2, 7), PitchBend(2)])
    first = [(0xB1, 7, 64), (0xE1, 0, 64)]
    assert encoder.encode([0.5, 0.5]) == first
    assert encoder.encode([0.5, 0.5]) == []
    assert encoder.all_notes_off() == []
    assert encoder.encode([0.5, 0.5]) == first


def test_pitch_bend_only_resent_when_its_raw_value_changes():
    encoder = MidiEncoder([PitchBend(1)])
    assert encoder.encode([0.5]) == [(0xE0, 0, 64)]
    # 0.50001 * 16383 = 8191.66 rounds to 8192 as well.
    assert encoder.encode([0.50001]) == []
    assert encoder.encode([0.0]) == [(0xE0, 0, 0)]


def test_note_state_is_forgotten_after_all_notes_off():
    encoder = MidiEncoder([NoteOn(1), NoteOn(2)])
    encoder.encode([60 / 127, 60 / 127])
    assert encoder.all_notes_off() == [(0x80, 60, 0), (0x81, 60, 0)]
    assert encoder.all_notes_off() == []
    assert encoder.encode([62 / 127, 62 / 127]) == [(0x90, 62, 127), (0x91, 62, 127)]


def test_shared_note_is_not_turned_off_while_another_dimension_holds_it():
    encoder = MidiEncoder([NoteOn(1), NoteOn(1)])
    encoder.encode([64 / 127, 64 / 127])
    # The first dimension moves to 60, but the second still holds 64: no note-off.
    assert encoder.encode([60 / 127, 64 / 127]) == [(0x90, 60, 127), (0x80, 64, 0), (0x90, 64, 127)]


def test_velocity_comes_from_note_velocity_dimension_never_zero():
    encoder = MidiEncoder([NoteOn(1, 90), NoteVelocity(1), NoteOn(2, 0), NoteOn(3, 127)])
    messages = encoder.encode([60 / 127, 0.0, 61 / 127, 62 / 127])
    assert messages == [(0x90, 60, 1), (0x91, 61, 1), (0x92, 62, 127)]


def test_first_velocity_dimension_on_a_channel_wins():
    encoder = MidiEncoder([NoteOn(1), NoteVelocity(1), NoteVelocity(1)])
    assert encoder.encode([60 / 127, 100 / 127, 20 / 127]) == [(0x90, 60, 100)]


def test_wrong_number_of_values_is_an_error():
    encoder = MidiEncoder([NoteOn(1), ControlChange(1, 1)])
    with pytest.raises(ValueError, match="expected 2"):
        encoder.encode([0.5])


# Byte streams


def test_running_status_repeats_the_last_channel_status():
    parser = MidiStreamParser()
    messages = parser.feed(bytes([0x90, 60, 100, 62, 100, 64, 0]))
    assert messages == [(0x90, 60, 100), (0x90, 62, 100), (0x90, 64, 0)]


def test_realtime_bytes_inside_a_message_do_not_break_it():
    parser = MidiStreamParser()
    messages = parser.feed([0x90, 0xF8, 60, 0xFE, 100, 0xF8, 62, 100])
    assert messages == [(0xF8,), (0xFE,), (0x90, 60, 100), (0xF8,), (0x90, 62, 100)]


def test_messages_split_across_reads_are_joined():
    parser = MidiStreamParser()
    assert parser.feed([0xB0, 7]) == []
    assert parser.feed([64, 8]) == [(0xB0, 7, 64)]
    assert parser.feed([1]) == [(0xB0, 8, 1)]


def test_sysex_is_skipped_and_clears_running_status():
    parser = MidiStreamParser()
    stream = [0x90, 60, 100, 0xF0, 0x7E, 1, 2, 0xF7, 62, 100, 0x80, 60, 0]
    assert parser.feed(stream) == [(0x90, 60, 100), (0x80, 60, 0)]


def test_sysex_without_end_byte_ends_at_the_next_status():
    parser = MidiStreamParser()
    assert parser.feed([0xF0, 1, 2, 0xB0, 1, 5]) == [(0xB0, 1, 5)]


def test_one_data_byte_messages_and_running_status():
    parser = MidiStreamParser()
    assert parser.feed([0xC0, 5, 6, 0xD1, 40]) == [(0xC0, 5), (0xC0, 6), (0xD1, 40)]


def test_system_common_messages_end_running_status():
    parser = MidiStreamParser()
    assert parser.feed([0x90, 60, 100, 0xF3, 5, 61, 100, 0xF6]) == [
        (0x90, 60, 100),
        (0xF3, 5),
        (0xF6,),
    ]


def test_stray_data_and_interrupted_messages_are_dropped():
    parser = MidiStreamParser()
    assert parser.feed([60, 100, 0x90, 60, 0xB0, 7, 1]) == [(0xB0, 7, 1)]


def test_parsed_stream_decodes_like_separate_messages():
    parser = MidiStreamParser()
    decoder = MidiDecoder([NoteOn(1), ControlChange(1, 1)])
    updates = [decoder.decode(m) for m in parser.feed([0x90, 60, 100, 0xF8, 72, 0, 0xB0, 1, 127])]
    assert updates == [[(0, 60 / 127)], None, None, [(1, 1.0)]]
