"""A short, repeatable fuzz run of every input adapter's parser (``make fuzz`` runs the long one).

Each test feeds the real adapter, on a real engine, through the fuzz target in
``fuzz/`` (which checks the invariants: nothing raises, bad input is counted,
nothing non-finite reaches the engine, buffers stay bounded). Two sources of
input: the regression corpus in ``tests/fuzz_corpus/TARGET`` (including every
input that once broke something) and a few hundred inputs that Hypothesis
builds from the wire format and then damages, with ``derandomize=True`` so
every run tries the same ones.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz import midi, osc, serial_csv, serial_midi, websocket
from fuzz.harness import QuietLogging
from tests.fuzzing import repeatable, replay_corpus


@pytest.fixture(autouse=True)
def quiet_impsy_logger() -> Iterator[None]:
    """The targets silence impsy's warnings; other tests' log captures must not notice."""
    with QuietLogging():
        yield


REPEATABLE = repeatable(max_examples=250)

ADAPTERS = {
    "osc": osc,
    "serial_csv": serial_csv,
    "serial_midi": serial_midi,
    "midi": midi,
    "websocket": websocket,
}


@pytest.mark.parametrize("target", sorted(ADAPTERS))
def test_regression_corpus_passes(target: str) -> None:
    replay_corpus(target, ADAPTERS[target].one_input)


def damaged(messages: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Well-formed bytes, sometimes cut short or with one byte overwritten."""

    def damage(data: bytes, cut: int, at: int, byte: int, how: int) -> bytes:
        if how == 1 and data:
            return data[: cut % (len(data) + 1)]
        if how == 2 and data:
            patched = bytearray(data)
            patched[at % len(data)] = byte
            return bytes(patched)
        return data

    return st.builds(
        damage,
        messages,
        st.integers(0, 1 << 16),
        st.integers(0, 1 << 16),
        st.integers(0, 255),
        st.integers(0, 2),
    )


# ------------------------------------------------------------------- OSC
def _osc_string(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogatepass") + b"\0"
    return raw + b"\0" * (-len(raw) % 4)


OSC_ARGS = st.one_of(
    st.tuples(st.just("f"), st.floats(width=32).map(lambda v: struct.pack(">f", v))),
    st.tuples(st.just("d"), st.floats().map(lambda v: struct.pack(">d", v))),
    st.tuples(st.just("i"), st.integers(-(2**31), 2**31 - 1).map(lambda v: struct.pack(">i", v))),
    st.tuples(st.just("h"), st.integers(-(2**63), 2**63 - 1).map(lambda v: struct.pack(">q", v))),
    st.tuples(st.just("s"), st.text(max_size=20).map(_osc_string)),
    st.tuples(st.just("b"), st.binary(max_size=8).map(lambda b: struct.pack(">i", len(b)) + b)),
    st.tuples(st.sampled_from("TFNI"), st.just(b"")),
)
OSC_ADDRESSES = st.one_of(
    st.sampled_from(
        [
            "/interface",
            "/impsy/mode",
            "/impsy/pause",
            "/impsy/reset",
            "/impsy/status",
            "/impsy/sigmatemp",
            "/impsy/pitemp",
            "/impsy/timescale",
            "/impsy/threshold",
            "/impsy/",
            "/impsy",
        ]
    ),
    st.text(max_size=12).map(lambda t: "/" + t),
)


@st.composite
def osc_message(draw: st.DrawFn) -> bytes:
    address = draw(OSC_ADDRESSES)
    if address == "/interface" and draw(st.booleans()):
        args = [
            ("f", struct.pack(">f", v))
            for v in draw(st.lists(st.floats(width=32), min_size=8, max_size=8))
        ]
    elif address == "/impsy/mode":
        args = [("s", _osc_string(draw(st.sampled_from(["battle", "polyphony", "useronly"]))))]
    else:
        args = draw(st.lists(OSC_ARGS, max_size=10))
    tags = "," + "".join(tag for tag, _ in args)
    return _osc_string(address) + _osc_string(tags) + b"".join(body for _, body in args)


@st.composite
def osc_bundle(draw: st.DrawFn) -> bytes:
    parts = draw(st.lists(osc_message(), max_size=3))
    body = b"".join(struct.pack(">i", len(p)) + p for p in parts)
    return b"#bundle\0" + draw(st.binary(min_size=8, max_size=8)) + body


@REPEATABLE
@given(damaged(st.one_of(osc_message(), osc_bundle(), st.binary(max_size=64))))
def test_osc_datagrams(data: bytes) -> None:
    osc.one_input(data)


# ------------------------------------------------------------- serial CSV
CSV_FIELD = st.one_of(
    st.floats().map(repr),
    st.floats(0, 1).map(lambda v: f"{v:.4f}"),
    st.integers().map(str),
    st.sampled_from(["nan", "inf", "-inf", "", " ", "1_0", "0x1", "1e999", "\t0.5\r"]),
    st.text(max_size=6),
)


@st.composite
def csv_stream(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.lists(CSV_FIELD, min_size=0, max_size=10), max_size=6))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = "".join(",".join(fields) + end for fields in lines)
    if draw(st.booleans()):
        text += "9" * draw(st.integers(4000, 5000))  # an overlong line in progress
    return bytes([draw(st.integers(0, 255))]) + text.encode("utf-8", "surrogatepass")


@REPEATABLE
@given(damaged(st.one_of(csv_stream(), st.binary(max_size=200))))
def test_serial_csv_streams(data: bytes) -> None:
    serial_csv.one_input(data)


# ------------------------------------------------------------ serial MIDI
MIDI_BYTE = st.one_of(
    st.integers(0, 127),
    st.sampled_from([0x80, 0x90, 0x99, 0xB0, 0xB1, 0xBF, 0xC0, 0xD0, 0xE0, 0xEF]),
    st.sampled_from([0xF0, 0xF1, 0xF2, 0xF3, 0xF6, 0xF7, 0xF8, 0xFA, 0xFE, 0xFF]),
)


@REPEATABLE
@given(st.integers(0, 255), st.lists(MIDI_BYTE, max_size=300).map(bytes), st.binary(max_size=32))
def test_serial_midi_streams(read_size: int, stream: bytes, noise: bytes) -> None:
    serial_midi.one_input(bytes([read_size]) + stream + noise)


# ------------------------------------------------------- MIDI (RtMidi input)
@REPEATABLE
@given(st.integers(0, 4), st.lists(MIDI_BYTE, max_size=120).map(bytes))
def test_midi_messages(size: int, stream: bytes) -> None:
    midi.one_input(bytes([size]) + stream)


# -------------------------------------------------------------- WebSocket
WS_NUMBER = st.one_of(
    st.integers(-2, 17000).map(str),
    st.sampled_from(["", "00060", "+1", " 1", "1.0", "６０", "9" * 40]),
    st.text(max_size=4),
)


@st.composite
def websocket_text(draw: st.DrawFn) -> bytes:
    word = draw(st.sampled_from(["noteon", "noteoff", "cc", "pitchbend", "program", ""]))
    parts = ["", draw(st.sampled_from(["channel", "chan", ""])), draw(WS_NUMBER), word]
    parts += draw(st.lists(WS_NUMBER, max_size=3))
    return bytes([draw(st.integers(0, 255))]) + "/".join(parts).encode("utf-8", "surrogatepass")


@REPEATABLE
@given(damaged(st.one_of(websocket_text(), st.binary(max_size=64))))
def test_websocket_messages(data: bytes) -> None:
    websocket.one_input(data)


def test_the_targets_really_reach_the_engine() -> None:
    """The harness is not vacuous: good inputs become gestures, bad ones are counted."""
    interface = struct.pack(">8f", *[0.5] * 8)
    good_osc = _osc_string("/interface") + _osc_string(",ffffffff") + interface
    for target, good, bad, bad_counted in [
        (osc, good_osc, b"junk", 1),
        (serial_csv, b"\x3f0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8\n", b"\x3fx\n", 1),
        (serial_midi, bytes([0x3F, 0x90, 60, 100]), bytes([0x3F, 0x80, 60, 0]), 0),
        (midi, bytes([2, 0x90, 60, 100]), bytes([2, 0x90, 60]), 1),
        (websocket, b"\x00/channel/1/noteon/60/100", b"\x00/channel/99/x", 1),
    ]:
        target.one_input(b"")
        live = target._target.live
        events, bad_count = live.counts()
        target.one_input(good)
        target.one_input(bad)
        assert live.counts() == (events + 1, bad_count + bad_counted), target.__name__


def test_bundles_python_osc_cannot_parse_are_counted_over_real_udp(caplog) -> None:  # noqa: ANN001
    """Found by fuzzing: a bundle element of size -4 made python-osc loop forever.

    Over a real socket: that datagram, an empty bundle element and an
    unsupported type tag are each counted once, print nothing from python-osc,
    and a good gesture right after them is still used.
    """
    import asyncio
    import logging

    from impsy.app import RunOptions, build
    from impsy.config import load_config_text
    from impsy.engine import loop as impsy_loop
    from tests.osc_client import OscPeer, free_udp_port

    hang = (osc.ROOT_CORPUS / "crash-bundle-negative-element-size-hangs").read_bytes()
    empty_element = b"#bundle\0" + b"\0" * 8 + struct.pack(">i", 0)
    impulse = _osc_string("/interface") + _osc_string(",ffffffffI") + struct.pack(">8f", *[0.5] * 8)
    good = _osc_string("/interface") + _osc_string(",ffffffff") + struct.pack(">8f", *[0.5] * 8)

    async def main() -> dict:
        server, client = free_udp_port(), free_udp_port()
        config = load_config_text(
            f'log_input = false\n[interaction]\nmode = "useronly"\n[model]\ndimension = 9\n'
            f"[osc]\nserver_port = {server}\nclient_port = {client}\n",
            "bundles.toml",
        )
        performance = build(config, RunOptions(no_model=True))
        engine = performance.engine
        await performance.start()
        peer = await OscPeer.open(client, server)
        try:
            for datagram in (hang, empty_element, impulse, good):
                peer.send_raw(datagram)
            deadline = asyncio.get_running_loop().time() + 3
            while engine.counters.events_in < 1 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            return engine.status()
        finally:
            peer.close()
            await engine.stop()

    with caplog.at_level(logging.WARNING):
        status = impsy_loop.run(main())
    assert (status["bad_input"], status["events_in"]) == (3, 1)
    assert not [r for r in caplog.records if "pythonosc" in r.pathname]


def test_the_runner_without_atheris_fuzzes_a_target_and_reads_its_dictionary() -> None:
    from fuzz import run

    assert b"/channel/" in run.dictionary("websocket")
    assert b"\x90\x3c\x64" in run.dictionary("serial_midi")
    count, seconds, failure = run.run_random("websocket", None, 300, timeout=5.0, seed=3)
    assert (count, failure) == (300, None)
