"""Load and validate impsy's TOML config files into frozen, typed objects.

Files written for IMPSY 1.2.1 load unchanged. Every problem is reported at
load time as a one-line ``ConfigError`` naming file, section, key and what
was expected; unknown keys and coerced values become ``Config.warnings``.
"""

from impsy.config.defaults import default_config_text
from impsy.config.dimension import check_model_dimension
from impsy.config.errors import ConfigError
from impsy.config.loader import load_config, load_config_text
from impsy.config.modes import MODE_ALIASES, MODES, canonical_mode
from impsy.config.overrides import OVERRIDABLE, with_overrides
from impsy.config.schema import (
    ENGINES,
    GATES,
    Config,
    InteractionConfig,
    MappingList,
    MidiConfig,
    ModelConfig,
    OscConfig,
    SerialConfig,
    SerialMidiConfig,
    StudioConfig,
    WebSocketConfig,
    WebUIConfig,
)
from impsy.config.sizes import MODEL_SIZES, ModelSize, model_size

__all__ = [
    "ENGINES",
    "GATES",
    "MODEL_SIZES",
    "MODES",
    "MODE_ALIASES",
    "OVERRIDABLE",
    "with_overrides",
    "Config",
    "ConfigError",
    "InteractionConfig",
    "MappingList",
    "MidiConfig",
    "ModelConfig",
    "ModelSize",
    "OscConfig",
    "SerialConfig",
    "SerialMidiConfig",
    "WebSocketConfig",
    "StudioConfig",
    "WebUIConfig",
    "canonical_mode",
    "check_model_dimension",
    "default_config_text",
    "load_config",
    "load_config_text",
    "model_size",
]
