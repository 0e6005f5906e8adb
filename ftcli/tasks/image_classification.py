"""Image classification: image -> one label (ViT and any transformers image classifier).

Rows hold an `image` (a file path, or a base64-encoded image: see `ftcli.data.images`) and a
`label`; an image folder (one subfolder per class) reads into the same rows. Images are
decoded once up front by `validate` (so a broken file stops the run before it starts) and
again on the fly, batch by batch, when the dataloader asks for them: pixel values are never
stored, so memory stays flat however large the processor's image size is. Labels, metrics
(accuracy, macro-F1) and predictions are those of text classification.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset

from ftcli.data.images import ImageError, data_file_folder, describe_image, image_size, load_image
from ftcli.data.columns import file_row_numbers
from ftcli.data.labels import check_known_labels, label_key
from ftcli.errors import UserError
from ftcli.ownership import atomic_directory
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
    interpolate_pos_encoding = False
    """Set by `load_processor` when `options.image_size` differs from the size a ViT-style
    model was trained at: its position embeddings are then interpolated to the new grid."""

    # -- loading -------------------------------------------------------------------------------

    def load_processor(self, checkpoint: str, trust_remote_code: bool = False):
        from transformers import AutoImageProcessor

        from ftcli.models.loading import read_config

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
        # Adapter and feature-head runs keep no config.json beside their processor.
        has_config = not Path(checkpoint).is_dir() or (Path(checkpoint) / "config.json").is_file()
        trained_size = getattr(read_config(checkpoint, trust_remote_code), "image_size", None) if has_config else None
        self.interpolate_pos_encoding = bool(size) and isinstance(trained_size, int) and trained_size != size
        return processor

    # -- data ----------------------------------------------------------------------------------

    def validate(self, dataset: Dataset, columns: dict[str, str], label2id: dict | None, where: str) -> None:
        folder = data_file_folder(dataset)
        rows = file_row_numbers(dataset)
        for number, value in sorted(zip(rows, dataset[columns["image"]]), key=lambda pair: pair[0]):
            try:
                load_image(value, folder)
            except ImageError as err:
                raise UserError(f"{where}: row {number}: {err}; fix or remove that row") from None
        if label2id is not None and columns["label"] in dataset.column_names:
            check_known_labels(dataset[columns["label"]], label2id, where, columns["label"], rows)

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
        return ImageCollator(self.interpolate_pos_encoding)

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


# -- a small ViT to start from -----------------------------------------------------------------

RANDOM_VIT = dict(image_size=32, patch_size=4, num_channels=3, hidden_size=64, num_hidden_layers=4,
                  num_attention_heads=4, intermediate_size=128)
RANDOM_VIT_SEED = 0


def build_random_vit(target: Path) -> Path:
    """A ViT body with random weights (fixed seed) and a 32x32 ViT image processor, saved once
    as safetensors into `target` (the `vit-tiny-random` alias). There is nothing pretrained
    about it: it is for image tasks small enough to learn from scratch (digits, CIFAR-10)."""
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(RANDOM_VIT_SEED)
        # The classification head brings its own pooling (the [CLS] token): no pooler here.
        model = ViTModel(ViTConfig(**RANDOM_VIT), add_pooling_layer=False)
    size = RANDOM_VIT["image_size"]
    processor = ViTImageProcessorPil(size={"height": size, "width": size})
    with atomic_directory(target) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        processor.save_pretrained(staging)
        (staging / "SOURCE").write_text(f"random initialisation (torch seed {RANDOM_VIT_SEED}), not pretrained\n")
    return target
