"""Images for image classification: image folders, and decoding the `image` values of rows.

An `image` value is a file path (relative paths are looked up next to the data file, then in
the current folder), a base64-encoded image (optionally as a `data:image/...;base64,` URL), or
a `{"bytes": ..., "path": ...}` mapping as the datasets `Image` feature stores it in parquet.
Pillow decodes them; anything it cannot read raises `ImageError` naming the file.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from pathlib import Path
from typing import Any

from datasets import Dataset

from ftcli.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
BASE64_TEXT = re.compile(r"[A-Za-z0-9+/=\s]{16,}")
DATA_FILE_KEY = "ftcli:data_file"


class ImageError(ValueError):
    """An image value that cannot be used: `source` names the file (or says it is inline data),
    `problem` says what is wrong ("was not found", "is not an image Pillow can read")."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source} {problem}")
        self.source = source
        self.problem = problem


# -- image folders ---------------------------------------------------------------------------


def read_image_folder(path: str | Path) -> Dataset:
    """One subfolder of images per class -> rows {image: absolute path, label: subfolder name}.
    A folder of images without subfolders gives unlabelled rows (for `predict --data`)."""
    root = Path(path).expanduser().resolve()
    loose = _image_files(root)
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    rows = [{"image": str(file), "label": folder.name} for folder in classes for file in _image_files(folder)]
    if rows and loose:
        raise UserError(
            f"image folder {root} has images both at its top level ({loose[0].name}, ...) and in class "
            "subfolders; move the loose ones into a subfolder named after their class"
        )
    if rows:
        return Dataset.from_list(rows)
    if loose:
        return Dataset.from_dict({"image": [str(file) for file in loose]})
    raise UserError(
        f"image folder {root} has no images ({', '.join(IMAGE_EXTENSIONS)}); "
        "give one subfolder of images per class, named after the class; a text corpus is a folder of .txt files"
    )


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS)


# -- where relative paths are read from ------------------------------------------------------


def remember_data_file(dataset: Dataset, path: Path) -> None:
    """Note the file the rows were read from, so relative image paths resolve next to it. The
    note goes in `info.download_checksums` (the datasets field listing the files a dataset was
    built from), since a dataset's info survives select, shuffle, train_test_split and map."""
    dataset.info.download_checksums = {
        **(dataset.info.download_checksums or {}), DATA_FILE_KEY: {"path": str(Path(path).resolve())},
    }


def data_file(dataset: Dataset) -> Path | None:
    """The file the rows were read from (None for catalogue and in-memory rows)."""
    noted = (dataset.info.download_checksums or {}).get(DATA_FILE_KEY)
    return Path(noted["path"]) if noted else None


def data_file_folder(dataset: Dataset) -> Path | None:
    path = data_file(dataset)
    return path.parent if path is not None else None


# -- decoding --------------------------------------------------------------------------------


def load_image(value: Any, base_folder: Path | None = None):
    """Decode one `image` value into an RGB `PIL.Image` (grayscale and palette images are
    converted, so every model input has three channels)."""
    from PIL import Image, UnidentifiedImageError

    data, source = image_bytes(value, base_folder)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decode now: a truncated file fails here, not in the middle of training
            return image.convert("RGB")
    except UnidentifiedImageError:
        raise ImageError(source, "is not an image Pillow can read") from None
    except Image.DecompressionBombError as err:
        raise ImageError(source, f"is too large to decode safely ({err})") from None
    except (OSError, ValueError, SyntaxError) as err:  # truncated or corrupt data
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ImageError(source, f"cannot be decoded ({reason})") from None


def image_size(value: Any, base_folder: Path | None = None) -> tuple[int, int]:
    """(width, height) from the image header, without decoding the pixels."""
    from PIL import Image, UnidentifiedImageError

    data, source = image_bytes(value, base_folder)
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Image.DecompressionBombError as err:
        raise ImageError(source, f"is too large to decode safely ({err})") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ImageError(source, "is not an image Pillow can read") from None


def image_bytes(value: Any, base_folder: Path | None = None) -> tuple[bytes, str]:
    """The encoded image and a description of where it came from (for error messages)."""
    if isinstance(value, dict):  # the datasets Image feature: {"bytes": ..., "path": ...}
        data = value.get("bytes")
        if isinstance(data, (bytes, bytearray)) and data:
            return bytes(data), f"the image bytes of {value.get('path') or 'the row'}"
        value = data if isinstance(data, str) and data.strip() else value.get("path")  # JSON has no bytes
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), "the image bytes"
    if value is not None and not isinstance(value, str):
        raise ImageError("the image", f"is not text ({type(value).__name__}); give a file path or a "
                                      "base64-encoded image")
    if not value or not value.strip():
        raise ImageError("the image", "is empty; give a file path or a base64-encoded image")
    text = value.strip()
    if text.startswith("data:"):
        return _from_base64(text.partition(",")[2]), "the base64 data URL"
    # os.path.isfile, unlike Path.is_file, is False (not OSError "File name too long") for the
    # thousands of characters of an inline base64 image.
    if is_base64_text(text) and not os.path.isfile(text):
        return _from_base64(text), "the base64 image"
    path = resolve_image_path(text, base_folder)
    try:
        return path.read_bytes(), f"image file {path}"
    except OSError as err:
        raise ImageError(f"image file {path}", f"cannot be read ({err.strerror or type(err).__name__})") from None


def is_base64_text(text: str) -> bool:
    # Base64 never contains a dot, while a path almost always does (the extension).
    return "." not in text and BASE64_TEXT.fullmatch(text) is not None


def resolve_image_path(text: str, base_folder: Path | None) -> Path:
    """A relative path is looked up next to the data file first, then in the current folder."""
    path = Path(text).expanduser()
    if path.is_absolute():
        if not os.path.isfile(path):
            raise ImageError(f"image file {path}", "was not found")
        return path
    folders = ([base_folder] if base_folder is not None else []) + [Path.cwd()]
    found = next((folder / path for folder in folders if os.path.isfile(folder / path)), None)
    if found is None:
        looked = " or ".join(str(folder) for folder in dict.fromkeys(folders))
        raise ImageError(f"image file {text}", f"was not found (looked in {looked})")
    return found


def _from_base64(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("the base64 image", "is not valid base64") from None


def encode_png_base64(image) -> str:
    """A PIL image (or a 2-D / HxWx3 uint8 array) as base64 PNG text."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def describe_image(value: Any) -> str:
    """A short text for tables: the path, or what kind of inline data the row holds."""
    if isinstance(value, dict):
        return str(value.get("path") or "<image bytes>")
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("data:") or is_base64_text(text):
            return f"<base64 image, {len(text):,} chars>"
        return text
    return f"<{type(value).__name__} image>"
