"""One builder per config section, turning a checked TOML table into its dataclass.

Defaults follow ``configs/default.toml``; a key is required only where no
default could be right (a serial port path, a mapping list for a named
device). Keys IMPSY reads but we do not need are still listed as known, so
IMPSY's own files load without warnings about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from impsy.config.modes import canonical_mode, describe_modes
from impsy.config.reader import REQUIRED, Context, Table, quoted, shown
from impsy.config.schema import (
    ENGINES,
    GATES,
    InteractionConfig,
    MappingList,
    MidiConfig,
    ModelConfig,
    OscConfig,
    SerialConfig,
    SerialMidiConfig,
    WebSocketConfig,
    WebUIConfig,
)
from impsy.config.sizes import MODEL_SIZES
from impsy.mapping.spec import MappingError, parse_mapping_list

PORT = {"low": 1, "high": 65535}
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class Dimension:
    """The model dimension plus whether the file set it, for clearer length errors."""

    value: int
    explicit: bool


def read_mapping_list(ctx: Context, where: str, entries: Any, dimension: Dimension) -> MappingList:
    """Parse one mapping list, reporting the failing entry under the key that holds it."""
    try:
        return tuple(parse_mapping_list(entries, dimension.value - 1))
    except MappingError as err:
        note = ""
        wrong_length = isinstance(entries, list) and len(entries) != dimension.value - 1
        if wrong_length and not dimension.explicit:
            note = f"; [model] dimension is not set, so the default {dimension.value} applies"
        ctx.fail(where, f"{err}{note}")


def read_interaction(table: Table) -> InteractionConfig:
    table.warn_unknown(("mode", "threshold", "input_thru"))
    mode_name = table.string("mode", "callresponse")
    mode = canonical_mode(mode_name)
    if mode is None:
        table.fail("mode", f"expected {describe_modes()}, got {shown(mode_name)}")
    return InteractionConfig(
        mode=mode,
        threshold=table.number("threshold", 0.1, positive=True),
        input_thru=table.boolean("input_thru", False),
    )


def read_model(table: Table) -> tuple[ModelConfig, Dimension]:
    table.warn_unknown(
        ("dimension", "file", "size", "sigmatemp", "pitemp", "timescale", "seed", "gate", "engine")
    )
    dimension = table.integer("dimension", 9, low=2)
    file = table.string("file", "")
    model = ModelConfig(
        dimension=dimension,
        file=file or None,
        size=table.string("size", "s", choices=MODEL_SIZES),
        sigmatemp=table.number("sigmatemp", 0.01, positive=True),
        pitemp=table.number("pitemp", 1.0, positive=True),
        timescale=table.number("timescale", 1.0, positive=True),
        seed=table.optional_integer("seed", low=0),
        gate=table.string("gate", "auto", choices=GATES),
        engine=table.string("engine", "auto", choices=ENGINES),
    )
    return model, Dimension(dimension, table.has("dimension"))


def _port_mappings(
    table: Table, key: str, devices: tuple[str, ...], role: str, dimension: Dimension
) -> MappingProxyType[str, MappingList]:
    """Mapping lists for each listed device; unlisted entries are unused, so only warned about."""
    entries = table.subtable(key, f'{key}."<port name>" = [...]')
    parsed = {}
    for device in devices:
        where = f"[midi] {key}.{quoted(device)}"
        if device not in entries:
            table.ctx.fail(
                where,
                f"missing; every {role} listed needs a mapping list of "
                f"{dimension.value - 1} entries (dimension {dimension.value} minus dt)",
            )
        parsed[device] = read_mapping_list(table.ctx, where, entries[device], dimension)
    for name in entries:
        if name not in devices:
            table.ctx.warn(
                f"[midi] {key}.{quoted(name)}",
                f"no {role} is named {quoted(name)}, so this mapping is unused",
            )
    return MappingProxyType(parsed)


def _thru_matrix(
    table: Table, midi_in: tuple[str, ...], midi_out: tuple[str, ...]
) -> MappingProxyType[str, tuple[str, ...]]:
    entries = table.subtable("thru_matrix", 'thru_matrix."<in port>" = ["<out port>"]')
    matrix = {}
    for source, targets in entries.items():
        where = f"[midi] thru_matrix.{quoted(source)}"
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            table.ctx.fail(where, f"expected an array of out_device names, got {shown(targets)}")
        unknown = [t for t in targets if t not in midi_out]
        if unknown:
            table.ctx.fail(
                where,
                f"{quoted(unknown[0])} is not an out_device; expected names from "
                f"out_device: {', '.join(quoted(d) for d in midi_out) or '(none listed)'}",
            )
        if source not in midi_in:
            table.ctx.warn(where, f"no in_device is named {quoted(source)}, so this is unused")
            continue
        matrix[source] = tuple(targets)
    return MappingProxyType(matrix)


def read_midi(table: Table, dimension: Dimension) -> MidiConfig:
    table.warn_unknown(
        (
            "in_device",
            "out_device",
            "input",
            "output",
            "feedback_protection",
            "feedback_threshold",
            "thru_matrix",
            "virtual",
        )
    )
    midi_in = table.string_list("in_device", ())
    midi_out = table.string_list("out_device", ())
    if not midi_in and not midi_out:
        table.ctx.warn("[midi]", "no in_device or out_device listed, so MIDI does nothing")
    return MidiConfig(
        in_device=midi_in,
        out_device=midi_out,
        input=_port_mappings(table, "input", midi_in, "in_device", dimension),
        output=_port_mappings(table, "output", midi_out, "out_device", dimension),
        feedback_protection=table.boolean("feedback_protection", False),
        feedback_threshold=table.number("feedback_threshold", 0.02, at_least=0.0),
        thru_matrix=_thru_matrix(table, midi_in, midi_out),
        virtual=table.boolean("virtual", False),
    )


def read_osc(table: Table) -> OscConfig:
    table.warn_unknown(("server_ip", "server_port", "client_ip", "client_port", "output_address"))
    client_ip = table.string("client_ip", "127.0.0.1")
    if client_ip in WILDCARD_ADDRESSES:
        # IMPSY does the same at start-up: a wildcard cannot be sent to.
        table.ctx.warn(
            table.where("client_ip"),
            f"{shown(client_ip)} is a listen-on-all address, not a destination; "
            "sending to 127.0.0.1 instead",
        )
        client_ip = "127.0.0.1"
    address = table.string("output_address", "/impsy")
    if not address.startswith("/") or any(c in address for c in " #*,?[]{}"):
        table.fail(
            "output_address",
            f"expected an OSC address starting with / and without spaces or "
            f"#*,?[]{{}}, got {shown(address)}",
        )
    return OscConfig(
        server_ip=table.string("server_ip", "127.0.0.1"),
        server_port=table.integer("server_port", 6000, **PORT),
        client_ip=client_ip,
        client_port=table.integer("client_port", 6001, **PORT),
        output_address=address,
    )


def read_websocket(table: Table, dimension: Dimension) -> WebSocketConfig:
    """Both mapping lists are required, even though several of IMPSY's configs omit them.

    IMPSY crashes with a KeyError on such a section once WebSocket starts;
    refusing it at load time, with the key and an example, says what to fix
    before a performance instead of during one.
    """
    table.warn_unknown(("server_ip", "server_port", "input", "output"))
    expected = (
        f"a list of {dimension.value - 1} mapping entries (dimension {dimension.value} "
        'minus dt) like ["note_on", 1]'
    )
    return WebSocketConfig(
        server_ip=table.string("server_ip", "127.0.0.1"),
        server_port=table.integer("server_port", 5001, **PORT),
        input=read_mapping_list(
            table.ctx, "[websocket] input", table.value("input", REQUIRED, expected), dimension
        ),
        output=read_mapping_list(
            table.ctx, "[websocket] output", table.value("output", REQUIRED, expected), dimension
        ),
    )


def read_serial(table: Table) -> SerialConfig:
    table.warn_unknown(("port", "baudrate"))
    return SerialConfig(
        port=table.string("port"),
        baudrate=table.integer("baudrate", 115200, low=1),
    )


def read_serialmidi(
    table: Table, serial: SerialConfig | None, dimension: Dimension
) -> SerialMidiConfig:
    """IMPSY takes the port from ``[serial]``; we prefer our own key but fall back to it."""
    table.warn_unknown(("port", "baudrate", "input", "output"))
    if table.has("port"):
        port = table.string("port")
        if serial is not None and serial.port == port:
            table.ctx.warn(
                "[serialmidi] port",
                f"{shown(port)} is also [serial] port; both adapters will read the same port",
            )
    elif serial is not None:
        port = serial.port
        table.ctx.warn(
            "[serialmidi] port",
            f"not set, so using [serial] port {shown(port)} as IMPSY does (both adapters "
            "will read it); set [serialmidi] port to make this explicit",
        )
    else:
        table.fail("port", 'missing required key; expected a string such as "/dev/ttyAMA0"')
    expected = f"a mapping list of {dimension.value - 1} entries"
    return SerialMidiConfig(
        port=port,
        baudrate=table.integer("baudrate", 31250, low=1),
        input=read_mapping_list(
            table.ctx, "[serialmidi] input", table.value("input", REQUIRED, expected), dimension
        ),
        output=read_mapping_list(
            table.ctx, "[serialmidi] output", table.value("output", REQUIRED, expected), dimension
        ),
    )


def read_webui(table: Table) -> WebUIConfig:
    table.warn_unknown(("host", "port", "token", "monitor_port", "command_port"))
    token = table.optional_string("token")
    if token == "":
        table.fail("token", 'expected a non-empty string (or leave token out), got ""')
    return WebUIConfig(
        host=table.string("host", "127.0.0.1"),
        port=table.integer("port", 4000, **PORT),
        token=token,
        monitor_port=table.integer("monitor_port", 4001, **PORT),
        command_port=table.integer("command_port", 4002, **PORT),
    )
