"""OSC time tags sent ahead (``impsy.io.osc_timetag``), over real UDP on 127.0.0.1.

impsy sends to a relay (an asyncio UDP relay on its own thread and loop)
that holds each datagram a random 0-20 ms before passing it to a receiver,
which records when it arrived (wall clock) and its time tag. The tags are
read twice: with python-osc, a standard decoder, and with ``decode`` below,
written from the OSC 1.0 specification. Each tag is compared with the
instant the event was meant for, worked out here: for the model, from the
first deadline impsy armed plus the waits its own predictions asked for (the
real model, its predictions written down, as in ``tests/engine/test_timing.py``);
for the sequencer, from the bar's start plus whole steps at the known tempo.
Wall-clock times come from this test's own reading of the loop clock against
the wall clock, not impsy's.

The numbers these runs measure (printed with ``pytest -s``) are in
``docs/timetags-section.md``.
"""

from __future__ import annotations

import asyncio
import gc
import random
import struct
import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from impsy.app import RunOptions, build
from impsy.clock import ManualClock
from impsy.config import ConfigError, load_config_text
from impsy.engine import loop as impsy_loop
from impsy.engine.core import Engine, Settings
from impsy.io.osc import OSCAdapter, encode_message
from impsy.io.osc_timetag import TimedSender, WallClock, encode_bundle, ntp_timetag
from impsy.model import load_model
from tests.engine.test_timing import waits
from tests.osc_client import free_udp_port
from tests.paths import ROOT

NTP_TO_UNIX_S = 2_208_988_800  # 1900-01-01 to 1970-01-01, from RFC 868
MAX_DELAY_S = 0.02
AHEAD_MS = 25.0
TAG_ERROR_P99_S = 0.0005


# --------------------------------------------------------------- the far end
@dataclass
class Arrival:
    data: bytes
    relayed_ns: int  # when the relay got it: when impsy sent it, give or take the loopback
    arrived_ns: int  # when the receiver got it, after the relay's random delay


class Relay:
    """A UDP relay delaying each datagram by a random 0-``max_delay_s``, then a receiver."""

    def __init__(self, max_delay_s: float = MAX_DELAY_S, seed: int = 21) -> None:
        self.max_delay_s = max_delay_s
        self.rng = random.Random(seed)
        self.arrivals: list[Arrival] = []
        self.port = 0
        self._relayed: dict[bytes, int] = {}
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> Relay:
        self._thread.start()
        assert self._ready.wait(5), "the relay did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    async def _main(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        relay = self

        class Receiver(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                arrived = time.time_ns()
                relay.arrivals.append(Arrival(data, relay._relayed.pop(data, 0), arrived))

        class Forwarder(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                relay._relayed[data] = time.time_ns()
                delay = relay.rng.uniform(0.0, relay.max_delay_s)
                loop.call_later(delay, self.transport.sendto, data, receiver)

        out, _ = await loop.create_datagram_endpoint(Receiver, local_addr=("127.0.0.1", 0))
        receiver = out.get_extra_info("sockname")
        into, _ = await loop.create_datagram_endpoint(Forwarder, local_addr=("127.0.0.1", 0))
        self.port = into.get_extra_info("sockname")[1]
        self._ready.set()
        await self._stop.wait()
        await asyncio.sleep(self.max_delay_s + 0.01)  # what is still in the relay arrives
        into.close()
        out.close()


def decode(data: bytes) -> tuple[int | None, str, list]:
    """(time tag or None for a plain message, address, arguments), per OSC 1.0."""

    def string(at: int) -> tuple[str, int]:
        end = data.index(b"\0", at)
        return data[at:end].decode(), (end + 4) & ~3

    tag = None
    if data.startswith(b"#bundle\0"):
        tag = struct.unpack_from(">Q", data, 8)[0]
        (size,) = struct.unpack_from(">i", data, 16)
        assert 20 + size == len(data), "one message per bundle"
        data = data[20:]
    address, at = string(0)
    types, at = string(at)
    args: list = []
    for kind in types[1:]:
        code = {"i": ">i", "f": ">f"}[kind]
        args.append(struct.unpack_from(code, data, at)[0])
        at += 4
    return tag, address, args


def unix_ns(tag: int) -> int:
    """A time tag as Unix nanoseconds (exact to the nanosecond)."""
    return (tag * 1_000_000_000 >> 32) - NTP_TO_UNIX_S * 1_000_000_000


def wall_offset_ns() -> int:
    """Wall clock minus loop clock (``time.monotonic``), read here independently of impsy."""
    brackets = []
    for _ in range(20):
        before, wall, after = time.monotonic_ns(), time.time_ns(), time.monotonic_ns()
        brackets.append((after - before, wall - (before + after) // 2))
    return min(brackets)[1]


def standard_decode(data: bytes) -> tuple[float, str, list]:
    """python-osc's reading of a one-message bundle: (Unix seconds, address, arguments)."""
    assert OscBundle.dgram_is_bundle(data)
    bundle = OscBundle(data)
    (message,) = list(bundle)
    return bundle.timestamp, message.address, list(message.params)


def check_standard_decoder_agrees(arrivals: list[Arrival]) -> None:
    for arrival in arrivals:
        tag, address, args = decode(arrival.data)
        assert tag is not None
        stamp, their_address, their_args = standard_decode(arrival.data)
        assert (their_address, their_args) == (address, args)
        assert abs(stamp * 1e9 - unix_ns(tag)) < 1_000  # a double holds ~0.2 µs at 1.7e9 s


def report(what: str, errors_s: np.ndarray, arrivals_s: np.ndarray, ahead_s: np.ndarray) -> None:
    print(
        f"\n{what}: {len(errors_s)} events; time-tag error p50"
        f" {np.percentile(errors_s, 50) * 1e6:.2f} µs,"
        f" p99 {np.percentile(errors_s, 99) * 1e6:.2f} µs, max {errors_s.max() * 1e6:.2f} µs;"
        f" arrival - due p1 {np.percentile(arrivals_s, 1) * 1e3:.2f} ms, p99"
        f" {np.percentile(arrivals_s, 99) * 1e3:.2f} ms (jitter p99-p1"
        f" {np.ptp(np.percentile(arrivals_s, [1, 99])) * 1e3:.2f} ms); sent ahead of due median"
        f" {np.median(ahead_s) * 1e3:.2f} ms"
    )


# --------------------------------------------------------------- the model's playing
MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"


class Written:
    """The real model, every prediction it made written down (the rest is the model's own)."""

    def __init__(self, seed: int) -> None:
        object.__setattr__(self, "model", load_model(MODEL, seed=seed))
        object.__setattr__(self, "outputs", [])

    def predict(self, x: np.ndarray) -> np.ndarray:
        y = self.model.predict(x)
        self.outputs.append(y.copy())
        return y

    def __getattr__(self, name: str) -> object:
        return getattr(self.model, name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(self.model, name, value)


def test_the_models_playing_leaves_ahead_stamped_with_its_own_schedule() -> None:
    """Battle mode through [osc] timetag_ahead_ms = 25: every event arrives as a bundle
    whose tag is the instant the model's own waits put it at (p99 within 0.5 ms), though
    the relay spreads arrivals over ~20 ms; each left about 25 ms before it was due."""
    timescale, events = 1.0, 90
    model = Written(seed=7)

    async def main() -> tuple[float, int]:
        config = load_config_text(
            f"[osc]\nserver_port = {free_udp_port()}\nclient_port = {relay.port}\n"
            f"timetag_ahead_ms = {AHEAD_MS}\n",
            "timetags.toml",
        )
        settings = Settings("battle", 0.5, timescale, False, False, False)
        engine = Engine(9, settings, model, threaded_model=False)
        # dt between 30 and 40 ms: plenty of events in a short test, each known (armed)
        # more than the look-ahead before it is due, so each can leave 25 ms early
        engine.set_range(0, 0.03, 0.04)
        osc = OSCAdapter(config.osc, 9)
        await engine.open([osc])
        # As ``impsy run`` does once everything is loaded: a full collection of the test
        # session's heap (hundreds of ms) would stall the loop and restart the timeline.
        gc.freeze()
        engine.begin()
        first_due = engine.player.next_deadline  # armed at once: the predictions run inline
        offset = wall_offset_ns()
        deadline = time.monotonic() + 6.0
        while len(relay.arrivals) < events and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await engine.stop()
        gc.unfreeze()
        return first_due, offset

    with Relay() as relay:
        first_due, offset = impsy_loop.run(main())
    assert len(relay.arrivals) >= events
    check_standard_decoder_agrees(relay.arrivals)
    # The schedule, from the model's own predictions: the first deadline impsy armed,
    # then each prediction's wait after the one before.
    due = first_due + np.concatenate(([0.0], np.cumsum(waits(model.outputs[1:], timescale))))
    played = {
        np.clip(y[1:], 0, 1).astype(np.float32).tobytes(): k for k, y in enumerate(model.outputs)
    }
    errors, late, ahead = [], [], []
    for arrival in relay.arrivals:
        tag, address, args = decode(arrival.data)
        assert address == "/impsy" and tag is not None
        k = played[np.array(args, dtype=np.float32).tobytes()]  # which prediction this is
        due_ns = round(due[k] * 1e9) + offset
        errors.append(abs(unix_ns(tag) - due_ns) / 1e9)
        late.append((arrival.arrived_ns - due_ns) / 1e9)
        ahead.append((due_ns - arrival.relayed_ns) / 1e9)
    errors_s, late_s, ahead_s = np.array(errors), np.array(late), np.array(ahead)
    report("model", errors_s, late_s, ahead_s)
    assert np.percentile(errors_s, 99) <= TAG_ERROR_P99_S
    assert np.ptp(np.percentile(late_s, [1, 99])) > 0.01, "the relay spreads arrivals"
    # Sent on the deadline due - ahead: never earlier, and on time but for a late wake-up.
    assert ahead_s.max() <= AHEAD_MS / 1000 + 1e-4
    assert np.median(ahead_s) >= AHEAD_MS / 1000 - 0.005


# --------------------------------------------------------------- the sequencer
def sequencer_config(relay_port: int, ahead_ms: float | None, mode: str = "useronly") -> object:
    ahead = f"osc_timetag_ahead_ms = {ahead_ms}" if ahead_ms is not None else ""
    return load_config_text(
        f"""
log_input = false
[interaction]
mode = "{mode}"
[model]
dimension = 9
file = "{MODEL}"
seed = 7
[osc]
server_port = {free_udp_port()}
client_port = {relay_port}
[sequencer]
tempo = 300
model_track = -1
tracks = [{{ name = "t", port = "", steps = 16, steps_per_beat = 8 }}]
{ahead}
""",
        "timetags.toml",
    )


def test_the_sequencers_osc_notes_leave_ahead_stamped_on_the_grid() -> None:
    """300 BPM, 32nd notes (25 ms), every step on: each note-on is stamped on its step and
    each note-off half a step later (p99 within 0.5 ms of the grid), one per slot, though
    arrivals spread over ~20 ms; each left about 25 ms before it was due."""
    step_s, bars = 60 / 300 / 8, 5

    async def main() -> tuple[float, int]:
        performance = build(sequencer_config(relay.port, AHEAD_MS), RunOptions())
        seq = performance.sequencer
        for step in range(16):
            seq.set_step(0, step, on=True)
        await performance.start()
        gc.freeze()  # (as above: a collection would stall the grid and skip steps)
        seq.start()
        start = seq.timeline.time_at(0)  # where the bar starts: the grid is known from here
        offset = wall_offset_ns()
        await asyncio.sleep(bars * 16 * step_s - 0.005)
        stopped_ns = time.time_ns()
        seq.stop()
        await performance.engine.stop()
        gc.unfreeze()
        return start, offset, stopped_ns

    with Relay() as relay:
        start, offset, stopped_ns = impsy_loop.run(main())
    # Stopping ends the note sounding or on its way (if one is), at once or at its
    # note-on's instant: a note-off sent after the stop.
    stamped = [a for a in relay.arrivals if a.relayed_ns < stopped_ns]
    stopping = [decode(a.data)[1:] for a in relay.arrivals if a.relayed_ns >= stopped_ns]
    assert stopping in ([], [("/impsy/seq/play", [0, 60, 0])])
    check_standard_decoder_agrees(stamped)
    slots: dict[str, list[int]] = {"on": [], "off": []}
    errors, late, ahead = [], [], []
    for arrival in stamped:
        tag, address, (track, note, velocity) = decode(arrival.data)
        assert tag is not None and address == "/impsy/seq/play" and (track, note) == (0, 60)
        kind, gate = ("on", 0.0) if velocity else ("off", 0.5)  # the default gate: half a step
        grid_s = (unix_ns(tag) - offset) / 1e9 - start - gate * step_s
        slot = round(grid_s / step_s)  # the step it belongs to; the distance is its error
        slots[kind].append(slot)
        due_ns = round((start + (slot + gate) * step_s) * 1e9) + offset
        errors.append(abs(unix_ns(tag) - due_ns) / 1e9)
        late.append((arrival.arrived_ns - due_ns) / 1e9)
        ahead.append((due_ns - arrival.relayed_ns) / 1e9)
    on, off = sorted(slots["on"]), sorted(slots["off"])
    assert on == list(range(len(on))) and len(on) >= bars * 16 - 2  # each step once, none lost
    assert off == on[: len(off)] and len(off) >= len(on) - 2
    errors_s, late_s, ahead_s = np.array(errors), np.array(late), np.array(ahead)
    report("sequencer", errors_s, late_s, ahead_s)
    assert np.percentile(errors_s, 99) <= TAG_ERROR_P99_S
    assert np.ptp(np.percentile(late_s, [1, 99])) > 0.01, "the relay spreads arrivals"
    assert ahead_s.max() <= AHEAD_MS / 1000 + 1e-4
    assert np.median(ahead_s) >= AHEAD_MS / 1000 - 0.005


# --------------------------------------------------------------- off by default
def test_without_a_look_ahead_everything_leaves_plain_as_before() -> None:
    """No timetag keys: the model's playing and the sequencer's notes are plain messages."""

    async def main() -> None:
        performance = build(sequencer_config(relay.port, None, mode="battle"), RunOptions())
        seq = performance.sequencer
        seq.set_step(0, 0, on=True)
        await performance.start()
        seq.start()
        await asyncio.sleep(0.4)
        seq.stop()
        await performance.engine.stop()

    with Relay(max_delay_s=0.0) as relay:
        impsy_loop.run(main())
    addresses = {decode(arrival.data)[1] for arrival in relay.arrivals}
    assert {"/impsy", "/impsy/seq/play"} <= addresses
    assert all(arrival.data.startswith(b"/") for arrival in relay.arrivals)
    assert all(decode(a.data)[0] is None for a in relay.arrivals)


# --------------------------------------------------------------- the parts alone
def test_a_time_tag_is_ntp_time_in_32_32_fixed_point() -> None:
    seconds = NTP_TO_UNIX_S + 1_700_000_000
    assert ntp_timetag(1_700_000_000 * 10**9) == seconds << 32
    assert ntp_timetag(1_700_000_000 * 10**9 + 500_000_000) == (seconds << 32) + (1 << 31)
    assert ntp_timetag(250_000_000) == (NTP_TO_UNIX_S << 32) + (1 << 30)
    for ns in (0, 1, 999_999_999, 1_712_345_678_901_234_567):
        assert abs(unix_ns(ntp_timetag(ns)) - ns) <= 1  # 2^-32 s is 0.23 ns


def test_a_bundle_reads_back_with_a_standard_decoder() -> None:
    message = encode_message("/impsy/seq/play", [2, 64, 100])
    data = encode_bundle(ntp_timetag(1_700_000_000_250_000_000), message)
    stamp, address, args = standard_decode(data)
    assert (address, args) == ("/impsy/seq/play", [2, 64, 100])
    assert stamp == pytest.approx(1_700_000_000.25, abs=1e-6)
    assert OscMessage(data[20:]).params == [2, 64, 100]


def test_the_wall_clock_mapping_keeps_the_tightest_bracket_and_follows_a_step() -> None:
    """Five brackets of loop-clock readings around a wall-clock reading; the 1 µs one
    (20 s .. 20.000001 s, wall 1e18 ns) gives the offset. A step of the wall clock is seen
    at the first use more than ``refresh_s`` after that reading, not before."""
    loop = iter([10.0, 10.000004, 20.0, 20.000001, 30.0, 30.000003, 40.0, 40.000002, 50.0, 50.1])
    walls = iter([7, 10**18, 9, 9, 9])
    now = [0.0]  # the loop clock once the brackets are read
    step_ns = 5 * 10**9
    offset = 10**18 - 20_000_000_500  # the wall reading minus the bracket's middle
    mapping = WallClock(
        lambda: next(loop, now[0]),
        lambda: next(walls, offset + step_ns + round(now[0] * 1e9)),  # after: stepped 5 s
        refresh_s=1.0,
    )
    mapping.read()
    assert mapping.offset_ns == offset
    assert mapping.error_ns == pytest.approx(500, abs=1)  # half the bracket
    now[0] = 21.0  # within refresh_s of the reading: the old offset
    assert mapping.unix_ns(21.5) == 21_500_000_000 + offset
    now[0] = 22.0  # past it: read again, the step is seen
    assert mapping.unix_ns(22.5) == 22_500_000_000 + offset + step_ns
    assert mapping.timetag(22.5) == ntp_timetag(22_500_000_000 + offset + step_ns)


def test_what_leaves_when() -> None:
    """Due ahead: a bundle at due - ahead (a deadline), or at once once that has passed;
    due already (or no look-ahead): the plain message at once. A waiting send withdraws."""
    clock = ManualClock(100.0)
    sent: list[tuple[float, bytes]] = []
    mapping = WallClock(clock.now, lambda: 1_700_000_000 * 10**9 + round(clock.now() * 1e9))
    sender = TimedSender(clock, mapping, lambda data: sent.append((clock.now(), data)))
    message = encode_message("/impsy", [0.5])
    assert sender.send(message, 100.5, 0.02) is not None
    assert sender.send(message, 100.01, 0.02) is None  # 20 ms ahead is already past
    assert sender.send(message, 100.0, 0.02) is None  # due now: plain
    assert sender.send(message, 100.5, 0.0) is None  # no look-ahead: plain, as before
    withdrawn = sender.send(message, 100.8, 0.02)
    withdrawn.cancel()
    clock.run_until(101.0)
    tags = [(t, decode(data)[0]) for t, data in sent]
    expected_tag = ntp_timetag(1_700_000_100_500_000_000)
    assert tags == [
        (100.0, ntp_timetag(1_700_000_100_010_000_000)),
        (100.0, None),
        (100.0, None),
        (pytest.approx(100.48), expected_tag),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[osc]\ntimetag_ahead_ms = -5", "[osc] timetag_ahead_ms: expected milliseconds 0-1000"),
        ('[osc]\ntimetag_ahead_ms = "20"', 'got "20" (string)'),
        ("[osc]\ntimetag_ahead_ms = true", "got true (boolean)"),
        ("[osc]\ntimetag_ahead_ms = 5000", "(0: off, messages leave when due), got 5000"),
        ("[osc]\ntimetag_ahead_ms = nan", "got nan"),
        ("[sequencer]\nosc_timetag_ahead_ms = -1", "[sequencer] osc_timetag_ahead_ms: expected"),
    ],
)
def test_a_bad_look_ahead_names_the_file_key_and_what_is_expected(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "show.toml")
    assert str(caught.value).startswith("show.toml: ")
    assert problem in str(caught.value)


def test_the_look_ahead_is_off_by_default_and_read_in_milliseconds() -> None:
    config = load_config_text("[osc]\n[sequencer]\n", "show.toml")
    assert (config.osc.timetag_ahead_ms, config.sequencer.osc_timetag_ahead_ms) == (0.0, 0.0)
    config = load_config_text(
        "[osc]\ntimetag_ahead_ms = 20\n[sequencer]\nosc_timetag_ahead_ms = 12.5\n", "show.toml"
    )
    assert (config.osc.timetag_ahead_ms, config.sequencer.osc_timetag_ahead_ms) == (20.0, 12.5)
    assert config.warnings == ()
