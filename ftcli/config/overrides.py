"""Setting values by dotted key (`--set a.b=value`, a recipe's nested keys) with the key and the
value's type checked against the dataclasses: unknown keys and values of the wrong type are user
errors, never ignored."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

from ftcli.config.schema import RunConfig
from ftcli.errors import UserError


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Return `value` converted to `annotation`, or raise UserError naming `key`."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except UserError as err:
                errors.append(err)
        raise errors[0]
    if origin is Literal:
        choices = typing.get_args(annotation)
        if value not in choices:
            raise UserError(f"{key} must be one of {', '.join(map(str, choices))}, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{key} must be a mapping, got {value!r}")
        return {str(k): _coerce(v, typing.get_args(annotation)[1], f"{key}.{k}") for k, v in value.items()}
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{key} must be true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise UserError(f"{key} must be an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise UserError(f"{key} must be a number, got {value!r}")
    if annotation is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"{key} must be a string, got {value!r}")
    raise TypeError(f"unsupported config type {annotation!r} for {key}")


def field_types(obj: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(obj))


def set_value(config: RunConfig, dotted_key: str, value: Any) -> None:
    """Assign `value` at `a.b.c`, checking that the key exists and the type fits."""
    parts = dotted_key.split(".")
    target: Any = config
    for depth, part in enumerate(parts):
        here = ".".join(parts[: depth + 1])
        last = depth == len(parts) - 1
        if isinstance(target, dict):
            # Free-form mappings (data.columns) take any key, with string values.
            if not last:
                raise UserError(f"unknown config key '{dotted_key}': {here} is a string")
            target[part] = _coerce(value, str, dotted_key)
            return
        hints = field_types(target)
        if part not in hints:
            known = ", ".join(f.name for f in dataclasses.fields(target))
            raise UserError(f"unknown config key '{here}' (known here: {known})")
        if last:
            current = getattr(target, part)
            if dataclasses.is_dataclass(current):
                if not isinstance(value, dict):
                    raise UserError(f"{here} is a section; set its keys, e.g. {here}.<key>=...")
                for sub_key, sub_value in value.items():
                    set_value(config, f"{here}.{sub_key}", sub_value)
                return
            setattr(target, part, _coerce(value, hints[part], dotted_key))
            return
        target = getattr(target, part)
        if not (dataclasses.is_dataclass(target) or isinstance(target, dict)):
            raise UserError(f"unknown config key '{dotted_key}': {here} is not a section")


def apply_mapping(config: RunConfig, mapping: dict[str, Any], prefix: str = "") -> None:
    """Apply a nested mapping (a parsed recipe) key by key, with the same checks as --set."""
    for key, value in mapping.items():
        set_value(config, f"{prefix}{key}", value)  # a section's mapping is checked key by key there


def field_at(config: RunConfig, dotted_key: str) -> tuple[Any, str] | None:
    """The dataclass section holding `a.b.c` and the field's name, or None when the key names
    no field."""
    section: Any = config
    *path, name = dotted_key.split(".")
    for part in path:
        if not dataclasses.is_dataclass(section) or part not in field_types(section):
            return None
        section = getattr(section, part)
    if not dataclasses.is_dataclass(section) or name not in field_types(section):
        return None
    return section, name


def expects_text(config: RunConfig, dotted_key: str) -> bool:
    found = field_at(config, dotted_key)
    if found is None:
        return False
    annotation = field_types(found[0])[found[1]]
    return annotation is str or (typing.get_origin(annotation) in (typing.Union, types.UnionType)
                                 and str in typing.get_args(annotation))


def get_value(config: RunConfig, dotted_key: str) -> Any:
    target: Any = config
    for part in dotted_key.split("."):
        target = target[part] if isinstance(target, dict) else getattr(target, part)
    return target
