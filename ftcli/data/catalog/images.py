"""Image classification sets: CIFAR-10 (from BIG-bench or the Hub), 20 CIFAR-10 photos that foolbox
ships, and scikit-learn's handwritten digits.

Both give rows {image: base64 PNG, label: class name}, the layout `ftcli.data.images` decodes,
so the catalogue sets and a user's own base64 rows go through the same code.
"""

from __future__ import annotations

import numpy as np
from datasets import DatasetDict
from PIL import Image

from ftcli.data.catalog import bigbench, hub_splits, seeded_split
from ftcli.data.catalog.packages import required_package_dir
from ftcli.data.images import encode_png_base64

CIFAR10_TEST_ROWS = 2000
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
PHOTOS_TEST_ROWS = 4
DIGITS_TEST_ROWS = 360


def load_cifar10(asset):
    """BIG-bench's copy of the CIFAR-10 test set: 10,000 32x32 PNGs as base64 inputs, the class
    the one with score 1 in `target_scores`. A fixed seeded split holds out 2,000 for testing.
    From the Hub (uoft-cs/cifar10): its 50,000 training and 10,000 test images."""
    hub = hub_splits(asset)
    if hub is not None:
        return DatasetDict({name: split.map(lambda row: {"image": encode_png_base64(row["img"].convert("RGB"))},
                                            remove_columns=["img"]).select_columns(["image", "label"])
                            for name, split in hub.items()})
    rows = []
    for example in bigbench.examples(asset.bigbench_tasks[0]):
        scores = example["target_scores"]
        label = max(scores, key=scores.get)
        if scores[label] > 0 and example["input"].strip():
            rows.append({"image": example["input"].strip(), "label": label})
    return seeded_split(rows, CIFAR10_TEST_ROWS)


def load_cifar10_photos(asset):
    """The 20 CIFAR-10 test photos in foolbox's data folder (`cifar10_<n>_<class index>.png`, 8 of
    the 10 classes), labelled with CIFAR-10's class names; 4 held out by a fixed seed."""
    folder = required_package_dir(asset.import_name, asset.pip_package, f"dataset alias '{asset.alias}'") / asset.source
    rows = [{"image": encode_png_base64(Image.open(path).convert("RGB")),
             "label": CIFAR10_CLASSES[int(path.stem.rsplit("_", 1)[1])]}
            for path in sorted(folder.glob("cifar10_*.png"))]
    return seeded_split(rows, PHOTOS_TEST_ROWS)


def load_digits(asset):
    """1,797 8x8 grayscale digits (0-16 ink levels, stretched to 0-255) as PNGs, labelled "0"-"9".
    A fixed seeded split holds out 360 for testing. The image processor upscales them."""
    required_package_dir(asset.import_name, asset.pip_package, f"dataset alias '{asset.alias}'")
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    pixels = np.round(digits.images * (255 / 16)).astype(np.uint8)
    rows = [{"image": encode_png_base64(image), "label": str(int(target))}
            for image, target in zip(pixels, digits.target)]
    return seeded_split(rows, DIGITS_TEST_ROWS)
