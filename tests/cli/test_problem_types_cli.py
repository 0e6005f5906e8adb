"""Multi-label classification and regression end to end on a tiny random BERT: finetune, evaluate, predict,
export, and plain transformers (AutoModel, pipeline) giving what `ftcli predict` gives."""

import json
import random

import numpy as np
import pytest
import yaml

from tests.conftest import FILLER, NEGATIVE, POSITIVE, run_ftcli, write_csv, write_jsonl

FAST = ["--epochs", "3", "--lr", "3e-3", "--batch-size", "8", "--max-length", "16", "--set", "train.logging_steps=4"]


def tagged_rows(count: int, seed: int) -> list[dict]:
    """Texts with any of three labels, each signalled by its own word: pos, neg, loc (paris)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        words, labels = rng.sample(FILLER, 3), []
        for label, chance, vocabulary in (("pos", 0.5, POSITIVE), ("neg", 0.4, NEGATIVE), ("loc", 0.3, ["paris"])):
            if rng.random() < chance:
                labels.append(label)
                words.append(rng.choice(vocabulary))
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "label": labels})
    return rows


def scored_rows(count: int, seed: int) -> list[dict]:
    """The same texts with a number: 1 for pos, -1 for neg, 0.25 for paris, plus 0.1 (every label fractional)."""
    return [{"text": r["text"], "label": round(("pos" in r["label"]) - ("neg" in r["label"])
                                                + 0.25 * ("loc" in r["label"]) + 0.1, 2)}
            for r in tagged_rows(count, seed)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("problem-types")
    return {
        "ml_train": write_jsonl(folder / "ml_train.jsonl", tagged_rows(64, 0)),
        "ml_val": write_jsonl(folder / "ml_val.jsonl", tagged_rows(24, 1)),
        "ml_test": write_jsonl(folder / "ml_test.jsonl", tagged_rows(24, 2)),
        "rg_train": write_jsonl(folder / "rg_train.jsonl", scored_rows(64, 0)),
        "rg_test": write_jsonl(folder / "rg_test.jsonl", scored_rows(24, 2)),
        "folder": folder,
    }


@pytest.fixture(scope="module")
def multi_label_run(tmp_path_factory, tiny_bert, data):
    """Inferred from JSONL lists; a validation split; balanced class weights (BCE pos_weight)."""
    out = tmp_path_factory.mktemp("runs") / "multi"
    run_ftcli("finetune", "classification", "--model", tiny_bert, "--train", data["ml_train"], "--validation",
              data["ml_val"], "--test", data["ml_test"], "--output-dir", out, "--set", "train.class_weights=balanced",
              *FAST)
    return out


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory, tiny_bert, data):
    out = tmp_path_factory.mktemp("runs") / "regression"
    run_ftcli("finetune", "classification", "--model", tiny_bert, "--train", data["rg_train"], "--test",
              data["rg_test"], "--output-dir", out, *FAST)
    return out


def read(path):
    return json.loads(path.read_text())


def pipeline_for(model_dir):
    from transformers import pipeline

    return pipeline("text-classification", model=str(model_dir), device="cpu")


def test_multi_label_run_records_its_type_and_weights(multi_label_run):
    config = yaml.safe_load((multi_label_run / "config.yaml").read_text())
    assert config["options"]["problem_type"] == "multi_label_classification"  # inferred, stored resolved
    assert config["train"]["class_weights"] == "balanced"
    model_config = read(multi_label_run / "model" / "config.json")
    assert model_config["problem_type"] == "multi_label_classification"
    assert model_config["id2label"] == {"0": "loc", "1": "neg", "2": "pos"}
    # balanced pos_weight = rows without the label / rows with it, over the 64 training rows
    train = tagged_rows(64, 0)
    having = [sum(label in r["label"] for r in train) for label in ("loc", "neg", "pos")]
    assert model_config["ftcli_class_weights"] == pytest.approx([(64 - n) / n for n in having])
    metrics = read(multi_label_run / "metrics.json")
    for key in ("f1_micro", "f1_macro", "subset_accuracy", "validation_f1_micro"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["selected_on"] == "validation f1_micro"


def test_multi_label_evaluate_gives_the_run_test_metrics(cli, multi_label_run, data, tmp_path):
    result = cli("evaluate", multi_label_run, "--data", data["ml_test"], "--output", tmp_path / "m.json")
    assert result.exit_code == 0, result.stderr
    written, stored = read(tmp_path / "m.json"), read(multi_label_run / "metrics.json")
    for key in ("f1_micro", "f1_macro", "subset_accuracy"):
        assert written[key] == pytest.approx(stored[key])


def test_multi_label_predict_matches_plain_transformers(cli, multi_label_run, data, tmp_path):
    result = cli("predict", multi_label_run, "--data", data["ml_test"], "--output", tmp_path / "p.jsonl")
    assert result.exit_code == 0, result.stderr
    assert "labels" in result.stdout and "(0." in result.stdout  # the table shows each label with its score
    predictions = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    texts = [p["text"] for p in predictions]
    # The pipeline reads problem_type and applies a sigmoid per label (it knows no thresholds).
    plain = pipeline_for(multi_label_run / "model")(texts, top_k=None)
    thresholds = read(multi_label_run / "model" / "config.json").get("ftcli_thresholds") or {}
    for ours, theirs in zip(predictions, plain):
        scores = {item["label"]: item["score"] for item in theirs}
        assert ours["scores"] == pytest.approx(scores, abs=1e-5)
        assert ours["label"] == [label for label in ("loc", "neg", "pos") if scores[label] >= thresholds.get(label, 0.5)]


def test_thresholds_chosen_on_validation_go_with_the_model(multi_label_run):
    metrics = read(multi_label_run / "metrics.json")
    saved = read(multi_label_run / "model" / "config.json")["ftcli_thresholds"]
    assert saved == {label: metrics[f"validation_threshold_{label}"] for label in ("loc", "neg", "pos")}


def test_export_keeps_the_problem_type(cli, multi_label_run, data, tmp_path):
    """The transformers folder and its ONNX graph: a label set's sigmoid scores, as the run gives them."""
    import onnxruntime
    from transformers import AutoTokenizer

    result = cli("export", multi_label_run, "--output-dir", tmp_path / "exported", "--format", "onnx")
    assert result.exit_code == 0, result.stderr
    assert read(tmp_path / "exported" / "config.json")["problem_type"] == "multi_label_classification"
    text = tagged_rows(1, 5)[0]["text"]
    exported = pipeline_for(tmp_path / "exported")(text, top_k=None)
    original = pipeline_for(multi_label_run / "model")(text, top_k=None)
    assert {d["label"]: d["score"] for d in exported} == pytest.approx({d["label"]: d["score"] for d in original})
    batch = AutoTokenizer.from_pretrained(tmp_path / "exported")([text], return_tensors="np")
    session = onnxruntime.InferenceSession(str(tmp_path / "exported" / "model.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {i.name: batch[i.name] for i in session.get_inputs()})
    id2label = read(tmp_path / "exported" / "config.json")["id2label"]
    scores = {id2label[str(i)]: float(1 / (1 + np.exp(-value))) for i, value in enumerate(logits[0])}
    assert scores == pytest.approx({d["label"]: d["score"] for d in original}, abs=1e-4)


def test_regression_run_end_to_end(cli, regression_run, data, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model_config = read(regression_run / "model" / "config.json")
    assert model_config["problem_type"] == "regression" and model_config["id2label"] == {"0": "label"}
    metrics = read(regression_run / "metrics.json")
    assert {"pearson", "spearman", "rmse"} <= set(metrics) and metrics["rmse"] ** 2 == pytest.approx(metrics["loss"], rel=1e-4)

    result = cli("evaluate", regression_run, "--data", data["rg_test"], "--output", tmp_path / "m.json")
    assert result.exit_code == 0, result.stderr
    assert read(tmp_path / "m.json")["pearson"] == pytest.approx(metrics["pearson"])

    result = cli("predict", regression_run, "--data", data["rg_test"], "--output", tmp_path / "p.json")
    assert result.exit_code == 0, result.stderr
    predictions = read(tmp_path / "p.json")
    texts = [p["text"] for p in predictions]
    model = AutoModelForSequenceClassification.from_pretrained(regression_run / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(regression_run / "model")
    with torch.no_grad():
        logits = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits[:, 0].numpy()
    assert [p["label"] for p in predictions] == pytest.approx(logits.tolist(), abs=1e-5)
    plain = pipeline_for(regression_run / "model")(texts)  # regression: the raw output, no softmax
    assert [p["score"] for p in plain] == pytest.approx(logits.tolist(), abs=1e-5)
    # Scored by hand against the gold numbers, as metrics.json says
    gold = np.array([p["input_label"] for p in predictions])
    assert float(np.sqrt(np.mean((np.array([p["label"] for p in predictions]) - gold) ** 2))) == \
        pytest.approx(metrics["rmse"], abs=1e-5)


def test_problem_type_is_printed_with_the_reason(cli, data):
    result = cli("data", "check", data["rg_train"], "--task", "classification")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "problem type: regression (from the labels: every label is a number, 64 of 64 fractional" in \
        " ".join(result.stderr.split())
    result = cli("data", "check", data["ml_train"], "--task", "classification")
    assert result.exit_code == 0, result.stdout + result.stderr  # list labels are no problem here
    assert "problem type: multi_label_classification" in result.stderr


def test_data_check_reports_bad_label_sets(cli, tmp_path):
    rows = [{"text": "good film", "label": ["pos"]}, {"text": "dull", "label": [0.5]},
            {"text": "bad", "label": ["neg", ["x"]]}, {"text": "paris", "label": []}]
    result = cli("data", "check", write_jsonl(tmp_path / "sets.jsonl", rows), "--task", "classification",
                 "--output", tmp_path / "report.json")
    assert result.exit_code == 2
    report = read(tmp_path / "report.json")
    assert report["problem_type"] == "multi_label_classification"
    assert [line.split(": ")[0].rpartition("/")[2] for line in report["problems"]] == ["sets.jsonl row 2",
                                                                                      "sets.jsonl row 3"]
    assert all("'label' that is not a label set" in line for line in report["problems"])
    assert report["labels"] == {"pos": 1}  # labels of the usable sets; the empty set is no problem


def test_data_check_takes_the_problem_type_and_separator_a_run_would(cli, tmp_path):
    rows = [{"text": "good film", "label": "pos;loc"}, {"text": "dull", "label": "neg"}, {"text": "x", "label": "1.5"}]
    data = write_csv(tmp_path / "sets.csv", rows)
    result = cli("data", "check", data, "--task", "classification", "--output", tmp_path / "as-names.json")
    assert result.exit_code == 0 and read(tmp_path / "as-names.json")["labels"] == {"pos;loc": 1, "neg": 1, "1.5": 1}
    result = cli("data", "check", data, "--task", "classification", "--output", tmp_path / "as-sets.json",
                 "--set", "options.problem_type=multi_label_classification", "--set", "options.label_separator=;")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert read(tmp_path / "as-sets.json")["labels"] == {"pos": 1, "loc": 1, "neg": 1, "1.5": 1}
    result = cli("data", "check", data, "--task", "classification", "--set", "options.problem_type=regression")
    assert result.exit_code == 2 and "sets.csv row 2: has a non-numeric 'label'" in result.stdout
    result = cli("data", "check", data, "--task", "classification", "--set", "train.epochs=2")
    assert result.exit_code == 2 and "--set here takes task options (options.KEY=VALUE)" in result.stderr


def test_csv_label_sets_with_the_separator_option(cli, tmp_path, tiny_bert, data):
    rows = [{"text": r["text"], "label": ",".join(r["label"])} for r in tagged_rows(32, 3)]
    out = tmp_path / "csv-run"
    result = cli("finetune", "classification", "--model", tiny_bert, "--train", write_csv(tmp_path / "t.csv", rows),
                 "--test", data["ml_test"], "--output-dir", out, "--set", "options.problem_type=multi_label_classification",
                 "--set", "options.label_separator=,", "--set", "train.class_weights={pos: 2}", "--epochs", "1",
                 "--batch-size", "16", "--max-length", "16")
    assert result.exit_code == 0, result.stderr
    assert "problem type: multi_label_classification (options.problem_type)" in result.stderr
    assert "class weights (train.class_weights): loc 1, neg 1, pos 2" in result.stderr
    model_config = read(out / "model" / "config.json")
    assert model_config["label2id"] == {"loc": 0, "neg": 1, "pos": 2}
    assert model_config["ftcli_class_weights"] == [1.0, 1.0, 2.0]
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["class_weights"] == {"pos": 2.0}


@pytest.mark.parametrize(("extra", "fragments"), [
    (["--set", "train.class_weights={pos: 2, happy: 1}"], ["train.class_weights names label(s) not in the training "
                                                           "data: 'happy'"]),
    (["--set", "train.class_weights=balanced", "--train-data=rg"], ["regression run has none"]),
    (["--strategy", "feature-extraction"], ["feature-extraction trains single-label heads",
                                            "multi_label_classification"]),
])
def test_refused_settings(cli, tiny_bert, data, tmp_path, extra, fragments):
    train = data["rg_train"] if "--train-data=rg" in extra else data["ml_train"]
    extra = [e for e in extra if e != "--train-data=rg"]
    result = cli("finetune", "classification", "--model", tiny_bert, "--train", train, "--test", data["ml_test"],
                 "--output-dir", tmp_path / "refused", *extra)
    assert result.exit_code == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # one line, nothing said before it
    assert all(f in result.stderr for f in fragments), result.stderr
    assert not (tmp_path / "refused").exists()


@pytest.mark.parametrize("kind", ["multi", "regression"])
def test_distillation_teaches_label_sets_and_numbers_by_their_own_soft_targets(cli, multi_label_run, regression_run,
                                                                                data, tmp_path, kind):
    teacher, train, test = ((multi_label_run, data["ml_train"], data["ml_test"]) if kind == "multi" else
                            (regression_run, data["rg_train"], data["rg_test"]))
    out = tmp_path / "student"
    result = cli("distill", "--teacher", teacher, "--init-from-teacher", "every-other-layer", "--train", train,
                 "--test", test, "--output-dir", out, "--epochs", "1", "--batch-size", "16", "--max-length", "16")
    assert result.exit_code == 0, result.stderr
    problem_type = read(teacher / "model" / "config.json")["problem_type"]
    assert read(out / "model" / "config.json")["problem_type"] == problem_type
    soft = [json.loads(line)["soft_loss"] for line in (out / "log.jsonl").read_text().splitlines()
            if "soft_loss" in line]
    assert soft and all(np.isfinite(soft)) and min(soft) >= 0
    other = "rg" if kind == "multi" else "ml"
    result = cli("distill", "--teacher", teacher, "--init-from-teacher", "every-other-layer", "--train",
                 data[f"{other}_train"], "--test", data[f"{other}_test"], "--output-dir", tmp_path / "refused")
    assert result.exit_code == 2 and not (tmp_path / "refused").exists()
    assert f"was trained for {problem_type} but the data is" in " ".join(result.stderr.split())


def test_a_teacher_checkpoint_of_another_problem_type_is_refused():
    from types import SimpleNamespace

    from ftcli.distillation.teacher import check_same_problem_type
    from ftcli.errors import UserError

    def task(problem_type):
        return SimpleNamespace(problem_type=problem_type)

    check_same_problem_type(SimpleNamespace(problem_type=None, num_labels=2), task("single_label_classification"), "t")
    check_same_problem_type(SimpleNamespace(problem_type=None, num_labels=1), task("regression"), "t")
    with pytest.raises(UserError, match="teacher t was trained for regression but the data is single_label"):
        check_same_problem_type(SimpleNamespace(problem_type=None, num_labels=1), task("single_label_classification"),
                                "t")
    with pytest.raises(UserError, match="trained for single_label_classification but the data is multi_label"):
        check_same_problem_type(SimpleNamespace(num_labels=3), task("multi_label_classification"), "t")


def test_soft_targets_by_problem_type_against_a_hand_computation():
    import torch

    from ftcli.distillation.losses import soft_target_loss

    student, teacher = torch.tensor([[0.5, -1.0], [2.0, 0.0]]), torch.tensor([[1.0, -2.0], [0.0, 0.5]])
    s, t = torch.sigmoid(student / 2).numpy(), torch.sigmoid(teacher / 2).numpy()
    bernoulli_kl = (t * np.log(t / s) + (1 - t) * np.log((1 - t) / (1 - s))).sum(-1).mean() * 4
    assert soft_target_loss(student, teacher, 2.0, problem_type="multi_label_classification").item() == \
        pytest.approx(bernoulli_kl, rel=1e-5)
    assert soft_target_loss(teacher, teacher, 2.0, problem_type="multi_label_classification").item() == \
        pytest.approx(0, abs=1e-6)
    assert soft_target_loss(student[:, :1], teacher[:, :1], 2.0, problem_type="regression").item() == \
        pytest.approx(((0.5 - 1.0) ** 2 + 2.0 ** 2) / 2)
