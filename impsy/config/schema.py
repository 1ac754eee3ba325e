"""The typed, validated configuration the rest of impsy reads.

Everything here is frozen and already checked, so adapters and the engine
never re-validate or guess at defaults. A section that was absent from the
file is ``None``: as in IMPSY, writing a section is what enables its adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from impsy.config.reader import quoted
from impsy.config.sizes import MODEL_SIZES, ModelSize
from impsy.mapping.spec import Mapping, NoteOn

MappingList = tuple[Mapping, ...]
"""One mapping entry per model value, dt excluded (length ``dimension - 1``)."""

GATES: tuple[str, ...] = ("auto", "sigmoid", "hard_sigmoid")
ENGINES: tuple[str, ...] = ("auto", "numpy", "litert")


@dataclass(frozen=True)
class InteractionConfig:
    """How user and model take turns."""

    mode: str = "callresponse"
    threshold: float = 0.1
    input_thru: bool = False


@dataclass(frozen=True)
class ModelConfig:
    """Which network to load and how to sample from it."""

    dimension: int = 9
    file: str | None = None
    """As written in the file (relative paths are the caller's to resolve); None = no model."""
    size: str = "s"
    sigmatemp: float = 0.01
    pitemp: float = 1.0
    timescale: float = 1.0
    seed: int | None = None
    gate: str = "auto"
    engine: str = "auto"
    lead: bool = False
    """The model was trained on lead rows (the performer's dimensions one event ahead of its
    own, ``impsy.dataset.chorales.lead_events``): ``accompany`` feeds it the gesture with its
    last answer and answers from that step."""

    @property
    def architecture(self) -> ModelSize:
        """Units, mixtures and layers for ``size``, as used when a file does not say."""
        return MODEL_SIZES[self.size]


@dataclass(frozen=True)
class SteeringConfig:
    """``[steering]``: who plays each dimension and what the model may play (all indices count
    ``[dt, x1..xn]``: 0 is dt)."""

    roles: tuple[str, ...]
    """One role per dimension, dt first: both, human or model."""
    scale: tuple[int, str] | None = None
    """(root pitch class, scale name) for ``scale_dimensions``."""
    scale_dimensions: tuple[int, ...] = ()
    ranges: dict[int, tuple[float, float]] = field(default_factory=dict)
    notes: dict[int, tuple[int, ...]] = field(default_factory=dict)
    hold: dict[int, float] = field(default_factory=dict)
    density: float = 0.0
    surprise: bool = False


@dataclass(frozen=True)
class MidiConfig:
    """MIDI ports by name; each listed port has its own mapping list."""

    in_device: tuple[str, ...] = ()
    out_device: tuple[str, ...] = ()
    input: MappingProxyType[str, MappingList] = field(default_factory=lambda: MappingProxyType({}))
    output: MappingProxyType[str, MappingList] = field(default_factory=lambda: MappingProxyType({}))
    feedback_protection: bool = False
    feedback_threshold: float = 0.02
    thru_matrix: MappingProxyType[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    virtual: bool = False
    surprise_cc: tuple[int, int] | None = None
    """(channel 1-16, control): the surprise meter as a CC on every output port."""
    surprise_range: tuple[float, float] = (-10.0, 30.0)
    """The surprise (nats) that maps to CC value 0 and to 127."""


@dataclass(frozen=True)
class OscConfig:
    """Where impsy listens for OSC and where it sends predictions."""

    server_ip: str = "127.0.0.1"
    server_port: int = 6000
    client_ip: str = "127.0.0.1"
    client_port: int = 6001
    output_address: str = "/impsy"
    timetag_ahead_ms: float = 0.0
    """The model's playing is sent this long before it is due, in a bundle stamped with when
    it is due (``impsy.io.osc_timetag``); 0: each message leaves when due, as before."""


@dataclass(frozen=True)
class WebSocketConfig:
    """A WebSocket server exchanging MIDI-shaped messages with browsers."""

    input: MappingList
    output: MappingList
    server_ip: str = "127.0.0.1"
    server_port: int = 5001
    origins: tuple[str, ...] = ()
    """Web page origins allowed besides local ones (``"*"``: any); see impsy.io.websocket."""


@dataclass(frozen=True)
class SerialConfig:
    """Comma-separated values over a serial port (micro:bit, Arduino...)."""

    port: str
    baudrate: int = 115200
    latency_ms: float = 0.0
    """Send the model's scheduled playing this much early (the device's own delay)."""


@dataclass(frozen=True)
class SerialMidiConfig:
    """Raw MIDI bytes over a serial port (e.g. a Raspberry Pi UART)."""

    port: str
    input: MappingList
    output: MappingList
    baudrate: int = 31250
    latency_ms: float = 0.0
    """Send the model's scheduled notes this much early (the device's own delay)."""


STUDIO_BACKENDS: tuple[str, ...] = ("local", "ray")


@dataclass(frozen=True)
class StudioConfig:
    """Where ``impsy train``, the web UI's train button and the ``train`` command train."""

    backend: str = "local"
    """``local`` (this machine) or ``ray`` (a Ray cluster: ``impsy[studio]``)."""
    address: str = ""
    """For ``ray``: ``host:port`` of the cluster, ``ray://host:10001`` (Ray Client), or ""
    to start a Ray for each job on this machine."""


@dataclass(frozen=True)
class WebUIConfig:
    """The browser interface; ``monitor_port``/``command_port`` are IMPSY's keys, kept."""

    host: str = "127.0.0.1"
    port: int = 4000
    token: str | None = None
    monitor_port: int = 4001
    command_port: int = 4002
    max_upload_mb: float = 50.0
    """The largest model file the Files page accepts (a ``.keras`` of size xl is ~30 MB)."""


@dataclass(frozen=True)
class OscQueryConfig:
    """``[oscquery]``: the OSC namespace served as OSCQuery JSON on its own port."""

    host: str = "127.0.0.1"
    port: int = 4003
    token: str | None = None
    zeroconf: bool = False
    """Advertise it as ``_oscjson._tcp`` over mDNS (the ``oscquery`` extra)."""
    name: str = "impsy"


CLOCK_SOURCES: tuple[str, ...] = ("internal", "master", "follow", "link")
EDIT_MODES: tuple[str, ...] = ("step", "live")


@dataclass(frozen=True)
class SequencerTrackConfig:
    """One track of the sequencer's first pattern (a saved bank overrides these)."""

    name: str = "track 1"
    port: str = ""
    """A MIDI output port name (partial match); "" or "osc" plays through OSC."""
    channel: int = 1
    steps: int = 16
    steps_per_beat: int = 4


@dataclass(frozen=True)
class SequencerControllerConfig:
    """A MIDI controller driving the sequencer through a profile's rules."""

    profile: str
    """A built-in profile name or a .toml path (checked when the config loads)."""
    in_device: str
    out_device: str | None = None
    """Where its LEDs are lit; None = no LED feedback."""


@dataclass(frozen=True)
class SequencerConfig:
    """The step sequencer: tempo, tracks, clock sync and how the model plays on the grid."""

    tempo: float = 120.0
    swing: float = 0.0
    steps: int = 16
    tracks: tuple[SequencerTrackConfig, ...] = (SequencerTrackConfig(),)
    clock: str = "internal"
    clock_out: tuple[str, ...] = ()
    clock_in: str = ""
    quantise: float = 100.0
    model_track: int = 0
    """Index of the track the model plays on; -1 keeps the model off the grid."""
    mapping: MappingList | None = None
    """Model values <-> notes/velocity/CCs; None = derived from the dimension (see defaults)."""
    note_low: int = 36
    note_high: int = 84
    model_gate: float = 1.0
    ghosts: int = 0
    response_bars: int = 1
    patterns: str = ""
    autostart: bool = False
    edit_mode: str = "step"
    controllers: tuple[SequencerControllerConfig, ...] = ()
    link_quantum: int = 4
    """``clock = "link"``: beats from one of the session's phase 0 to the next (a bar of 4)."""
    link_start_stop: bool = False
    """``clock = "link"``: start and stop with the session (Link's start/stop sync)."""
    latency_ms: MappingProxyType[str, float] = field(default_factory=lambda: MappingProxyType({}))
    """Output name (a MIDI port, or "osc") -> how early its notes leave, in ms."""
    osc_timetag_ahead_ms: float = 0.0
    """Like ``[osc] timetag_ahead_ms``, for the notes of the tracks played over OSC."""


ADAPTER_SECTIONS: tuple[str, ...] = ("midi", "osc", "websocket", "serial", "serialmidi")


@dataclass(frozen=True)
class Config:
    """A whole config file, validated; build it with ``load_config`` or ``load_config_text``."""

    source: str
    """The file name (or the name given to ``load_config_text``), used in messages."""
    title: str | None = None
    owner: str | None = None
    description: str | None = None
    name: str | None = None
    verbose: bool = False
    log_input: bool = True
    log_predictions: bool = False
    realtime: bool = True
    """The event loop's thread at real-time priority where permitted (``engine.priority``)."""
    interaction: InteractionConfig = field(default_factory=InteractionConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    midi: MidiConfig | None = None
    osc: OscConfig | None = None
    websocket: WebSocketConfig | None = None
    serial: SerialConfig | None = None
    serialmidi: SerialMidiConfig | None = None
    webui: WebUIConfig | None = None
    studio: StudioConfig | None = None
    oscquery: OscQueryConfig | None = None
    sequencer: SequencerConfig | None = None
    steering: SteeringConfig | None = None
    warnings: tuple[str, ...] = ()
    """Non-fatal problems (unknown keys, coerced values), each naming file, section and key."""
    _raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def adapters(self) -> tuple[str, ...]:
        """The enabled I/O sections, in a fixed order."""
        return tuple(name for name in ADAPTER_SECTIONS if getattr(self, name) is not None)

    def note_dimensions(self) -> tuple[int, ...]:
        """The dimensions (1-based, as x1..xn) some output mapping plays as notes."""
        outputs: list[MappingList] = []
        if self.midi is not None:
            outputs += list(self.midi.output.values())
        for section in ("websocket", "serialmidi"):
            value = getattr(self, section)
            if value is not None:
                outputs.append(value.output)
        found = {
            i + 1
            for mapping in outputs
            for i, entry in enumerate(mapping)
            if isinstance(entry, NoteOn)
        }
        return tuple(sorted(found))

    def mapping_lists(self) -> list[tuple[str, MappingList]]:
        """Every mapping list with the key that holds it, for checks against a model."""
        found: list[tuple[str, MappingList]] = []
        if self.midi is not None:
            found += [(f"[midi] input.{quoted(p)}", m) for p, m in self.midi.input.items()]
            found += [(f"[midi] output.{quoted(p)}", m) for p, m in self.midi.output.items()]
        if self.sequencer is not None and self.sequencer.mapping is not None:
            found.append(("[sequencer] mapping", self.sequencer.mapping))
        for section in ("websocket", "serialmidi"):
            value = getattr(self, section)
            if value is not None:
                found += [
                    (f"[{section}] input", value.input),
                    (f"[{section}] output", value.output),
                ]
        return found
