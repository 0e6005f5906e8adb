"""`ftcli tune`: hyper-parameter search with Optuna, scored on validation data only.

A TPE sampler (seeded) proposes each trial's settings from the search space; each trial trains in a worker
process of its own, as `ftcli finetune` would, on the training rows, and is scored by the validation metric
of its kept epoch. A median pruner stops a trial whose validation score after an epoch is below the median of
the earlier trials' at that epoch. No trial loads or scores the test split (a trial's one test pass scores its
validation rows again): the best settings are written as a config file (best.yaml) and run once (best/), which
scores the test split once. The study lives
in OUT/optuna.db, so the same command continues an interrupted search up to --trials.

    space.py    the search space: its grammar, the default space, checks
    search.py   the search: settings, data, the Optuna study, the trials, the best settings' run
    trials.py   one trial: the worker's run, and watching its epochs for the pruner
    report.py   trials.json, trials.md, trials.png
"""

from ftcli.tune.search import TuneSettings, Tuner
from ftcli.tune.space import Dimension, default_space, parse_dimension
from ftcli.tune.trials import epoch_scores, run_trial, watch

__all__ = ["TuneSettings", "Tuner", "Dimension", "default_space", "parse_dimension", "epoch_scores",
           "run_trial", "watch"]
