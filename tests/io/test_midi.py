"""The MIDI adapter's pure parts: port matching, API choice, feedback rule, message checks.

End-to-end behaviour over real ports is in ``test_io_midi_jack.py``.
"""

from __future__ import annotations

import pytest
import rtmidi

from impsy.errors import ImpsyError
from impsy.io.midi.backend import API_ENV, selected_api
from impsy.io.midi.feedback import FeedbackGuard
from impsy.io.midi.messages import SoundingNotes, is_transport, malformed
from impsy.io.midi.ports import match_port

# ------------------------------------------------------------ port names

DEVICES = ["Midi Through:Midi Through Port-0 14:0", "X-TOUCH MINI:X-TOUCH MINI MIDI 1 24:0"]


def test_an_exact_port_name_wins():
    names = ["X-TOUCH MINI 2:out", "X-TOUCH MINI"]
    assert match_port("X-TOUCH MINI", names) == "X-TOUCH MINI"


def test_otherwise_the_first_port_containing_the_name():
    assert match_port("X-TOUCH", DEVICES) == DEVICES[1]
    assert match_port("Midi", DEVICES) == DEVICES[0]


def test_no_match_is_none():
    assert match_port("Keystation", DEVICES) is None
    assert match_port("x-touch", DEVICES) is None, "IMPSY's match is case-sensitive"


def test_a_partial_match_never_picks_impsys_own_ports():
    names = ["impsy:to Synth", "impsy-03:to Synth", "Synth:midi_in"]
    assert match_port("Synth", names) == "Synth:midi_in"
    assert match_port("Synth", names[:2]) is None
    assert match_port("impsy:to Synth", names) == "impsy:to Synth", "an exact name is honoured"


# ------------------------------------------------------------------ API


@pytest.mark.parametrize("spelled", ["UNIX_JACK", "unix_jack", "rtmidi/UNIX_JACK", "jack"])
def test_the_api_is_chosen_by_name(spelled):
    assert selected_api(spelled) == rtmidi.API_UNIX_JACK


def test_the_api_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(API_ENV, "LINUX_ALSA")
    assert selected_api() == rtmidi.API_LINUX_ALSA
    monkeypatch.delenv(API_ENV)
    assert selected_api() == rtmidi.API_UNSPECIFIED, "unset: RtMidi's own default"


def test_an_unknown_api_is_an_error_listing_the_choices():
    with pytest.raises(ImpsyError, match=r"IMPSY_MIDI_API='PIPEWIRE' is not a MIDI API.*UNIX_JACK"):
        selected_api("PIPEWIRE")


def test_an_api_this_rtmidi_lacks_is_an_error_not_a_silent_fallback():
    missing = [
        name
        for name in ("MACOSX_CORE", "WINDOWS_MM", "LINUX_ALSA", "UNIX_JACK")
        if getattr(rtmidi, f"API_{name}") not in rtmidi.get_compiled_api()
    ]
    with pytest.raises(ImpsyError, match="has no .* support"):
        selected_api(missing[0])


# --------------------------------------------------- feedback protection


def guard(enabled: bool = True) -> FeedbackGuard:
    feedback = FeedbackGuard(enabled, threshold=0.02)
    feedback.sent("synth", [(0x80, 55, 0), (0x90, 60, 127), (0xB0, 1, 64)], when=10.0)
    return feedback


def test_the_last_note_sent_on_the_same_named_port_within_the_threshold_is_an_echo():
    feedback = guard()
    assert feedback.is_echo("synth", [0x90, 60, 100], 10.019)
    assert feedback.dropped == 1


def test_any_velocity_counts_as_in_impsy():
    assert guard().is_echo("synth", [0x90, 60, 0], 10.001)


def test_not_an_echo_after_the_threshold():
    assert not guard().is_echo("synth", [0x90, 60, 100], 10.021)


def test_not_an_echo_on_another_note_channel_or_port():
    feedback = guard()
    assert not feedback.is_echo("synth", [0x90, 61, 100], 10.001)
    assert not feedback.is_echo("synth", [0x91, 60, 100], 10.001)
    assert not feedback.is_echo("keys", [0x90, 60, 100], 10.001), "ports pair by config name"
    assert not feedback.is_echo("synth", [0xB0, 1, 64], 10.001), "only note-ons"
    assert feedback.dropped == 0


def test_any_message_sent_restarts_the_threshold_but_only_note_ons_set_the_note():
    feedback = guard()
    feedback.sent("other", [(0xB0, 7, 1)], when=10.5)
    assert feedback.is_echo("synth", [0x90, 60, 100], 10.51)


def test_off_means_nothing_is_an_echo():
    assert not guard(enabled=False).is_echo("synth", [0x90, 60, 100], 10.001)


# --------------------------------------------------------------- messages


@pytest.mark.parametrize(
    "message",
    [[0x90, 60, 100], [0xC0, 5], [0xF8], [0xF2, 1, 2], [0xF0, 1, 2, 0xF7], [0xE0, 0, 64]],
)
def test_complete_messages_are_well_formed(message):
    assert malformed(message) is None


@pytest.mark.parametrize(
    "message, reason",
    [
        ([], "empty"),
        ([60, 100], "no status byte"),
        ([0x90, 60], "wrong length"),
        ([0xC0, 5, 6], "wrong length"),
        ([0xB0, 1, 200], "data byte out of range"),
    ],
)
def test_malformed_messages_say_why(message, reason):
    assert reason in malformed(message)


def test_transport_messages():
    assert all(is_transport([status]) for status in (0xF8, 0xFA, 0xFB, 0xFC))
    assert is_transport([0xF2, 0, 0])
    assert not is_transport([0xFE]) and not is_transport([0x90, 1, 1])


def test_sounding_notes_follow_note_ons_and_offs():
    notes = SoundingNotes()
    for message in ([0x90, 60, 100], [0x91, 62, 100], [0x90, 64, 1], [0x80, 60, 0], [0x90, 64, 0]):
        notes.update(message)
    assert notes.release() == [(0x81, 62, 0)]
    assert notes.release() == []
