"""The WebSocket text format: strict parsing, and the same state as MIDI output."""

import pytest

from impsy.mapping.spec import ControlChange, NoteOn, NoteVelocity, PitchBend
from impsy.mapping.websocket import (
    WebSocketDecoder,
    WebSocketEncoder,
    midi_to_text,
    text_to_midi,
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/channel/1/noteon/60/100", (0x90, 60, 100)),
        ("/channel/16/noteoff/60/0", (0x8F, 60, 0)),
        ("/channel/2/cc/74/127", (0xB1, 74, 127)),
        ("/channel/3/pitchbend/8192", (0xE2, 0, 64)),
        ("/channel/1/pitchbend/16383", (0xE0, 127, 127)),
    ],
)
def test_strings_and_midi_messages_correspond(text, message):
    assert text_to_midi(text) == message
    assert midi_to_text(message) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/",
        "channel/1/noteon/60/100",
        "/chan/1/noteon/60/100",
        "/channel/0/noteon/60/100",
        "/channel/17/noteon/60/100",
        "/channel/x/noteon/60/100",
        "/channel/1/noteon/128/100",
        "/channel/1/noteon/60/128",
        "/channel/1/noteon/-1/100",
        "/channel/1/noteon/+60/100",
        "/channel/1/noteon/ 60/100",
        "/channel/1/noteon/６０/100",
        "/channel/1/noteon/60/100/",
        "/channel/1/noteon/60",
        "/channel/1/cc/7",
        "/channel/1/aftertouch/60/100",
        "/channel/1/pitchbend/",
        "/channel/1/pitchbend/16384",
        "/channel/1/pitchbend/-1",
        "/channel/1/pitchbend/8192/0",
    ],
)
def test_malformed_strings_are_rejected(text):
    assert text_to_midi(text) is None
    decoder = WebSocketDecoder([NoteOn(1), ControlChange(1, 7), PitchBend(1)])
    assert decoder.decode(text) is None


def test_decoder_sets_note_and_velocity_like_midi():
    decoder = WebSocketDecoder([NoteOn(2), NoteVelocity(2)])
    assert decoder.decode("/channel/2/noteon/64/32") == [(0, 64 / 127), (1, 32 / 127)]
    assert decoder.decode("/channel/2/noteon/64/0") is None
    assert decoder.decode("/channel/2/noteoff/64/32") is None


def test_messages_without_a_text_form_are_not_sent():
    assert midi_to_text((0xC0, 5)) is None
    assert midi_to_text((0xA0, 60, 10)) is None


def test_encoder_sends_note_offs_then_all_notes_off():
    encoder = WebSocketEncoder([NoteOn(1), ControlChange(1, 42), PitchBend(1)])
    assert encoder.encode([60 / 127, 1.0, 0.0]) == [
        "/channel/1/noteon/60/127",
        "/channel/1/cc/42/127",
        "/channel/1/pitchbend/0",
    ]
    assert encoder.encode([62 / 127, 1.0, 0.0]) == [
        "/channel/1/noteoff/60/0",
        "/channel/1/noteon/62/127",
    ]
    assert encoder.all_notes_off() == ["/channel/1/noteoff/62/0"]
    assert encoder.encode([62 / 127, 1.0, 0.0]) == [
        "/channel/1/noteon/62/127",
        "/channel/1/cc/42/127",
        "/channel/1/pitchbend/0",
    ]
