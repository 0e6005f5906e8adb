"""The image catalogue sets (digits from scikit-learn, CIFAR-10 from BIG-bench) and the
random-init ViT alias, on the real assets."""

import json

import pytest

from ftcli import assets
from ftcli.data.images import load_image

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("alias, train_rows, test_rows, size, some_labels", [
    ("digits", 1437, 360, (8, 8), {"0", "7", "9"}),
    ("cifar10", 8000, 2000, (32, 32), {"airplane", "cat", "truck"}),
])
def test_alias_splits_are_fixed_and_decodable(alias, train_rows, test_rows, size, some_labels):
    splits = assets.DATASETS[alias].splits()
    assert (splits["train"].num_rows, splits["test"].num_rows) == (train_rows, test_rows)
    assert splits["train"].column_names == ["image", "label"]
    labels = set(splits["train"]["label"])
    assert len(labels) == 10 and some_labels <= labels and set(splits["test"]["label"]) == labels
    again = assets.DATASETS[alias].splits()
    assert again["test"][:5] == splits["test"][:5], "the split must not change between loads"
    for row in splits["test"].select(range(5)):
        image = load_image(row["image"])
        assert image.size == size and image.mode == "RGB"


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
