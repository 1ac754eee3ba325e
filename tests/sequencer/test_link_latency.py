"""Latency offsets per output: notes leave early by their output's offset, exactly.

``[sequencer] latency_ms`` names outputs (a MIDI port, or "osc") and how long
their notes take to sound at the far end. The transport runs every event
early by the largest offset, and each output sends at its own offset before
the musical deadline, so every note lands on the beat where it is heard.
``ManualClock`` fires each callback at its own deadline, so the times below
are where the sequencer scheduled them, to the nanosecond.
"""

from __future__ import annotations

import pytest

from impsy.config import ConfigError, load_config_text
from impsy.sequencer import midiclock
from impsy.sequencer.pattern import Track
from impsy.sequencer.sequencer import START_DELAY_S
from tests.sequencer.test_transport import NOTE_OFF, NOTE_ON, T0, make

STEP_S = 0.125
"""A 16th at 120 BPM."""
OSC_LEAD, SYNTH_LEAD = 0.010, 0.004


def first_step_track(name: str, port: str, note: int) -> Track:
    track = Track.empty(name, 16, port=port)
    step = track.steps[0]
    step.on, step.notes, step.gate = True, (note,), 1.0
    return track


def two_outputs() -> tuple:
    seq, clock, rec = make(
        first_step_track("drums", "osc", 36), first_step_track("bass", "Synth", 40), tempo=120
    )
    seq.set_latency({"osc": OSC_LEAD, "Synth": SYNTH_LEAD})
    return seq, clock, rec


def times(rec, kind: int) -> dict[int, float]:  # noqa: ANN001
    """Track index -> when its first message of ``kind`` left."""
    found: dict[int, float] = {}
    for when, index, message in rec.events:
        if message[0] & 0xF0 == kind:
            found.setdefault(index, when)
    return found


def test_each_output_sends_its_offset_before_the_beat_and_ends_its_notes_alike() -> None:
    seq, clock, rec = two_outputs()
    seq.start()
    clock.advance(0.2)
    beat = T0 + START_DELAY_S + OSC_LEAD  # the start leaves room for the largest offset
    assert seq.timeline.time_at(0) == pytest.approx(beat, abs=1e-12)
    on, off = times(rec, NOTE_ON), times(rec, NOTE_OFF)
    assert on[0] == pytest.approx(beat - OSC_LEAD, abs=1e-12)
    assert on[1] == pytest.approx(beat - SYNTH_LEAD, abs=1e-12)
    # A one-step gate: each note lasts a step at its far end too.
    assert off[0] - on[0] == pytest.approx(STEP_S, abs=1e-12)
    assert off[1] - on[1] == pytest.approx(STEP_S, abs=1e-12)
    assert seq.lateness.max_s == 0.0, "each send is timed against its own early deadline"


def test_without_offsets_notes_leave_on_the_beat() -> None:
    seq, clock, rec = make(first_step_track("drums", "osc", 36), tempo=120)
    seq.set_latency({"osc": 0.0})
    seq.start()
    clock.advance(0.1)
    assert times(rec, NOTE_ON)[0] == pytest.approx(T0 + START_DELAY_S, abs=1e-12)


def test_a_stop_before_an_output_with_a_smaller_offset_sends_drops_its_note() -> None:
    seq, clock, rec = two_outputs()
    seq.start()
    beat = T0 + START_DELAY_S + OSC_LEAD
    clock.run_until(beat - OSC_LEAD)  # the step ran: drums sent, bass waits 6 ms
    assert set(times(rec, NOTE_ON)) == {0}
    seq.stop()
    clock.advance(1.0)
    assert set(times(rec, NOTE_ON)) == {0}, "the bass note waiting for its time is dropped"


def test_the_models_notes_leave_their_outputs_offset_early() -> None:
    seq, clock, rec = make(Track.empty("model", 16, port="osc"), tempo=120, model_track=0)
    seq.set_latency({"osc": OSC_LEAD})
    seq.start()
    clock.advance(0.2)  # the grid runs; a prediction arrives between two steps
    now = clock.now()
    boundary, _ = seq.transport.next_boundary(0, now)
    seq.place_model_note((60,), 100)
    clock.advance(0.5)
    assert times(rec, NOTE_ON)[0] == pytest.approx(boundary - OSC_LEAD, abs=1e-12)


def test_a_note_played_at_once_is_not_shortened_by_the_offset() -> None:
    """Stopped, a prediction sounds at once: it cannot leave early, and lasts its gate."""
    seq, clock, rec = make(Track.empty("model", 16, port="osc"), tempo=120, model_track=0)
    seq.set_latency({"osc": OSC_LEAD})
    seq.place_model_note((60,), 100)
    clock.advance(1.0)
    (on, _), (off, _) = rec.ons()[0], rec.offs()[0]
    assert on == T0 and off - on == pytest.approx(STEP_S, abs=1e-12)


def test_midi_clock_ticks_leave_their_ports_offset_early() -> None:
    seq, clock, rec = make(first_step_track("drums", "osc", 36), tempo=120, clock_source="master")
    seq.set_latency({"osc": OSC_LEAD, "Volca": 0.002}, clock_ports=("Volca",))
    seq.start()
    clock.advance(0.1)
    beat = T0 + START_DELAY_S + OSC_LEAD
    ticks = [t for t, m in rec.clock_messages if m == [midiclock.CLOCK]]
    tick_s = STEP_S / 6
    assert ticks[:3] == pytest.approx([beat - 0.002 + k * tick_s for k in range(3)], abs=1e-12)
    assert times(rec, NOTE_ON)[0] == pytest.approx(beat - OSC_LEAD, abs=1e-12)
    assert seq.transport.clock_lateness.max_s == 0.0


def test_latency_ms_is_read_by_output_and_checked() -> None:
    text = """
[sequencer]
tracks = [{ name = "drums", port = "osc" }, { name = "bass", port = "Synth" }]
latency_ms = { osc = 12, "Synth" = 4.5 }
"""
    config = load_config_text(text, "t.toml")
    assert dict(config.sequencer.latency_ms) == {"osc": 12.0, "Synth": 4.5}
    assert config.warnings == ()
    with pytest.raises(ConfigError, match=r'latency_ms\."osc": expected milliseconds 0-500'):
        load_config_text("[sequencer]\nlatency_ms = { osc = -1 }\n", "t.toml")
    with pytest.raises(ConfigError, match="latency_ms: expected a table like"):
        load_config_text("[sequencer]\nlatency_ms = 5\n", "t.toml")
    warned = load_config_text('[sequencer]\nlatency_ms = { "Nord" = 3 }\n', "t.toml").warnings
    assert len(warned) == 1 and 'no track plays through "Nord"' in warned[0]


def test_the_adapter_hands_the_offsets_to_the_sequencer_in_seconds() -> None:
    from impsy.app import build_sequencer
    from impsy.engine.table import CommandTable

    text = """
[sequencer]
clock = "master"
clock_out = ["Volca"]
tracks = [{ name = "drums", port = "osc" }]
latency_ms = { osc = 12, "Volca" = 3 }
"""
    config = load_config_text(text, "t.toml").sequencer
    seq = build_sequencer(config, 9, CommandTable()).sequencer
    assert seq.voices.leads == {"osc": 0.012, "Volca": 0.003}
    assert (seq.transport.lead_s, seq.transport.clock_lead_s) == (0.012, 0.003)
