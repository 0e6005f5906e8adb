"""The contrastive (SetFit) strategy on tiny random models: the pairs, the losses and what trains, and a run
end to end (model/ loads in evaluate, predict, export, transformers' AutoModel and sentence-transformers)."""

import json
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from ftcli.compare.plan import schedule
from ftcli.errors import UserError
from ftcli.strategies.contrastive import ContrastiveModel, PairCollator, PairDataset, sample_pairs
from tests.cli.test_finetune_cli import assert_user_error, no_run_left
from tests.conftest import ner_rows, sentiment_rows, write_jsonl
from tests.unit.test_generation import one_thread  # noqa: F401 (autouse: one thread, steady timings)
from tests.unit.test_strategies import batch_of, bert_for

LABELS = ["a", "b", "a", "c", "b", "a", "c", "a"]


def test_pairs_are_balanced_seeded_and_each_row_leads_its_share():
    pairs = sample_pairs(LABELS, num_iterations=5, seed=1)
    assert len(pairs) == 2 * 5 * len(LABELS)
    assert sum(similarity for _, _, similarity in pairs) == len(pairs) / 2
    for first, second, similarity in pairs:
        assert (LABELS[first] == LABELS[second]) == (similarity == 1.0)
        assert first != second  # every label has another row to pair with
    leads = Counter(first for first, _, _ in pairs)
    assert set(leads.values()) == {2 * 5}
    assert sample_pairs(LABELS, 5, seed=1) == pairs
    assert sample_pairs(LABELS, 5, seed=2) != pairs


def test_pairs_cap_and_a_label_with_one_row():
    pairs = sample_pairs(["x", "y", "y"], num_iterations=10, seed=0, max_pairs=7)
    assert len(pairs) == 7
    assert (0, 0, 1.0) in sample_pairs(["x", "y", "y"], 3, seed=0)  # x's only similar row is itself
    with pytest.raises(UserError, match="at least two labels"):
        sample_pairs(["x", "x", "x"], 2, seed=0)


def test_pair_batches_train_the_body_on_pairs_and_the_head_on_cut_embeddings(tiny_bert):
    model, _ = bert_for("classification", tiny_bert, strategy="contrastive")
    assert isinstance(model, ContrastiveModel)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith("body.pooler.") for n in frozen)  # mean pooling never reads the pooler
    model.eval()  # no dropout: the two computations below must see the same embeddings
    batch = batch_of(tiny_bert, ["good film", "bad plot", "great acting", "bad film"])
    similarity, labels = torch.tensor([1.0, 0.0]), torch.tensor([1, 0, 1, 1])
    out = model(**batch, labels=labels, similarity=similarity)

    hidden = model.body(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    pair_loss = F.mse_loss(F.cosine_similarity(pooled[:2], pooled[2:]), similarity)
    head_loss = F.cross_entropy(model.head(F.normalize(pooled, dim=-1)), labels)
    assert out.loss.item() == pytest.approx((pair_loss + head_loss).item(), rel=1e-5)
    assert set(out.loss_parts) == {"pair", "head"}

    model.zero_grad()
    out.loss.backward()
    body_grads = {n: p.grad.clone() for n, p in model.body.named_parameters() if p.requires_grad}
    assert model.head.weight.grad.abs().sum() > 0
    model.zero_grad()
    pair_loss.backward()  # the body's gradient is the pair loss's alone
    for name, parameter in model.body.named_parameters():
        if parameter.requires_grad:
            torch.testing.assert_close(body_grads[name], parameter.grad, rtol=1e-4, atol=1e-6, msg=name)

    scored = model(**batch, labels=labels)  # rows, not pairs: classified one by one
    torch.testing.assert_close(scored.logits, model.head(F.normalize(pooled, dim=-1)))


def test_pair_collator_stacks_first_rows_then_partners_and_passes_plain_rows_through(tiny_bert):
    from datasets import Dataset
    from transformers import AutoTokenizer, DataCollatorWithPadding

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    rows = Dataset.from_dict({**tokenizer(["good", "bad film", "the plot was dull"]), "labels": [1, 0, 0]})
    dataset = PairDataset(rows, [(0, 2, 0.0), (1, 2, 1.0)])
    collator = PairCollator(DataCollatorWithPadding(tokenizer))
    batch = collator([dataset[0], dataset[1]])
    assert list(batch)[0] == "similarity" and batch["similarity"].tolist() == [0.0, 1.0]
    assert batch["labels"].tolist() == [1, 0, 0, 0]
    assert batch["input_ids"][2].tolist() == batch["input_ids"][3].tolist() == rows[2]["input_ids"]
    assert dataset.token_lengths == [len(rows[2]["input_ids"])] * 2
    plain = collator([rows[0], rows[1]])
    assert "similarity" not in plain and plain["labels"].tolist() == [1, 0]


def test_compare_trains_contrastive_on_its_recipe_schedule():
    # The pairs grow with the rows: one epoch of the recipe's batch at every size, not the row-based schedule.
    assert schedule(16, 16, 1, strategy="contrastive") == (16, 1)
    assert schedule(16, 32, 3) == (4, 25)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_bert):
    from tests.conftest import run_ftcli

    root = tmp_path_factory.mktemp("contrastive")
    train = write_jsonl(root / "train.jsonl", sentiment_rows(24, seed=0))
    test = write_jsonl(root / "test.jsonl", sentiment_rows(16, seed=1))
    out = root / "run"
    run_ftcli("finetune", "classification", "--strategy", "contrastive", "--model", tiny_bert, "--train", train,
              "--test", test, "--output-dir", out, "--epochs", "2", "--batch-size", "8", "--lr", "5e-3",
              "--head-lr", "5e-2", "--set", "contrastive.num_iterations=4", "--set", "train.logging_steps=1")
    return out, test


def test_a_run_learns_from_pairs_and_saves_what_ftcli_and_transformers_load(cli, tmp_path, finished_run, tiny_bert):
    from transformers import AutoModel

    out, test = finished_run
    metrics = json.loads((out / "metrics.json").read_text())
    trainable, total = metrics["trainable_parameters"], metrics["total_parameters"]
    assert total / 2 < trainable < total  # all but the pooler
    assert metrics["train_rows"] == 24
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps = [line for line in log if "pair_loss" in line]
    assert len(steps) == 2 * 2 * 4 * 24 // 8  # 192 pairs a epoch, batches of 8 pairs, 2 epochs
    assert steps[-1]["pair_loss"] < steps[0]["pair_loss"]
    assert metrics["accuracy"] > 0.5  # sentiment words the tiny model learns to pull apart

    model_dir = out / "model"
    for name in ("config.json", "model.safetensors", "contrastive_head.safetensors", "contrastive_head.json",
                 "modules.json", "1_Pooling/config.json", "tokenizer.json"):
        assert (model_dir / name).is_file(), name
    body = AutoModel.from_pretrained(model_dir)  # the fine-tuned encoder, without ftcli
    assert body.config.id2label == {0: "negative", 1: "positive"}
    assert "AutoModel.from_pretrained" in (out / "README.md").read_text()

    evaluated = cli("evaluate", out, "--data", test, "--output", tmp_path / "m.json")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert json.loads((tmp_path / "m.json").read_text())["accuracy"] == pytest.approx(metrics["accuracy"])
    predicted = cli("predict", out, "--input", "good film")
    assert predicted.exit_code == 0, predicted.stderr
    exported = cli("export", out, "--output-dir", tmp_path / "export")
    assert exported.exit_code == 0, exported.stderr
    assert (tmp_path / "export" / "contrastive_head.safetensors").is_file()
    onnx = cli("export", out, "--output-dir", tmp_path / "onnx", "--format", "onnx")
    assert onnx.exit_code == 2 and "export it as transformers" in onnx.stderr  # the head is not a transformers class


def test_sentence_transformers_loads_the_encoder_with_its_pooling(finished_run):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from ftcli.strategies import get_strategy
    from ftcli.tasks import get_task

    out, _ = finished_run
    ours = get_strategy("contrastive").load(out / "model", get_task("classification"), None)
    texts = ["good film", "the plot was very dull"]
    encoder = sentence_transformers.SentenceTransformer(str(out / "model"), device="cpu")
    theirs = encoder.encode(texts, convert_to_tensor=True)
    batch = batch_of(out / "model", texts)
    with torch.no_grad():
        expected = F.normalize(ours.embed(batch), dim=-1)
    torch.testing.assert_close(theirs, expected, rtol=1e-4, atol=1e-5)


def test_the_model_cards_lines_classify_as_ftcli_does_without_ftcli(cli, tmp_path, finished_run):
    import subprocess
    import sys

    out, _ = finished_run
    card = (out / "README.md").read_text()
    snippet = card.split("```python\n")[1].split("```")[0]
    assert "ftcli" not in snippet
    for number, text in enumerate(("good film", "the plot was very dull")):
        code = snippet.replace("a moving, beautifully acted film", text)
        shown = subprocess.run([sys.executable, "-c", code], cwd=out, capture_output=True, text=True, timeout=300)
        assert shown.returncode == 0, shown.stderr
        predicted = cli("predict", out, "--input", text, "--output", tmp_path / f"{number}.json")
        assert predicted.exit_code == 0, predicted.stderr
        assert shown.stdout.strip() == json.loads((tmp_path / f"{number}.json").read_text())[0]["label"]


def test_tasks_without_one_label_per_row_are_refused(cli, tmp_path, tiny_bert):
    train = write_jsonl(tmp_path / "ner.jsonl", ner_rows(8))
    result = cli("finetune", "ner", "--strategy", "contrastive", "--model", tiny_bert, "--train", train,
                 "--output-dir", tmp_path / "r")
    assert_user_error(result, "strategy contrastive does not support the ner task; it supports classification, nli")
    assert no_run_left(tmp_path / "r")


def test_a_killed_run_resumes_to_the_uninterrupted_runs_weights(tmp_path, tiny_bert):
    """The pairs are drawn from the seed alone, so a resumed run trains on the very pairs it started with."""
    import signal

    from tests.cli.test_resume import LAUNCHER, assert_same_run, ftcli as launched
    from tests.conftest import write_csv

    (tmp_path / "launcher.py").write_text(LAUNCHER)  # test_resume's: kills the run at a chosen step
    setup = (tmp_path, tmp_path / "launcher.py", write_csv(tmp_path / "train.csv", sentiment_rows(64)),
             write_csv(tmp_path / "test.csv", sentiment_rows(24, seed=1)), tiny_bert)

    # 48 training rows (16 validate), 1 pair round: 96 pairs, 12 steps an epoch; checkpoints every 4 steps.
    contrastive = ["--strategy", "contrastive", "--set", "contrastive.num_iterations=1"]
    reference, out = tmp_path / "reference", tmp_path / "killed"
    assert launched(setup, reference, *contrastive).returncode == 0
    assert launched(setup, out, *contrastive, mode="kill", count=6).returncode == -signal.SIGKILL
    result = launched(setup, out, *contrastive, "--resume")
    assert result.returncode == 0, result.stderr
    assert "Resuming from step 4" in result.stderr
    assert_same_run(out, reference)  # metrics, log.jsonl and the encoder's weights
    head = "model/contrastive_head.safetensors"
    assert (out / head).read_bytes() == (reference / head).read_bytes()


def test_two_processes_train_the_pairs_one_process_trains(tmp_path, tiny_bert):
    """Each process takes half of every batch of pairs (grouped by length, so the global batches are the one
    process's); the gradients are averaged, so the model is the one-process model."""
    import subprocess
    import sys

    from safetensors.torch import load_file

    from tests.cli.test_distributed import free_port

    train = write_jsonl(tmp_path / "train.jsonl", sentiment_rows(16, seed=0))
    test = write_jsonl(tmp_path / "test.jsonl", sentiment_rows(8, seed=1))
    model = tmp_path / "tiny-bert"  # without dropout, so that the processes' random draws do not matter
    model.mkdir()
    for file in tiny_bert.iterdir():
        (model / file.name).write_bytes(file.read_bytes())
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "hidden_dropout_prob": 0.0,
                                                   "attention_probs_dropout_prob": 0.0}))

    def run(out, batch, *launch):
        command = [sys.executable, "-m", "ftcli", "finetune", "classification", "--strategy", "contrastive",
                   "--model", str(model), "--train", str(train), "--test", str(test), "--output-dir", str(out),
                   "--epochs", "1", "--batch-size", str(batch), "--lr", "2e-3", "--max-length", "16",
                   "--set", "contrastive.num_iterations=2", "--set", "train.group_by_length=true", *launch]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        return json.loads((out / "metrics.json").read_text())

    one = run(tmp_path / "one", 8)
    two = run(tmp_path / "two", 4, "--num-processes", "2", "--main-process-port", str(free_port()))
    assert two["num_processes"] == 2 and two["global_batch_size"] == one["global_batch_size"] == 8
    assert two["accuracy"] == one["accuracy"] and two["loss"] == pytest.approx(one["loss"], abs=1e-4)
    for name in ("model.safetensors", "contrastive_head.safetensors"):
        a, b = (load_file(tmp_path / run_dir / "model" / name) for run_dir in ("one", "two"))
        assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-4, name
