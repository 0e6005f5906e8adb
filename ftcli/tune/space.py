"""The search space: which config keys a search varies, and over what.

One grammar, on the command line (`--space KEY=KIND:ARGS`, repeatable) and in a recipe's `tune:` section
(`space: {KEY: KIND:ARGS}`, a list standing for `choice`):

    optim.lr=loguniform:1e-5:1e-3     a number between the two, drawn on a log scale
    optim.warmup_ratio=uniform:0:0.2  a number between the two
    train.epochs=int:1:4              a whole number from the first to the second, both included
    train.batch_size=choice:16,32     one of the listed values (read as YAML: 16, 0.1, true, mean)

Every key must be a setting of the run (`ftcli recipes show`), every value of its type and range, checked
before anything loads. The data, the seed (it also draws the validation rows), the task, strategy and model
are not searched: they are what the search is about.

Without a space, `default_space` varies the learning rate (the recipe's / 5 to x 2, log scale), the epochs
(half the recipe's to twice), the batch size (16 or 32), the warm-up ratio (0 to 0.2), the weight decay (0 to
0.1), with LoRA its rank (4, 8 or 16), with contrastive its pair rounds (10, 20 or 40): the same rule for every task, centred on the recipe's values.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from ftcli.errors import UserError

KINDS = ("loguniform", "uniform", "int", "choice")
EXAMPLE = "e.g. optim.lr=loguniform:1e-5:1e-3, train.epochs=int:1:4, train.batch_size=choice:16,32"
FIXED = ("task", "strategy", "model.name", "output_dir", "train.seed", "data.")
"""Keys a search may not vary (a prefix ending in "." covers its section)."""


@dataclass(frozen=True)
class Dimension:
    """One searched key and its distribution."""

    key: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    choices: tuple = ()

    @property
    def text(self) -> str:
        """The grammar's spelling, as `--space` takes it back."""
        if self.kind == "choice":
            return f"{self.key}=choice:{','.join(_scalar_text(c) for c in self.choices)}"
        return f"{self.key}={self.kind}:{_scalar_text(self.low)}:{_scalar_text(self.high)}"

    def suggest(self, trial) -> Any:
        """This key's value for an Optuna trial."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high))
        return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.kind == "loguniform")


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.0e}".replace("e-0", "e-")
    return "null" if value is None else str(value)


def _number(text: str, item: str) -> float | int:
    from ftcli.config import parse_yaml

    try:
        value = parse_yaml(text)
    except Exception:
        value = None
    if isinstance(value, str):  # YAML reads 1e-5 (no dot) as text
        try:
            value = float(value)
        except ValueError:
            value = None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise UserError(f"--space {item}: {text!r} is not a number ({EXAMPLE})")
    return value


def parse_dimension(item: str) -> Dimension:
    """`KEY=KIND:ARGS` -> a Dimension (its key and values not yet checked against the config)."""
    key, sep, spec = item.partition("=")
    kind, colon, args = spec.partition(":")
    key, kind = key.strip(), kind.strip()
    if not sep or not key or not colon or not args.strip():
        raise UserError(f"--space {item}: write KEY=KIND:ARGS with KIND one of {', '.join(KINDS)} ({EXAMPLE})")
    if kind not in KINDS:
        from ftcli.preflight import did_you_mean

        raise UserError(f"--space {item}: unknown kind '{kind}'{did_you_mean(kind, KINDS)}; "
                        f"use one of {', '.join(KINDS)} ({EXAMPLE})")
    if kind == "choice":
        from ftcli.config import parse_set_argument

        choices = tuple(parse_set_argument(f"x={part.strip()}")[1] for part in args.split(",") if part.strip())
        if len(choices) < 1 or len(set(map(repr, choices))) != len(choices):
            raise UserError(f"--space {item}: choice needs distinct comma-separated values ({EXAMPLE})")
        return Dimension(key, kind, choices=choices)
    bounds = args.split(":")
    if len(bounds) != 2:
        raise UserError(f"--space {item}: {kind} takes LOW:HIGH ({EXAMPLE})")
    low, high = (_number(b.strip(), item) for b in bounds)
    if kind == "int" and not all(isinstance(b, int) for b in (low, high)):
        raise UserError(f"--space {item}: int takes whole numbers, e.g. {key}=int:1:4")
    if not low < high:
        raise UserError(f"--space {item}: LOW must be below HIGH")
    if kind == "loguniform" and low <= 0:
        raise UserError(f"--space {item}: loguniform needs LOW > 0 (a log scale has no 0); use uniform")
    return Dimension(key, kind, low, high)


def from_recipe(section: Any, where: str) -> list[str]:
    """A recipe's `tune: {space: {KEY: KIND:ARGS or [values]}}` as `--space` items."""
    if section is None:
        return []
    if not isinstance(section, dict) or set(section) - {"space"}:
        raise UserError(f"{where}: `tune:` holds one key, space: a mapping of KEY: KIND:ARGS ({EXAMPLE})")
    space = section.get("space") or {}
    if not isinstance(space, dict):
        raise UserError(f"{where}: tune.space must map keys to KIND:ARGS ({EXAMPLE})")
    items = []
    for key, spec in space.items():
        if isinstance(spec, list):
            spec = "choice:" + ",".join(_scalar_text(value) for value in spec)
        items.append(f"{key}={spec}")
    return items


def check_space(space: list[Dimension], config) -> None:
    """Each key a setting the search may vary, each value of its type and in its range."""
    from ftcli.config import check_ranges, set_value

    seen: set[str] = set()
    for dim in space:
        if dim.key in seen:
            raise UserError(f"--space {dim.text}: {dim.key} is given twice")
        seen.add(dim.key)
        if any(dim.key == fixed or (fixed.endswith(".") and dim.key.startswith(fixed)) for fixed in FIXED):
            raise UserError(f"--space {dim.text}: {dim.key} is not searched (the task, strategy, model, data and "
                            "seed are what a search compares on); set it with its flag or --set")
        values = dim.choices if dim.kind == "choice" else (dim.low, dim.high)
        for value in values:
            trial = copy.deepcopy(config)
            try:
                set_value(trial, dim.key, value)
                check_ranges(trial)
            except UserError as err:
                raise UserError(f"--space {dim.text}: {err}") from None


def default_space(config) -> list[Dimension]:
    """The search without --space (see the module's docstring), centred on the recipe's values."""
    lr, epochs = config.optim.lr, config.train.epochs
    space = [
        Dimension("optim.lr", "loguniform", float(f"{lr / 5:.3g}"), float(f"{lr * 2:.3g}")),
        Dimension("train.epochs", "int", max(1, epochs // 2), max(2, epochs * 2)),
        Dimension("train.batch_size", "choice", choices=(16, 32)),
        Dimension("optim.warmup_ratio", "uniform", 0.0, 0.2),
        Dimension("optim.weight_decay", "uniform", 0.0, 0.1),
    ]
    if config.strategy == "lora":
        space.append(Dimension("peft.lora_r", "choice", choices=(4, 8, 16)))
    if config.strategy == "contrastive":
        space.append(Dimension("contrastive.num_iterations", "choice", choices=(10, 20, 40)))
    return space


def resolve_space(items: list[str], recipe_items: list[str], config) -> list[Dimension]:
    """--space items (they replace the recipe's `tune:` space), else the recipe's, else the default; checked."""
    space = [parse_dimension(item) for item in (items or recipe_items)] or default_space(config)
    check_space(space, config)
    return space


def apply_params(config, params: dict[str, Any]) -> None:
    """A trial's values set in `config` (the keys were checked with the space)."""
    from ftcli.config import set_value

    for key, value in params.items():
        set_value(config, key, value)
