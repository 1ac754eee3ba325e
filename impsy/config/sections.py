"""One builder per config section, turning a checked TOML table into its dataclass.

Defaults follow ``configs/default.toml``; a key is required only where no
default could be right (a serial port path, a mapping list for a named
device). Keys IMPSY reads but we do not need are still listed as known, so
IMPSY's own files load without warnings about them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from impsy.config.modes import canonical_mode, describe_modes
from impsy.config.reader import REQUIRED, Context, Table, quoted, shown, toml_type
from impsy.config.schema import (
    CLOCK_SOURCES,
    EDIT_MODES,
    ENGINES,
    GATES,
    STUDIO_BACKENDS,
    InteractionConfig,
    MappingList,
    MidiConfig,
    ModelConfig,
    OscConfig,
    OscQueryConfig,
    SequencerConfig,
    SequencerControllerConfig,
    SequencerTrackConfig,
    SerialConfig,
    SerialMidiConfig,
    StudioConfig,
    WebSocketConfig,
    WebUIConfig,
)
from impsy.config.sizes import MAX_DIMENSION, MODEL_SIZES
from impsy.config.studio_address import parse_address
from impsy.errors import ImpsyError
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
        (
            "dimension",
            "file",
            "size",
            "sigmatemp",
            "pitemp",
            "timescale",
            "seed",
            "gate",
            "engine",
            "lead",
        )
    )
    dimension = table.integer("dimension", 9, low=2, high=MAX_DIMENSION)
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
        lead=table.boolean("lead", False),
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
            "surprise_cc",
            "surprise_range",
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
        **_surprise_cc(table),
    )


def _surprise_cc(table: Table) -> dict[str, Any]:
    """``surprise_cc = [channel, control]`` and ``surprise_range = [low, high]`` (nats)."""
    out: dict[str, Any] = {}
    if table.has("surprise_cc"):
        raw = table.data["surprise_cc"]
        ok = (
            isinstance(raw, list)
            and len(raw) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
            and 1 <= raw[0] <= 16
            and 0 <= raw[1] <= 119
        )
        if not ok:  # 120-127 are channel mode messages (all notes off...), not controllers
            table.fail(
                "surprise_cc",
                f"expected [channel 1-16, control 0-119], got {shown(raw)}",
            )
        out["surprise_cc"] = (raw[0], raw[1])
    if table.has("surprise_range"):
        raw = table.data["surprise_range"]
        ok = (
            isinstance(raw, list)
            and len(raw) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
            and all(math.isfinite(v) for v in raw)
            and raw[0] < raw[1]
        )
        if not ok:
            table.fail(
                "surprise_range", f"expected [low, high] in nats, low < high, got {shown(raw)}"
            )
        out["surprise_range"] = (float(raw[0]), float(raw[1]))
    return out


def read_osc(table: Table) -> OscConfig:
    table.warn_unknown(
        (
            "server_ip",
            "server_port",
            "client_ip",
            "client_port",
            "output_address",
            "timetag_ahead_ms",
        )
    )
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
        timetag_ahead_ms=read_timetag_ahead(table, "timetag_ahead_ms"),
    )


MAX_TIMETAG_AHEAD_MS = 1000.0
"""The longest OSC look-ahead: beyond a second, a note stopped is heard long after."""


def read_timetag_ahead(table: Table, key: str) -> float:
    """How long before it is due an output sends, in milliseconds: an OSC look-ahead
    (``impsy.io.osc_timetag``) or a serial device's latency; 0, the default, is off."""
    expected = f"milliseconds 0-{MAX_TIMETAG_AHEAD_MS:g} (0: off, messages leave when due)"
    value = table.value(key, 0.0, expected)
    if isinstance(value, bool) or not isinstance(value, int | float):
        table.fail(key, f"expected {expected}, got {shown(value)} ({toml_type(value)})")
    if not 0 <= value <= MAX_TIMETAG_AHEAD_MS:  # also refuses NaN
        table.fail(key, f"expected {expected}, got {shown(value)}")
    return float(value)


def read_websocket(table: Table, dimension: Dimension) -> WebSocketConfig:
    """Both mapping lists are required, even though several of IMPSY's configs omit them.

    IMPSY crashes with a KeyError on such a section once WebSocket starts;
    refusing it at load time, with the key and an example, says what to fix
    before a performance instead of during one.
    """
    table.warn_unknown(("server_ip", "server_port", "input", "output", "origins"))
    expected = (
        f"a list of {dimension.value - 1} mapping entries (dimension {dimension.value} "
        'minus dt) like ["note_on", 1]'
    )
    return WebSocketConfig(
        server_ip=table.string("server_ip", "127.0.0.1"),
        server_port=table.integer("server_port", 5001, **PORT),
        origins=table.string_list("origins", ()),
        input=read_mapping_list(
            table.ctx, "[websocket] input", table.value("input", REQUIRED, expected), dimension
        ),
        output=read_mapping_list(
            table.ctx, "[websocket] output", table.value("output", REQUIRED, expected), dimension
        ),
    )


def read_serial(table: Table) -> SerialConfig:
    table.warn_unknown(("port", "baudrate", "latency_ms"))
    return SerialConfig(
        port=table.string("port"),
        baudrate=table.integer("baudrate", 115200, low=1),
        latency_ms=read_timetag_ahead(table, "latency_ms"),
    )


def read_serialmidi(
    table: Table, serial: SerialConfig | None, dimension: Dimension
) -> SerialMidiConfig:
    """IMPSY takes the port from ``[serial]``; we prefer our own key but fall back to it."""
    table.warn_unknown(("port", "baudrate", "input", "output", "latency_ms"))
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
        latency_ms=read_timetag_ahead(table, "latency_ms"),
        input=read_mapping_list(
            table.ctx, "[serialmidi] input", table.value("input", REQUIRED, expected), dimension
        ),
        output=read_mapping_list(
            table.ctx, "[serialmidi] output", table.value("output", REQUIRED, expected), dimension
        ),
    )


def read_studio(table: Table) -> StudioConfig:
    table.warn_unknown(("backend", "address"))
    backend = table.string("backend", "local")
    if backend not in STUDIO_BACKENDS:
        table.fail("backend", f"expected one of {', '.join(STUDIO_BACKENDS)}, got {backend!r}")
    address = table.string("address", "")
    try:
        parse_address(address)
    except ImpsyError as err:
        table.fail("address", str(err))
    return StudioConfig(backend=backend, address=address)


def read_webui(table: Table) -> WebUIConfig:
    table.warn_unknown(("host", "port", "token", "monitor_port", "command_port", "max_upload_mb"))
    token = table.optional_string("token")
    if token == "":
        table.fail("token", 'expected a non-empty string (or leave token out), got ""')
    return WebUIConfig(
        host=table.string("host", "127.0.0.1"),
        port=table.integer("port", 4000, **PORT),
        token=token,
        monitor_port=table.integer("monitor_port", 4001, **PORT),
        command_port=table.integer("command_port", 4002, **PORT),
        max_upload_mb=table.number("max_upload_mb", 50.0, positive=True),
    )


OSCQUERY_KEYS: tuple[str, ...] = ("host", "port", "token", "zeroconf", "name")


def read_oscquery(table: Table, has_osc: bool) -> OscQueryConfig:
    """``[oscquery]``; who may reach it (token, zeroconf) is checked with the run
    (``impsy.web.oscquery.server.check_oscquery``), as for ``[webui]``."""
    table.warn_unknown(OSCQUERY_KEYS)
    if not has_osc:
        table.ctx.fail(
            "[oscquery]",
            "needs an [osc] section: it describes impsy's OSC addresses, and its clients "
            "send to [osc] server_port; add [osc] or remove [oscquery]",
        )
    token = table.optional_string("token")
    if token == "":
        table.fail("token", 'expected a non-empty string (or leave token out), got ""')
    name = table.string("name", "impsy")
    if not name.strip():
        table.fail("name", f"expected a non-empty name, got {shown(name)}")
    return OscQueryConfig(
        host=table.string("host", "127.0.0.1"),
        port=table.integer("port", 4003, **PORT),
        token=token,
        zeroconf=table.boolean("zeroconf", False),
        name=name,
    )


SEQUENCER_KEYS: tuple[str, ...] = (
    "tempo",
    "swing",
    "steps",
    "tracks",
    "clock",
    "clock_out",
    "clock_in",
    "quantise",
    "model_track",
    "mapping",
    "note_low",
    "note_high",
    "model_gate",
    "ghosts",
    "response_bars",
    "patterns",
    "autostart",
    "edit_mode",
    "controllers",
    "link_quantum",
    "link_start_stop",
    "latency_ms",
    "osc_timetag_ahead_ms",
)
CONTROLLER_KEYS: tuple[str, ...] = ("profile", "in_device", "out_device")
TRACK_KEYS: tuple[str, ...] = ("name", "port", "channel", "steps", "steps_per_beat")
STEPS_PER_BEAT: tuple[int, ...] = (1, 2, 3, 4, 6, 8)


def _bounded(table: Table, key: str, default: float, low: float, high: float) -> float:
    value = table.number(key, default)
    if not low <= value <= high:
        table.fail(key, f"expected a number {low:g}-{high:g}, got {shown(value)}")
    return value


class _ItemTable(Table):
    """A table inside an array, named in messages like ``[sequencer] tracks[0].channel``."""

    def __init__(self, ctx: Context, prefix: str, data: dict[str, Any]) -> None:
        super().__init__(ctx, "sequencer", data)
        self.prefix = prefix

    def where(self, key: str) -> str:
        return f"{self.prefix}.{key}"


def _sequencer_tracks(table: Table, steps: int) -> tuple[SequencerTrackConfig, ...]:
    raw = table.value("tracks", 1, "a number of tracks or an array of tables")
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 1 <= raw <= 16:
            table.fail("tracks", f"expected 1-16 tracks, got {raw}")
        return tuple(
            SequencerTrackConfig(name=f"track {i + 1}", steps=steps, channel=i + 1)
            for i in range(raw)
        )
    if not isinstance(raw, list) or not raw or not all(isinstance(t, dict) for t in raw):
        table.fail(
            "tracks",
            'expected a number of tracks or an array of tables like [{ name = "bass", '
            f'port = "", channel = 2 }}], got {shown(raw)}',
        )
    if len(raw) > 16:
        table.fail("tracks", f"expected at most 16 tracks, got {len(raw)}")
    tracks = []
    for index, entry in enumerate(raw):
        where = f"tracks[{index}]"
        sub = _ItemTable(table.ctx, f"[sequencer] {where}", entry)
        sub.warn_unknown(TRACK_KEYS)
        spb = sub.integer("steps_per_beat", 4, low=1, high=8)
        if spb not in STEPS_PER_BEAT:
            sub.fail("steps_per_beat", f"expected one of {list(STEPS_PER_BEAT)}, got {spb}")
        tracks.append(
            SequencerTrackConfig(
                name=sub.string("name", f"track {index + 1}"),
                port=sub.string("port", ""),
                channel=sub.integer("channel", 1, low=1, high=16),
                steps=sub.integer("steps", steps, low=1, high=64),
                steps_per_beat=spb,
            )
        )
    return tuple(tracks)


def _resolve_profile(ctx: Context, profile: str) -> str:
    """A profile path as written, else beside the config file (like IMPSY's model paths)."""
    if not profile.endswith(".toml") or os.path.isabs(profile) or os.path.exists(profile):
        return profile
    beside = os.path.join(os.path.dirname(ctx.label), profile)
    return beside if os.path.exists(beside) else profile


def _sequencer_controllers(table: Table) -> tuple[SequencerControllerConfig, ...]:
    raw = table.value("controllers", [], "an array of tables")
    example = '[{ profile = "launchpad", in_device = "Launchpad", out_device = "Launchpad" }]'
    if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
        table.fail("controllers", f"expected an array of tables like {example}, got {shown(raw)}")
    controllers = []
    for index, entry in enumerate(raw):
        sub = _ItemTable(table.ctx, f"[sequencer] controllers[{index}]", entry)
        sub.warn_unknown(CONTROLLER_KEYS)
        profile = _resolve_profile(table.ctx, sub.string("profile"))
        in_device = sub.string("in_device")
        out_device = sub.optional_string("out_device")
        if not in_device:
            sub.fail("in_device", 'expected the controller\'s MIDI input port name, got ""')
        # The profile itself is checked against the command table's rows by
        # impsy.app.check_config: parsing a config knows nothing of commands.
        controllers.append(SequencerControllerConfig(profile, in_device, out_device or None))
    return tuple(controllers)


MAX_LATENCY_MS = 500.0


def _latency_ms(
    table: Table, tracks: tuple[SequencerTrackConfig, ...], clock_out: tuple[str, ...]
) -> dict[str, float]:
    """``latency_ms = { osc = 12, "Volca" = 4.5 }``: output name -> ms, 0-500 each."""
    raw = table.value("latency_ms", {}, "a table of output names to milliseconds")
    example = '{ osc = 12, "Volca" = 4.5 }'
    if not isinstance(raw, dict):
        table.fail("latency_ms", f"expected a table like {example}, got {shown(raw)}")
    outputs = {"osc" if t.port in ("", "osc") else t.port for t in tracks} | set(clock_out)
    offsets = {}
    for name, value in raw.items():
        where = f"latency_ms.{quoted(name)}"
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not 0.0 <= value <= MAX_LATENCY_MS:
            table.fail(where, f"expected milliseconds 0-{MAX_LATENCY_MS:g}, got {shown(value)}")
        output = "osc" if name == "" else name
        if output not in outputs:
            table.ctx.warn(
                f"[sequencer] {where}",
                f"no track plays through {quoted(output)} (outputs: "
                f"{', '.join(sorted(map(quoted, outputs)))}); it applies once a bank's track does",
            )
        offsets[output] = float(value)
    return offsets


def read_sequencer(table: Table, dimension: Dimension, midi: MidiConfig | None) -> SequencerConfig:
    """The ``[sequencer]`` section; its presence switches the step sequencer on."""
    table.warn_unknown(SEQUENCER_KEYS)
    steps = table.integer("steps", 16, low=1, high=64)
    tracks = _sequencer_tracks(table, steps)
    clock = table.string("clock", "internal", choices=CLOCK_SOURCES)
    clock_in = table.string("clock_in", "")
    has_midi_in = midi is not None and bool(midi.in_device)
    if clock == "follow" and not clock_in and not has_midi_in:
        table.fail(
            "clock_in",
            'clock = "follow" needs clock_in (a MIDI input port name) or a [midi] in_device '
            "to follow",
        )
    for key in ("link_quantum", "link_start_stop"):
        if table.has(key) and clock != "link":
            table.ctx.warn(f"[sequencer] {key}", f'only used with clock = "link", not {clock!r}')
    clock_out = table.string_list("clock_out", ())
    if clock == "master" and not clock_out:
        table.ctx.warn(
            "[sequencer] clock_out", 'clock = "master" but no clock_out ports, so no clock is sent'
        )
    model_track = table.integer("model_track", 0, low=-1)
    if model_track >= len(tracks):
        table.fail(
            "model_track",
            f"expected -1 (none) or a track index 0-{len(tracks) - 1}, got {model_track}",
        )
    mapping = None
    if table.has("mapping"):
        mapping = read_mapping_list(
            table.ctx, "[sequencer] mapping", table.data["mapping"], dimension
        )
    note_low = table.integer("note_low", 36, low=0, high=127)
    note_high = table.integer("note_high", 84, low=0, high=127)
    if note_high < note_low + 11:
        table.fail(
            "note_high", f"expected at least note_low + 11 = {note_low + 11}, got {note_high}"
        )
    return SequencerConfig(
        tempo=_bounded(table, "tempo", 120.0, 20.0, 300.0),
        swing=_bounded(table, "swing", 0.0, 0.0, 0.75),
        steps=steps,
        tracks=tracks,
        clock=clock,
        clock_out=clock_out,
        clock_in=clock_in,
        quantise=_bounded(table, "quantise", 100.0, 0.0, 100.0),
        model_track=model_track,
        mapping=mapping,
        note_low=note_low,
        note_high=note_high,
        model_gate=_bounded(table, "model_gate", 1.0, 0.01, 16.0),
        ghosts=table.integer("ghosts", 0, low=0, high=64),
        response_bars=table.integer("response_bars", 1, low=0),
        patterns=table.string("patterns", ""),
        autostart=table.boolean("autostart", False),
        edit_mode=table.string("edit_mode", "step", choices=EDIT_MODES),
        controllers=_sequencer_controllers(table),
        link_quantum=table.integer("link_quantum", 4, low=1, high=16),
        link_start_stop=table.boolean("link_start_stop", False),
        latency_ms=MappingProxyType(_latency_ms(table, tracks, clock_out)),
        osc_timetag_ahead_ms=read_timetag_ahead(table, "osc_timetag_ahead_ms"),
    )
