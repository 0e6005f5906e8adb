"""DATA arguments -> datasets: a file, a folder written by `save_to_disk` (`PATH@split`: one split), a
catalogue alias (`ALIAS@split`), or a Hub dataset `NAME[:CONFIG][@SPLIT]` (online, or in the datasets cache)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datasets import Dataset, DatasetDict

from ftcli.data.catalog.entries import available_datasets
from ftcli.data.hub_datasets import label_names, load_hub_dataset, load_saved, parse_hub_name, saved_dataset, with_split
from ftcli.data.readers import Problem, read_file
from ftcli.errors import UserError


@dataclass
class DataSplits:
    train: Dataset
    eval: Dataset
    eval_source: str
    """Where the evaluation (test) rows came from, for the terminal and the model card."""
    all_train: Dataset
    """Every training row before --limit-train (and before validation is held out): the label set
    comes from these, so a small sample of a catalogue dataset keeps all of its labels."""
    validation: Dataset | None = None
    """Rows that choose the best epoch; None: the last epoch is kept."""
    validation_source: str | None = None


def _looks_like_file(spec: str) -> bool:
    """Anything path-like is a file (so a missing one is reported as missing); a bare name or an
    `owner/name` is a catalogue alias or Hub dataset."""
    if spec in available_datasets():
        return False
    if not Path(spec).expanduser().exists():  # judged without a Hub name's :CONFIG and @SPLIT
        spec = with_split(spec)[0].partition(":")[0] or spec
    return (
        Path(spec).expanduser().exists()
        or bool(Path(spec).suffix)
        or spec.startswith((".", "/", "~"))
        or spec.count("/") > 1
    )


def _load_named(spec: str) -> Dataset | DatasetDict:
    """A catalogue alias (`ALIAS@split`: one of its splits), else a Hub dataset (the Hub or the datasets cache)."""
    catalogue = available_datasets()
    if spec in catalogue:
        return catalogue[spec].splits()
    base, split = with_split(spec)
    if split is not None and base in catalogue:
        return _split(catalogue[base].splits(), (split,), spec)[0]
    hub = parse_hub_name(spec)
    if hub is None:
        raise UserError(f"unknown dataset '{spec}': not a file, a datasets folder, a catalogue alias "
                        f"({', '.join(sorted(catalogue))}) or a Hub dataset NAME[:CONFIG][@SPLIT]")
    return load_hub_dataset(hub, spec, sorted(catalogue))


def _open(spec: str, problems: list[Problem] | None = None) -> Dataset | DatasetDict:
    """The rows `spec` names: one Dataset (a file, one split), or a DatasetDict whose splits the caller picks."""
    saved = saved_dataset(spec)
    if saved is not None:
        return load_saved(*saved, spec)
    if _looks_like_file(spec):
        return read_file(spec, problems)
    return _load_named(spec)


def _split(named: DatasetDict, names: tuple[str, ...], spec: str) -> tuple[Dataset, str]:
    """The first of the splits `names` that `named` has, and its name."""
    for name in names:
        if name in named:
            return named[name], name
    picked = with_split(spec)[1]
    hint = "" if picked else f"; pick one with {spec}@SPLIT"
    raise UserError(f"dataset '{spec}' has no {'/'.join(names)} split (it has {', '.join(named)}){hint}")


def _pick(loaded: Dataset | DatasetDict, names: tuple[str, ...], spec: str) -> tuple[Dataset, str]:
    """One Dataset, or a DatasetDict's first split of `names`, with class labels as names; and how messages
    name the rows."""
    if isinstance(loaded, Dataset):
        return label_names(loaded), spec
    dataset, name = _split(loaded, names, spec)
    return label_names(dataset), f"{spec} ({name} split)"


def load_single(spec: str, problems: list[Problem] | None = None,
                splits: tuple[str, ...] = ("test", "validation")) -> tuple[Dataset, str]:
    """One dataset to evaluate or predict on: a file, one split (`SPEC@split`), or a named set's first split of
    `splits`. With a `problems` list, a file's unreadable lines go there instead of stopping the reading."""
    return _pick(_open(spec, problems), splits, spec)


def load_train_split(spec: str) -> Dataset:
    """Rows to draw demonstrations from: a file, one split, or a named set's training split."""
    return _pick(_open(spec), ("train",), spec)[0]


def _hold_out(dataset: Dataset, fraction: float, seed: int, key: str, name: str) -> tuple[Dataset, Dataset]:
    """A seeded `fraction` of `dataset` split off: (the rest, the held-out rows). The range of
    `fraction` is checked with the config (`config.RANGES`)."""
    if dataset.num_rows < 2:
        raise UserError(f"{name} has {dataset.num_rows} row; need at least 2 to hold some out")
    try:
        parts = dataset.train_test_split(test_size=fraction, seed=seed)
    except ValueError:  # no row left on one side
        raise UserError(f"{key}={fraction} of the {dataset.num_rows} rows of {name} leaves one side empty; "
                        "change the fraction") from None
    return parts["train"], parts["test"]


def load_splits(
    train: str,
    eval: str | None,
    eval_fraction: float,
    seed: int,
    limit_train: int | None = None,
    limit_eval: int | None = None,
    validation: str | None = None,
    validation_fraction: float = 0.0,
    spare_test_split: bool = False,
) -> DataSplits:
    """Training, evaluation (test) and validation data; a catalogue dataset brings its own test
    split, a plain file without `eval` gets a seeded held-out fraction. Validation rows come
    from `validation`, else from a seeded `validation_fraction` of the training rows (after
    `limit_train`), never from the test rows. `spare_test_split`: a named set's test split is left
    unread, its training split holding out the evaluation rows as a file does (pre-training on the text
    of a labelled set, whose test split the fine-tuning after it reports on)."""
    loaded = _open(train)
    if spare_test_split and eval is None and not isinstance(loaded, Dataset):
        loaded, train = _pick(loaded, ("train",), train)
    if isinstance(loaded, Dataset):  # a file, or one split: without `eval`, some of its rows are held out
        train_ds = label_names(loaded)
        if eval is not None:
            eval_ds, eval_source = load_single(eval)
        else:
            train_ds, eval_ds = _hold_out(train_ds, eval_fraction, seed, "data.eval_fraction", train)
            eval_source = f"{eval_fraction:.0%} of {train} held out (seed {seed})"
    else:  # named splits (a catalogue set, a DatasetDict folder, a Hub dataset): train, and test unless given
        train_ds, _ = _pick(loaded, ("train",), train)
        eval_ds, eval_source = load_single(eval) if eval is not None else _pick(loaded, ("test", "validation"), train)
    all_train = train_ds
    if limit_train is not None:
        train_ds = train_ds.shuffle(seed=seed).select(range(min(limit_train, train_ds.num_rows)))
    if limit_eval is not None:
        eval_ds = eval_ds.select(range(min(limit_eval, eval_ds.num_rows)))
    validation_ds, validation_source = None, None
    if validation is not None:
        validation_ds, validation_source = load_single(validation, splits=("validation", "test"))
    elif validation_fraction > 0:
        train_ds, validation_ds = _hold_out(train_ds, validation_fraction, seed, "data.validation_fraction",
                                            f"the training rows of {train}")
        validation_source = f"{validation_fraction:.0%} of the training rows (seed {seed})"
    for name, ds in (("training", train_ds), ("evaluation", eval_ds), ("validation", validation_ds)):
        if ds is not None and ds.num_rows == 0:
            raise UserError(f"the {name} data has no rows")
    return DataSplits(train=train_ds, eval=eval_ds, eval_source=eval_source,
                      validation=validation_ds, validation_source=validation_source, all_train=all_train)
