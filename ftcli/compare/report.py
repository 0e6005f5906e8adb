"""A comparison's result: per strategy and size, the mean and standard deviation over seeds, as rows
(compare.json) and as a markdown table (compare.md)."""

from __future__ import annotations

import statistics
from collections import Counter

from ftcli.compare.plan import STRATEGIES
from ftcli.data.labels import label_key
from ftcli.strategies import IN_CONTEXT


def summarize(results: list[dict]) -> list[dict]:
    """Per (strategy, size): mean and standard deviation over seeds of the metric and the costs."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for result in results:
        groups.setdefault((result["strategy"], result["size"]), []).append(result)
    rows = []
    for (strategy, size), cells in sorted(groups.items(), key=lambda item: (item[0][1], STRATEGIES.index(item[0][0]))):
        values = [c["value"] for c in cells]
        rows.append({
            "strategy": strategy, "size": size, "seeds": len(cells), "metric": cells[0]["metric"],
            "mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "shots": cells[0].get("shots"), "model": cells[0].get("model"),
            "trainable_parameters": cells[0]["trainable_parameters"],
            "seconds": statistics.fmean(c["seconds"] for c in cells),
            "peak_memory_mb": max(c["peak_memory_mb"] for c in cells),
        })
    return rows


def baselines(metric: str, train_labels: list, test_labels: list) -> dict[str, float]:
    """What the metric scores with nothing learned, on the test rows every cell is scored on: always
    answering their most common label (`majority class`: its share of them) and guessing uniformly among
    the training set's labels (`chance`: 1/k). Measured on the test rows because that is what the scores
    are compared with; it selects nothing.

    Only for accuracy. An F1 has no such line that holds for every averaging (the majority class's binary
    F1 is not its share; predicting no entity scores 0 entity-level F1), so none is drawn rather than a
    misleading one; unlabelled tasks have none either."""
    if metric != "accuracy" or not (test_labels and train_labels) or None in test_labels or None in train_labels:
        return {}
    counts = Counter(label_key(label) for label in test_labels)
    classes = {label_key(label) for label in train_labels}
    return {"majority class": max(counts.values()) / len(test_labels), "chance": 1 / len(classes)}


def markdown_table(summary: list[dict], title: str, reference: dict[str, float] | None = None) -> str:
    """compare.md: the summary as a table, and the `baselines` (`reference`) under it."""
    metric = summary[0]["metric"] if summary else "metric"
    lines = [f"# {title}", "", f"| strategy | labelled examples | {metric} (mean ± std) | seeds | trainable parameters "
             "| wall time per run (s) | peak memory (MB) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for row in summary:
        name = row["strategy"] + (f" ({row['shots']}-shot, {model_name(row.get('model'))})"
                                  if row["strategy"] == IN_CONTEXT else "")
        lines.append(f"| {name} | {row['size']} | {row['mean']:.4f} ± {row['std']:.4f} | {row['seeds']} | "
                     f"{row['trainable_parameters']:,} | {row['seconds']:.1f} | {row['peak_memory_mb']:.0f} |")
    if reference:
        lines += ["", "Baselines on the same test rows: " + ", ".join(
            f"{name} {value:.4f}" for name, value in reference.items()) + "."]
    return "\n".join(lines) + "\n"


def model_name(model: str | None) -> str:
    """A model as a table names it: the alias, or a folder's last part."""
    return str(model).rstrip("/").rsplit("/", 1)[-1] if model else "?"
