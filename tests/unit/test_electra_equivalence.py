"""ftcli's ELECTRA must be a drop-in, numerically identical replacement for transformers' ELECTRA."""

import json
import os
import subprocess
import sys

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

import ftcli.models.electra as ours  # noqa: E402
from tests.unit.equivalence import max_diff, reference_pair  # noqa: E402

ATOL = 1e-5
TINY = dict(
    vocab_size=99,
    embedding_size=16,  # != hidden_size: exercises `embeddings_project`
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    type_vocab_size=2,
    max_position_embeddings=64,
)
EMBEDDING_SIZES = [16, 32]  # projected, and equal to hidden_size (no projection)
NUM_LABELS = 3
HEAD_CONFIG = {  # QA keeps the default num_labels=2 (start, end)
    "ElectraForSequenceClassification": dict(num_labels=NUM_LABELS),
    "ElectraForTokenClassification": dict(num_labels=NUM_LABELS),
}
HEADS = [
    "ElectraModel",
    "ElectraForPreTraining",
    "ElectraForMaskedLM",
    "ElectraForSequenceClassification",
    "ElectraForTokenClassification",
    "ElectraForQuestionAnswering",
]
AUTO_CLASS = {cls.__name__: auto for auto, cls in ours.ARCHITECTURE.auto_classes.items()}


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    # Tiny matrices: extra threads only add contention on a busy machine (milliseconds -> seconds per forward).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_outputs_match(got, expected):
    """Every field (logits, loss, each hidden state) of two ModelOutputs, or two tuples of them."""
    if not isinstance(expected, tuple):
        assert list(got.keys()) == list(expected.keys())
        got, expected = got.to_tuple(), expected.to_tuple()
    assert isinstance(got, tuple) and len(got) == len(expected)
    for g, e in zip(got, expected):
        if isinstance(e, tuple):
            assert_outputs_match(g, e)
        else:
            assert max_diff(g, e) <= ATOL


def make_pair(class_name: str, attn_implementation: str | None = None, **config_overrides):
    """transformers' model with random weights (eval mode) and ours loaded from its state_dict."""
    kwargs = {**TINY, **HEAD_CONFIG.get(class_name, {}), **config_overrides}
    return reference_pair(
        getattr(transformers, class_name), transformers.ElectraConfig(**kwargs),
        getattr(ours, class_name), ours.ElectraConfig(**kwargs),
        attn_implementation,
    )


def make_inputs(batch_size: int = 3, seq_len: int = 9):
    torch.manual_seed(1)
    input_ids = torch.randint(1, TINY["vocab_size"], (batch_size, seq_len))
    token_type_ids = torch.randint(0, TINY["type_vocab_size"], (batch_size, seq_len))
    attention_mask = torch.ones(batch_size, seq_len, dtype=torch.long)
    attention_mask[1, -4:] = 0  # right padding of different lengths
    attention_mask[2, -1:] = 0
    input_ids = input_ids.masked_fill(attention_mask == 0, 0)
    return dict(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)


def make_labels(class_name: str, inputs: dict) -> dict:
    torch.manual_seed(2)
    shape = inputs["input_ids"].shape
    if class_name == "ElectraForPreTraining":  # 1 = replaced token
        return dict(labels=torch.randint(0, 2, shape))
    if class_name == "ElectraForMaskedLM":  # -100 = not masked
        labels = torch.full(shape, -100)
        labels[:, 2] = inputs["input_ids"][:, 2]
        return dict(labels=labels)
    if class_name == "ElectraForSequenceClassification":
        return dict(labels=torch.tensor([0, 2, 1]))
    if class_name == "ElectraForTokenClassification":
        return dict(labels=torch.randint(0, NUM_LABELS, shape))
    if class_name == "ElectraForQuestionAnswering":  # 50 and 60 are outside the window: clamped and ignored
        return dict(start_positions=torch.tensor([1, 3, 50]), end_positions=torch.tensor([2, 4, 60]))
    return {}


@pytest.mark.parametrize("embedding_size", EMBEDDING_SIZES)
@pytest.mark.parametrize("class_name", HEADS)
def test_head_matches(class_name, embedding_size):
    """Logits, every hidden state and the loss; with and without a padding mask (padding masked out of the
    discriminator loss and token labels), through inputs_embeds, and as return_dict=False tuples."""
    ref, model = make_pair(class_name, embedding_size=embedding_size)
    inputs = make_inputs()
    labels = make_labels(class_name, inputs)
    if class_name == "ElectraForTokenClassification":
        masked_labels = dict(labels=labels["labels"].masked_fill(inputs["attention_mask"] == 0, -100))
    else:
        masked_labels = labels
    without_mask = {k: v for k, v in inputs.items() if k != "attention_mask"}
    with torch.no_grad():
        for kwargs in ({**inputs, **masked_labels}, {**without_mask, **labels}):
            expected = ref(**kwargs, output_hidden_states=True)
            got = model(**kwargs, output_hidden_states=True)
            assert len(got.hidden_states) == TINY["num_hidden_layers"] + 1
            assert_outputs_match(got, expected)
            if labels:
                assert got.loss is not None

        input_ids = inputs.pop("input_ids")
        embeds = model.get_input_embeddings()(input_ids)
        assert embeds.shape[-1] == embedding_size
        from_ids = model(input_ids=input_ids, **inputs, **masked_labels)
        from_embeds = model(inputs_embeds=embeds, **inputs, **masked_labels)
        assert_outputs_match(from_embeds, from_ids)
        expected_tuple = ref(inputs_embeds=embeds, **inputs, **masked_labels, output_hidden_states=True,
                             return_dict=False)
        got_tuple = model(inputs_embeds=embeds, **inputs, **masked_labels, output_hidden_states=True,
                          return_dict=False)
        assert_outputs_match(got_tuple, expected_tuple)


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_base_model_matches_both_reference_attentions(attn_implementation):
    ref, model = make_pair("ElectraModel", attn_implementation)
    inputs = make_inputs()
    with torch.no_grad():
        assert_outputs_match(model(**inputs, output_hidden_states=True), ref(**inputs, output_hidden_states=True))


@pytest.mark.parametrize(
    ("num_labels", "labels"),
    [
        (3, torch.tensor([0, 2, 1])),  # single_label_classification
        (1, torch.tensor([0.5, -1.0, 2.0])),  # regression
        (3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),  # multi_label_classification
    ],
)
def test_sequence_classification_problem_types(num_labels, labels):
    ref, model = make_pair("ElectraForSequenceClassification", num_labels=num_labels)
    inputs = make_inputs()
    with torch.no_grad():
        assert_outputs_match(model(**inputs, labels=labels), ref(**inputs, labels=labels))
    assert model.config.problem_type == ref.config.problem_type


@pytest.mark.parametrize("embedding_size", EMBEDDING_SIZES)
def test_generator_head_is_tied(embedding_size):
    _, model = make_pair("ElectraForMaskedLM", embedding_size=embedding_size)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert model.generator_lm_head.weight.shape == (TINY["vocab_size"], embedding_size)


# The fresh process must not import ftcli: it loads each directory with the Auto class our registry maps the
# head to, checks the class and loading info, and writes its outputs for the parent to compare.
_PLAIN_TRANSFORMERS = """
import json, sys
import torch, transformers
from safetensors.torch import load_file, save_file
root, heads = sys.argv[1], json.loads(sys.argv[2])
inputs = load_file(f"{root}/inputs.safetensors")
for name, auto_class in heads.items():
    model, info = getattr(transformers, auto_class).from_pretrained(f"{root}/{name}", output_loading_info=True)
    assert type(model).__name__ == name, (type(model), name)
    assert type(model).__module__.startswith("transformers."), type(model).__module__
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), (name, info)
    with torch.no_grad():
        out = model.eval()(**inputs, output_hidden_states=True, return_dict=False)
    flat = [t for o in out for t in (o if isinstance(o, tuple) else (o,))]
    save_file({str(i): t.clone() for i, t in enumerate(flat)}, f"{root}/{name}/outputs.safetensors")
assert not any(m == "ftcli" or m.startswith("ftcli.") for m in sys.modules)
print(json.dumps(sorted(heads)))
"""


def test_our_checkpoints_load_in_plain_transformers(tmp_path):
    inputs = make_inputs()
    save_file(inputs, tmp_path / "inputs.safetensors")
    expected = {}
    for name in HEADS:
        _, model = make_pair(name)
        model.save_pretrained(tmp_path / name)
        assert (tmp_path / name / "model.safetensors").is_file()
        assert json.loads((tmp_path / name / "config.json").read_text())["architectures"] == [name]
        with torch.no_grad():
            out = model(**inputs, output_hidden_states=True, return_dict=False)
        expected[name] = [t for o in out for t in (o if isinstance(o, tuple) else (o,))]

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": "", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", _PLAIN_TRANSFORMERS, str(tmp_path), json.dumps({n: AUTO_CLASS[n] for n in HEADS})],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == sorted(HEADS)
    for name in HEADS:
        got = load_file(tmp_path / name / "outputs.safetensors")
        assert len(got) == len(expected[name]), name
        for i, tensor in enumerate(expected[name]):
            assert max_diff(got[str(i)], tensor) <= ATOL, (name, i)


@pytest.mark.parametrize("class_name", HEADS)
def test_transformers_checkpoint_loads_in_ours(tmp_path, class_name):
    ref, _ = make_pair(class_name)
    ref.save_pretrained(tmp_path)
    model, info = getattr(ours, class_name).from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert isinstance(model.config, ours.ElectraConfig)
    if class_name == "ElectraForMaskedLM":
        assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    inputs = make_inputs()
    with torch.no_grad():
        assert_outputs_match(model.eval()(**inputs, output_hidden_states=True),
                             ref(**inputs, output_hidden_states=True))


def test_new_head_is_initialised_and_backbone_kept(tmp_path):
    _, backbone = make_pair("ElectraModel")
    backbone.save_pretrained(tmp_path)
    model, info = ours.ElectraForSequenceClassification.from_pretrained(
        tmp_path, num_labels=4, output_loading_info=True
    )
    assert info["missing_keys"] == {
        "classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"
    }
    assert not info["unexpected_keys"]
    for name, tensor in backbone.state_dict().items():
        assert torch.equal(model.electra.state_dict()[name], tensor), name
    weight = model.classifier.out_proj.weight
    assert weight.shape == (4, TINY["hidden_size"]) and torch.isfinite(weight).all()
    assert 0.01 < weight.std().item() < 0.03  # normal(0, initializer_range=0.02)
    assert torch.equal(model.classifier.out_proj.bias, torch.zeros(4))


def test_registry_reaches_every_layer_and_the_embeddings():
    architecture = ours.ARCHITECTURE
    assert architecture.model_type == ours.ElectraConfig.model_type == transformers.ElectraConfig.model_type
    _, model = make_pair("ElectraForPreTraining")
    names = [name for name, _ in model.named_parameters()]
    layers = {architecture.layer_index(n) for n in names} - {None}
    assert layers == set(range(TINY["num_hidden_layers"]))
    embeddings = {n for n in names if architecture.is_embedding(n)}
    assert embeddings == {n for n in names if n.startswith(("electra.embeddings.", "electra.embeddings_project."))}
    assert not any(architecture.is_embedding(n) and architecture.layer_index(n) is not None for n in names)


def test_output_attentions_and_decoder_are_rejected():
    _, model = make_pair("ElectraModel")
    with pytest.raises(ValueError, match="output_attentions"):
        model(**make_inputs(), output_attentions=True)
    with pytest.raises(ValueError, match="encoder-only"):
        ours.ElectraModel(ours.ElectraConfig(**TINY, is_decoder=True))
