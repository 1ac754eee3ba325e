"""``/api/status``: what the dashboard shows, gathered from engine and config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from impsy.mapping.spec import ControlChange, NoteOn, NoteVelocity, PitchBend

if TYPE_CHECKING:
    from impsy.config import Config, MappingList
    from impsy.web.context import WebContext


def mapping_label(entry: object) -> str:
    """A short name for one mapped value, e.g. ``CC 1:42`` (channel 1, controller 42)."""
    if isinstance(entry, NoteOn):
        return f"note {entry.channel}"
    if isinstance(entry, NoteVelocity):
        return f"velocity {entry.channel}"
    if isinstance(entry, ControlChange):
        return f"CC {entry.channel}:{entry.control}"
    if isinstance(entry, PitchBend):
        return f"bend {entry.channel}"
    return str(entry)


def input_mapping(config: Config) -> MappingList | None:
    """The mapping that names the values: first MIDI input, else WebSocket, else serial MIDI."""
    if config.midi is not None and config.midi.in_device:
        return config.midi.input.get(config.midi.in_device[0])
    for section in (config.websocket, config.serialmidi):
        if section is not None:
            return section.input
    return None


def labels(config: Config, dimension: int) -> list[str]:
    """One label per model value, dt first; ``x1``, ``x2``... where nothing is mapped."""
    mapping = input_mapping(config) or ()
    names = ["dt"]
    for index in range(dimension - 1):
        names.append(mapping_label(mapping[index]) if index < len(mapping) else f"x{index + 1}")
    return names


def model_info(model: Any) -> dict[str, Any] | None:
    if model is None:
        return None
    try:
        size = model.path.stat().st_size
    except OSError:
        size = None
    return {
        "file": str(model.path),
        "format": model.path.suffix.lstrip(".").lower(),
        "engine": model.engine,
        "dimension": model.dimension,
        "units": model.units,
        "layers": model.layers,
        "mixtures": model.mixtures,
        "size_bytes": size,
        "description": model.describe(),
    }


def adapter_health(adapter: Any) -> dict[str, Any]:
    """An adapter's health, or an error entry if asking it fails."""
    try:
        return dict(adapter.health())
    except Exception as err:  # a broken adapter must not break the dashboard
        name = getattr(adapter, "name", "adapter")
        return {"name": name, "description": name, "state": "error", "detail": str(err)}


def engine_status(engine: Any) -> dict[str, Any]:
    """The engine's status with what only the web UI shows: each dimension's role and
    allowed region (lists: an OSC status reply carries only flat values)."""
    return {
        **engine.status(),
        "steering": engine.steering.describe(),
        "surprise_on": engine.settings.surprise,
        "note_dimensions": list(engine.note_dimensions),
    }


def status_body(ctx: WebContext) -> dict[str, Any]:
    """Everything ``GET /api/status`` answers (see API.md)."""
    engine = ctx.engine
    webui = {"url": ctx.url, "token_required": ctx.token is not None}
    common = {"config": str(ctx.config_path), "webui": webui}
    if engine is None:
        dimension = ctx.config.model.dimension
        return {
            "running": False,
            "dimension": dimension,
            "model_info": None,
            "adapters": [],
            "labels": labels(ctx.config, dimension),
            "sequencer": False,
            "log": None,
            **common,
        }
    return {
        "running": True,
        **engine_status(engine),
        "model_info": model_info(engine.model),
        "adapters": [adapter_health(a) for a in engine.adapters],
        "labels": labels(ctx.config, engine.dimension),
        "sequencer": ctx.sequencer is not None,
        "log": str(engine.event_log.path) if engine.event_log else None,
        **common,
    }
