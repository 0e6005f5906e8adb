"""ftcli's DistilBERT must be a drop-in, numerically identical replacement for transformers' DistilBERT."""

import json
import os
import subprocess
import sys
import textwrap

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

import ftcli.models.distilbert as ours  # noqa: E402
from ftcli.models.registry import architectures  # noqa: E402
from tests.unit.equivalence import max_diff, reference_pair  # noqa: E402

ATOL = 1e-5
TINY = dict(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64)
# Head -> (Auto class, config overrides, output fields compared).
HEADS = {
    "DistilBertModel": ("AutoModel", {}, ["last_hidden_state"]),
    "DistilBertForMaskedLM": ("AutoModelForMaskedLM", {}, ["logits"]),
    "DistilBertForSequenceClassification": ("AutoModelForSequenceClassification", {"num_labels": 3}, ["logits"]),
    "DistilBertForTokenClassification": ("AutoModelForTokenClassification", {"num_labels": 5}, ["logits"]),
    "DistilBertForQuestionAnswering": ("AutoModelForQuestionAnswering", {}, ["start_logits", "end_logits"]),
}


def make_pair(class_name: str, **config_overrides):
    """transformers' model with random weights (eval mode) and ours loaded from its state_dict."""
    kwargs = {**TINY, **HEADS[class_name][1], **config_overrides}
    return reference_pair(
        getattr(transformers, class_name), transformers.DistilBertConfig(**kwargs),
        getattr(ours, class_name), ours.DistilBertConfig(**kwargs),
    )


def make_inputs(batch_size: int = 3, seq_len: int = 9):
    torch.manual_seed(1)
    input_ids = torch.randint(1, TINY["vocab_size"], (batch_size, seq_len))
    attention_mask = torch.ones(batch_size, seq_len, dtype=torch.long)
    attention_mask[1, -4:] = 0  # right padding of different lengths
    attention_mask[2, -1:] = 0
    input_ids = input_ids.masked_fill(attention_mask == 0, 0)
    return dict(input_ids=input_ids, attention_mask=attention_mask)


def make_labels(class_name: str, input_ids: torch.Tensor) -> dict:
    torch.manual_seed(2)
    if class_name == "DistilBertForMaskedLM":
        labels = torch.full_like(input_ids, -100)
        labels[:, 2] = input_ids[:, 2]
        return {"labels": labels}
    if class_name == "DistilBertForSequenceClassification":
        return {"labels": torch.tensor([0, 2, 1])}
    if class_name == "DistilBertForTokenClassification":
        return {"labels": torch.randint(0, 5, input_ids.shape).masked_fill(input_ids == 0, -100)}
    if class_name == "DistilBertForQuestionAnswering":
        # 50 and 60 are outside the window: clamped and ignored
        return {"start_positions": torch.tensor([1, 3, 50]), "end_positions": torch.tensor([2, 4, 60])}
    return {}


def assert_outputs_match(got, expected, fields):
    for field in fields:
        assert max_diff(got[field], expected[field]) <= ATOL, field
    if expected.get("loss") is not None:
        assert abs(got.loss.item() - expected.loss.item()) <= ATOL
    if expected.get("hidden_states") is not None:
        assert len(got.hidden_states) == len(expected.hidden_states) == TINY["n_layers"] + 1
        for g, e in zip(got.hidden_states, expected.hidden_states):
            assert max_diff(g, e) <= ATOL


@pytest.mark.parametrize("class_name", HEADS)
def test_state_dict_names_are_transformers(class_name):
    ref, model = make_pair(class_name)
    assert model.state_dict().keys() == ref.state_dict().keys()


@pytest.mark.parametrize("with_mask", [True, False], ids=["padded", "unpadded"])
@pytest.mark.parametrize("class_name", HEADS)
def test_head_matches(class_name, with_mask):
    ref, model = make_pair(class_name)
    inputs = make_inputs()
    if not with_mask:
        del inputs["attention_mask"]
    inputs |= make_labels(class_name, inputs["input_ids"])
    with torch.no_grad():
        expected = ref(**inputs, output_hidden_states=True)
        got = model(**inputs, output_hidden_states=True)
    assert type(got) is type(expected)
    assert_outputs_match(got, expected, HEADS[class_name][2])


@pytest.mark.parametrize(
    ("num_labels", "labels"),
    [
        (1, torch.tensor([0.5, -1.0, 2.0])),  # regression
        (3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),  # multi_label_classification
    ],
)
def test_sequence_classification_problem_types_match(num_labels, labels):
    ref, model = make_pair("DistilBertForSequenceClassification", num_labels=num_labels)
    with torch.no_grad():
        expected = ref(**make_inputs(), labels=labels)
        got = model(**make_inputs(), labels=labels)
    assert_outputs_match(got, expected, ["logits"])
    assert model.config.problem_type == ref.config.problem_type


@pytest.mark.parametrize("class_name", HEADS)
def test_inputs_embeds_and_tuple_output(class_name):
    ref, model = make_pair(class_name)
    inputs = make_inputs()
    input_ids = inputs.pop("input_ids")
    inputs |= make_labels(class_name, input_ids)
    with torch.no_grad():
        from_ids = model(input_ids=input_ids, **inputs)
        embeds = model.get_input_embeddings()(input_ids)
        from_embeds = model(inputs_embeds=embeds, **inputs)
        expected_tuple = ref(inputs_embeds=embeds, **inputs, output_hidden_states=True, return_dict=False)
        got_tuple = model(inputs_embeds=embeds, **inputs, output_hidden_states=True, return_dict=False)
    assert from_ids.keys() == from_embeds.keys()
    for key in from_ids.keys():
        assert max_diff(from_embeds[key], from_ids[key]) <= ATOL
    assert isinstance(got_tuple, tuple) and len(got_tuple) == len(expected_tuple)
    for g, e in zip(got_tuple, expected_tuple):
        if isinstance(e, tuple):  # the hidden states
            assert len(g) == len(e) and all(max_diff(x, y) <= ATOL for x, y in zip(g, e))
        else:
            assert max_diff(g, e) <= ATOL


def test_token_type_ids_are_accepted_and_ignored():
    # transformers' DistilBERT swallows token_type_ids; BERT tokenizers (and so ftcli's collators) may emit them.
    ref, model = make_pair("DistilBertForSequenceClassification")
    inputs = make_inputs()
    token_type_ids = torch.ones_like(inputs["input_ids"])
    with torch.no_grad():
        expected = ref(**inputs, token_type_ids=token_type_ids).logits
        got = model(**inputs, token_type_ids=token_type_ids).logits
        assert max_diff(got, expected) <= ATOL
        assert max_diff(got, model(**inputs).logits) == 0


def test_masked_lm_is_tied():
    _, model = make_pair("DistilBertForMaskedLM")
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert model.vocab_projector.bias is not None  # only the weight is tied


def test_sinusoidal_position_embeddings_match():
    torch.manual_seed(0)
    config = {**TINY, "sinusoidal_pos_embds": True}
    ref = transformers.DistilBertModel(transformers.DistilBertConfig(**config))
    model = ours.DistilBertModel(ours.DistilBertConfig(**config))
    expected = ref.embeddings.position_embeddings.weight
    assert max_diff(model.embeddings.position_embeddings.weight, expected) <= 1e-6
    assert expected[1, :2].tolist() == pytest.approx([0.84147, 0.54030], abs=1e-5)  # sin(1), cos(1)

    ref, model = make_pair("DistilBertModel", sinusoidal_pos_embds=True)
    with torch.no_grad():
        assert max_diff(model(**make_inputs()).last_hidden_state, ref(**make_inputs()).last_hidden_state) <= ATOL


def test_question_answering_needs_two_labels():
    with pytest.raises(ValueError, match="num_labels"):
        ours.DistilBertForQuestionAnswering(ours.DistilBertConfig(**TINY, num_labels=3))


def test_output_attentions_is_rejected():
    _, model = make_pair("DistilBertModel")
    with pytest.raises(ValueError, match="output_attentions"):
        model(**make_inputs(), output_attentions=True)


def test_registry_declares_layers_and_embeddings():
    architecture = architectures()["distilbert"]
    assert architecture.config_class is ours.DistilBertConfig
    assert {name: cls.__name__ for name, cls in architecture.auto_classes.items()} == {
        auto: name for name, (auto, _, _) in HEADS.items()
    }
    _, model = make_pair("DistilBertForMaskedLM")
    depths = {}
    for name, _ in model.named_parameters():
        index = architecture.layer_index(name)
        depths[name] = "embedding" if architecture.is_embedding(name) else index
    assert depths["distilbert.embeddings.word_embeddings.weight"] == "embedding"
    assert depths["distilbert.embeddings.position_embeddings.weight"] == "embedding"
    assert depths["distilbert.transformer.layer.1.attention.q_lin.weight"] == 1
    assert depths["distilbert.transformer.layer.0.output_layer_norm.bias"] == 0
    assert depths["vocab_transform.weight"] is None
    assert sorted({d for d in depths.values() if isinstance(d, int)}) == list(range(TINY["n_layers"]))


# Runs in a fresh interpreter that never imports ftcli: loads each saved head with transformers' Auto class and
# saves its outputs for the parent to compare.
PLAIN_TRANSFORMERS = textwrap.dedent("""
    import json, sys
    import torch, transformers
    from safetensors.torch import load_file, save_file
    root = sys.argv[1]
    inputs = load_file(f"{root}/inputs.safetensors")
    report, outputs = {}, {}
    for name, auto in json.loads(sys.argv[2]).items():
        model, info = getattr(transformers, auto).from_pretrained(f"{root}/{name}", output_loading_info=True)
        with torch.no_grad():
            out = model.eval()(**inputs)
        tied = model.get_output_embeddings() is not None and (
            model.get_output_embeddings().weight is model.get_input_embeddings().weight)
        report[name] = {"class": type(model).__name__, "info": {k: sorted(v) for k, v in info.items()}, "tied": tied}
        outputs |= {f"{name}.{key}": value.contiguous() for key, value in out.items()}
    save_file(outputs, f"{root}/outputs.safetensors")
    report["ftcli_imported"] = any(m.split(".")[0] == "ftcli" for m in sys.modules)
    print(json.dumps(report))
""")


def test_our_checkpoints_load_in_plain_transformers(tmp_path):
    inputs = make_inputs()
    save_file(inputs, tmp_path / "inputs.safetensors")
    models = {}
    for name in HEADS:
        _, models[name] = make_pair(name)
        models[name].save_pretrained(tmp_path / name)
        assert (tmp_path / name / "model.safetensors").is_file()
    result = subprocess.run(
        [sys.executable, "-c", PLAIN_TRANSFORMERS, str(tmp_path), json.dumps({n: h[0] for n, h in HEADS.items()})],
        cwd=tmp_path,  # not the repository root, so ftcli is not importable by accident
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report.pop("ftcli_imported") is False
    outputs = load_file(tmp_path / "outputs.safetensors")
    for name, model in models.items():
        assert report[name]["class"] == name
        assert not any(report[name]["info"].values()), report[name]["info"]
        assert report[name]["tied"] == (name == "DistilBertForMaskedLM")
        with torch.no_grad():
            got = model(**inputs)
        for field in HEADS[name][2]:
            assert max_diff(outputs[f"{name}.{field}"], got[field]) <= ATOL, (name, field)


@pytest.mark.parametrize("class_name", HEADS)
def test_transformers_checkpoint_loads_in_ours(tmp_path, class_name):
    ref, _ = make_pair(class_name)
    ref.save_pretrained(tmp_path)
    model, info = getattr(ours, class_name).from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert isinstance(model.config, ours.DistilBertConfig)
    if class_name == "DistilBertForMaskedLM":
        assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    inputs = make_inputs()
    with torch.no_grad():
        expected, got = ref(**inputs), model.eval()(**inputs)
    for field in HEADS[class_name][2]:
        assert max_diff(got[field], expected[field]) <= ATOL


def test_new_head_is_initialised_and_backbone_kept(tmp_path):
    _, backbone = make_pair("DistilBertModel")
    backbone.save_pretrained(tmp_path)
    model, info = ours.DistilBertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=4, output_loading_info=True
    )
    assert info["missing_keys"] == {"pre_classifier.weight", "pre_classifier.bias", "classifier.weight",
                                    "classifier.bias"}
    assert not info["unexpected_keys"]
    for name, tensor in backbone.state_dict().items():
        assert torch.equal(model.distilbert.state_dict()[name], tensor), name
    weight = model.classifier.weight
    assert weight.shape == (4, TINY["dim"]) and torch.isfinite(weight).all()
    assert 0.01 < weight.std().item() < 0.03  # normal(0, initializer_range=0.02)
    assert torch.equal(model.classifier.bias, torch.zeros(4))
