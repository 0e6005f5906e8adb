"""Files -> `datasets.Dataset` through the datasets library, with clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
from datasets import Dataset

from ftcli.errors import UserError

SUPPORTED_EXTENSIONS = (".csv", ".tsv", ".jsonl", ".json", ".parquet", ".conll")

# datasets logs the full parser error before raising; ftcli reports its own one-line version.
datasets.logging.set_verbosity_error()


def read_file(path: str | Path) -> Dataset:
    """Read a csv, tsv, jsonl, json or parquet file; raise UserError for anything wrong."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"data file not found: {path}")
    if path.is_dir():
        # A folder is an image folder: one subfolder of images per class.
        from ftcli.data.images import read_image_folder

        return read_image_folder(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise UserError(
            f"unsupported data file extension '{suffix or path.name}' for {path}; "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    if path.stat().st_size == 0:
        raise UserError(f"data file {path} is empty")
    if suffix == ".conll":
        dataset = read_conll(path)
        if dataset.num_rows == 0:
            raise UserError(f"data file {path} has no sentences")
        return dataset
    if suffix == ".jsonl":
        # Checked up front: the arrow parser reports neither the line nor the file.
        _check_jsonl(path)
    try:
        dataset = _read(path, suffix)
    except UserError:
        raise
    except Exception as err:  # parser errors of pyarrow / pandas, whatever their type
        raise UserError(f"could not read {path}: {_first_line(err)}") from None
    if dataset.num_rows == 0:
        raise UserError(f"data file {path} has no rows")
    from ftcli.data.images import remember_data_file

    remember_data_file(dataset, path)  # image rows may name files relative to the data file
    return dataset


def read_conll(path: Path, token_column: str = "tokens", tag_column: str = "tags") -> Dataset:
    """CoNLL-style NER: `token TAG` per line (tab or spaces; the tag is the last field), a blank
    or whitespace-only line between sentences, `-DOCSTART-` lines skipped."""
    sentences: list[dict[str, list[str]]] = []
    tokens: list[str] = []
    tags: list[str] = []

    def flush() -> None:
        if tokens:
            sentences.append({token_column: list(tokens), tag_column: list(tags)})
            tokens.clear()
            tags.clear()

    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                flush()
                continue
            parts = line.split()
            if parts[0] == "-DOCSTART-":
                flush()
                continue
            if len(parts) < 2:
                raise UserError(f"{path}: line {number} should be 'token TAG', got {line.strip()!r}")
            tokens.append(parts[0])
            tags.append(parts[-1])
    flush()
    return Dataset.from_list(sentences) if sentences else Dataset.from_dict({token_column: [], tag_column: []})


def _read(path: Path, suffix: str) -> Dataset:
    cache = str(Path(datasets.config.HF_DATASETS_CACHE))
    try:
        if suffix == ".csv":
            return Dataset.from_csv(str(path), cache_dir=cache)
        if suffix == ".tsv":
            return Dataset.from_csv(str(path), sep="\t", cache_dir=cache)
        if suffix in (".jsonl", ".json"):
            return Dataset.from_json(str(path), cache_dir=cache)
        return Dataset.from_parquet(str(path), cache_dir=cache)
    except ValueError as err:
        if "corresponds to no data" in str(err):
            raise UserError(f"data file {path} has no rows") from None
        raise


def _check_jsonl(path: Path) -> None:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{path}: line {number} is not valid JSON ({err.msg})") from None
            if not isinstance(record, dict):
                raise UserError(f"{path}: line {number} is not a JSON object")


def _first_line(err: Exception) -> str:
    cause = err.__cause__ or err.__context__
    text = str(cause if cause is not None and str(cause) else err).strip()
    return text.splitlines()[0] if text else type(err).__name__
