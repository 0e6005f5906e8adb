"""ftcli's ALBERT must be a drop-in, numerically identical replacement for transformers' ALBERT."""

import json
import os
import subprocess
import sys
import textwrap

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

import ftcli.models.albert as ours  # noqa: E402
from tests.unit.equivalence import max_diff, reference_pair  # noqa: E402

ATOL = 1e-5
# embedding_size != hidden_size so that the E -> H projection and the E-sized MLM head are exercised.
TINY = dict(
    vocab_size=99,
    embedding_size=16,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    type_vocab_size=2,
    max_position_embeddings=64,
)
NUM_LABELS = {"AlbertForSequenceClassification": 3, "AlbertForTokenClassification": 5}
HEADS = [
    "AlbertModel",
    "AlbertForPreTraining",
    "AlbertForMaskedLM",
    "AlbertForSequenceClassification",
    "AlbertForTokenClassification",
    "AlbertForQuestionAnswering",
]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Matrices this small gain nothing from intra-op threads, and on a busy machine the threads' waiting makes
    # each tiny matmul take milliseconds.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_outputs_match(got, expected):
    """Every field of a ModelOutput (or element of a tuple), hidden-state tuples included."""
    if isinstance(expected, tuple):
        got_items, expected_items = list(enumerate(got)), list(enumerate(expected))
    else:
        assert got.keys() == expected.keys(), (got.keys(), expected.keys())
        got_items, expected_items = list(got.items()), list(expected.items())
    assert len(got_items) == len(expected_items)
    for (key, g), (_, e) in zip(got_items, expected_items):
        if isinstance(e, tuple):
            assert len(g) == len(e), key
            for gi, ei in zip(g, e):
                assert max_diff(gi, ei) <= ATOL, key
        else:
            assert max_diff(g, e) <= ATOL, key


def make_pair(class_name: str, attn_implementation: str | None = None, **config_overrides):
    """transformers' model with random weights (eval mode) and ours loaded from its state_dict."""
    kwargs = {**TINY, "num_labels": NUM_LABELS.get(class_name, 2), **config_overrides}
    return reference_pair(
        getattr(transformers, class_name), transformers.AlbertConfig(**kwargs),
        getattr(ours, class_name), ours.AlbertConfig(**kwargs),
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
    """The label arguments of each head (none for the bare model)."""
    input_ids, padding = inputs["input_ids"], inputs["attention_mask"] == 0
    torch.manual_seed(2)
    mlm_labels = torch.full_like(input_ids, -100)
    mlm_labels[:, 2] = input_ids[:, 2]
    return {
        "AlbertModel": {},
        "AlbertForPreTraining": dict(labels=mlm_labels, sentence_order_label=torch.tensor([0, 1, 0])),
        "AlbertForMaskedLM": dict(labels=mlm_labels),
        "AlbertForSequenceClassification": dict(labels=torch.tensor([0, 2, 1])),
        "AlbertForTokenClassification": dict(labels=torch.randint(0, 5, input_ids.shape).masked_fill(padding, -100)),
        # 50 and 60 are outside the window: clamped and ignored
        "AlbertForQuestionAnswering": dict(
            start_positions=torch.tensor([1, 3, 50]), end_positions=torch.tensor([2, 4, 60])
        ),
    }[class_name]


@pytest.mark.parametrize("masked", [True, False], ids=["padded", "unpadded"])
@pytest.mark.parametrize("class_name", HEADS)
def test_head_matches(class_name, masked):
    ref, model = make_pair(class_name)
    inputs = make_inputs()
    labels = make_labels(class_name, inputs)
    if not masked:
        del inputs["attention_mask"]
    with torch.no_grad():
        expected = ref(**inputs, **labels, output_hidden_states=True)
        got = model(**inputs, **labels, output_hidden_states=True)
    assert len(got.hidden_states) == TINY["num_hidden_layers"] + 1
    assert_outputs_match(got, expected)
    if labels:
        assert got.loss is not None


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_base_model_matches_both_reference_attentions(attn_implementation):
    ref, model = make_pair("AlbertModel", attn_implementation)
    inputs = make_inputs()
    with torch.no_grad():
        assert_outputs_match(model(**inputs, output_hidden_states=True), ref(**inputs, output_hidden_states=True))


@pytest.mark.parametrize(
    ("num_hidden_layers", "num_hidden_groups", "inner_group_num"),
    [(2, 1, 1), (4, 2, 1), (2, 1, 2), (3, 2, 2)],  # (3, 2, 2): layers split unevenly over the groups
)
def test_layer_sharing_matches(num_hidden_layers, num_hidden_groups, inner_group_num):
    ref, model = make_pair(
        "AlbertModel",
        num_hidden_layers=num_hidden_layers,
        num_hidden_groups=num_hidden_groups,
        inner_group_num=inner_group_num,
    )
    groups = {name.split(".")[2] for name, _ in model.named_parameters() if "albert_layer_groups" in name}
    assert len(groups) == num_hidden_groups
    inputs = make_inputs()
    with torch.no_grad():
        expected = ref(**inputs, output_hidden_states=True)
        got = model(**inputs, output_hidden_states=True)
    assert len(got.hidden_states) == num_hidden_layers * inner_group_num + 1
    assert_outputs_match(got, expected)


def test_base_model_without_mask_or_token_types():
    ref, model = make_pair("AlbertModel")
    input_ids = make_inputs()["input_ids"]
    with torch.no_grad():
        assert max_diff(model(input_ids).last_hidden_state, ref(input_ids).last_hidden_state) <= ATOL


@pytest.mark.parametrize(
    ("num_labels", "labels"),
    [
        (1, torch.tensor([0.5, -1.0, 2.0])),  # regression
        (3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),  # multi_label_classification
    ],
)
def test_sequence_classification_problem_types(num_labels, labels):
    ref, model = make_pair("AlbertForSequenceClassification", num_labels=num_labels)
    inputs = make_inputs()
    with torch.no_grad():
        assert_outputs_match(model(**inputs, labels=labels), ref(**inputs, labels=labels))
    assert model.config.problem_type == ref.config.problem_type


@pytest.mark.parametrize("class_name", HEADS)
def test_inputs_embeds_and_tuple_output(class_name):
    ref, model = make_pair(class_name)
    inputs = make_inputs()
    labels = make_labels(class_name, inputs)
    input_ids = inputs.pop("input_ids")
    with torch.no_grad():
        from_ids = model(input_ids=input_ids, **inputs, **labels)
        embeds = model.get_input_embeddings()(input_ids)
        assert embeds.shape[-1] == TINY["embedding_size"]
        from_embeds = model(inputs_embeds=embeds, **inputs, **labels)
        expected_tuple = ref(inputs_embeds=embeds, **inputs, **labels, output_hidden_states=True, return_dict=False)
        got_tuple = model(inputs_embeds=embeds, **inputs, **labels, output_hidden_states=True, return_dict=False)
    assert_outputs_match(from_embeds, from_ids)
    assert isinstance(got_tuple, tuple)
    assert_outputs_match(got_tuple, expected_tuple)


@pytest.mark.parametrize("class_name", ["AlbertForMaskedLM", "AlbertForPreTraining"])
def test_mlm_decoder_is_tied(class_name):
    _, model = make_pair(class_name)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert model.predictions.decoder.bias is model.predictions.bias


@pytest.mark.parametrize("class_name", HEADS)
def test_transformers_checkpoint_loads_in_ours(class_name, tmp_path):
    ref, _ = make_pair(class_name)
    ref.save_pretrained(tmp_path)
    model, info = getattr(ours, class_name).from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    assert isinstance(model.config, ours.AlbertConfig)
    inputs = make_inputs()
    with torch.no_grad():
        expected = ref(**inputs, output_hidden_states=True)
        assert_outputs_match(model.eval()(**inputs, output_hidden_states=True), expected)


# Runs in a fresh interpreter that never imports ftcli: what a user of plain transformers would do.
_PLAIN_TRANSFORMERS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch, transformers
    root = sys.argv[1]
    inputs = torch.load(f"{root}/inputs.pt")
    outputs = {}
    for class_name, auto_name in json.loads(sys.argv[2]).items():
        model, info = getattr(transformers, auto_name).from_pretrained(f"{root}/{class_name}", output_loading_info=True)
        assert type(model).__name__ == class_name, (type(model), class_name)
        assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
        if class_name in ("AlbertForMaskedLM", "AlbertForPreTraining"):
            assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
        with torch.no_grad():
            outputs[class_name] = dict(model.eval()(**inputs, output_hidden_states=True))
    assert not any(name.startswith("ftcli") for name in sys.modules)
    torch.save(outputs, f"{root}/outputs.pt")
    """
)


def test_our_checkpoints_load_in_plain_transformers_in_a_fresh_process(tmp_path):
    auto_name_of = {cls.__name__: auto_name for auto_name, cls in ours.ARCHITECTURE.auto_classes.items()}
    assert sorted(auto_name_of) == sorted(HEADS)
    inputs = make_inputs()
    torch.save(inputs, tmp_path / "inputs.pt")
    expected = {}
    for class_name in HEADS:
        _, model = make_pair(class_name)
        model.save_pretrained(tmp_path / class_name)
        assert (tmp_path / class_name / "model.safetensors").is_file()
        with torch.no_grad():
            expected[class_name] = model(**inputs, output_hidden_states=True)

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", _PLAIN_TRANSFORMERS_SCRIPT, str(tmp_path), json.dumps(auto_name_of)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = torch.load(tmp_path / "outputs.pt")
    for class_name in HEADS:
        assert_outputs_match(loaded[class_name], dict(expected[class_name]))


def test_auto_classes_agree_with_transformers():
    for auto_name, cls in ours.ARCHITECTURE.auto_classes.items():
        assert getattr(transformers, auto_name)._model_mapping._model_mapping["albert"] == cls.__name__


def test_registry_patterns_cover_every_backbone_parameter():
    arch = ours.ARCHITECTURE
    assert arch.model_type == "albert" and arch.config_class is ours.AlbertConfig and arch.shared_layers
    _, model = make_pair("AlbertForPreTraining", num_hidden_groups=2, num_hidden_layers=4)
    for name, _ in model.named_parameters():
        is_embedding, layer = arch.is_embedding(name), arch.layer_index(name)
        if ".embeddings." in name or "embedding_hidden_mapping_in" in name:
            assert is_embedding and layer is None, name
        elif "albert_layer_groups" in name:
            assert not is_embedding and layer == int(name.split("albert_layer_groups.")[1].split(".")[0]), name
        else:  # pooler and heads
            assert not is_embedding and layer is None, name
    assert arch.layer_index("albert.encoder.albert_layer_groups.1.albert_layers.0.ffn.weight") == 1
    assert arch.is_embedding("encoder.embedding_hidden_mapping_in.weight")  # base model, no prefix


def test_new_head_is_initialised_and_backbone_kept(tmp_path):
    _, backbone = make_pair("AlbertModel")
    backbone.save_pretrained(tmp_path)
    model, info = ours.AlbertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=4, output_loading_info=True
    )
    assert info["missing_keys"] == {"classifier.weight", "classifier.bias"}
    assert not info["unexpected_keys"]
    for name, tensor in backbone.state_dict().items():
        assert torch.equal(model.albert.state_dict()[name], tensor), name
    weight = model.classifier.weight
    assert weight.shape == (4, TINY["hidden_size"]) and torch.isfinite(weight).all()
    assert 0.01 < weight.std().item() < 0.03  # normal(0, initializer_range=0.02)
    assert torch.equal(model.classifier.bias, torch.zeros(4))


def test_output_attentions_is_rejected():
    _, model = make_pair("AlbertModel")
    with pytest.raises(ValueError, match="output_attentions"):
        model(**make_inputs(), output_attentions=True)
