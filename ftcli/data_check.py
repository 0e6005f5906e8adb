"""`ftcli data check`: is this data usable for a task, and what does it look like?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ftcli.data.columns import check_columns, resolve_columns
from ftcli.data.sources import load_single
from ftcli.errors import UserError
from ftcli.tasks import get_task

PERCENTILES = (0, 50, 90, 99, 100)


@dataclass
class DataReport:
    source: str
    task: str
    rows: int
    columns: list[str]
    labels: dict[str, int] = field(default_factory=dict)
    lengths: dict[str, dict[str, float]] = field(default_factory=dict)
    length_unit: str = "words"
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def check_data(spec: str, task_name: str, column_overrides: dict[str, str] | None = None) -> DataReport:
    """Read `spec`, and collect what is wrong with it for `task_name` instead of stopping at the
    first problem (reading errors still stop: there is nothing to summarise)."""
    task = get_task(task_name)
    columns = resolve_columns(task.fields, column_overrides or {}, task.name)
    dataset, where = load_single(spec)
    report = DataReport(source=where, task=task.name, rows=dataset.num_rows, columns=dataset.column_names)
    try:
        check_columns(dataset, columns, task.required_for(dataset, columns), where)
    except UserError as problem:
        report.problems.append(str(problem))
        return report
    for check in (lambda: task.validate(dataset, columns, None, where),
                  lambda: task.label_list(dataset, columns)):  # label sets are checked as training data
        try:
            check()
        except UserError as problem:
            if str(problem) not in report.problems:
                report.problems.append(str(problem))
    summary = task.summary(dataset, columns)
    report.labels = dict(summary["labels"].most_common())
    look_alike = near_duplicate_labels(report.labels)
    if look_alike:
        shown = "; ".join(" = ".join(repr(label) for label in group) for group in look_alike[:3])
        report.problems.append(f"{where}: labels that differ only in case or spaces count as different labels "
                               f"({shown}); write each label one way")
    report.length_unit = summary.get("length_unit", "words")
    for name, values in summary["lengths"].items():
        if values:
            report.lengths[name] = {f"p{p}": float(np.percentile(values, p)) for p in PERCENTILES}
    return report


def near_duplicate_labels(labels) -> list[list[str]]:
    """Groups of labels equal but for case and surrounding spaces ("positive", "Positive", "positive ")."""
    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(str(label).strip().casefold(), []).append(str(label))
    return [group for group in groups.values() if len(group) > 1]
