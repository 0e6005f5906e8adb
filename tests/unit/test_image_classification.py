"""Image classification: image folders, path and base64 rows, decoding errors, pixel values."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset

from ftcli.config import TaskOptions
from ftcli.data.images import data_file_folder, encode_png_base64, load_image, read_image_folder
from ftcli.data.readers import read_file
from ftcli.errors import UserError
from ftcli.tasks import get_task
from tests.conftest import write_jsonl

COLUMNS = {"image": "image", "label": "label"}


def tiny_vit(directory: Path) -> Path:
    """A random ViT (hidden 32, 2 layers, 16x16 images, patch 4) with its image processor."""
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    torch.manual_seed(0)
    config = ViTConfig(image_size=16, patch_size=4, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=64)
    ViTModel(config, add_pooling_layer=False).save_pretrained(directory)
    ViTImageProcessorPil(size={"height": 16, "width": 16}).save_pretrained(directory)
    return directory


def write_png(path: Path, level: int, size: int = 16, seed: int = 0, mode: str = "RGB") -> Path:
    """A noisy image around one brightness `level` (0-255)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    pixels = np.clip(rng.normal(level, 15, shape), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def dark_bright_folder(root: Path, per_class: int, seed: int = 0) -> Path:
    """root/dark/*.png and root/bright/*.png: two classes told apart by brightness."""
    for i in range(per_class):
        write_png(root / "dark" / f"d{i:03d}.png", 40, seed=seed * 1000 + i)
        write_png(root / "bright" / f"b{i:03d}.png", 215, seed=seed * 1000 + per_class + i)
    return root


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory) -> Path:
    return tiny_vit(tmp_path_factory.mktemp("tiny-vit"))


# -- reading ---------------------------------------------------------------------------------


def test_image_folder_rows_are_labelled_by_subfolder(tmp_path):
    root = dark_bright_folder(tmp_path / "images", per_class=3)
    (root / "dark" / "notes.txt").write_text("not an image")
    (root / "bright" / ".hidden.png").write_bytes(b"")
    write_png(root / "bright" / "photo.JPG", 200)  # a JPEG, upper-case extension
    dataset = read_file(root)  # a folder goes through read_image_folder
    assert dataset.column_names == ["image", "label"]
    assert dataset.num_rows == 7
    assert sorted(set(dataset["label"])) == ["bright", "dark"]
    assert all(Path(p).is_absolute() and Path(p).parent.name == label
               for p, label in zip(dataset["image"], dataset["label"]))
    assert not any(p.endswith((".txt", ".hidden.png")) for p in dataset["image"])


def test_flat_image_folder_gives_unlabelled_rows(tmp_path):
    write_png(tmp_path / "a.png", 10)
    write_png(tmp_path / "b.png", 250)
    dataset = read_image_folder(tmp_path)
    assert dataset.column_names == ["image"] and dataset.num_rows == 2


def test_image_folder_problems(tmp_path):
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    with pytest.raises(UserError, match="has no images"):
        read_image_folder(tmp_path / "empty")
    mixed = dark_bright_folder(tmp_path / "mixed", per_class=1)
    write_png(mixed / "loose.png", 100)
    with pytest.raises(UserError, match="both at its top level"):
        read_image_folder(mixed)


def test_path_and_base64_rows_decode(tmp_path, monkeypatch):
    data = tmp_path / "data"
    write_png(data / "pics" / "one.png", 30, size=12)
    encoded = encode_png_base64(np.full((5, 7), 200, dtype=np.uint8))  # grayscale
    rows = [{"image": "pics/one.png", "label": "dark"},
            {"image": encoded, "label": "bright"},
            {"image": f"data:image/png;base64,{encoded}", "label": "bright"}]
    dataset = read_file(write_jsonl(data / "train.jsonl", rows))
    monkeypatch.chdir(tmp_path)  # the relative path is found next to the data file, not here
    assert data_file_folder(dataset.shuffle(seed=0).select(range(2))) == data
    task = get_task("image-classification")
    task.validate(dataset, COLUMNS, {"bright": 0, "dark": 1}, "training data")
    images = [load_image(v, data) for v in dataset["image"]]
    assert [im.size for im in images] == [(12, 12), (7, 5), (7, 5)]
    assert {im.mode for im in images} == {"RGB"}
    assert images[1].getpixel((0, 0)) == (200, 200, 200)


def test_jpeg_base64_rows_decode():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (9, 9), (250, 0, 0)).save(buffer, format="JPEG")
    image = load_image(base64.b64encode(buffer.getvalue()).decode())
    assert image.size == (9, 9) and image.getpixel((4, 4))[0] > 200


@pytest.mark.parametrize("bad, fragments", [
    ("broken.png", ["row 2", "broken.png", "is not an image Pillow can read"]),
    ("truncated.png", ["row 2", "truncated.png", "cannot be decoded"]),
    ("missing.png", ["row 2", "missing.png", "was not found"]),
    ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ", ["row 2", "base64 image is not an image Pillow can read"]),
    ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo", ["row 2", "base64 image is not valid base64"]),
    ("", ["row 2", "image is empty"]),
])
def test_undecodable_image_names_row_and_file(tmp_path, bad, fragments):
    good = write_png(tmp_path / "good.png", 100)
    (tmp_path / "broken.png").write_bytes(b"this is not a png")
    (tmp_path / "truncated.png").write_bytes(good.read_bytes()[:60])
    dataset = read_file(write_jsonl(tmp_path / "rows.jsonl", [{"image": "good.png", "label": "a"},
                                                               {"image": bad, "label": "b"}]))
    with pytest.raises(UserError) as caught:
        get_task("image-classification").validate(dataset, COLUMNS, None, "training data rows.jsonl")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("training data rows.jsonl: row 2")
    for fragment in fragments:
        assert fragment in message, message


def test_unknown_label_in_evaluation_data(tmp_path):
    write_png(tmp_path / "x.png", 100)
    dataset = Dataset.from_list([{"image": str(tmp_path / "x.png"), "label": "zebra"}])
    with pytest.raises(UserError, match="never seen in training: 'zebra'"):
        get_task("image-classification").validate(dataset, COLUMNS, {"a": 0, "b": 1}, "evaluation data")


def test_int_labels_are_accepted():
    task = get_task("image-classification")
    dataset = Dataset.from_list([{"image": "x.png", "label": 10}, {"image": "y.png", "label": 2}])
    assert task.label_list(dataset, COLUMNS) == ["2", "10"]


# -- features --------------------------------------------------------------------------------


def test_preprocess_gives_pixel_values_at_processor_size(tmp_path, vit_dir):
    task = get_task("image-classification")
    processor = task.load_processor(str(vit_dir))
    rows = [{"image": encode_png_base64(np.full((8, 8), 255, dtype=np.uint8)), "label": "b"},  # gray 8x8
            {"image": str(write_png(tmp_path / "big.png", 10, size=40)), "label": "a"}]
    features = task.preprocess(Dataset.from_list(rows), processor, COLUMNS, {"a": 0, "b": 1}, 128)
    assert features.num_rows == 2
    first = features[0]
    assert tuple(first["pixel_values"].shape) == (3, 16, 16) and first["labels"] == 1
    # ViT normalisation: mean 0.5, std 0.5 -> white is 1.0
    assert torch.allclose(first["pixel_values"], torch.ones(3, 16, 16))
    batch = task.collator(processor)([features[0], features[1]])
    assert batch["pixel_values"].shape == (2, 3, 16, 16)
    assert batch["labels"].tolist() == [1, 0] and batch["labels"].dtype == torch.long
    assert "interpolate_pos_encoding" not in batch

    unlabelled = task.preprocess(Dataset.from_list(rows).remove_columns("label"), processor, COLUMNS, None, 128,
                                 with_labels=False)
    assert set(unlabelled[0]) == {"pixel_values"}


def test_model_runs_on_collated_batch(tmp_path, vit_dir):
    from ftcli.models.loading import load_model

    task = get_task("image-classification")
    processor = task.load_processor(str(vit_dir))
    model = load_model(str(vit_dir), task.auto_class_for, **task.model_kwargs(["a", "b", "c"]))
    assert type(model).__name__ == "ViTForImageClassification"
    rows = [{"image": str(write_png(tmp_path / f"{i}.png", 50 * i)), "label": "abc"[i]} for i in range(3)]
    features = task.preprocess(Dataset.from_list(rows), processor, COLUMNS, {"a": 0, "b": 1, "c": 2}, 128)
    batch = task.collator(processor)([features[i] for i in range(3)])
    outputs, loss = task.batch_outputs(model, batch)
    assert outputs["logits"].shape == (3, 3) and loss is not None and torch.isfinite(loss)


def test_image_size_option_resizes_and_interpolates_positions(tmp_path, vit_dir):
    from ftcli.models.loading import load_model

    from ftcli.models.loading import read_config

    task = get_task("image-classification", TaskOptions(image_size=24)).bind(read_config(str(vit_dir)))
    processor = task.load_processor(str(vit_dir))
    assert task.trained_size == 16  # the model was built for 16x16
    rows = [{"image": str(write_png(tmp_path / "x.png", 100)), "label": "a"}]
    features = task.preprocess(Dataset.from_list(rows), processor, COLUMNS, {"a": 0, "b": 1}, 128)
    batch = task.collator(processor)([features[0]])
    assert batch["pixel_values"].shape == (1, 3, 24, 24) and batch["interpolate_pos_encoding"] is True
    model = load_model(str(vit_dir), task.auto_class_for, **task.model_kwargs(["a", "b"]))
    assert model(**batch).logits.shape == (1, 2)

    with pytest.raises(UserError, match="options.image_size must be a positive"):
        get_task("image-classification", TaskOptions(image_size=0)).load_processor(str(vit_dir))


def test_checkpoint_without_image_processor(tiny_bert):
    with pytest.raises(UserError, match="could not load an image processor"):
        get_task("image-classification").load_processor(str(tiny_bert))


def test_predictions_and_display(tmp_path):
    task = get_task("image-classification")
    examples = Dataset.from_list([{"image": "a.png"}, {"image": "b.png"}])
    from ftcli.tasks.base import EvalData

    gathered = {"logits": np.array([[2.0, 0.0], [0.0, 3.0]]), "labels": np.array([0, 0])}
    data = EvalData(examples, examples, COLUMNS, ["cat", "dog"])
    assert task.compute_metrics(gathered, data)["accuracy"] == pytest.approx(0.5)
    records = task.format_predictions(gathered, data)
    assert [r["label"] for r in records] == ["cat", "dog"]
    shown = task.display({"image": "pics/a.png", **records[0]})
    assert shown["image"] == "pics/a.png" and shown["label"] == "cat" and float(shown["score"]) > 0.8
    assert task.display({"image": encode_png_base64(np.zeros((4, 4), np.uint8)), **records[0]})["image"] \
        .startswith("<base64 image")
    assert task.input_row("x/y.png") == {"image": "x/y.png"}


def test_summary_reports_pixel_sizes(tmp_path):
    root = dark_bright_folder(tmp_path, per_class=2)
    write_png(root / "dark" / "wide.png", 30, size=20)
    summary = get_task("image-classification").summary(read_image_folder(root), COLUMNS)
    assert summary["labels"] == {"dark": 3, "bright": 2}
    assert sorted(summary["lengths"]["width"]) == [16, 16, 16, 16, 20] and summary["length_unit"] == "pixels"


# -- the random-init alias -------------------------------------------------------------------


def test_random_vit_is_built_once_and_reproducibly(tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoImageProcessor, AutoConfig

    from ftcli.models.fresh import build_random_vit

    first, second = build_random_vit(tmp_path / "a"), build_random_vit(tmp_path / "b")
    weights_a, weights_b = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    config = AutoConfig.from_pretrained(first)
    assert (config.model_type, config.image_size, config.patch_size, config.hidden_size) == ("vit", 32, 4, 64)
    assert AutoImageProcessor.from_pretrained(first).size["height"] == 32
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert build_random_vit(first) == first and (first / "model.safetensors").stat().st_mtime_ns == stamp
