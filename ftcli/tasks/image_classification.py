"""Image classification: image -> one label (ViT and any transformers image classifier).

Rows hold an `image` (a file path, or a base64-encoded image: see `ftcli.data.images`) and a
`label`; an image folder (one subfolder per class) reads into the same rows. Images are
decoded once up front by `validate` (so a broken file stops the run before it starts) and
again on the fly, batch by batch, when the dataloader asks for them: pixel values are never
stored, so memory stays flat however large the processor's image size is. Labels, metrics
(accuracy, macro-F1) and predictions are those of text classification.
"""

from __future__ import annotations

import copy

from collections import Counter
from collections.abc import Iterator
from typing import Any

import torch
from datasets import Dataset

from ftcli.data.images import ImageError, data_file_folder, describe_image, image_size, load_image
from ftcli.data.columns import file_row_numbers
from ftcli.data.labels import check_known_labels, label_key
from ftcli.data.readers import Problem
from ftcli.errors import UserError
from ftcli.tasks.classification import SequenceClassificationTask


class ImageClassificationTask(SequenceClassificationTask):
    name = "image-classification"
    fields = {"image": "image", "label": "label"}
    required_fields = ("image", "label")
    input_fields = ("image",)
    text_fields = ()
    auto_model_class = "AutoModelForImageClassification"
    processor_auto_class = "AutoImageProcessor"
    modality = "image"
    # peft has no image task type: LoRA on a ViT is configured without one.
    peft_task_type = None
    trained_size: int | None = None
    """The image size the checkpoint was trained at, on the copy `bind` returns: when `options.image_size`
    differs, a ViT-style model's position embeddings are interpolated to the new grid (see `collator`)."""

    def bind(self, model_config) -> "ImageClassificationTask":
        bound = copy.copy(self)
        size = getattr(model_config, "image_size", None)
        bound.trained_size = size if isinstance(size, int) else None
        return bound

    # -- loading -------------------------------------------------------------------------------

    def load_processor(self, checkpoint: str, trust_remote_code: bool = False):
        from transformers import AutoImageProcessor

        size = self.options.image_size
        if size is not None and size < 1:
            raise UserError(f"options.image_size must be a positive number of pixels, got {size}")
        overrides = {"size": {"height": size, "width": size}} if size else {}
        try:
            processor = AutoImageProcessor.from_pretrained(checkpoint, trust_remote_code=trust_remote_code,
                                                           **overrides)
        except (OSError, ValueError) as err:
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise UserError(f"could not load an image processor from '{checkpoint}' ({reason}); "
                            "image-classification needs a checkpoint with a preprocessor_config.json") from None
        if size and getattr(processor, "do_center_crop", False):
            processor.crop_size = {"height": size, "width": size}
        return processor

    # -- data ----------------------------------------------------------------------------------

    def validate(self, dataset: Dataset, columns: dict[str, str], label2id: dict | None, where: str) -> None:
        for number, err in self._unreadable_images(dataset, columns):
            raise UserError(f"{where}: row {number}: {err}; fix or remove that row")
        if label2id is not None and columns["label"] in dataset.column_names:
            check_known_labels(dataset[columns["label"]], label2id, where, columns["label"], file_row_numbers(dataset))

    def row_problems(self, dataset: Dataset, columns: dict[str, str]) -> Iterator[Problem]:
        for number, err in self._unreadable_images(dataset, columns):
            yield Problem("rows whose image cannot be read", f"{err}; fix or remove that row", number, columns["image"])
        yield from super().row_problems(dataset, columns)  # the labels

    @staticmethod
    def _unreadable_images(dataset: Dataset, columns: dict[str, str]) -> Iterator[tuple[int, ImageError]]:
        """(row as numbered in the file, why) for each image that does not load, in file order."""
        folder = data_file_folder(dataset)
        for number, value in sorted(zip(file_row_numbers(dataset), dataset[columns["image"]]), key=lambda pair: pair[0]):
            try:
                load_image(value, folder)
            except ImageError as err:
                yield number, err

    def preprocess(self, dataset, processor, columns, label2id, max_length, with_labels=True):
        """Rows -> {labels} now, and `pixel_values` decoded on the fly (`with_transform`).
        `max_length` does not apply to images; the processor's size does."""
        image_column, label_column = columns["image"], columns["label"]
        folder = data_file_folder(dataset)
        features = dataset.select_columns([image_column, *([label_column] if with_labels else [])])
        if with_labels:
            features = features.map(
                lambda batch: {"labels": [label2id[label_key(v)] for v in batch[label_column]]},
                batched=True, remove_columns=[label_column], desc="Reading labels",
            )

        def to_pixel_values(batch: dict[str, list]) -> dict[str, Any]:
            try:
                images = [load_image(value, folder) for value in batch[image_column]]
            except ImageError as err:  # only if a file changed after validation
                raise UserError(f"{err}; fix or remove that row") from None
            encoded = {"pixel_values": processor(images, return_tensors="pt")["pixel_values"]}
            if "labels" in batch:
                encoded["labels"] = batch["labels"]
            return encoded

        return features.with_transform(to_pixel_values)

    def collator(self, processor):
        size = self.options.image_size
        return ImageCollator(bool(size) and self.trained_size is not None and self.trained_size != size)

    def summary(self, dataset: Dataset, columns: dict[str, str]) -> dict[str, Any]:
        """For `ftcli data check`: label counts and image widths/heights in pixels."""
        labels = Counter()
        if columns["label"] in dataset.column_names:
            labels.update(str(v) for v in dataset[columns["label"]])
        folder = data_file_folder(dataset)
        widths, heights = [], []
        for value in dataset[columns["image"]]:
            try:
                width, height = image_size(value, folder)
            except ImageError:
                continue  # reported by validate
            widths.append(width)
            heights.append(height)
        return {"labels": labels, "lengths": {"width": widths, "height": heights}, "length_unit": "pixels"}

    # -- the terminal --------------------------------------------------------------------------

    def input_row(self, text: str) -> dict[str, Any]:
        return {"image": text}

    def display(self, record: dict[str, Any]) -> dict[str, str]:
        return {"image": describe_image(record["image"]), "label": str(record["label"]),
                "score": f"{record['score']:.4f}"}


class ImageCollator:
    """Stacks `pixel_values` (already one size: the processor resizes) and `labels`."""

    def __init__(self, interpolate_pos_encoding: bool = False):
        self.interpolate_pos_encoding = interpolate_pos_encoding

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        batch: dict[str, Any] = {"pixel_values": torch.stack([torch.as_tensor(r["pixel_values"]) for r in rows])}
        if "labels" in rows[0]:
            batch["labels"] = torch.tensor([int(r["labels"]) for r in rows], dtype=torch.long)
        if self.interpolate_pos_encoding:
            batch["interpolate_pos_encoding"] = True
        return batch
