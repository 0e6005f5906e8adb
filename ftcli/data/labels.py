"""Label sets inferred from training data, stored as label2id / id2label in the model config."""

from __future__ import annotations

from collections.abc import Iterable

from ftcli.errors import UserError


def infer_labels(values: Iterable) -> list[str]:
    """Sorted distinct labels (numerically for int labels), as strings for the config."""
    distinct = set()
    for value in values:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise UserError("the training data has an empty label; fill or drop those rows")
        distinct.add(value)
    if all(isinstance(v, (int,)) and not isinstance(v, bool) for v in distinct):
        return [str(v) for v in sorted(distinct)]
    return sorted(str(v) for v in distinct)


def check_known_labels(values: Iterable, label2id: dict[str, int], where: str) -> None:
    unseen = sorted({str(v) for v in values} - set(label2id))
    if unseen:
        shown = ", ".join(repr(v) for v in unseen[:5]) + (" ..." if len(unseen) > 5 else "")
        raise UserError(
            f"{where} has label(s) never seen in training: {shown} "
            f"(known: {', '.join(label2id)})"
        )
