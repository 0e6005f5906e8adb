"""Image classification sets: CIFAR-10 (from BIG-bench) and scikit-learn's handwritten digits.

Both give rows {image: base64 PNG, label: class name}, the layout `ftcli.data.images` decodes,
so the catalogue sets and a user's own base64 rows go through the same code.
"""

from __future__ import annotations

import numpy as np

from ftcli.assets import DATASETS, required_package_dir
from ftcli.data import bigbench
from ftcli.data.catalog import seeded_split
from ftcli.data.images import encode_png_base64

CIFAR10_TEST_ROWS = 2000
DIGITS_TEST_ROWS = 360


def load_cifar10():
    """BIG-bench's copy of the CIFAR-10 test set: 10,000 32x32 PNGs as base64 inputs, the class
    the one with score 1 in `target_scores`. A fixed seeded split holds out 2,000 for testing."""
    rows = []
    for example in bigbench.examples(DATASETS["cifar10"].source):
        scores = example["target_scores"]
        label = max(scores, key=scores.get)
        if scores[label] > 0 and example["input"].strip():
            rows.append({"image": example["input"].strip(), "label": label})
    return seeded_split(rows, CIFAR10_TEST_ROWS)


def load_digits():
    """1,797 8x8 grayscale digits (0-16 ink levels, stretched to 0-255) as PNGs, labelled "0"-"9".
    A fixed seeded split holds out 360 for testing. The image processor upscales them."""
    asset = DATASETS["digits"]
    required_package_dir(asset.import_name, asset.pip_package, "dataset alias 'digits'")
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    pixels = np.round(digits.images * (255 / 16)).astype(np.uint8)
    rows = [{"image": encode_png_base64(image), "label": str(int(target))}
            for image, target in zip(pixels, digits.target)]
    return seeded_split(rows, DIGITS_TEST_ROWS)
