"""Recipes and other YAML settings files (safe YAML, no aliases), `--set` arguments, and the
resolution order that builds a run's `RunConfig` from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ftcli.config.overrides import apply_mapping, expects_text, get_value, set_value
from ftcli.config.schema import RunConfig, TaskOptions
from ftcli.errors import UserError


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without aliases: settings never need them, and nested aliases (a "billion laughs"
    file of a few hundred bytes) expand to gigabytes as soon as anything prints or copies them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed here",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


def parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_NoAliasLoader)


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping (a recipe, a run's config.yaml, an accelerate config):
    invalid YAML, aliases, Python tags and anything but a mapping are one-line UserErrors."""
    try:
        data = parse_yaml(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{what} {path} is not valid YAML{where}: {problem[:200]}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read {what} {path}: {getattr(err, 'strerror', None) or err}") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} {path} must be a mapping of keys to values, not a {type(data).__name__}")
    return data


TUNE_SECTION = "tune"
"""The recipe section only `ftcli tune` reads."""


def load_recipe(path: Path) -> dict[str, Any]:
    """Read a recipe YAML file, or a shipped recipe named TASK/NAME (`--recipe mlm/tapt`), into a mapping
    (validated when applied)."""
    if not path.is_file():
        from ftcli.recipe_store import list_recipes, recipe_path

        if str(path) in list_recipes():
            path = recipe_path(str(path))
        else:
            raise UserError(f"recipe file not found: {path} (nor a shipped recipe: `ftcli recipes ls`)")
    return read_yaml_mapping(path, "recipe")


def parse_set_argument(argument: str) -> tuple[str, Any]:
    """`a.b=value` -> ("a.b", parsed value). Values are read as YAML scalars (3e-5, true, null)."""
    key, sep, raw = argument.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set expects key=value, got {argument!r}")
    try:
        value = parse_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    # YAML reads "5e-5" (no dot) as a string; accept it as the number the user meant.
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value.lower() for c in ".e") else value
        except ValueError:
            pass
    return key.strip(), value


def build_config(
    recipe: dict[str, Any] | None = None,
    sets: list[str] | None = None,
    flags: dict[str, Any] | None = None,
) -> RunConfig:
    """Defaults < recipe < --set arguments < explicit flags (already typed, None = not given).
    `config.given` keeps the keys the command line set (--set and flags): what `--resume` checks."""
    config = RunConfig()
    given: dict[str, Any] = {}
    if recipe:
        # A recipe's `tune:` section is the search space `ftcli tune` reads; a single run has no use for it.
        apply_mapping(config, {key: value for key, value in recipe.items() if key != TUNE_SECTION})
    for argument in sets or []:
        key, value = parse_set_argument(argument)
        if not isinstance(value, str) and expects_text(config, key):
            # "prompt.query=Review: {text}" reads as a YAML mapping; a text field takes it verbatim.
            value = argument.partition("=")[2]
        set_value(config, key, value)
        given[key] = get_value(config, key)
    for key, value in (flags or {}).items():
        if value is not None:
            set_value(config, key, value)
            given[key] = get_value(config, key)
    config.given = given  # not a field: never saved in config.yaml
    return config


def config_from_yaml(path: Path) -> RunConfig:
    """Rebuild a RunConfig from a run directory's config.yaml."""
    config = RunConfig()
    apply_mapping(config, load_recipe(path))
    return config


def with_option_sets(options: TaskOptions, sets: list[str] | None) -> TaskOptions:
    """`--set options.KEY=VALUE` over a run's task options (generation settings, QA limits, the problem type)."""
    if not sets:
        return options
    holder = RunConfig()
    holder.options = options
    for argument in sets:
        key, value = parse_set_argument(argument)
        if not key.startswith("options."):
            raise UserError(f"--set here takes task options (options.KEY=VALUE), got {key}")
        set_value(holder, key, value)
    return holder.options
