"""Metrics as `evaluate` modules shipped inside the package.

`evaluate.load("accuracy")` fetches its script from the Hub; `evaluate.load(<local dir>)`
does not, so each metric here is a directory holding `<name>/<name>.py`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

METRICS_DIR = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.name for p in METRICS_DIR.iterdir() if (p / f"{p.name}.py").is_file())


@lru_cache(maxsize=None)
def load_metric(name: str):
    """An `evaluate.EvaluationModule` for one of the shipped metrics, loaded offline."""
    import evaluate

    path = METRICS_DIR / name
    if not (path / f"{name}.py").is_file():
        raise ValueError(f"no shipped metric named {name!r} (have: {', '.join(available())})")
    from ftcli.paths import huggingface_cache

    # evaluate copies the metric's script into its modules cache, under the home folder by default.
    huggingface_cache(evaluate.config.HF_MODULES_CACHE, "modules")
    return evaluate.load(str(path))
