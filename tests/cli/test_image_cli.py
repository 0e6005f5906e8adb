"""Image classification end to end on a tiny random ViT: finetune, evaluate, predict, data check."""

import json

import pytest

from tests.cli.test_finetune_cli import assert_user_error
from tests.conftest import write_jsonl
from tests.unit.test_image_classification import dark_bright_folder, tiny_vit, write_png

FAST = ["--epochs", "3", "--lr", "3e-3", "--batch-size", "8"]


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory):
    return tiny_vit(tmp_path_factory.mktemp("tiny-vit"))


@pytest.fixture(scope="module")
def image_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    return dark_bright_folder(root / "train", per_class=24), dark_bright_folder(root / "eval", per_class=8, seed=1)


def test_finetune_evaluate_predict_on_image_folder(cli, tmp_path, vit_dir, image_folders):
    train, eval_ = image_folders
    out = tmp_path / "run"
    result = cli("finetune", "image-classification", "--model", vit_dir, "--train", train, "--test", eval_,
                 "--output-dir", out, *FAST)
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["eval_rows"] == 16 and metrics["train_rows"] == 48
    assert metrics["accuracy"] >= 0.9, metrics  # brightness is easy to tell apart
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["architectures"] == ["ViTForImageClassification"]
    assert config["label2id"] == {"bright": 0, "dark": 1}
    assert (out / "model" / "preprocessor_config.json").is_file()

    evaluated = cli("evaluate", out, "--data", eval_, "--output", tmp_path / "m.json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads((tmp_path / "m.json").read_text())["accuracy"] == pytest.approx(metrics["accuracy"])

    bright = write_png(tmp_path / "new" / "bright.png", 230, seed=99)
    dark = write_png(tmp_path / "new" / "dark.png", 25, seed=98, mode="L")  # grayscale works too
    predicted = cli("predict", out, "--input", bright, "--input", dark, "--output", tmp_path / "p.json")
    assert predicted.exit_code == 0, predicted.stderr
    records = json.loads((tmp_path / "p.json").read_text())
    assert [r["image"] for r in records] == [str(bright), str(dark)]
    assert [r["label"] for r in records] == ["bright", "dark"]
    assert all(0.5 < r["score"] <= 1 and set(r["scores"]) == {"bright", "dark"} for r in records)

    unlabelled = cli("predict", out, "--data", tmp_path / "new", "--output", tmp_path / "folder.json")
    assert unlabelled.exit_code == 0, unlabelled.stderr
    assert [r["label"] for r in json.loads((tmp_path / "folder.json").read_text())] == ["bright", "dark"]


def test_rows_with_relative_paths_and_base64(cli, tmp_path, vit_dir):
    import base64

    data = tmp_path / "data"
    rows = []
    for i in range(10):
        dark = write_png(data / "pics" / f"d{i}.png", 40, seed=i)
        rows.append({"image": f"pics/{dark.name}", "label": 0})
        bright = write_png(tmp_path / "b.png", 215, seed=100 + i)
        rows.append({"image": base64.b64encode(bright.read_bytes()).decode(), "label": 1})
    train = write_jsonl(data / "train.jsonl", rows)
    out = tmp_path / "run"
    result = cli("finetune", "image-classification", "--model", vit_dir, "--train", train,
                 "--set", "data.eval_fraction=0.2", "--output-dir", out, "--epochs", "1", "--batch-size", "8")
    assert result.exit_code == 0, result.stderr
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["label2id"] == {"0": 0, "1": 1}


def test_corrupt_image_exits_2_without_run_dir(cli, tmp_path, vit_dir):
    train = dark_bright_folder(tmp_path / "train", per_class=4)
    (train / "dark" / "d002.png").write_bytes(b"\x89PNG not really")
    out = tmp_path / "run"
    result = cli("finetune", "image-classification", "--model", vit_dir, "--train", train, "--output-dir", out, *FAST)
    assert_user_error(result, "row ", "d002.png", "is not an image Pillow can read")
    assert not out.exists()


def test_missing_image_at_predict_exits_2(cli, tmp_path, vit_dir):
    result = cli("predict", vit_dir, "--task", "image-classification", "--input", tmp_path / "nope.png")
    assert_user_error(result, "--input: row 1", "nope.png", "was not found")


def test_data_check_image_folder(cli, tmp_path, image_folders):
    result = cli("data", "check", image_folders[0], "--task", "image-classification", "--output", tmp_path / "c.json")
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["rows"] == 48 and report["labels"] == {"bright": 24, "dark": 24}
    assert report["lengths"]["width"]["p50"] == 16 and report["length_unit"] == "pixels"
    assert report["problems"] == []
