"""`ftcli compare`: which strategy pays for how much labelled data.

Every chosen strategy runs at every training-set size on class-balanced subsamples, with several
seeds; in-context learning runs zero-shot at size 0 and k-shot (demonstrations drawn from the
subsample) at small sizes. Each finished cell is written to `cells/` at once, so an interrupted
comparison re-run with the same command skips what is done. The result: `compare.json`,
`compare.md` (mean and standard deviation over seeds per cell) and `compare.png` (a learning curve).

    plan.py        the strategies, sizes and seeds (cells), subsamples and the schedule per size
    comparison.py  running the cells (each in a worker process) and writing the result
    report.py      the summary over seeds and the markdown table

Training settings come from each strategy's recipe; only the schedule follows the data size, by a
rule fixed in advance (see `ftcli.compare.plan`).
"""

from ftcli.compare.comparison import Comparison, run_worker
from ftcli.compare.plan import (DEFAULT_SIZES, DEFAULT_STRATEGIES, MAX_EPOCHS, MAX_IN_CONTEXT_SIZE, MAX_SHOTS,
                                MIN_STEPS, STRATEGIES, Cell, CompareSettings, balanced_indices, check_settings,
                                parse_list, plan, schedule, strategies_for)
from ftcli.compare.report import markdown_table, summarize

__all__ = ["Comparison", "run_worker", "DEFAULT_SIZES", "DEFAULT_STRATEGIES", "MAX_EPOCHS",
           "MAX_IN_CONTEXT_SIZE", "MAX_SHOTS", "MIN_STEPS", "STRATEGIES", "Cell", "CompareSettings",
           "balanced_indices", "check_settings", "parse_list", "plan", "schedule", "strategies_for", "markdown_table", "summarize"]
