"""Files -> `datasets.Dataset` through the datasets library, with clear errors for bad files."""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import datasets
from datasets import Dataset

from ftcli.errors import UserError
from ftcli.paths import huggingface_cache

SUPPORTED_EXTENSIONS = (".csv", ".tsv", ".jsonl", ".json", ".parquet", ".conll", ".txt")

# datasets logs the full parser error (at ERROR level) before raising; ftcli reports its own
# one-line version, so only CRITICAL messages get through.
datasets.logging.set_verbosity(datasets.logging.CRITICAL)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a data file, and where: `ftcli data check` lists every one (training
    stops at the first, as a UserError)."""

    kind: str
    """What problems of this kind are, in the plural ("rows with an empty label"): groups them."""
    detail: str
    """What is wrong, read after "row N" ("has 3 tokens but 2 tags")."""
    row: int | None = None
    """The row (line, in a JSON Lines file) as numbered in the file; None: the whole file."""
    column: str | int | None = None
    """The column the problem is in: its name, or a character position in a line."""

    def describe(self, where: str) -> str:
        """The house style: `FILE row N column C: what is wrong` (the column left out when the
        detail names it)."""
        if self.row is None and self.column is None:
            return self.detail if self.detail.startswith(where) else f"{where}: {self.detail}"
        place = where if self.row is None else f"{where} row {self.row}"
        if isinstance(self.column, int):
            place += f" column {self.column}"
        elif self.column is not None and f"'{self.column}'" not in self.detail:
            place += f" column '{self.column}'"
        return f"{place}: {self.detail}"

    def error(self, where: str) -> UserError:
        """The problem as training reports it: `FILE: row N what is wrong`."""
        if self.row is None:
            return UserError(self.describe(where))
        return UserError(f"{where}: row {self.row} {self.detail}")


def read_file(path: str | Path, problems: list[Problem] | None = None) -> Dataset:
    """Read a csv, tsv, jsonl, json, parquet, conll or txt file, or a folder (of .txt files, or of
    images); raise UserError for anything wrong. With a `problems` list, the lines of a JSON Lines
    file that are not JSON objects are added to it instead, and the other rows read (numbered by
    their lines in the file); anything else wrong still raises."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"data file not found: {path}")
    if path.is_dir():
        if _is_text_folder(path):
            return read_text_folder(path)
        # Otherwise a folder is an image folder: one subfolder of images per class.
        from ftcli.data.images import read_image_folder

        return read_image_folder(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise UserError(
            f"unsupported data file extension '{suffix or path.name}' for {path}; "
            f"use one of {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    if suffix == ".txt":
        return read_text_file(path)
    if path.stat().st_size == 0:
        raise UserError(f"data file {path} is empty")
    if suffix == ".conll":
        dataset = read_conll(path)
        if dataset.num_rows == 0:
            raise UserError(f"data file {path} has no sentences")
        return dataset
    # Checked up front: the parsers report neither the line nor the file.
    json_lines = suffix == ".jsonl" or (suffix == ".json" and _check_json(path))
    bad_lines: list[Problem] = []
    if json_lines and problems is not None:  # collected, and the other lines read
        bad_lines = list(_jsonl_problems(path))
        problems.extend(bad_lines)
    elif json_lines:
        _check_jsonl(path)
    elif suffix in (".csv", ".tsv"):
        _check_table(path, "," if suffix == ".csv" else "\t")
    try:
        dataset = _read_good_lines(path, {p.row for p in bad_lines}) if bad_lines else _read(path, suffix)
    except UserError:
        raise
    except Exception as err:  # parser errors of pyarrow / pandas, whatever their type
        raise UserError(f"could not read {path}: {_first_line(err)}") from None
    if dataset.num_rows == 0:
        raise UserError(f"data file {path} has no rows")
    bad_name = next((name for name in _field_names(dataset.features) if "\x00" in name), None)
    if bad_name is not None:  # Arrow cuts such names at the NUL, and the values are lost
        raise UserError(f"{path}: the field name {bad_name!r} has a NUL character; rename it")
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

    for number, line in _text_lines(path):
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


def read_text_file(path: Path, column: str = "text") -> Dataset:
    """Plain text: one row per document, documents separated by one or more blank lines (each
    stripped, empty ones dropped; line breaks inside a document kept)."""
    documents = _text_documents(path)
    if not documents:
        raise UserError(f"data file {path} holds no text")
    return Dataset.from_dict({column: documents})


def read_text_folder(path: Path, column: str = "text") -> Dataset:
    """Every .txt file in the folder and its subfolders (sorted by path; hidden ones skipped), each
    file's documents as rows, in order. Files that hold no text add no rows."""
    files = _text_files(path)
    if not files:
        raise UserError(f"folder {path} has no .txt files; give a folder of plain-text files (documents "
                        "separated by blank lines)")
    documents = [document for file in files for document in _text_documents(file)]
    if not documents:
        raise UserError(f"folder {path} holds no text: its {len(files)} .txt file{'s' * (len(files) > 1)} "
                        "are empty or blank")
    return Dataset.from_dict({column: documents})


def _text_documents(path: Path) -> list[str]:
    from ftcli.data.text import split_documents

    return split_documents("".join(line for _, line in _text_lines(path)))


def _text_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.txt")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _is_text_folder(folder: Path) -> bool:
    """A folder is a text corpus when .txt files sit at its top level and it holds no images; an
    image folder has its images in class subfolders (where stray notes.txt files are ignored)."""
    from ftcli.data.images import IMAGE_EXTENSIONS

    if not any(p.is_file() and p.suffix.lower() == ".txt" and not p.name.startswith(".") for p in folder.iterdir()):
        return False
    candidates = [folder, *(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))]
    return not any(p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                   for directory in candidates for p in directory.iterdir())


def keep_rows(dataset: Dataset, positions: list[int]) -> Dataset:
    """The rows at `positions`, still numbered as in the file (`file_row_numbers`): `select` slices
    a contiguous run, which would then count from 1; two reversals make it an indices mapping."""
    if positions and positions[0] > 0 and positions[-1] - positions[0] == len(positions) - 1 \
            and getattr(dataset, "_indices", None) is None:
        return dataset.select(positions[::-1]).select(range(len(positions) - 1, -1, -1))
    return dataset.select(positions)


def _read_good_lines(path: Path, bad_lines: set[int]) -> Dataset:
    """The rows of a JSON Lines file but `bad_lines`, numbered by their lines: a copy of the file
    with the first good line standing in for each bad or blank one is read (so row N is line N),
    and the stand-ins are dropped."""
    good = [n for n, line in _text_lines(path) if line.strip() and n not in bad_lines]
    if not good:
        raise UserError(f"{path}: none of its lines is a JSON object; there are no rows to read")
    with tempfile.TemporaryDirectory(prefix="ftcli-lines-") as folder:
        copy = Path(folder) / "rows.jsonl"
        kept = set(good)
        with copy.open("w", encoding="utf-8") as out:
            lines = {n: line for n, line in _text_lines(path) if n in kept}
            stand_in = lines[good[0]]
            for number in range(1, good[-1] + 1):
                out.write(lines.get(number, stand_in).rstrip("\r\n") + "\n")
        rows = _read(copy, ".jsonl", cache=str(Path(folder) / "cache"), keep_in_memory=True)
    return keep_rows(rows, [n - 1 for n in good])


def _read(path: Path, suffix: str, cache: str | None = None, keep_in_memory: bool = False) -> Dataset:
    cache = cache or str(huggingface_cache(datasets.config.HF_DATASETS_CACHE, "datasets"))
    try:
        if suffix == ".csv":
            return Dataset.from_csv(str(path), cache_dir=cache)
        if suffix == ".tsv":
            return Dataset.from_csv(str(path), sep="\t", cache_dir=cache)
        if suffix in (".jsonl", ".json"):
            return Dataset.from_json(str(path), cache_dir=cache, keep_in_memory=keep_in_memory)
        return Dataset.from_parquet(str(path), cache_dir=cache)
    except ValueError as err:
        if "corresponds to no data" in str(err):
            raise UserError(f"data file {path} has no rows") from None
        raise


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) for each line, decoded as UTF-8; a line that is not UTF-8 is reported
    by number and column (the parsers would only name a byte offset, or raise unhandled)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as err:
                column = len(raw[:err.start].decode("utf-8", errors="replace")) + 1
                raise UserError(f"{path}: line {number}, column {column} is not UTF-8 text "
                                f"(byte 0x{raw[err.start]:02x}); save the file as UTF-8") from None


def _check_table(path: Path, delimiter: str) -> None:
    """Refuse a row with more fields than the header: pandas would silently turn the first column
    into an index and shift every value of that row one column left (or drop fields)."""
    csv.field_size_limit(2**31 - 1)  # inline base64 images are longer than the 128 kB default
    reader = csv.reader((line for _, line in _text_lines(path)), delimiter=delimiter)
    try:
        header = next(reader, [])
        for row in reader:
            if len(row) > len(header):
                raise UserError(f"{path}: line {reader.line_num} has {len(row)} fields but the header has "
                                f"{len(header)}; quote values that contain {delimiter!r} or fix the row")
    except csv.Error:
        return  # what the csv module cannot split (old Mac line ends...) is left to pandas


def _jsonl_problems(path: Path) -> Iterator[Problem]:
    """Each line of a JSON Lines file that is not a JSON object (blank lines are skipped)."""
    for number, line in _text_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line.rstrip("\r\n"))  # so a column past the end is on this line
        except json.JSONDecodeError as err:
            yield Problem("lines that are not valid JSON", f"is not valid JSON ({err.msg})", number, err.colno)
            continue
        except RecursionError:
            yield Problem("lines that are not valid JSON", "nests lists or objects too deeply to read", number)
            continue
        if not isinstance(record, dict):
            yield Problem("lines that are not a JSON object",
                          f"is not a JSON object but a JSON {_json_type(record)}; give one object per line", number)


def _check_jsonl(path: Path) -> None:
    """Refuse the first line that is not a JSON object, naming its line (and column)."""
    for problem in _jsonl_problems(path):
        at = f" at column {problem.column}" if problem.column is not None else ""
        raise UserError(f"{path}: line {problem.row} {problem.detail}{at}")


def _check_json(path: Path) -> bool:
    """A .json file holds an array of row objects (or one object, read as one row), or is JSON
    Lines (True: its lines are checked as such); datasets would read an array of plain values into
    a made-up 'text' column."""
    text = "".join(line for _, line in _text_lines(path))
    try:
        data = json.loads(text)
    except RecursionError:
        raise UserError(f"{path}: nests lists or objects too deeply to read") from None
    except json.JSONDecodeError as err:
        if err.msg == "Extra data":  # several values: JSON Lines in a .json file
            return True
        raise UserError(f"{path}: line {err.lineno}, column {err.colno} is not valid JSON ({err.msg})") from None
    if isinstance(data, list):
        bad = next((i for i, row in enumerate(data) if not isinstance(row, dict)), None)
        if bad is not None:
            raise UserError(f"{path}: row {bad + 1} of the array is a JSON {_json_type(data[bad])}, not an "
                            "object; give one object (named fields) per row")
    elif not isinstance(data, dict):
        raise UserError(f"{path} holds a single JSON {_json_type(data)}; give an array of objects, one per row")
    return False


def _field_names(feature) -> Iterator[str]:
    """Column names and the names of the fields nested in them (structs in lists in structs...)."""
    if isinstance(feature, dict):
        for name, inner in feature.items():
            yield name
            yield from _field_names(inner)
    elif isinstance(feature, (list, tuple)):
        for inner in feature:
            yield from _field_names(inner)
    elif hasattr(feature, "feature"):  # List, LargeList, Sequence
        yield from _field_names(feature.feature)


def _json_type(value) -> str:
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), "null")


def _first_line(err: Exception) -> str:
    cause = err.__cause__ or err.__context__
    text = str(cause if cause is not None and str(cause) else err).strip()
    return text.splitlines()[0] if text else type(err).__name__
