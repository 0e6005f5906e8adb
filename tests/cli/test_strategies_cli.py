"""Every (task, strategy) pair of the grid end to end on tiny random models: finetune through the
CLI, then `evaluate` and `predict` load the saved run (full weights, adapter + head, or feature
head) and reproduce its metrics."""

import json

import pytest

from ftcli.recipe_store import list_recipes
from ftcli.strategies import STRATEGIES, get_strategy
from tests.cli.test_finetune_cli import assert_user_error, no_run_left
from tests.cli.test_generation_cli import echo_rows
from tests.cli.test_qa_cli import qa_rows
from tests.conftest import ner_rows, nli_rows, sentiment_rows, write_jsonl
from tests.unit.test_generation import one_thread, tiny_causal_lm  # noqa: F401 (one_thread is autouse)
from tests.unit.test_image_classification import dark_bright_folder, tiny_vit

HEADLINE = {"classification": "accuracy", "nli": "accuracy", "ner": "f1", "qa": "f1",
            "generation": "perplexity", "image-classification": "accuracy"}
LR = {"full": "2e-3", "feature-extraction": "5e-3", "prompt-tuning": "5e-2", "lora": "5e-3", "contrastive": "2e-3"}
TASK_FLAGS = {
    "qa": ["--max-length", "24", "--set", "options.doc_stride=6"],
    "generation": ["--max-length", "24", "--set", "options.max_new_tokens=4"],
}
STRATEGY_FLAGS = {
    "feature-extraction": ["--set", "features.layers=last"],  # the tiny models have 2 layers, not 4
    "prompt-tuning": ["--set", "peft.num_virtual_tokens=4"],
    "contrastive": ["--set", "contrastive.num_iterations=2"],  # 128 pairs a epoch
}
GRID = [(task, name) for name in STRATEGIES for task in get_strategy(name).supported_tasks()]


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_bert):
    return {"text": tiny_bert, "generation": tiny_causal_lm(tmp_path_factory.mktemp("llama")),
            "image-classification": tiny_vit(tmp_path_factory.mktemp("vit"))}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid-data")
    rows = {"classification": sentiment_rows, "nli": nli_rows, "ner": ner_rows, "qa": qa_rows,
            "generation": lambda n, seed: echo_rows(n, seed)}
    files = {task: (write_jsonl(root / f"{task}-train.jsonl", make(32, seed=0)),
                    write_jsonl(root / f"{task}-eval.jsonl", make(12, seed=1)))
             for task, make in rows.items()}
    files["image-classification"] = (dark_bright_folder(root / "img-train", per_class=12),
                                     dark_bright_folder(root / "img-eval", per_class=4, seed=1))
    return files


def test_every_pair_of_the_grid_has_a_recipe():
    from ftcli.objectives import OBJECTIVES

    upstream = tuple(f"{objective}/" for objective in OBJECTIVES)  # pretrain's recipes (mlm/tapt...)
    assert sorted(f"{task}/{strategy}" for task, strategy in GRID) == sorted(
        name for name in list_recipes() if not name.endswith("/in-context") and not name.startswith(upstream))


@pytest.mark.parametrize("task,strategy", GRID, ids=[f"{t}-{s}" for t, s in GRID])
def test_finetune_evaluate_predict(cli, tmp_path, models, datasets, task, strategy):
    model = models.get(task, models["text"])
    train, eval_ = datasets[task]
    out = tmp_path / "run"
    result = cli("finetune", task, "--strategy", strategy, "--model", model, "--train", train, "--test", eval_,
                 "--output-dir", out, "--epochs", "2", "--batch-size", "8", "--lr", LR[strategy],
                 *STRATEGY_FLAGS.get(strategy, []), *TASK_FLAGS.get(task, []))
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    trainable, total = metrics["trainable_parameters"], metrics["total_parameters"]
    assert 0 < trainable <= total and metrics["peak_memory_mb"] > 0
    if strategy == "full":
        assert trainable == total
    elif strategy == "contrastive":  # the whole encoder but its pooler (mean pooling never reads it)
        assert total / 2 < trainable < total
    else:
        assert trainable < total / 2, (trainable, total)
    assert f"strategy **{strategy}**" in (out / "README.md").read_text()
    assert not (out / "model" / "README.md").exists()  # peft's empty template is not left beside the card
    if strategy == "prompt-tuning":  # nothing merges a soft prompt: the card says loudly what loads it
        assert "it needs peft" in (out / "README.md").read_text()
    # A model/ plain transformers cannot load is said after the run, in one line; the others load in `pipeline`
    # (tests/cli/test_export.py compares their predictions with ftcli's).
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: model/")]
    if strategy in ("prompt-tuning", "feature-extraction", "contrastive"):
        assert len(notes) == 1 and ("it needs peft" in notes[0] or "plain transformers cannot load" in notes[0])
    else:
        assert notes == []

    key = HEADLINE[task]
    evaluated = cli("evaluate", out, "--data", eval_, "--output", tmp_path / "m.json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads((tmp_path / "m.json").read_text())[key] == pytest.approx(metrics[key], rel=1e-4, abs=1e-6)

    predicted = cli("predict", out, "--data", eval_, "--output", tmp_path / "p.json")
    assert predicted.exit_code == 0, predicted.stderr
    assert len(json.loads((tmp_path / "p.json").read_text())) == (8 if task == "image-classification" else 12)


def test_unsupported_pair_is_refused_naming_what_is_supported(cli, tmp_path, models, datasets):
    train, _ = datasets["image-classification"]
    result = cli("finetune", "image-classification", "--strategy", "prompt-tuning", "--model",
                 models["image-classification"], "--train", train, "--output-dir", tmp_path / "r")
    assert_user_error(result, "strategy prompt-tuning does not support the image-classification task; "
                              "it supports classification, nli, ner, qa, generation")
    assert no_run_left(tmp_path / "r")
    train, _ = datasets["generation"]
    result = cli("finetune", "generation", "--strategy", "feature-extraction", "--model", models["generation"],
                 "--train", train, "--output-dir", tmp_path / "g")
    assert_user_error(result, "strategy feature-extraction does not support the generation task")


def test_lm_loss_weight_needs_a_decoder(cli, tmp_path, models, datasets):
    train, eval_ = datasets["classification"]
    result = cli("finetune", "classification", "--model", models["text"], "--train", train, "--test", eval_,
                 "--output-dir", tmp_path / "r", "--set", "full.lm_loss_weight=0.5")
    assert_user_error(result, "full.lm_loss_weight needs a decoder")
    assert no_run_left(tmp_path / "r")


def test_decoder_classification_with_the_auxiliary_lm_loss(cli, tmp_path, models, datasets):
    from transformers import AutoModelForSequenceClassification

    train, eval_ = datasets["classification"]
    out = tmp_path / "run"
    result = cli("finetune", "classification", "--model", models["generation"], "--train", train, "--test", eval_,
                 "--output-dir", out, "--epochs", "1", "--batch-size", "8", "--lr", "2e-3", "--head-lr", "1e-2",
                 "--set", "full.lm_loss_weight=0.5")
    assert result.exit_code == 0, result.stderr
    model = AutoModelForSequenceClassification.from_pretrained(out / "model")  # the wrapper is not saved
    assert type(model).__name__ == "LlamaForSequenceClassification"
    assert cli("evaluate", out, "--data", eval_).exit_code == 0
