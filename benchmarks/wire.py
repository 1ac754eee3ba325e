"""OSC on the wire, as the benchmark scripts speak it to a running ``impsy run``.

The scripts play the musician's side of impsy's OSC adapter over real UDP on
127.0.0.1: they send ``/interface`` gestures, ask ``/impsy/status`` for the
engine's counters and read the predictions (``/impsy``) that come back. The bytes
are built and read here, in a few lines of ``struct``, so that what measures
shares no code with what is measured (impsy's own encoder) and the same bytes go
to IMPSY 1.2.1 (``engine.py`` measures both). Also here: a free local port for a
server to listen on.

Run as scripts (``python benchmarks/engine.py``), the benchmarks find this module
the way they find ``results.py``: ``benchmarks/`` is first on ``sys.path``.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence

HOST = "127.0.0.1"
STATUS = "/impsy/status"

_NUMBERS = {  # OSC type tag -> its big-endian layout
    "i": struct.Struct(">i"),
    "f": struct.Struct(">f"),
    "d": struct.Struct(">d"),
    "h": struct.Struct(">q"),
}
_CONSTANTS = {"T": True, "F": False, "N": None}


def osc_string(text: str) -> bytes:
    """``text`` as an OSC string: UTF-8, NUL-terminated, padded to a multiple of 4 bytes."""
    raw = text.encode() + b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def osc_message(address: str, *args: float | int | str | bool) -> bytes:
    """One OSC message: a float is sent as ``f`` (32 bits), an int as ``i``, a str as
    ``s`` and a bool as ``T``/``F``, as python-osc's message builder would."""
    tags, payload = ",", b""
    for arg in args:
        if isinstance(arg, bool):
            tags += "T" if arg else "F"
        elif isinstance(arg, int):
            tags += "i"
            payload += _NUMBERS["i"].pack(arg)
        elif isinstance(arg, float):
            tags += "f"
            payload += _NUMBERS["f"].pack(arg)
        elif isinstance(arg, str):
            tags += "s"
            payload += osc_string(arg)
        else:
            raise TypeError(f"no OSC type for {type(arg).__name__} {arg!r}")
    return osc_string(address) + osc_string(tags) + payload


def interface_message(values: Sequence[float]) -> bytes:
    """A gesture: ``/interface`` with every value as a 32-bit float."""
    return (
        osc_string("/interface")
        + osc_string("," + "f" * len(values))
        + struct.pack(f">{len(values)}f", *values)
    )


STATUS_QUERY = osc_message(STATUS)
"""What asks impsy for its counters; the reply comes back to the socket that sent it."""
STATUS_PREFIX = osc_string(STATUS)
"""How a status reply starts: ``data.startswith(STATUS_PREFIX)`` without parsing it."""
PREDICTION_PREFIX = osc_string("/impsy")
"""How a prediction starts (``b"/impsy\\0\\0"``: exactly that address, not ``/impsy/...``)."""


def _read_string(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode(), end + 1 + (-(end + 1) % 4)


def parse_osc(data: bytes) -> tuple[str, list[object]]:
    """Address and arguments of one OSC message (types i, f, d, h, s, T, F, N).

    Raises ValueError for any other type tag (a blob, a bundle).
    """
    address, pos = _read_string(data, 0)
    tags, pos = _read_string(data, pos)
    args: list[object] = []
    for tag in tags[1:]:
        if tag in _NUMBERS:
            number = _NUMBERS[tag]
            args.append(number.unpack_from(data, pos)[0])
            pos += number.size
        elif tag == "s":
            text, pos = _read_string(data, pos)
            args.append(text)
        elif tag in _CONSTANTS:
            args.append(_CONSTANTS[tag])
        else:
            raise ValueError(f"unsupported OSC type tag {tag!r}")
    return address, args


def parse_status(data: bytes) -> dict[str, object]:
    """impsy's ``/impsy/status`` reply (alternating name and value arguments) as a dict."""
    _, args = parse_osc(data)
    return dict(zip(args[::2], args[1::2], strict=True))


def _free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing was bound to a moment ago."""
    return _free_port(socket.SOCK_DGRAM)


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nothing was bound to a moment ago."""
    return _free_port(socket.SOCK_STREAM)
