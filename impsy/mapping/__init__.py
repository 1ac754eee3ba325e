"""Wire encodings between controller messages and the model's [0, 1] vectors."""

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
