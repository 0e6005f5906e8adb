"""The image catalogue sets (digits from scikit-learn, foolbox's CIFAR-10 photos, CIFAR-10 from a
copy of BIG-bench made here from those photos) and the random-init ViT alias, on the real assets."""

import json

import pytest

from ftcli import assets
from ftcli.data.images import load_image

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("alias, train_rows, test_rows, size, classes, some_labels", [
    ("digits", 1437, 360, (8, 8), 10, {"0", "7", "9"}),
    ("cifar10-photos", 16, 4, (32, 32), 8, {"airplane", "cat", "truck"}),
])
def test_alias_splits_are_fixed_and_decodable(alias, train_rows, test_rows, size, classes, some_labels):
    splits = assets.DATASETS[alias].splits()
    assert (splits["train"].num_rows, splits["test"].num_rows) == (train_rows, test_rows)
    assert splits["train"].column_names == ["image", "label"]
    labels = set(splits["train"]["label"]) | set(splits["test"]["label"])
    assert len(labels) == classes and some_labels <= labels
    if alias == "digits":
        assert set(splits["test"]["label"]) == labels
    again = assets.DATASETS[alias].splits()
    assert again["test"][:5] == splits["test"][:5], "the split must not change between loads"
    for row in splits["test"].select(range(min(5, test_rows))):
        image = load_image(row["image"])
        assert image.size == size and image.mode == "RGB"


def test_cifar10_reads_a_bigbench_copy(bigbench_copy):
    """BIG-bench's cifar10_classification/base64 layout (a base64 PNG input, the class with score 1),
    built from the 20 real CIFAR-10 photos: the loader decodes them back to the same photos."""
    photos = assets.DATASETS["cifar10-photos"].splits()
    rows = list(photos["train"]) + list(photos["test"])
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    bigbench_copy({"cifar10_classification/base64": [
        {"input": row["image"], "target_scores": {name: int(name == row["label"]) for name in classes}} for row in rows]})
    cifar10 = assets.DATASETS["cifar10"].splits()
    assert (cifar10["train"].num_rows, cifar10["test"].num_rows) == (10, 10)  # 2,000 held out, capped at half
    decoded = {(load_image(row["image"]).tobytes(), row["label"]) for split in cifar10.values() for row in split}
    assert decoded == {(load_image(row["image"]).tobytes(), row["label"]) for row in rows}


def test_digits_finetune_on_the_random_vit_alias(cli, tmp_path):
    """The alias path end to end, kept short (300 rows, one epoch): a random-init ViT needs the
    recipe's 15 epochs to learn digits, so accuracy is not judged here."""
    out = tmp_path / "run"
    result = cli("finetune", "image-classification", "--model", "vit-tiny-random", "--train", "digits",
                 "--limit-train", "300", "--epochs", "1", "--output-dir", out, "--set", "train.save_checkpoint=false")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_rows"] == 300 and metrics["eval_rows"] == 360 and 0 <= metrics["accuracy"] <= 1
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["architectures"] == ["ViTForImageClassification"]
    assert config["image_size"] == 32 and sorted(config["label2id"]) == [str(d) for d in range(10)]
