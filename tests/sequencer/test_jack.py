"""The sequencer over real JACK MIDI ports: notes out, clock out, clock in.

Uses the session's JACK server (``tests/conftest.py``). A "synth" records
what impsy plays; a "controller" plays the part of a clock master. As in
``tests/io/test_midi_jack.py``, new connections are probed until JACK
carries them, and the tests compare order and values, not latencies.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import mido
import pytest

from impsy.app import RunOptions, build, build_sequencer
from impsy.config import load_config_text
from impsy.engine import loop as impsy_loop
from impsy.engine.commands import ENGINE_COMMANDS
from impsy.engine.table import CommandTable
from impsy.sequencer import midiclock
from impsy.sequencer.adapter import SequencerAdapter
from impsy.sequencer.files.storage import save_bank
from impsy.sequencer.pattern import Bank, Pattern, Track
from tests.io.test_midi_jack import note_ons, play, sounding, until

PROBES = itertools.count(1000)
NOTE_ON = 0x90


def run(sequencer: str, scenario, tmp_path: Path):  # noqa: ANN001, ANN201
    config = load_config_text(
        f'log_input = false\n[interaction]\nmode = "useronly"\n[sequencer]\n{sequencer}\n',
        "seq.toml",
    )

    def wired(engine):  # noqa: ANN001, ANN202 - the sequencer as impsy.app builds it
        commands = CommandTable()
        commands.register(ENGINE_COMMANDS, engine)
        return build_sequencer(config.sequencer, engine.dimension, commands)

    return play(config, scenario, tmp_path, wired)


async def carried(adapter: SequencerAdapter, key: str, synth) -> None:  # noqa: ANN001
    """Probe impsy's output ``key`` until ``synth`` hears it, then forget the probes."""
    sent: list[list[int]] = []

    def probe() -> None:
        sent.append(mido.Message("songpos", pos=next(PROBES)).bytes())
        adapter._outputs[key].midi.send_message(sent[-1])

    await until(lambda: adapter._outputs[key].midi is not None, timeout=5.0)
    await until(lambda: sent[-1] in synth.received(), resend=probe)
    synth.messages.clear()


def test_notes_arrive_in_order_with_note_offs(jack, tmp_path) -> None:
    synth = jack.synth("seq-synth")
    sequencer = 'tempo = 300\ntracks = [{ name = "lead", port = "seq-synth", channel = 2 }]'

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        seq = adapter.sequencer
        await carried(adapter, "seq-synth", synth)
        for step, note in enumerate((60, 62, 64, 65)):
            seq.set_step(0, step * 4, on=True, notes=note, velocity=100 - step)
        seq.start()
        await synth.wait_for(lambda m: len(note_ons(m)) >= 8, timeout=5.0)
        seq.stop()
        return await synth.settle()

    messages = run(sequencer, scenario, tmp_path)
    ons = note_ons(messages)
    assert [m[1] for m in ons[:8]] == [60, 62, 64, 65] * 2
    assert ons[0] == [0x91, 60, 100]  # channel 2
    # each note ends before the next starts (gate half a step), and nothing hangs
    for first, second in itertools.pairwise([m for m in messages if m[0] & 0xF0 in (0x80, 0x90)]):
        if first[0] & 0xF0 == NOTE_ON and first[2] > 0:
            assert second[1] == first[1] and (second[0] & 0xF0 == 0x80 or second[2] == 0)
    assert sounding(messages) == set()


def test_a_port_first_named_by_a_bank_loaded_mid_run_is_opened(jack, tmp_path) -> None:
    """The config's only track plays over OSC (no MIDI ports at start); a bank loaded
    while running names a JACK synth, which then hears the pattern, no restart."""
    synth = jack.synth("seq-late-bank")
    track = Track.empty("bass", 16)
    track.port, track.channel = "seq-late-bank", 3
    bank_file = tmp_path / "later.json"
    save_bank(Bank([Pattern("B", [track])]), bank_file)

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        assert adapter.ports is None, "nothing to open at start"
        adapter.files.load(str(bank_file))
        await carried(adapter, "seq-late-bank", synth)
        seq = adapter.sequencer
        seq.set_step(0, 0, on=True, notes=40, velocity=90)
        seq.start()
        await synth.wait_for(lambda m: len(note_ons(m)) >= 2, timeout=5.0)
        seq.stop()
        return await synth.settle()

    messages = run("tempo = 300", scenario, tmp_path)
    assert note_ons(messages)[:2] == [[0x92, 40, 90]] * 2  # channel 3
    assert sounding(messages) == set()


def test_clock_master_is_received_by_a_port(jack, tmp_path) -> None:
    receiver = jack.synth("seq-clock-rx")
    sequencer = 'tempo = 150\nclock = "master"\nclock_out = ["seq-clock-rx"]'

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        seq = adapter.sequencer
        await carried(adapter, "seq-clock-rx", receiver)
        seq.start()
        await receiver.wait_for(lambda m: m.count([midiclock.CLOCK]) >= 48, timeout=5.0)
        seq.stop()
        seq.continue_()
        await asyncio.sleep(0.05)
        seq.stop()
        return await receiver.settle(), seq.snapshot()["clock"]

    messages, clock = run(sequencer, scenario, tmp_path)
    assert messages[0] == [midiclock.START]
    assert messages[1] == [midiclock.CLOCK]
    stop = messages.index([midiclock.STOP])
    assert stop >= 49 and all(m == [midiclock.CLOCK] for m in messages[1:stop])
    assert messages[stop + 1][0] == midiclock.SONG_POSITION
    assert messages[stop + 2] == [midiclock.CONTINUE]
    assert messages[-1] == [midiclock.STOP]
    assert clock["source"] == "master" and clock["lateness"]["count"] >= 48


@pytest.mark.alone  # the test's master times its ticks on this loop (see test_tempo_log)
def test_follows_a_clock_master_tempo_and_song_position(jack, tmp_path) -> None:
    master = jack.controller("seq-master")
    synth = jack.synth("seq-follow-synth")
    notes = ", ".join(f"{{ on = true, notes = [{40 + i}] }}" for i in range(16))
    bank = tmp_path / "bank.toml"
    bank.write_text(
        'song = []\n[[patterns]]\nname = "p"\n[[patterns.tracks]]\nname = "t"\n'
        f'port = "seq-follow-synth"\nsteps = [{notes}]\n'
    )
    sequencer = f'clock = "follow"\nclock_in = "seq-master"\npatterns = "{bank}"'

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        seq = adapter.sequencer
        await carried(adapter, "seq-follow-synth", synth)
        await until(lambda: adapter._clock_in.midi is not None, timeout=5.0)
        before = seq.clock_messages_in
        await until(  # the connection from the master carries messages
            lambda: seq.clock_messages_in > before,
            resend=lambda: master.send(mido.Message("songpos", pos=0)),
        )
        master.send(mido.Message("songpos", pos=6))  # step 6
        master.send(mido.Message("continue"))
        loop = asyncio.get_running_loop()
        tick_s = 60 / (100 * 24)  # 100 BPM
        start = loop.time()
        for n in range(24 * 6):  # six beats
            delay = start + n * tick_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            master.send(mido.Message("clock"))
        estimate = seq.snapshot()["clock"]["bpm_estimate"]
        master.send(mido.Message("stop"))
        await until(lambda: not seq.playing)
        return estimate, await synth.settle()

    estimate, messages = run(sequencer, scenario, tmp_path)
    assert abs(estimate - 100) / 100 < 0.03
    played = [m[1] for m in note_ons(messages)]
    assert played[:4] == [46, 47, 48, 49]  # from step 6 on, in order
    assert sounding(messages) == set()


def test_follows_the_clock_of_a_midi_adapter_input(jack, tmp_path) -> None:
    master = jack.controller("seq-master-midi")
    mapping = '[["note_on", 1], ["note_velocity", 1]' + ', ["control_change", 1, 1]' * 6 + "]"
    config = load_config_text(
        f"""log_input = false
[interaction]
mode = "useronly"
[midi]
in_device = ["seq-master-midi"]
input."seq-master-midi" = {mapping}
[sequencer]
clock = "follow"
""",
        "seq.toml",
    )

    async def main():  # noqa: ANN202
        performance = build(config, RunOptions(logdir=tmp_path))
        engine = performance.engine
        await performance.start()
        seq = engine.adapters[-1].sequencer
        try:
            await until(  # the connection from the master carries messages
                lambda: seq.clock_messages_in > 0,
                resend=lambda: master.send(mido.Message("songpos", pos=0)),
            )
            master.send(mido.Message("start"))
            await until(lambda: seq.playing)
            for _ in range(12):
                master.send(mido.Message("clock"))
            await until(lambda: seq.playhead == 1)  # ticks 0 and 6: steps 0 and 1
            master.send(mido.Message("stop"))
            await until(lambda: not seq.playing)
            return True
        finally:
            await engine.stop()

    assert impsy_loop.run(main())


def test_a_configured_controller_edits_steps(jack, tmp_path) -> None:
    pads = jack.controller("seq-pads")
    sequencer = 'controllers = [{ profile = "generic", in_device = "seq-pads" }]'

    async def scenario(engine, adapter):  # noqa: ANN001, ANN202
        (controller,) = adapter.controllers
        assert "generic" in adapter.describe()
        steps = adapter.sequencer.pattern.tracks[0].steps
        await until(lambda: controller.input.midi is not None, timeout=5.0)
        # "CC 20 on channel 16 selects a track" (track 0: harmless) until JACK carries it
        await until(lambda: controller.fired > 0, resend=lambda: pads.send([0xBF, 20, 0]))
        # then pad 38 on channel 10 toggles step 2
        pads.send(mido.Message("note_on", channel=9, note=38, velocity=100))
        await until(lambda: adapter.sequencer.pattern.tracks[0].steps[2].on)
        return [i for i, s in enumerate(steps) if s.on]

    assert run(sequencer, scenario, tmp_path) == [2]
