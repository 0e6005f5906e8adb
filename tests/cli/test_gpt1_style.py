"""GPT-1 style fine-tuning on ftcli's GPT-2: the auxiliary language-modelling loss is logged next
to the task loss, and the new head trains at its own (higher) learning rate."""

import json

import pytest

from tests.cli.test_architecture_matrix import build
from tests.conftest import sentiment_rows, write_csv


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    return build("gpt2", tmp_path_factory.mktemp("gpt2"))


def test_auxiliary_lm_loss_is_logged_with_the_task_loss(cli, tmp_path, gpt2):
    train = write_csv(tmp_path / "train.csv", sentiment_rows(64))
    out = tmp_path / "run"
    result = cli("finetune", "classification", "--model", gpt2, "--train", train, "--output-dir", out,
                 "--epochs", "1", "--batch-size", "8", "--max-length", "32", "--lr", "1e-3", "--head-lr", "1e-2",
                 "--set", "full.lm_loss_weight=0.5", "--set", "train.logging_steps=2")
    assert result.exit_code == 0, result.stderr
    steps = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"learning_rate"' in line]
    assert steps
    for record in steps:
        # The logged loss is the task loss plus half the LM loss, averaged over the same batches.
        assert record["loss"] == pytest.approx(record["task_loss"] + 0.5 * record["lm_loss"], abs=1e-5)
        assert record["lm_loss"] > 0 and record["task_loss"] > 0


def test_the_new_head_trains_at_head_lr(gpt2):
    from ftcli.config import build_config
    from ftcli.models.gpt2 import GPT2ForSequenceClassification
    from ftcli.strategies import get_strategy
    from ftcli.tasks import get_task
    from ftcli.training import build_optimizer

    config = build_config(flags={"optim.lr": 1e-4, "optim.head_lr": 3e-3, "full.lm_loss_weight": 0.5})
    model = get_strategy("full").build(str(gpt2), get_task("classification"), ["negative", "positive"], config)
    assert isinstance(model.model, GPT2ForSequenceClassification)  # ours, wrapped for the auxiliary loss
    optimizer = build_optimizer(model, config.optim)
    names = {id(p): n for n, p in model.named_parameters()}
    rates = {names[id(p)]: group["lr"] for group in optimizer.param_groups for p in group["params"]}
    assert rates["model.score.weight"] == 3e-3
    assert {lr for name, lr in rates.items() if name != "model.score.weight"} == {1e-4}
    assert len(rates) == len(names)
