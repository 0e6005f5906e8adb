"""Generation: the three data layouts, prompt masking, exact perplexity, generation from
left-padded prompts, and a tiny encoder-decoder that learns to copy (ROUGE-L)."""

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset

from ftcli.config import TaskOptions, build_config
from ftcli.errors import UserError
from ftcli.tasks import get_task
from ftcli.tasks.generation import IGNORE, GenerationCollator, left_padded_prompts, mask_after_eos

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|end|>"]
WORDS = ["red", "green", "blue", "cat", "dog", "bird", "one", "two", "three", "four", "sun", "moon",
         "say", "copy", "the", "is", "a", "=", ":"]
PAD, BOS, EOS = 0, 1, 2
CHAT_TEMPLATE = ("{% for m in messages %}{{ '<|' + m['role'] + '|> ' + m['content'] + ' <|end|> ' }}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '<|assistant|> ' }}{% endif %}")
COLUMNS = {f: f for f in ("prompt", "completion", "text", "source", "target")}


def tiny_tokenizer(add: str, pad: bool = True):
    """A word-level tokenizer over WORDS; `add` is "bos" (Llama-style "<s> text") or "eos"
    (T5-style "text </s>")."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    template = "<s> $A" if add == "bos" else "$A </s>"
    backend.post_processor = processors.TemplateProcessing(single=template,
                                                           special_tokens=[("<s>", BOS), ("</s>", EOS)])
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    if pad:
        special["pad_token"] = "<pad>"
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **special)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|user|>", "<|assistant|>", "<|end|>"]})
    return tokenizer


def tiny_causal_lm(directory: Path, chat: bool = False, seed: int = 0) -> Path:
    """A random Llama (hidden 32, 2 layers) whose tokenizer has no pad token."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer("bos", pad=False)
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         bos_token_id=BOS, eos_token_id=EOS, pad_token_id=None)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def tiny_bart(directory: Path, seed: int = 0) -> Path:
    """A random BART (d_model 32, 2 + 2 layers, no dropout)."""
    from transformers import BartConfig, BartForConditionalGeneration

    tokenizer = tiny_tokenizer("eos")
    torch.manual_seed(seed)
    config = BartConfig(vocab_size=len(tokenizer), d_model=32, encoder_layers=2, decoder_layers=2,
                        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
                        decoder_ffn_dim=64, max_position_embeddings=64, dropout=0.0, pad_token_id=PAD,
                        bos_token_id=BOS, eos_token_id=EOS, decoder_start_token_id=EOS, forced_eos_token_id=None)
    BartForConditionalGeneration(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def copy_rows(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        words = " ".join(rng.choice(WORDS[:12]) for _ in range(rng.randint(3, 6)))
        rows.append({"source": words, "target": words})
    return rows


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run faster on one thread than on cores shared with other work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def causal_dir(tmp_path_factory):
    return tiny_causal_lm(tmp_path_factory.mktemp("tiny-llama"))


def ids_of(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# -- layouts ------------------------------------------------------------------------------------


def test_layout_follows_the_columns():
    task = get_task("generation")

    def required(row, columns=COLUMNS):
        return task.required_for(Dataset.from_list([row]), columns)

    assert required({"text": "a"}) == ["text"]
    assert required({"prompt": "a", "completion": "b"}) == ["prompt", "completion"]
    assert required({"source": "a", "target": "b"}) == ["source", "target"]
    assert task.inputs_for(Dataset.from_list([{"prompt": "a"}]), COLUMNS) == ["prompt"]
    assert required({"question": "a"}, {**COLUMNS, "prompt": "question"}) == ["prompt", "completion"]
    with pytest.raises(UserError, match="needs a 'text' column .*columns: review"):
        required({"review": "a"})
    assert task.label_list(Dataset.from_list([{"text": "a"}]), COLUMNS) is None


def test_bind_and_auto_class_follow_the_config():
    from transformers import BartConfig, LlamaConfig

    task = get_task("generation")
    # auto_class_for only answers; bind returns a copy that expects what the checkpoint decides.
    assert task.auto_class_for(BartConfig()) == "AutoModelForSeq2SeqLM" and task.input_fields == ("prompt",)
    assert task.bind(LlamaConfig()) is not task and task.bind(LlamaConfig()).input_fields == ("prompt",)
    assert task.auto_class_for(LlamaConfig()) == "AutoModelForCausalLM" and task.input_fields == ("prompt",)
    unbound, task = task, task.bind(BartConfig())
    assert task.input_fields == ("source",) and task.output_kind == "seq2seq"
    assert unbound.input_fields == ("prompt",)  # the task it was bound from is unchanged
    assert task.input_row("red cat") == {"source": "red cat"}
    assert task.peft_task_type == "SEQ_2_SEQ_LM"


def test_rows_without_the_needed_fields_are_rejected():
    task = get_task("generation")
    rows = Dataset.from_list([{"prompt": "say red", "completion": "red"}, {"prompt": "say cat", "completion": None}])
    with pytest.raises(UserError, match=r"train.jsonl: row 2 has no 'completion' text; .*'prompt' and 'completion'"):
        task.validate(rows, COLUMNS, None, "train.jsonl")
    # Predicting needs no completion.
    task.validate(Dataset.from_list([{"prompt": "say red"}]), COLUMNS, None, "--input")
    with pytest.raises(UserError, match="row 1 has no 'text'"):
        task.validate(Dataset.from_list([{"text": "  "}]), COLUMNS, None, "data")


def test_text_is_concatenated_and_cut_into_blocks():
    tokenizer = tiny_tokenizer("bos")
    texts = ["red cat is one", "blue dog", "the sun is a moon bird one two three"]
    features = get_task("generation").preprocess(Dataset.from_list([{"text": t} for t in texts]), tokenizer,
                                                 COLUMNS, None, max_length=5)
    stream = [i for t in texts for i in [BOS, *ids_of(tokenizer, t), EOS]]
    assert len(stream) == 21  # 4 blocks of 5, and a 1-token rest that predicts nothing (dropped)
    assert features["input_ids"] == [stream[i:i + 5] for i in range(0, 20, 5)]
    assert features["labels"] == features["input_ids"]
    assert all(mask == [1] * 5 for mask in features["attention_mask"])

    shorter = get_task("generation").preprocess(Dataset.from_list([{"text": t} for t in [*texts[:2], "sun"]]),
                                                tokenizer, COLUMNS, None, max_length=5)
    assert [len(b) for b in shorter["input_ids"]] == [5, 5, 3]  # a short last block is kept


def test_prompt_labels_are_masked():
    tokenizer = tiny_tokenizer("bos", pad=False)
    rows = Dataset.from_list([{"prompt": "say red cat :", "completion": "red cat"}])
    feature = get_task("generation").preprocess(rows, tokenizer, COLUMNS, None, max_length=32)[0]
    prompt = [BOS, *ids_of(tokenizer, "say red cat :")]
    completion = [*ids_of(tokenizer, "red cat"), EOS]
    assert feature["input_ids"] == prompt + completion
    assert feature["labels"] == [IGNORE] * len(prompt) + completion

    # Without labels (predict) only the prompt is encoded.
    bare = get_task("generation").preprocess(rows.remove_columns("completion"), tokenizer, COLUMNS, None, 32,
                                             with_labels=False)[0]
    assert bare["input_ids"] == prompt and "labels" not in bare


def test_chat_template_puts_prompt_and_completion_in_turns():
    tokenizer = tiny_tokenizer("bos", pad=False)
    tokenizer.chat_template = CHAT_TEMPLATE
    rows = Dataset.from_list([{"prompt": "say red", "completion": "red"}])
    feature = get_task("generation").preprocess(rows, tokenizer, COLUMNS, None, max_length=32)[0]
    assert tokenizer.decode(feature["input_ids"]) == "<|user|> say red <|end|> <|assistant|> red <|end|>"
    answer = [t for t, label in zip(feature["input_ids"], feature["labels"]) if label != IGNORE]
    assert tokenizer.decode(answer) == "red <|end|>"  # the user turn and the generation prompt are not learnt
    assert feature["labels"][:-2] == [IGNORE] * (len(feature["labels"]) - 2)


def test_long_pairs_keep_the_prompt_end_and_the_answer_start():
    tokenizer = tiny_tokenizer("bos", pad=False)
    rows = Dataset.from_list([{"prompt": "one two three four red cat", "completion": "blue dog sun moon"}])
    feature = get_task("generation").preprocess(rows, tokenizer, COLUMNS, None, max_length=6)[0]
    # The answer (4 words + EOS) gets half the room, the prompt its last 3 tokens.
    assert tokenizer.decode(feature["input_ids"]) == "four red cat blue dog sun"
    assert feature["labels"] == [IGNORE] * 3 + ids_of(tokenizer, "blue dog sun")


def test_seq2seq_targets_become_labels_ending_with_eos():
    tokenizer = tiny_tokenizer("eos")
    task = get_task("generation")
    task.seq2seq = True
    feature = task.preprocess(Dataset.from_list([{"source": "red cat", "target": "blue dog"}]), tokenizer,
                              COLUMNS, None, max_length=16)[0]
    assert feature["input_ids"] == [*ids_of(tokenizer, "red cat"), EOS]
    assert feature["labels"] == [*ids_of(tokenizer, "blue dog"), EOS]
    with pytest.raises(UserError, match="plain 'text' data trains a causal LM"):
        task.preprocess(Dataset.from_list([{"text": "red"}]), tokenizer, COLUMNS, None, 16)


def test_collator_pads_inputs_and_labels_separately():
    batch = GenerationCollator(pad_token_id=PAD)([
        {"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1], "labels": [8]},
        {"input_ids": [5], "attention_mask": [1], "labels": [8, 9]},
    ])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, PAD, PAD]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[8, IGNORE], [8, 9]]


def test_prompts_are_cut_at_the_first_label_and_left_padded():
    batch = {"input_ids": torch.tensor([[1, 5, 6, 7, 8], [1, 9, 10, 0, 0]]),
             "attention_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]),
             "labels": torch.tensor([[IGNORE, IGNORE, IGNORE, 7, 8], [IGNORE, IGNORE, 10, IGNORE, IGNORE]])}
    input_ids, attention_mask = left_padded_prompts(batch, pad_token_id=0)
    assert input_ids.tolist() == [[1, 5, 6], [0, 1, 9]]
    assert attention_mask.tolist() == [[1, 1, 1], [0, 1, 1]]
    generated = torch.tensor([[4, 2, 4], [4, 4, 0]])
    assert mask_after_eos(generated, [2], 0).tolist() == [[4, IGNORE, IGNORE], [4, 4, IGNORE]]


# -- metrics and generation -----------------------------------------------------------------------


def load(directory, max_length=64):
    from ftcli.inference import load_trained

    return load_trained(str(directory), "generation", max_length=max_length)


def test_pad_token_defaults_to_eos(causal_dir):
    loaded = load(causal_dir)
    assert loaded.processor.pad_token == "</s>" and loaded.processor.pad_token_id == EOS


def test_perplexity_is_exp_of_the_token_weighted_mean_loss(causal_dir):
    from ftcli.inference import evaluate_dataset

    rows = [{"prompt": "say red cat :", "completion": "red cat"},
            {"prompt": "copy :", "completion": "one two three four sun moon bird"},
            {"prompt": "say the dog is a bird :", "completion": "dog"}]
    loaded = load(causal_dir)
    metrics = evaluate_dataset(loaded, Dataset.from_list(rows), "rows", batch_size=2)

    # Independently: each example alone through transformers' own loss (a mean over its completion tokens).
    model, tokenizer = loaded.model, loaded.processor
    total_loss, total_tokens, means = 0.0, 0, []
    for row in rows:
        prompt = tokenizer(row["prompt"])["input_ids"]
        completion = ids_of(tokenizer, row["completion"]) + [EOS]
        with torch.no_grad():
            loss = model(input_ids=torch.tensor([prompt + completion]),
                         labels=torch.tensor([[IGNORE] * len(prompt) + completion])).loss.item()
        means.append(loss)
        total_loss += loss * len(completion)  # only completion tokens count
        total_tokens += len(completion)
    assert metrics["perplexity"] == pytest.approx(math.exp(total_loss / total_tokens), rel=1e-4)
    # Averaging per-example means instead would give another number: the weighting is tested.
    assert metrics["perplexity"] != pytest.approx(math.exp(np.mean(means)), rel=1e-3)
    assert 0 <= metrics["rougeL"] <= 1 and "loss" in metrics and metrics["eval_rows"] == 3


def test_batched_greedy_generation_matches_one_prompt_at_a_time(causal_dir):
    from ftcli.inference import predict_dataset

    loaded = load(causal_dir)
    loaded.task.options = TaskOptions(max_new_tokens=6)
    prompts = ["say red", "copy one two three four :", "the dog"]
    batched = predict_dataset(loaded, Dataset.from_list([{"prompt": p} for p in prompts]), "rows", batch_size=3)
    alone = [predict_dataset(loaded, Dataset.from_list([{"prompt": p}]), "rows", batch_size=1)[0] for p in prompts]
    assert [r["generated_text"] for r in batched] == [r["generated_text"] for r in alone]
    assert [r["prompt"] for r in batched] == prompts
    assert all(0 < len(r["generated_text"].split()) <= 6 for r in batched)
    assert loaded.task.display(batched[0]) == {"prompt": "say red", "output": batched[0]["generated_text"]}


def test_sampling_options_are_used(causal_dir):
    from ftcli.inference import predict_dataset

    loaded = load(causal_dir)
    rows = Dataset.from_list([{"prompt": "say red"}] * 8)
    loaded.task.options = TaskOptions(max_new_tokens=8)
    greedy = {r["generated_text"] for r in predict_dataset(loaded, rows, "rows")}
    loaded.task.options = TaskOptions(max_new_tokens=8, temperature=5.0, top_p=1.0)
    torch.manual_seed(0)
    sampled = {r["generated_text"] for r in predict_dataset(loaded, rows, "rows")}
    assert len(greedy) == 1 and len(sampled) > 1


def test_rouge_metric():
    from ftcli.metrics import load_metric

    rouge = load_metric("rouge")
    assert rouge.compute(predictions=["red cat", "a b c d"], references=["red cat", "a x c y"])["rougeL"] == \
        pytest.approx((1.0 + 0.5) / 2)
    assert rouge.compute(predictions=["red cat"], references=[["blue dog", "red cat"]])["rougeL"] == 1.0


def test_tiny_encoder_decoder_learns_to_copy(tmp_path):
    """A random BART trained through ftcli's runner on source = target: ROUGE-L near 1."""
    from ftcli.runner import run
    from tests.conftest import write_jsonl

    model = tiny_bart(tmp_path / "bart")
    train = write_jsonl(tmp_path / "train.jsonl", copy_rows(800, seed=0))
    eval_ = write_jsonl(tmp_path / "eval.jsonl", copy_rows(32, seed=1))
    config = build_config(flags={
        "task": "generation", "model.name": str(model), "data.train": str(train), "data.eval": str(eval_),
        "data.validation": str(eval_), "model.max_length": 16, "optim.lr": 1e-2, "train.epochs": 3, "train.batch_size": 16,
        "train.save_checkpoint": False, "options.max_new_tokens": 10, "output_dir": str(tmp_path / "run"),
        # train.group_by_length stays off (the default): with rows of 4 distinct lengths,
        # grouped batches each hold one length and this tiny model learns the copy much more slowly
        # (ROUGE-L 0.43 against 1.0 after these 3 epochs, measured).
    })
    result = run(config)
    assert result.metrics["rougeL"] >= 0.9
    assert 1.0 <= result.metrics["perplexity"] < 1.5
    saved = json.loads((result.path / "model" / "config.json").read_text())
    assert saved["architectures"] == ["BartForConditionalGeneration"]
    history = [json.loads(line) for line in (result.path / "log.jsonl").read_text().splitlines()]
    perplexities = [r["validation_perplexity"] for r in history if "validation_perplexity" in r]
    assert perplexities[-1] < perplexities[0]
    assert result.metrics["validation_perplexity"] == pytest.approx(min(perplexities))
    assert np.isfinite(result.metrics["loss"])
