"""ftcli's BERT must be a drop-in, numerically identical replacement for transformers' BERT."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

import ftcli.models.bert as ours  # noqa: E402
from tests.unit.equivalence import max_diff, reference_pair  # noqa: E402

ATOL = 1e-5
TINY = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    type_vocab_size=2,
    max_position_embeddings=64,
)
HEADS = [
    "BertModel",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
    "BertForMaskedLM",
    "BertForPreTraining",
]


def make_pair(class_name: str, attn_implementation: str | None = None, **config_overrides):
    """transformers' model with random weights (eval mode) and ours loaded from its state_dict."""
    kwargs = {**TINY, **config_overrides}
    return reference_pair(
        getattr(transformers, class_name), transformers.BertConfig(**kwargs),
        getattr(ours, class_name), ours.BertConfig(**kwargs),
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


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_base_model_matches(attn_implementation):
    ref, model = make_pair("BertModel", attn_implementation)
    inputs = make_inputs()
    with torch.no_grad():
        expected = ref(**inputs, output_hidden_states=True)
        got = model(**inputs, output_hidden_states=True)
    assert max_diff(got.last_hidden_state, expected.last_hidden_state) <= ATOL
    assert max_diff(got.pooler_output, expected.pooler_output) <= ATOL
    assert len(got.hidden_states) == len(expected.hidden_states) == TINY["num_hidden_layers"] + 1
    for g, e in zip(got.hidden_states, expected.hidden_states):
        assert max_diff(g, e) <= ATOL


def test_base_model_without_mask_or_token_types():
    ref, model = make_pair("BertModel")
    input_ids = make_inputs()["input_ids"]
    with torch.no_grad():
        assert max_diff(model(input_ids).last_hidden_state, ref(input_ids).last_hidden_state) <= ATOL


@pytest.mark.parametrize(
    ("num_labels", "labels"),
    [
        (3, torch.tensor([0, 2, 1])),  # single_label_classification
        (1, torch.tensor([0.5, -1.0, 2.0])),  # regression
        (3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),  # multi_label_classification
    ],
)
def test_sequence_classification_matches(num_labels, labels):
    ref, model = make_pair("BertForSequenceClassification", num_labels=num_labels)
    inputs = make_inputs()
    with torch.no_grad():
        expected = ref(**inputs, labels=labels)
        got = model(**inputs, labels=labels)
    assert max_diff(got.logits, expected.logits) <= ATOL
    assert abs(got.loss.item() - expected.loss.item()) <= ATOL
    assert model.config.problem_type == ref.config.problem_type


def test_token_classification_matches():
    ref, model = make_pair("BertForTokenClassification", num_labels=5)
    inputs = make_inputs()
    torch.manual_seed(2)
    labels = torch.randint(0, 5, inputs["input_ids"].shape).masked_fill(inputs["attention_mask"] == 0, -100)
    with torch.no_grad():
        expected = ref(**inputs, labels=labels)
        got = model(**inputs, labels=labels)
    assert max_diff(got.logits, expected.logits) <= ATOL
    assert abs(got.loss.item() - expected.loss.item()) <= ATOL


def test_question_answering_matches():
    ref, model = make_pair("BertForQuestionAnswering")
    inputs = make_inputs()
    start_positions = torch.tensor([1, 3, 50])  # 50 is outside the window: clamped and ignored
    end_positions = torch.tensor([2, 4, 60])
    with torch.no_grad():
        expected = ref(**inputs, start_positions=start_positions, end_positions=end_positions)
        got = model(**inputs, start_positions=start_positions, end_positions=end_positions)
    assert max_diff(got.start_logits, expected.start_logits) <= ATOL
    assert max_diff(got.end_logits, expected.end_logits) <= ATOL
    assert abs(got.loss.item() - expected.loss.item()) <= ATOL


def test_masked_lm_matches_and_is_tied():
    ref, model = make_pair("BertForMaskedLM")
    inputs = make_inputs()
    labels = torch.full_like(inputs["input_ids"], -100)
    labels[:, 2] = inputs["input_ids"][:, 2]
    with torch.no_grad():
        expected = ref(**inputs, labels=labels)
        got = model(**inputs, labels=labels)
    assert max_diff(got.logits, expected.logits) <= ATOL
    assert abs(got.loss.item() - expected.loss.item()) <= ATOL
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert model.cls.predictions.decoder.bias is model.cls.predictions.bias


def test_pretraining_matches():
    ref, model = make_pair("BertForPreTraining")
    inputs = make_inputs()
    labels = torch.full_like(inputs["input_ids"], -100)
    labels[:, 3] = inputs["input_ids"][:, 3]
    next_sentence_label = torch.tensor([0, 1, 0])
    with torch.no_grad():
        expected = ref(**inputs, labels=labels, next_sentence_label=next_sentence_label)
        got = model(**inputs, labels=labels, next_sentence_label=next_sentence_label)
    assert max_diff(got.prediction_logits, expected.prediction_logits) <= ATOL
    assert max_diff(got.seq_relationship_logits, expected.seq_relationship_logits) <= ATOL
    assert abs(got.loss.item() - expected.loss.item()) <= ATOL
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight


@pytest.mark.parametrize("class_name", HEADS)
def test_inputs_embeds_and_tuple_output(class_name):
    ref, model = make_pair(class_name)
    inputs = make_inputs()
    input_ids = inputs.pop("input_ids")
    with torch.no_grad():
        from_ids = model(input_ids=input_ids, **inputs)
        embeds = model.get_input_embeddings()(input_ids)
        from_embeds = model(inputs_embeds=embeds, **inputs)
        expected_tuple = ref(inputs_embeds=embeds, **inputs, return_dict=False)
        got_tuple = model(inputs_embeds=embeds, **inputs, return_dict=False)
    assert from_ids.keys() == from_embeds.keys()
    for key in from_ids.keys():
        assert max_diff(from_embeds[key], from_ids[key]) <= ATOL
    assert isinstance(got_tuple, tuple) and len(got_tuple) == len(expected_tuple)
    for g, e in zip(got_tuple, expected_tuple):
        assert max_diff(g, e) <= ATOL


def test_our_checkpoint_loads_in_plain_transformers(tmp_path):
    # The same check in a fresh process that never imports ftcli is in tests/integration (it costs ~5 s).
    _, model = make_pair("BertForSequenceClassification", num_labels=3)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert not (tmp_path / "pytorch_model.bin").exists()

    loaded, info = transformers.AutoModelForSequenceClassification.from_pretrained(
        tmp_path, output_loading_info=True
    )
    assert type(loaded) is transformers.BertForSequenceClassification
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    inputs = make_inputs()
    with torch.no_grad():
        assert max_diff(loaded.eval()(**inputs).logits, model(**inputs).logits) <= ATOL


def test_transformers_checkpoint_loads_in_ours(tmp_path):
    ref, _ = make_pair("BertForSequenceClassification", num_labels=3)
    ref.save_pretrained(tmp_path)
    model, info = ours.BertForSequenceClassification.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert isinstance(model.config, ours.BertConfig)
    inputs = make_inputs()
    with torch.no_grad():
        assert max_diff(model.eval()(**inputs).logits, ref(**inputs).logits) <= ATOL


def test_masked_lm_round_trip_keeps_tying(tmp_path):
    ref, model = make_pair("BertForMaskedLM")
    model.save_pretrained(tmp_path / "ours")
    ref.save_pretrained(tmp_path / "ref")
    inputs = make_inputs()
    with torch.no_grad():
        expected = ref(**inputs).logits
        for loader, directory in [
            (ours.BertForMaskedLM, "ref"),
            (ours.BertForMaskedLM, "ours"),
            (transformers.AutoModelForMaskedLM, "ours"),
        ]:
            loaded, info = loader.from_pretrained(tmp_path / directory, output_loading_info=True)
            assert not info["missing_keys"] and not info["unexpected_keys"], (loader, directory, info)
            assert loaded.get_output_embeddings().weight is loaded.get_input_embeddings().weight
            assert max_diff(loaded.eval()(**inputs).logits, expected) <= ATOL


def test_new_head_is_initialised_and_backbone_kept(tmp_path):
    _, backbone = make_pair("BertModel")
    backbone.save_pretrained(tmp_path)
    model, info = ours.BertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=4, output_loading_info=True
    )
    assert info["missing_keys"] == {"classifier.weight", "classifier.bias"}
    assert not info["unexpected_keys"]
    for name, tensor in backbone.state_dict().items():
        assert torch.equal(model.bert.state_dict()[name], tensor), name
    weight = model.classifier.weight
    assert weight.shape == (4, TINY["hidden_size"]) and torch.isfinite(weight).all()
    assert 0.01 < weight.std().item() < 0.03  # normal(0, initializer_range=0.02)
    assert torch.equal(model.classifier.bias, torch.zeros(4))


def test_output_attentions_is_rejected():
    _, model = make_pair("BertModel")
    with pytest.raises(ValueError, match="output_attentions"):
        model(**make_inputs(), output_attentions=True)
