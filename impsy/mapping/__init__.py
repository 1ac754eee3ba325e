"""Between controller messages and the model's [0, 1] vectors.

``spec`` reads mapping entries, ``midi`` and ``websocket`` encode and
decode messages, and ``pipeline`` turns a message's sparse updates into the
dense ``[dt, x_1..x_n]`` the model wants, live (the engine) and offline
(datasets from MIDI files) alike. Everything here is pure: no I/O, no clock.
"""

from impsy.mapping.spec import (
    ControlChange,
    Mapping,
    MappingError,
    NoteOn,
    NoteVelocity,
    PitchBend,
    parse_mapping,
    parse_mapping_list,
)

__all__ = [
    "ControlChange",
    "Mapping",
    "MappingError",
    "NoteOn",
    "NoteVelocity",
    "PitchBend",
    "parse_mapping",
    "parse_mapping_list",
]
