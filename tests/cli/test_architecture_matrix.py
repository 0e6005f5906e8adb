"""`ftcli finetune` end to end on a tiny random checkpoint of every architecture ftcli implements,
for every task whose head the architecture has and every strategy that supports the task. The
checkpoints are saved by transformers' own classes (as Hub checkpoints are), and load into ftcli's."""

import json

import pytest
import torch

from ftcli.models.registry import architectures
from ftcli.strategies import get_strategy
from ftcli.tasks import get_task
from tests.cli.test_strategies_cli import LR, STRATEGY_FLAGS, TASK_FLAGS, datasets  # noqa: F401 (fixture)
from tests.conftest import FILLER, NEGATIVE, PEOPLE, PLACES, POSITIVE, SPECIAL, SUBWORDS, SURNAMES

WORDS = SPECIAL + POSITIVE + NEGATIVE + FILLER + PLACES + PEOPLE + SURNAMES + SUBWORDS + [
    "lives", "in", "where", "does", "live", "?", "red", "cat", "say", "echo", "<s>", "</s>"]
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
# What each task asks the architecture for (generation: causal LM or seq2seq, by config).
TASK_HEADS = {"classification": "AutoModelForSequenceClassification", "nli": "AutoModelForSequenceClassification",
              "ner": "AutoModelForTokenClassification", "qa": "AutoModelForQuestionAnswering",
              "image-classification": "AutoModelForImageClassification"}
STRATEGIES = ("full", "feature-extraction", "lora", "prompt-tuning")


def word_tokenizer(bart: bool = False):
    """A word-level fast tokenizer over WORDS: BERT-style [CLS] A [SEP] B [SEP], or BART-style
    <s> A </s> </s> B </s>."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(dict.fromkeys(WORDS))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    start, end = ("<s>", "</s>") if bart else ("[CLS]", "[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single=f"{start} $A {end}", pair=f"{start} $A {end} {end}:1 $B:1 {end}:1" if bart else
        f"{start} $A {end} $B:1 {end}:1", special_tokens=[(start, vocab[start]), (end, vocab[end])])
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   bos_token="<s>", eos_token="</s>")


def build(model_type: str, directory):
    """transformers' base model of `model_type`, random, saved with a tokenizer (or processor)."""
    import transformers

    torch.manual_seed(0)
    if model_type == "vit":
        from tests.unit.test_image_classification import tiny_vit

        return tiny_vit(directory)
    tokenizer = word_tokenizer(bart=model_type == "bart")
    vocab = len(tokenizer)
    config = {
        "bert": lambda: transformers.BertConfig(vocab_size=vocab, max_position_embeddings=128, **TINY),
        "albert": lambda: transformers.AlbertConfig(vocab_size=vocab, embedding_size=16, max_position_embeddings=128,
                                                    **TINY),
        "electra": lambda: transformers.ElectraConfig(vocab_size=vocab, embedding_size=16,
                                                      max_position_embeddings=128, **TINY),
        "distilbert": lambda: transformers.DistilBertConfig(vocab_size=vocab, dim=32, n_layers=2, n_heads=4,
                                                            hidden_dim=64, max_position_embeddings=128),
        "bart": lambda: transformers.BartConfig(
            vocab_size=vocab, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
            decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
            pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.eos_token_id,
            forced_eos_token_id=None),
        "gpt2": lambda: transformers.GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=4, n_positions=128,
                                                bos_token_id=tokenizer.bos_token_id,
                                                eos_token_id=tokenizer.eos_token_id),
    }[model_type]()
    transformers.AutoModel.from_config(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def cells():
    for model_type, architecture in sorted(architectures().items()):
        heads = set(architecture.auto_classes)
        tasks = [task for task, head in TASK_HEADS.items() if head in heads]
        if heads & {"AutoModelForCausalLM", "AutoModelForSeq2SeqLM"}:
            tasks.append("generation")
        for task in tasks:
            for strategy in STRATEGIES:
                if get_strategy(strategy).supports(get_task(task)):
                    yield model_type, task, strategy


CELLS = list(cells())


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    cache = {}

    def get(model_type):
        if model_type not in cache:
            cache[model_type] = build(model_type, tmp_path_factory.mktemp(model_type))
        return cache[model_type]

    return get


def test_the_matrix_covers_every_architecture():
    assert {m for m, _, _ in CELLS} == set(architectures())
    assert len(CELLS) >= 60


@pytest.mark.parametrize("model_type,task,strategy", CELLS, ids=["-".join(c) for c in CELLS])
def test_finetune_runs_on_every_architecture(cli, tmp_path, checkpoints, datasets, model_type, task, strategy):  # noqa: F811
    model = checkpoints(model_type)
    train, eval_ = datasets[task]
    out = tmp_path / "run"
    result = cli("finetune", task, "--strategy", strategy, "--model", model, "--train", train, "--test", eval_,
                 "--output-dir", out, "--epochs", "1", "--batch-size", "8", "--lr", LR[strategy],
                 "--set", "train.save_checkpoint=false", "--set", "features.layers=last",
                 *STRATEGY_FLAGS.get(strategy, []), *TASK_FLAGS.get(task, ["--max-length", "32"]))
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["trainable_parameters"] > 0 and metrics["kept_epoch"] == 1

    # The run's model loads back (into ours) and scores the same rows the same way.
    evaluated = cli("evaluate", out, "--data", eval_, "--output", tmp_path / "m.json")
    assert evaluated.exit_code == 0, evaluated.stderr
    written = json.loads((tmp_path / "m.json").read_text())
    key = next(k for k in ("accuracy", "f1", "exact_match", "perplexity") if k in metrics)
    assert written[key] == pytest.approx(metrics[key], rel=1e-4, abs=1e-6)


def plain_transformers_predictions(directory, task: str, rows) -> list[int]:
    """Predicted label ids from transformers' own classes, one row at a time (no padding), in a
    process where ftcli's classes are not involved (the Auto classes resolve to transformers')."""
    import transformers

    head = getattr(transformers, TASK_HEADS[task]).from_pretrained(directory).eval()
    assert type(head).__module__.startswith("transformers."), type(head)
    if task == "image-classification":
        from PIL import Image

        processor = transformers.AutoImageProcessor.from_pretrained(directory)
        inputs = [processor(images=Image.open(path).convert("RGB"), return_tensors="pt") for path in rows]
    else:
        tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
        inputs = [tokenizer(text, return_tensors="pt") for text in rows]
    with torch.no_grad():
        return [int(head(**batch).logits.argmax(-1)) for batch in inputs]


@pytest.mark.parametrize("model_type", sorted(architectures()))
def test_a_transformers_checkpoint_evaluates_as_in_plain_transformers(cli, tmp_path, checkpoints, datasets,  # noqa: F811
                                                                      model_type):
    import transformers

    task = "image-classification" if model_type == "vit" else "classification"
    _, eval_ = datasets[task]
    if task == "classification":
        rows = [json.loads(line) for line in eval_.read_text().splitlines()]
        inputs, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    else:
        paths = sorted(eval_.glob("*/*.png"))
        inputs, labels = paths, [p.parent.name for p in paths]
    names = sorted(set(labels))
    # A checkpoint with a (random) classification head, saved by transformers' own class.
    base = checkpoints(model_type)
    torch.manual_seed(3)
    saved = tmp_path / "hf"
    getattr(transformers, TASK_HEADS[task]).from_pretrained(
        base, num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
    ).save_pretrained(saved)
    processor = transformers.AutoImageProcessor if task == "image-classification" else transformers.AutoTokenizer
    processor.from_pretrained(base).save_pretrained(saved)

    result = cli("evaluate", saved, "--task", task, "--data", eval_, "--output", tmp_path / "m.json")
    assert result.exit_code == 0, result.stderr
    ours = json.loads((tmp_path / "m.json").read_text())["accuracy"]
    predicted = plain_transformers_predictions(saved, task, inputs)
    theirs = sum(names[p] == label for p, label in zip(predicted, labels)) / len(labels)
    assert ours == pytest.approx(theirs)
    # Row by row, too: ftcli predict gives transformers' label for every row.
    result = cli("predict", saved, "--task", task, "--data", eval_, "--output", tmp_path / "p.json")
    assert result.exit_code == 0, result.stderr
    assert [r["label"] for r in json.loads((tmp_path / "p.json").read_text())] == [names[p] for p in predicted]

    from ftcli.models.loading import load_model

    loaded = load_model(str(saved), TASK_HEADS[task])
    assert type(loaded).__module__.startswith(f"ftcli.models.{model_type}")  # evaluate ran on ftcli's class
