"""Typed run configuration: dataclasses, YAML recipes and `--set a.b=value` overrides.

Resolution order (later wins): dataclass defaults < recipe file < `--set` < explicit flags
such as `--lr`. Unknown keys and values of the wrong type are user errors, never ignored.

    schema.py     the dataclasses (`RunConfig` and its sections)
    overrides.py  setting a value by dotted key, with its type checked
    ranges.py     the ranges numeric settings must fall in (`check_ranges`)
    recipes.py    safe YAML files, `--set` arguments, and `build_config` (the resolution order)
"""

from ftcli.config.overrides import apply_mapping, get_value, set_value
from ftcli.config.ranges import RANGES, check_ranges, in_range
from ftcli.config.recipes import (TUNE_SECTION, build_config, config_from_yaml, load_recipe, parse_set_argument,
                                  parse_yaml, read_yaml_mapping, with_option_sets)
from ftcli.config.schema import (DataConfig, DistillConfig, FeatureConfig, FullConfig, MixedPrecision, ModelConfig,
                                 OptimConfig, PeftSettings, PretrainConfig, PromptSettings, RunConfig, TaskOptions,
                                 TrainConfig)

__all__ = ["TUNE_SECTION", "apply_mapping", "get_value", "set_value", "RANGES", "check_ranges", "in_range",
           "build_config", "config_from_yaml", "load_recipe", "parse_set_argument", "parse_yaml", "read_yaml_mapping",
           "with_option_sets", "DataConfig", "DistillConfig", "FeatureConfig", "FullConfig", "MixedPrecision",
           "ModelConfig", "OptimConfig", "PeftSettings", "PretrainConfig", "PromptSettings", "RunConfig", "TaskOptions", "TrainConfig"]
