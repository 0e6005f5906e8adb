"""`ftcli data check`: is this data usable for a task, and what does it look like?

Every problem is collected in one pass, each as `FILE row N column C: what is wrong`: lines of a
JSON Lines file that are not JSON objects (left out, the other rows read), rows `validate` would
refuse (`Task.row_problems`), what is wrong with the label set, labels written more than one way,
and rows with the same input but different labels. Repeated rows and rows longer than max_length
are warnings. Training still stops at the first problem."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ftcli.config import TaskOptions
from ftcli.data.columns import check_columns, describe_rows, file_row_numbers, resolve_columns
from ftcli.data.readers import Problem, keep_rows
from ftcli.data.sources import load_single
from ftcli.errors import UserError
from ftcli.tasks import get_task

PERCENTILES = (0, 50, 90, 99, 100)
SHOWN = 20
"""Lines of each kind of problem (and of warning) printed; the JSON report has them all."""
TOKENIZE_BATCH = 1000


@dataclass
class DataReport:
    source: str
    task: str
    rows: int
    columns: list[str]
    labels: dict[str, int] = field(default_factory=dict)
    lengths: dict[str, dict[str, float]] = field(default_factory=dict)
    length_unit: str = "words"
    problems: dict[str, list[str]] = field(default_factory=dict)
    """Kind ("rows with an empty label") -> its lines, in the order found."""
    warnings: dict[str, list[str]] = field(default_factory=dict)
    skipped_lines: int = 0
    """Lines that could not be read as rows: left out of everything else."""
    problem_type: str | None = None
    """Classification / NLI: single_label_classification, multi_label_classification or regression, as the
    labels (or `options.problem_type`) decide; what counts as a problem with a label follows it."""
    model: str | None = None
    max_length: int | None = None
    longer_than_max_length: int | None = None
    """Rows whose input is longer than max_length in the model's tokens (with --model)."""

    def add(self, problem: Problem, warning: bool = False) -> None:
        found = self.warnings if warning else self.problems
        found.setdefault(problem.kind, []).append(problem.describe(self.source))

    def add_error(self, error: UserError, kind: str = "other problems") -> None:
        self.add(Problem(kind, str(error)))

    @property
    def problem_count(self) -> int:
        return sum(map(len, self.problems.values()))

    def to_dict(self) -> dict[str, Any]:
        """For --output: every problem and warning (not only the first of each kind), and counts."""
        report = self.__dict__.copy()
        for name in ("problems", "warnings"):
            found = report.pop(name)
            report[name] = [line for lines in found.values() for line in lines]
            report[f"{name[:-1]}_counts"] = {kind: len(lines) for kind, lines in found.items()}
        return report


def shown_lines(found: dict[str, list[str]], limit: int = SHOWN) -> list[tuple[str, bool]]:
    """(line, False) for the first `limit` lines of each kind, then (how many more there are of
    that kind, True)."""
    lines = []
    for kind, of_kind in found.items():
        lines += [(line, False) for line in of_kind[:limit]]
        if len(of_kind) > limit:
            lines.append((f"... and {len(of_kind) - limit} more {kind}", True))
    return lines


def check_data(spec: str, task_name: str, column_overrides: dict[str, str] | None = None,
               model: str | None = None, max_length: int | None = None, options: TaskOptions | None = None) -> DataReport:
    """Read `spec`, and collect everything that is wrong with it for `task_name` instead of
    stopping at the first problem. With `model`, lengths are counted in its tokens. `options` are the task
    options (`options.problem_type`: a list label is a problem for single-label classification only)."""
    task = get_task(task_name, options)
    columns = resolve_columns(task.fields, column_overrides or {}, task.name)
    if max_length is not None and (not model or max_length < 1):
        raise UserError(f"--max-length {max_length}: " + ("must be at least 1" if model else
                        "lengths in tokens need a tokenizer; give --model too"))
    tokenizer = _tokenizer(model, task) if model else None
    unreadable: list[Problem] = []
    try:
        dataset, where = load_single(spec, unreadable)
    except UserError:
        if not unreadable:
            raise
        dataset, where = None, spec  # no line could be read: the lines are the report
    report = DataReport(source=where, task=task.name, rows=dataset.num_rows if dataset is not None else 0,
                        columns=dataset.column_names if dataset is not None else [], skipped_lines=len(unreadable))
    for problem in unreadable:
        report.add(problem)
    if dataset is None:
        return report
    try:
        check_columns(dataset, columns, task.required_for(dataset, columns), where)
    except UserError as problem:
        report.add_error(problem, "missing columns")
        return report
    clean = _check_rows(task, dataset, columns, report)
    if getattr(task, "problem_type", "auto") != "auto":
        report.problem_type = task.problem_type
        task.say_notes()  # which problem type, and why (stderr)
    summary = task.summary(dataset, columns)
    report.labels = dict(summary["labels"].most_common())
    look_alike = near_duplicate_labels(report.labels)
    if look_alike:
        shown = "; ".join(" = ".join(repr(label) for label in group) for group in look_alike[:3])
        report.add(Problem("labels written more than one way", "labels that differ only in case or spaces count "
                           f"as different labels ({shown}); write each label one way"))
    if task.modality == "text" and clean.num_rows:
        for problem, warning in duplicate_rows(task, clean, columns):
            report.add(problem, warning)
    report.length_unit = summary.get("length_unit", "words")
    lengths = summary["lengths"]
    if tokenizer is not None:
        lengths = _token_lengths(task, clean, columns, list(lengths), tokenizer, model, max_length, report)
    for name, values in lengths.items():
        if values:
            report.lengths[name] = {f"p{p}": float(np.percentile(values, p)) for p in PERCENTILES}
    return report


def _check_rows(task, dataset, columns: dict[str, str], report: DataReport):
    """Add each row the task refuses, then what is wrong with the label set of the other rows;
    return those other rows."""
    found = sorted(task.row_problems(dataset, columns), key=lambda problem: problem.row or 0)
    for problem in found:
        report.add(problem)
    bad = {problem.row for problem in found}
    clean = keep_rows(dataset, [i for i, row in enumerate(file_row_numbers(dataset)) if row not in bad]) \
        if bad else dataset
    if clean.num_rows:
        try:  # label sets are checked as training data: a single label, labels of mixed kinds, I- tags...
            task.label_list(clean, columns)
        except UserError as problem:
            report.add_error(problem, "problems with the labels")
    return clean


def near_duplicate_labels(labels) -> list[list[str]]:
    """Groups of labels equal but for case and surrounding spaces ("positive", "Positive", "positive ")."""
    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(str(label).strip().casefold(), []).append(str(label))
    return [group for group in groups.values() if len(group) > 1]


# -- repeated rows -------------------------------------------------------------------------------


def _names(columns: list[str]) -> str:
    """'a', 'b' and 'c'."""
    quoted = [f"'{c}'" for c in columns]
    return " and ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)


def _key(values) -> str:
    try:
        return json.dumps(values, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(values)


def duplicate_rows(task, dataset, columns: dict[str, str]) -> list[tuple[Problem, bool]]:
    """(problem, is a warning) for each set of rows with the same input: a problem where their
    labels differ, a warning where they are copies. Free-text outputs (generation) may differ for
    one input, so there only copies of whole rows count."""
    inputs = [columns[f] for f in task.inputs_for(dataset, columns) if columns[f] in dataset.column_names]
    targets = [columns[f] for f in task.required_for(dataset, columns)
               if columns[f] in dataset.column_names and columns[f] not in inputs]
    if task.output_kind in ("lm", "seq2seq"):
        inputs, targets = inputs + targets, []
    groups: dict[str, list[tuple[int, str, list]]] = {}
    for row, *values in zip(file_row_numbers(dataset), *(dataset[c] for c in inputs + targets)):
        target = values[len(inputs):]
        groups.setdefault(_key(values[:len(inputs)]), []).append((row, _key(target), target))
    found = []
    named = _names(inputs)
    for members in (sorted(m, key=lambda member: member[0]) for m in groups.values() if len(m) > 1):
        first, others = members[0][0], [row for row, _, _ in members[1:]]
        if len({target for _, target, _ in members}) > 1:
            found.append((_conflict(members, named, targets), False))
        else:
            found.append((Problem("sets of repeated rows", f"is repeated in {describe_rows(others)} (the same "
                                  f"{_names(inputs + targets)}); drop the copies", first), True))
    return sorted(found, key=lambda pair: pair[0].row)


def _conflict(members: list[tuple[int, str, list]], named: str, targets: list[str]) -> Problem:
    """Rows with the same input and different labels: which label each row has, when labels are short."""
    rows_by_target: dict[str, list[int]] = {}
    values: dict[str, Any] = {}
    for row, target, value in members:
        rows_by_target.setdefault(target, []).append(row)
        values[target] = value[0] if len(value) == 1 else value
    others = describe_rows([row for row, _, _ in members[1:]])
    detail = f"has the same {named} as {others} but a different {_names(targets)}"
    if all(len(repr(value)) <= 60 for value in values.values()):
        detail += ": " + ", ".join(f"{values[t]!r} ({describe_rows(rows)})" for t, rows in rows_by_target.items())
    else:
        detail += f" ({len(values)} versions: {'; '.join(describe_rows(rows) for rows in rows_by_target.values())})"
    return Problem("inputs with conflicting labels", detail + "; keep the right one", members[0][0])


# -- lengths in a model's tokens -------------------------------------------------------------------


def _tokenizer(model: str, task):
    if task.modality != "text":
        raise UserError(f"--model counts text lengths in the model's tokens; {task.name} data has no text "
                        "(its sizes are in pixels)")
    from ftcli.assets import resolve_tokenizer
    from ftcli.models.loading import load_tokenizer

    return load_tokenizer(resolve_tokenizer(model))


def default_max_length(task_name: str) -> int:
    """The max_length fine-tuning uses by default: the task's `full` recipe's, else the config's."""
    from ftcli.config.recipes import load_recipe
    from ftcli.config.schema import ModelConfig
    from ftcli.recipe_store import recipe_path

    try:
        value = (load_recipe(recipe_path(f"{task_name}/full")).get("model") or {}).get("max_length")
    except UserError:
        value = None
    return value if isinstance(value, int) and value > 0 else ModelConfig().max_length


def _count_tokens(tokenizer, values: list, words: bool) -> list[int]:
    lengths = []
    for start in range(0, len(values), TOKENIZE_BATCH):
        batch = values[start:start + TOKENIZE_BATCH]
        encoded = tokenizer(batch, add_special_tokens=False, is_split_into_words=words)["input_ids"]
        lengths += [len(ids) for ids in encoded]
    return lengths


def _token_lengths(task, dataset, columns: dict[str, str], fields: list[str], tokenizer, model: str,
                   max_length: int | None, report: DataReport) -> dict[str, list[int]]:
    """Each field's length in the model's tokens (rows without problems), and a warning for the
    rows whose input (fields and special tokens together) is longer than max_length."""
    lengths = {}
    for name in fields:
        values = dataset[columns[name]]
        lengths[name] = _count_tokens(tokenizer, values, words=bool(values) and isinstance(values[0], list))
    report.model = model
    report.length_unit = "model tokens"
    report.max_length = max_length = max_length or default_max_length(task.name)
    if not lengths or (task.output_kind == "lm" and "text" in fields):
        return lengths  # plain text is cut into blocks of max_length: nothing is lost
    specials = tokenizer.num_special_tokens_to_add(pair=len(fields) == 2)
    totals = [sum(parts) + specials for parts in zip(*lengths.values())]
    longer = sum(total > max_length for total in totals)
    report.longer_than_max_length = longer
    if longer:
        fate = "be split into several windows" if task.output_kind == "span" else "be truncated"
        rows = f"{longer} row ({longer / len(totals):.1%}) is" if longer == 1 else \
            f"{longer} rows ({longer / len(totals):.1%}) are"
        report.add(Problem("rows longer than max_length", f"{rows} longer than max_length {max_length} tokens "
                           f"and will {fate}"), warning=True)
    return lengths
