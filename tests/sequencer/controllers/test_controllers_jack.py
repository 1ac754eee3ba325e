"""A controller driving the real sequencer over real JACK MIDI ports.

The sequencer is SEQ-A's real ``impsy.sequencer.sequencer.Sequencer`` on
impsy's event loop (its clock is the loop's); the "controller" is a JACK
client with a MIDI output (its pads and buttons) and a JACK client with a
MIDI input (its LEDs), see ``tests/jack.py``. ``ControllerPort`` connects to
both by name, as it would to a Launchpad. Nothing is faked; the tests wait
for events rather than assert latencies.
"""

from __future__ import annotations

import asyncio
import logging

import mido

from impsy.clock import LoopClock
from impsy.engine import loop as impsy_loop
from impsy.engine.table import CommandTable
from impsy.sequencer.commands import SEQUENCER_COMMANDS
from impsy.sequencer.controllers.port import ControllerPort, load_profile
from impsy.sequencer.pattern import Bank, Pattern, Track
from impsy.sequencer.sequencer import Sequencer
from tests.io.test_midi_jack import until

NOTE_ON, CC = 0x90, 0xB0


def sequencer() -> Sequencer:
    bank = Bank([Pattern("A", [Track.empty("drums", 16), Track.empty("bass", 16)])])
    return Sequencer(bank, LoopClock(asyncio.get_running_loop()), lambda *args: None)


def table(seq: Sequencer) -> CommandTable:
    """The sequencer's rows, as a run registers them: what the controller's rules run."""
    commands = CommandTable()
    commands.register(SEQUENCER_COMMANDS, seq)
    return commands


def run(scenario):  # noqa: ANN001, ANN201
    return impsy_loop.run(scenario())


def test_a_launchpad_pad_toggles_a_step_and_its_led_comes_back(jack):
    pads, leds = jack.controller("lp-pads"), jack.synth("lp-leds")

    async def scenario():  # noqa: ANN202
        seq = sequencer()
        port = ControllerPort(
            load_profile("launchpad"), seq, table(seq), None, pads.name, leds.name
        )
        await port.start()
        try:
            assert port.input.device == pads.name and port.output.device == leds.name
            # on connect: programmer mode, the whole grid, the 8 track buttons and play
            refresh = await leds.wait_for(lambda m: len(m) >= 74)
            assert refresh[0] == [0xF0, 0, 32, 41, 2, 12, 14, 1, 0xF7]
            assert [0x90, 81, 0] in refresh and [0xB0, 89, 5] in refresh
            # JACK applies a new connection a period or two later: the first
            # side-button press (select track 1, already selected) confirms it
            await until(
                lambda: port.fired > 0,
                resend=lambda: pads.send(mido.Message("control_change", control=89, value=127)),
            )
            leds.messages.clear()
            pads.send(mido.Message("note_on", note=71, velocity=127))  # row 2, column 1
            await until(lambda: seq.pattern.tracks[0].steps[8].on)
            lit = await leds.wait_for(lambda m: [0x90, 71, 21] in m)
            assert [0x90, 71, 21] in lit, "step 9 is lit green"
            pads.send(mido.Message("note_on", note=71, velocity=0))  # release: no toggle
            pads.send(mido.Message("control_change", control=79, value=127))  # track 2
            await until(lambda: seq.selected_track == 1)
            switched = await leds.wait_for(lambda m: [0x90, 71, 0] in m and [0xB0, 79, 5] in m)
            assert seq.pattern.tracks[0].steps[8].on, "the release toggled nothing"
            assert [0x90, 71, 0] in switched, "track 2's step 9 is off"
            assert [0xB0, 79, 5] in switched and [0xB0, 89, 1] in switched
            return port.describe()
        finally:
            await port.stop()

    description = run(scenario)
    assert "'launchpad'" in description and "lp-pads" in description
    final = leds.settled()
    assert [0xB0, 79, 0] in final[final.index([0xB0, 79, 5]) :], "stopping darkens the buttons"


def test_a_missing_controller_is_reported_and_connected_when_it_appears(jack, caplog):
    caplog.set_level(logging.WARNING, logger="impsy")

    async def scenario():  # noqa: ANN202
        seq = sequencer()
        port = ControllerPort(
            load_profile("generic"), seq, table(seq), None, "late-pads:out", check_interval=0.05
        )
        await port.start()
        try:
            assert "(waiting)" in port.describe()
            assert port.health()["missing_ports"] == ["late-pads:out"]
            pads = jack.controller("late-pads")
            await until(lambda: port.input.device == pads.name)
            assert port.health()["state"] == "open"
            select_first_track = mido.Message("control_change", channel=15, control=20, value=0)
            await until(lambda: port.fired > 0, resend=lambda: pads.send(select_first_track))
            pads.send(mido.Message("note_on", channel=9, note=38, velocity=100))
            await until(lambda: seq.pattern.tracks[0].steps[2].on)
        finally:
            await port.stop()

    run(scenario)
    assert "MIDI input 'late-pads:out' not found" in caplog.text


def test_leds_plugged_in_later_get_the_current_state(jack):
    pads = jack.controller("later-pads")

    async def scenario():  # noqa: ANN202
        seq = sequencer()
        port = ControllerPort(
            load_profile("launchpad"),
            seq,
            table(seq),
            None,
            pads.name,
            "later-leds:in",
            check_interval=0.05,
        )
        await port.start()
        try:
            seq.toggle_step(0, 2)  # edited while the LED output is missing
            leds = jack.synth("later-leds")
            await until(lambda: port.output.device == leds.name)
            refresh = await leds.wait_for(lambda m: len(m) >= 74)
            return refresh[:74]
        finally:
            await port.stop()

    refresh = run(scenario)
    assert [0x90, 83, 21] in refresh, "step 3, switched on before the LEDs appeared, is lit"
    assert [0x90, 82, 0] in refresh
