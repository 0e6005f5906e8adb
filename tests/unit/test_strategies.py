"""Strategies on tiny random models: what trains, learning-rate groups, prompt-tuning alignment,
feature caching, the auxiliary LM loss, export."""

import json

import pytest
import torch
import torch.nn.functional as F

from ftcli.config import OptimConfig, RunConfig
from ftcli.errors import UserError
from ftcli.strategies import get_strategy
from ftcli.strategies.base import parameter_counts
from ftcli.strategies.feature_extraction import FeatureCollator, FeatureHeadModel
from ftcli.strategies.full import AuxiliaryLmLoss
from ftcli.models.layers import freeze_lower_layers, layer_depth
from ftcli.tasks import get_task
from ftcli.training import build_optimizer
from tests.cli.test_finetune_cli import assert_user_error
from tests.cli.test_qa_cli import qa_rows
from tests.conftest import sentiment_rows, write_jsonl
from tests.unit.test_generation import one_thread, tiny_causal_lm  # noqa: F401 (one_thread is autouse)


def bert_for(task_name: str, tiny_bert, labels=("negative", "positive"), strategy="full", **config_sets):
    config = RunConfig()
    for key, value in config_sets.items():
        section, field = key.split("__")
        setattr(getattr(config, section), field, value)
    task = get_task(task_name)
    torch.manual_seed(0)
    return get_strategy(strategy).build(str(tiny_bert), task, list(labels) if labels else None, config), task


def batch_of(tiny_bert, texts, pairs=None):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    return dict(tokenizer(texts, pairs, padding=True, return_tensors="pt"))


# -- full ----------------------------------------------------------------------------------------


def test_layer_depth_reads_bert_gpt2_and_llama_names():
    assert layer_depth("bert.embeddings.word_embeddings.weight", 12) == 0
    assert layer_depth("bert.encoder.layer.3.attention.self.query.weight", 12) == 4
    assert layer_depth("transformer.h.0.attn.c_attn.weight", 12) == 1
    assert layer_depth("transformer.wte.weight", 12) == 0
    assert layer_depth("model.layers.11.mlp.up_proj.weight", 12) == 12
    assert layer_depth("bert.pooler.dense.weight", 12) == 13


def test_layer_decay_scales_each_layers_learning_rate(tiny_bert):
    model, _ = bert_for("classification", tiny_bert)
    optimizer = build_optimizer(model, OptimConfig(lr=1.0, head_lr=10.0, layer_decay=0.5))
    lr_of = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    named = dict(model.named_parameters())
    # 2 layers: embeddings 0.5^3, layer 0 0.5^2, layer 1 0.5, pooler 1, the new head its own rate.
    assert lr_of[id(named["bert.embeddings.word_embeddings.weight"])] == 0.125
    assert lr_of[id(named["bert.encoder.layer.0.attention.self.query.weight"])] == 0.25
    assert lr_of[id(named["bert.encoder.layer.1.output.dense.bias"])] == 0.5
    assert lr_of[id(named["bert.pooler.dense.weight"])] == 1.0
    assert lr_of[id(named["classifier.weight"])] == 10.0
    with pytest.raises(UserError, match="layer_decay must be in"):
        build_optimizer(model, OptimConfig(layer_decay=1.5))


def test_freezing_embeddings_and_first_layers(tiny_bert):
    model, _ = bert_for("classification", tiny_bert, full__freeze_embeddings=True, full__freeze_layers=1)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith(("bert.embeddings.", "bert.encoder.layer.0.")) for n in frozen)
    assert any(n.startswith("bert.embeddings.") for n in frozen)
    assert not any(n.startswith("bert.encoder.layer.1.") for n in frozen)
    optimizer = build_optimizer(model, OptimConfig())
    assert sum(p.numel() for g in optimizer.param_groups for p in g["params"]) == parameter_counts(model)[0]
    with pytest.raises(UserError, match="has 2 layers"):
        freeze_lower_layers(model, False, 3)


def test_auxiliary_lm_loss_adds_the_weighted_next_token_loss(tmp_path):
    from transformers import AutoModelForSequenceClassification

    directory = tiny_causal_lm(tmp_path / "llama")
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(directory, num_labels=2, pad_token_id=0)
    wrapped = AuxiliaryLmLoss(model, weight=0.5).train()
    model.config.hidden_dropout = 0.0
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    labels = torch.tensor([0, 1])
    total = wrapped(input_ids=ids, attention_mask=mask, labels=labels).loss
    task = model(input_ids=ids, attention_mask=mask, labels=labels, output_hidden_states=True)
    logits = task.hidden_states[-1][:, :-1] @ model.get_input_embeddings().weight.T
    targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
    lm = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
    assert total.item() == pytest.approx((task.loss + 0.5 * lm).item(), rel=1e-5)
    assert wrapped.eval()(input_ids=ids, attention_mask=mask, labels=labels).loss.item() == pytest.approx(
        task.loss.item(), rel=1e-5)  # evaluation reports the task loss


def test_parameter_counts_count_tied_weights_once(tmp_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_causal_lm(tmp_path / "llama"))
    unique = {id(p): p.numel() for p in model.parameters()}
    assert parameter_counts(model) == (sum(unique.values()), sum(unique.values()))


# -- prompt tuning: targets and outputs on the real tokens only -----------------------------------


@pytest.mark.parametrize("strategy", ["prompt-tuning", "lora"])
def test_ner_logits_and_loss_cover_the_real_tokens_only(tiny_bert, strategy):
    model, _ = bert_for("ner", tiny_bert, labels=["O", "B-PER", "I-PER"], strategy=strategy,
                        peft__num_virtual_tokens=5)
    model.eval()
    batch = batch_of(tiny_bert, ["alice went to paris", "bob"])
    length = batch["input_ids"].shape[1]
    labels = torch.full((2, length), -100)
    labels[0, 1], labels[0, 2], labels[1, 1] = 1, 0, 1
    out = model(**batch, labels=labels)
    assert out.logits.shape == (2, length, 3)  # the 5 virtual positions are gone
    expected = F.cross_entropy(out.logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("strategy", ["prompt-tuning", "lora"])
def test_qa_span_logits_and_loss_cover_the_real_tokens_only(tiny_bert, strategy):
    model, _ = bert_for("qa", tiny_bert, labels=None, strategy=strategy, peft__num_virtual_tokens=3)
    model.eval()
    batch = batch_of(tiny_bert, ["where was alice ?"], ["alice was in paris today"])
    length = batch["input_ids"].shape[1]
    start, end = torch.tensor([8]), torch.tensor([9])
    out = model(**batch, start_positions=start, end_positions=end)
    assert out.start_logits.shape == out.end_logits.shape == (1, length)
    expected = (F.cross_entropy(out.start_logits, start) + F.cross_entropy(out.end_logits, end)) / 2
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_lora_and_prompt_tuning_train_a_small_share_and_the_head(tiny_bert):
    for strategy in ("lora", "prompt-tuning"):
        model, _ = bert_for("classification", tiny_bert, strategy=strategy)
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        assert any("classifier" in n for n in trainable), strategy
        assert not any("word_embeddings" in n for n in trainable), strategy
        assert parameter_counts(model)[0] < parameter_counts(model)[1] / 2


def test_prompt_init_text_needs_the_text(tiny_bert):
    with pytest.raises(UserError, match="prompt_init_text"):
        bert_for("classification", tiny_bert, strategy="prompt-tuning", peft__prompt_init="text")


def test_lora_target_modules_are_checked(tiny_bert):
    with pytest.raises(UserError, match="q_proj not found in this model"):
        bert_for("classification", tiny_bert, strategy="lora", peft__target_modules="q_proj")
    model, _ = bert_for("classification", tiny_bert, strategy="lora", peft__target_modules="query,key")
    adapted = {n.split(".")[-4] for n, p in model.named_parameters() if "lora_A" in n}
    assert adapted == {"query", "key"}


# -- feature extraction ---------------------------------------------------------------------------


def test_mean_pooling_ignores_padding_and_concat4_widens(tiny_bert):
    model, _ = bert_for("classification", tiny_bert, strategy="feature-extraction", features__pooling="mean")
    batch = batch_of(tiny_bert, ["good fun film", "bad"])
    pooled = model.extract(batch)
    alone = model.extract(batch_of(tiny_bert, ["bad"]))
    assert torch.allclose(pooled[1], alone[0], atol=1e-5)  # padding does not leak into the mean
    body = model.body(**batch)
    mask = batch["attention_mask"][0].bool()
    assert torch.allclose(pooled[0], body.last_hidden_state[0][mask].mean(0), atol=1e-5)
    token_model, _ = bert_for("ner", tiny_bert, labels=["O", "B-PER"], strategy="feature-extraction",
                              features__layers="concat4")
    token_model.settings.layers = "concat4"
    assert isinstance(token_model, FeatureHeadModel) and token_model.head[-1].in_features == 4 * 32


def test_feature_collator_pads_token_features_and_labels():
    rows = [{"features": torch.ones(3, 4), "labels": [1, 0, 1]}, {"features": torch.ones(1, 4), "labels": [2]}]
    batch = FeatureCollator()(rows)
    assert batch["features"].shape == (2, 3, 4)
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[1, 0, 1], [2, -100, -100]]


def test_cached_features_match_running_the_body_and_are_reused(cli, tmp_path, tiny_bert, monkeypatch):
    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
    train = write_jsonl(tmp_path / "train.jsonl", sentiment_rows(48))
    eval_ = write_jsonl(tmp_path / "eval.jsonl", sentiment_rows(16, seed=1))
    common = ["--model", tiny_bert, "--train", train, "--test", eval_, "--strategy", "feature-extraction",
              "--epochs", "3", "--lr", "1e-2", "--batch-size", "8"]
    results = {}
    for name, cache in [("cached", "true"), ("again", "true"), ("uncached", "false")]:
        result = cli("finetune", "classification", *common, "--output-dir", tmp_path / name,
                     "--set", f"features.cache={cache}")
        assert result.exit_code == 0, result.stderr
        results[name] = (json.loads((tmp_path / name / "metrics.json").read_text()), result.stderr + result.stdout)
    assert "Using cached" not in results["cached"][1] and "Using cached" in results["again"][1]
    assert len(list((tmp_path / "cache" / "features").glob("*.safetensors"))) == 2  # train + eval
    for key in ("accuracy", "loss"):
        assert results["uncached"][0][key] == pytest.approx(results["cached"][0][key], abs=1e-5)
        assert results["again"][0][key] == pytest.approx(results["cached"][0][key], abs=1e-6)
    assert "feature_seconds" in results["cached"][0] and "feature_seconds" not in results["uncached"][0]


def test_feature_extraction_qa_predicts_no_answer_or_spans(cli, tmp_path, tiny_bert, monkeypatch):
    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
    train = write_jsonl(tmp_path / "train.jsonl", qa_rows(24))
    out = tmp_path / "run"
    result = cli("finetune", "qa", "--strategy", "feature-extraction", "--model", tiny_bert, "--train", train,
                 "--test", train, "--output-dir", out, "--max-length", "24", "--set", "options.doc_stride=6",
                 "--set", "features.layers=last", "--epochs", "1")
    assert result.exit_code == 0, result.stderr
    saved = json.loads((out / "model" / "feature_head.json").read_text())
    assert saved["kind"] == "span" and saved["num_outputs"] == 2
    assert not (out / "model" / "config.json").exists()  # the body is not copied


# -- export ---------------------------------------------------------------------------------------


def test_export_merges_lora_into_plain_transformers_weights(cli, tmp_path, tiny_bert):
    from transformers import AutoModelForSequenceClassification

    from ftcli.inference import load_trained

    train = write_jsonl(tmp_path / "train.jsonl", sentiment_rows(32))
    run = tmp_path / "run"
    result = cli("finetune", "classification", "--strategy", "lora", "--model", tiny_bert, "--train", train,
                 "--output-dir", run, "--epochs", "1", "--lr", "1e-2", "--batch-size", "8")
    assert result.exit_code == 0, result.stderr
    assert (run / "model" / "adapter" / "adapter_model.safetensors").is_file() and (run / "model" / "config.json").exists()
    exported = cli("export", run, "--output-dir", tmp_path / "merged")
    assert exported.exit_code == 0, exported.stderr
    merged = AutoModelForSequenceClassification.from_pretrained(tmp_path / "merged").eval()
    assert not any("lora" in n for n, _ in merged.named_parameters())
    adapter = load_trained(str(run), None).model.eval()
    batch = batch_of(tmp_path / "merged", ["good fun film", "bad dull plot"])
    with torch.no_grad():
        assert torch.allclose(merged(**batch).logits, adapter(**batch).logits, atol=1e-5)
    assert merged.config.id2label == {0: "negative", 1: "positive"}
    assert_user_error(cli("export", run, "--output-dir", tmp_path / "merged"), "earlier export", "--overwrite")
    assert_user_error(cli("export", tmp_path, "--output-dir", tmp_path / "x"), "not a finished ftcli run")


@pytest.mark.parametrize("strategy", ["lora", "prompt-tuning"])
def test_head_lr_reaches_the_head_of_a_peft_model_only(tiny_bert, strategy):
    model, _ = bert_for("classification", tiny_bert, strategy=strategy)
    optimizer = build_optimizer(model, OptimConfig(lr=1e-3, head_lr=1e-1))
    lr_of = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    rates = {n: lr_of[id(p)] for n, p in model.named_parameters() if p.requires_grad}
    assert {n for n, lr in rates.items() if lr == 1e-1} == {n for n in rates if "classifier" in n}
    assert any(lr == 1e-3 for lr in rates.values())  # the adapter / soft prompt


def test_prompt_tuning_reads_token_dim_from_the_input_embeddings(tmp_path):
    """ALBERT embeds in 16 dimensions and computes in 32: the soft prompt must have 16."""
    from transformers import AlbertConfig, AlbertModel

    directory = tmp_path / "albert"
    AlbertModel(AlbertConfig(vocab_size=40, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                             num_attention_heads=4, intermediate_size=64)).save_pretrained(directory)
    model = get_strategy("prompt-tuning").build(str(directory), get_task("classification"), ["a", "b"], RunConfig())
    prompt = model.peft_model.prompt_encoder["default"].embedding.weight
    assert prompt.shape == (20, 16)
    ids = torch.tensor([[2, 5, 6, 3]])
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.tensor([1]))
    assert out.logits.shape == (1, 2) and torch.isfinite(out.loss)


def test_ner_on_the_concatenated_last_four_layers(cli, tmp_path, tiny_bert, monkeypatch):
    """BERT's best feature-based NER input, end to end on a 4-layer copy of the tiny BERT."""
    from transformers import AutoTokenizer

    import ftcli.models.bert as ours
    from tests.conftest import ner_rows

    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
    deeper = tmp_path / "bert4"
    config = ours.BertConfig.from_pretrained(tiny_bert, num_hidden_layers=4)
    ours.BertModel(config).save_pretrained(deeper)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(deeper)
    train = write_jsonl(tmp_path / "train.jsonl", ner_rows(24))
    out = tmp_path / "run"
    result = cli("finetune", "ner", "--strategy", "feature-extraction", "--model", deeper, "--train", train,
                 "--test", train, "--output-dir", out, "--epochs", "2", "--set", "features.layers=concat4")
    assert result.exit_code == 0, result.stderr
    saved = json.loads((out / "model" / "feature_head.json").read_text())
    assert saved["features"]["layers"] == "concat4" and saved["kind"] == "token"
    evaluated = cli("evaluate", out, "--data", train, "--output", tmp_path / "m.json")
    assert evaluated.exit_code == 0, evaluated.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert json.loads((tmp_path / "m.json").read_text())["f1"] == pytest.approx(metrics["f1"], abs=1e-6)
    refused = cli("finetune", "ner", "--strategy", "feature-extraction", "--model", tiny_bert, "--train", train,
                  "--output-dir", tmp_path / "r", "--set", "features.layers=concat4")
    assert_user_error(refused, "needs four hidden states")
