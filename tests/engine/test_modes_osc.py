"""The engine end to end over real OSC sockets on 127.0.0.1, in each mode.

The exact timing of every mode is tested on a manual clock in
``test_timing.py``; these runs check the same modes through real sockets,
the real loop and a model on a worker thread.

impsy runs in this process on its own event loop (the loop `impsy run` uses),
with the bundled dimension-9 model; a real UDP peer plays the controller and
the synth.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from impsy.app import RunOptions, build
from impsy.config import load_config_text
from impsy.engine import loop as impsy_loop
from impsy.io.osc import encode_message
from tests.osc_client import OscPeer, free_udp_port
from tests.paths import ROOT

MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
GESTURE = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]


def make_config(mode: str, server: int, client: int, **extra: str) -> object:
    interaction = {"mode": f'"{mode}"', "threshold": "0.15", "input_thru": "false"}
    interaction.update(extra)
    lines = "\n".join(f"{k} = {v}" for k, v in interaction.items())
    text = f"""
log_input = true
log_predictions = true
[interaction]
{lines}
[model]
dimension = 9
file = "{MODEL}"
timescale = 0.05
seed = 7
[osc]
server_ip = "127.0.0.1"
server_port = {server}
client_ip = "127.0.0.1"
client_port = {client}
"""
    return load_config_text(text, "test.toml")


def play(
    mode: str,
    scenario,  # noqa: ANN001
    tmp_path: Path,
    threaded: bool | None = None,
    setup=None,  # noqa: ANN001
    **extra: str,
):  # noqa: ANN201
    """Run impsy in ``mode`` with a peer, then ``await scenario(engine, peer)``.

    ``setup(performance)`` runs once it is built, before it starts.
    """
    return play_config(
        lambda server, client: make_config(mode, server, client, **extra),
        scenario,
        tmp_path,
        threaded,
        setup,
    )


def play_config(
    make,  # noqa: ANN001
    scenario,  # noqa: ANN001
    tmp_path: Path,
    threaded: bool | None = None,
    setup=None,  # noqa: ANN001
):  # noqa: ANN201
    """``play`` with the config ``make(server_port, client_port)`` builds."""

    async def main():  # noqa: ANN202
        server, client = free_udp_port(), free_udp_port()
        config = make(server, client)
        performance = build(config, RunOptions(logdir=tmp_path, threaded_model=threaded))
        if setup is not None:
            setup(performance)
        engine = performance.engine
        await performance.start()
        peer = await OscPeer.open(client, server)
        try:
            return await scenario(engine, peer)
        finally:
            peer.close()
            await engine.stop()

    return impsy_loop.run(main())


def log_rows(tmp_path: Path) -> list[list[str]]:
    (log_file,) = tmp_path.glob("*-9d-mdrnn.log")
    return [line.split(",") for line in log_file.read_text().splitlines()]


def test_callresponse_model_answers_after_silence_and_stops_when_user_plays(tmp_path):
    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        for _ in range(3):
            peer.send("/interface", *GESTURE)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)
        assert peer.messages("/impsy") == [], "the model must not answer while the user plays"
        await peer.wait_for("/impsy", 3, timeout=2.0)  # threshold passed: the model responds
        assert engine.responding
        peer.send("/interface", *GESTURE)
        await asyncio.sleep(0.05)
        assert not engine.responding, "the user's gesture takes the floor back at once"
        count = len(peer.messages("/impsy"))
        await asyncio.sleep(0.08)  # shorter than the threshold: the model stays silent
        assert len(peer.messages("/impsy")) == count
        return True

    assert play("callresponse", scenario, tmp_path)
    rows = log_rows(tmp_path)
    assert [r[1] for r in rows].count("interface") == 4
    assert all(len(r) == 10 for r in rows)


def test_polyphony_answers_each_gesture_once(tmp_path):
    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        for _ in range(5):
            peer.send("/interface", *GESTURE)
            await asyncio.sleep(0.05)
        await peer.wait_for("/impsy", 5)
        await asyncio.sleep(0.3)
        return len(peer.messages("/impsy"))

    assert play("filter", scenario, tmp_path) == 5  # "filter" is the design's name


def test_battle_model_plays_alone_and_user_is_logged(tmp_path):
    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        await peer.wait_for("/impsy", 5)  # nobody played: the model improvises
        peer.send("/interface", *GESTURE)
        await asyncio.sleep(0.05)
        return engine.status()

    status = play("independent", scenario, tmp_path)
    assert status["mode"] == "battle"
    sources = [r[1] for r in log_rows(tmp_path)]
    assert sources.count("interface") == 1
    assert sources.count("rnn") >= 5


def test_useronly_logs_and_never_predicts(tmp_path):
    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        for _ in range(4):
            peer.send("/interface", *GESTURE)
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.4)
        return peer.messages("/impsy"), engine.counters.predictions

    sent, predictions = play("useronly", scenario, tmp_path)
    assert sent == [] and predictions == 0
    rows = log_rows(tmp_path)
    assert len(rows) == 4
    assert [float(v) for v in rows[0][2:]] == pytest.approx(GESTURE)


def test_input_thru_echoes_the_gesture(tmp_path):
    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        peer.send("/interface", *GESTURE)
        return (await peer.wait_for("/impsy", 1))[0]

    echoed = play("useronly", scenario, tmp_path, input_thru="true")
    assert echoed == pytest.approx(GESTURE, abs=1e-6)


def test_commands_change_settings_and_status_reports_them(tmp_path):
    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        peer.send("/impsy/mode", "polyphony")
        peer.send("/impsy/timescale", 0.5)
        peer.send("/impsy/threshold", 0.4)
        peer.send("/impsy/pitemp", 1.3)
        peer.send("/impsy/sigmatemp", 0.05)
        peer.send("/impsy/reset", 1)
        status = await peer.status()
        assert engine.model.pi_temp == pytest.approx(1.3)
        assert engine.model.sigma_temp == pytest.approx(0.05)
        peer.send("/impsy/pause", 1)
        paused = await peer.status()
        peer.send("/interface", *GESTURE)
        await asyncio.sleep(0.3)
        silent_while_paused = peer.messages("/impsy") == []
        peer.send("/impsy/pause", 0)
        peer.send("/interface", *GESTURE)
        await peer.wait_for("/impsy", 1)
        return status, paused, silent_while_paused

    status, paused, silent = play("callresponse", scenario, tmp_path)
    assert status["mode"] == "polyphony"
    assert status["timescale"] == pytest.approx(0.5)
    assert status["threshold"] == pytest.approx(0.4)
    assert status["pitemp"] == pytest.approx(1.3)
    assert status["dimension"] == 9
    assert status["model"].endswith(".tflite")
    assert paused["paused"] == 1
    assert silent


def test_bad_datagrams_are_counted_not_logged_and_do_not_stop_the_server(tmp_path):
    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        peer.send_raw(b"\x00garbage that is not OSC")
        peer.send("/interface", 0.1, 0.2)  # wrong count
        peer.send("/interface", *GESTURE[:-1], "loud")  # a string among the numbers
        peer.send("/impsy/mode", "jazz")  # unknown mode
        peer.send("/impsy/timescale", -1.0)  # not positive
        peer.send("/nowhere", 1.0)
        peer.send("/interface", *GESTURE[:-1], float("nan"))  # would poison the model and log
        peer.send_raw(encode_message("/interface", GESTURE))  # a good one after all that
        status = await peer.status()
        return status

    status = play("useronly", scenario, tmp_path)
    assert status["bad_input"] == 7
    assert status["events_in"] == 1
    assert status["mode"] == "useronly"
    assert status["timescale"] == pytest.approx(0.05)
    assert len(log_rows(tmp_path)) == 1


def test_wild_numbers_in_interface_are_clipped_counted_and_logged_in_range(tmp_path):
    """A 64-bit integer and a huge float are valid OSC but not values in [0, 1]."""

    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        peer.send("/interface", -9_200_000_000_000_000_000, 1e30, *GESTURE[2:])
        return await peer.status()

    status = play("useronly", scenario, tmp_path)
    assert (status["events_in"], status["clipped_input"], status["bad_input"]) == (1, 1, 0)
    (row,) = log_rows(tmp_path)
    assert [float(v) for v in row[2:]] == pytest.approx([0.0, 1.0, *GESTURE[2:]], abs=1e-6)


def test_callresponse_release_stops_the_player_before_next_deadline(tmp_path):
    """After the user takes over, nothing the model had queued is played."""

    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        peer.send("/interface", *GESTURE)
        await peer.wait_for("/impsy", 2)
        peer.send("/interface", *GESTURE)
        await asyncio.sleep(0.01)
        count = len(peer.messages("/impsy"))
        await asyncio.sleep(0.1)
        return count, len(peer.messages("/impsy"))

    before, after = play("callresponse", scenario, tmp_path)
    assert before == after


@pytest.mark.parametrize("mode", ["polyphony", "callresponse", "battle"])
def test_model_on_a_worker_thread_plays_in_every_mode(mode, tmp_path):
    """Big models run off the loop; the routing must be the same as inline."""

    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        assert engine.predictor.threaded
        peer.send("/interface", *GESTURE)
        await asyncio.sleep(0.02)
        peer.send("/interface", *GESTURE)  # polyphony answers each gesture once
        await peer.wait_for("/impsy", 2)
        return engine.counters.model_errors

    assert play(mode, scenario, tmp_path, threaded=True) == 0


def test_a_model_on_a_worker_thread_plays_on_through_replanning(tmp_path):
    """Temperature changes while predictions are on the worker thread: each drops what was
    predicted ahead and goes back to the state of the music; the playing goes on."""

    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        assert engine.predictor.threaded
        await peer.wait_for("/impsy", 5)
        for i in range(40):
            engine.set_pitemp(0.5 + (i % 2) * 0.5)
            await asyncio.sleep(0.003)
        played = len(peer.messages("/impsy"))
        await peer.wait_for("/impsy", played + 5)
        return engine.counters.model_errors

    assert play("battle", scenario, tmp_path, threaded=True) == 0


def test_input_arriving_while_stopping_does_not_restart_the_model(tmp_path):
    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        stopping = asyncio.ensure_future(engine.stop())
        await asyncio.sleep(0)  # stop has begun; adapters are closing
        engine.user_values(GESTURE)
        await stopping
        await asyncio.sleep(0.3)  # longer than the threshold: no hand-over may happen
        return engine.counters.events_in, engine.responding, engine.player.running

    events, responding, player = play("callresponse", scenario, tmp_path)
    assert (events, responding, player) == (0, False, False)


def test_accompany_answers_each_gesture_at_once_keeping_the_human_values(tmp_path):
    """Over real OSC: a gesture comes back at once as one output whose human dimensions
    are the gesture's, a live range change applies to the very next output, and the
    surprise meter reports each gesture to the client as ``/impsy/surprise f``. The
    gesture's log row is written after the answer has left, but it is on disk by the
    time the answer arrives (so before the next gesture), each before its answer's row."""

    async def scenario(engine, peer):  # noqa: ANN001, ANN202
        peer.send("/impsy/role", 1, "human")
        peer.send("/impsy/role", 2, "human")
        peer.send("/impsy/surprise", 1)
        outputs, on_disk = [], []
        for k in range(6):
            gesture = [0.2 + 0.1 * k, 0.7 - 0.1 * k, *GESTURE[2:]]
            if k == 3:
                peer.send("/impsy/range", 3, 0.9, 0.95)
            sent = asyncio.get_running_loop().time()
            peer.send("/interface", *gesture)
            (reply,) = (await peer.wait_for("/impsy", k + 1))[k:]
            outputs.append((gesture, reply, asyncio.get_running_loop().time() - sent))
            on_disk.append([r[1] for r in log_rows(tmp_path)].count("interface"))
            await asyncio.sleep(0.03)
        await peer.wait_for("/impsy/surprise", 4)
        steering = await peer.reply("/impsy/steering")
        return outputs, on_disk, peer.messages("/impsy/surprise"), steering, engine.status()

    outputs, on_disk, surprises, steering, status = play("accompany", scenario, tmp_path)
    assert on_disk == [1, 2, 3, 4, 5, 6], "each gesture's row is on disk when its answer is in"
    for k, (gesture, reply, _) in enumerate(outputs):
        assert reply[:2] == pytest.approx(gesture[:2], abs=1e-7), "the human values come back"
        if k >= 3:
            assert 0.9 - 1e-7 <= reply[2] <= 0.95 + 1e-7, "the range applies to the next output"
    assert max(wait for _, _, wait in outputs) < 0.5
    assert len(surprises) == 4 and all(len(s) == 1 and isinstance(s[0], float) for s in surprises)
    assert steering["role1"] == "human" and steering["low3"] == pytest.approx(0.9)
    assert status["mode"] == "accompany" and status["outputs"] == 6
    sources = [r[1] for r in log_rows(tmp_path)]
    assert sources == ["interface", "rnn"] * 6, "each gesture's row, then its answer's"
    (telemetry,) = tmp_path.glob("*.telemetry.csv")
    assert len(telemetry.read_text().splitlines()) == 4
