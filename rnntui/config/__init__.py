"""The run configuration: its fields and their checks (fields), presets, and text forms
(TOML, the config string). The bottom layer: it imports nothing of rnntui."""

from .fields import (
    CELLS,
    DATA_MODES,
    FIELDS,
    MAX_LAG,
    MAX_RULES,
    OPTIMIZERS,
    Config,
    ConfigError,
    DataConfig,
    Field,
    ModelConfig,
    Rules,
    TrainConfig,
    check_probabilities,
    check_rules,
    cross_errors,
    format_rules,
    parse_rules,
    parse_value,
    split_error,
    states_per_layer,
    validate,
)
from .presets import PRESET_ALIASES, PRESETS, preset, preset_of
from .text import (
    config_string,
    format_value,
    from_mapping,
    load_toml,
    parse_config_string,
    to_toml,
)
from .truncation import (
    effective_stride,
    positions_trained,
    style_name,
    truncation_text,
    windows_per_row,
)

__all__ = [
    "CELLS", "Config", "ConfigError", "DATA_MODES", "DataConfig", "FIELDS", "Field", "MAX_LAG",
    "MAX_RULES", "ModelConfig", "OPTIMIZERS", "PRESETS", "PRESET_ALIASES", "Rules",
    "TrainConfig", "check_probabilities", "check_rules", "config_string", "cross_errors",
    "effective_stride", "format_rules", "format_value", "from_mapping", "load_toml",
    "parse_config_string", "parse_rules", "parse_value", "positions_trained", "preset",
    "preset_of", "split_error", "states_per_layer", "style_name", "to_toml", "truncation_text",
    "validate",
    "windows_per_row",
]
