"""Strategy registry: how pretrained weights are reused (`--strategy`)."""

from __future__ import annotations

from ftcli.errors import UserError
from ftcli.strategies import full

STRATEGIES = {
    "full": full,
}


def get_strategy(name: str):
    if name not in STRATEGIES:
        raise UserError(f"unknown strategy '{name}'; available: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]
