"""ftcli's BART must be a drop-in, numerically identical replacement for transformers' BART."""

import json
import os
import subprocess
import sys

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers.cache_utils import EncoderDecoderCache  # noqa: E402

import ftcli.models.bart as ours  # noqa: E402
from tests.unit.equivalence import max_diff, reference_pair  # noqa: E402

ATOL = 1e-5
TINY = dict(
    vocab_size=99,
    d_model=32,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=37,
    decoder_ffn_dim=37,
    max_position_embeddings=64,
)
PAD, EOS = 1, 2  # BartConfig's defaults (bos 0, pad 1, eos 2 = decoder start)
HEADS = ["BartModel", "BartForConditionalGeneration", "BartForSequenceClassification"]


def assert_same(got, expected):
    """Tensors within ATOL, tuples element by element, caches of the same kind and length."""
    if isinstance(expected, torch.Tensor):
        assert max_diff(got, expected) <= ATOL
    elif isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_same(g, e)
    else:
        assert type(got) is type(expected) is EncoderDecoderCache
        assert got.get_seq_length() == expected.get_seq_length()


def make_pair(class_name: str, attn_implementation: str | None = None, **config_overrides):
    """transformers' model with random weights (eval mode) and ours loaded from its state_dict."""
    kwargs = {**TINY, **config_overrides}
    return reference_pair(
        getattr(transformers, class_name), transformers.BartConfig(**kwargs),
        getattr(ours, class_name), ours.BartConfig(**kwargs),
        attn_implementation,
        perturb_buffers=["final_logits_bias"],
    )


def make_inputs(batch_size: int = 3, seq_len: int = 9, lengths=(9, 5, 8)):
    """Right-padded sources, each ending in exactly one </s> (BART's sequence classification pools there)."""
    torch.manual_seed(1)
    input_ids = torch.randint(3, TINY["vocab_size"], (batch_size, seq_len))
    attention_mask = torch.zeros(batch_size, seq_len, dtype=torch.long)
    for row, length in enumerate(lengths[:batch_size]):
        attention_mask[row, :length] = 1
        input_ids[row, length - 1] = EOS
    input_ids = input_ids.masked_fill(attention_mask == 0, PAD)
    return dict(input_ids=input_ids, attention_mask=attention_mask)


def make_labels(batch_size: int = 3, target_len: int = 6):
    torch.manual_seed(2)
    labels = torch.randint(3, TINY["vocab_size"], (batch_size, target_len))
    labels[1, -2:] = -100  # padded targets
    return labels


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("masked", [True, False])
def test_base_model_matches(attn_implementation, masked):
    ref, model = make_pair("BartModel", attn_implementation)
    inputs = make_inputs()
    if not masked:
        inputs.pop("attention_mask")
    with torch.no_grad():
        expected = ref(**inputs, output_hidden_states=True)
        got = model(**inputs, output_hidden_states=True)
    assert max_diff(got.last_hidden_state, expected.last_hidden_state) <= ATOL
    assert max_diff(got.encoder_last_hidden_state, expected.encoder_last_hidden_state) <= ATOL
    for name in ("encoder_hidden_states", "decoder_hidden_states"):
        assert len(got[name]) == len(expected[name]) == TINY["encoder_layers"] + 1
        assert_same(got[name], expected[name])


@pytest.mark.parametrize("decoder_mask", [False, True])
def test_conditional_generation_matches_and_is_tied(decoder_mask):
    ref, model = make_pair("BartForConditionalGeneration")
    inputs, labels = make_inputs(), make_labels()
    if decoder_mask:
        inputs["decoder_attention_mask"] = (labels != -100).long()
    with torch.no_grad():
        expected = ref(**inputs, labels=labels, output_hidden_states=True)
        got = model(**inputs, labels=labels, output_hidden_states=True)
    assert max_diff(got.logits, expected.logits) <= ATOL
    assert abs(got.loss.item() - expected.loss.item()) <= ATOL
    assert got.cache is None  # training-style call (labels): no cache, like transformers
    assert_same(got.decoder_hidden_states, expected.decoder_hidden_states)
    shared = model.get_input_embeddings().weight
    assert model.get_output_embeddings().weight is shared
    assert model.model.encoder.embed_tokens.weight is shared and model.model.decoder.embed_tokens.weight is shared


def test_conditional_generation_scaled_embeddings():
    ref, model = make_pair("BartForConditionalGeneration", scale_embedding=True)
    inputs = make_inputs()
    with torch.no_grad():
        assert max_diff(model(**inputs).logits, ref(**inputs).logits) <= ATOL


@pytest.mark.parametrize(
    ("num_labels", "labels"),
    [
        (3, torch.tensor([0, 2, 1])),  # single_label_classification
        (1, torch.tensor([0.5, -1.0, 2.0])),  # regression
        (3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),  # multi_label_classification
    ],
)
def test_sequence_classification_matches(num_labels, labels):
    ref, model = make_pair("BartForSequenceClassification", num_labels=num_labels)
    inputs = make_inputs()
    with torch.no_grad():
        expected = ref(**inputs, labels=labels)
        got = model(**inputs, labels=labels)
    assert max_diff(got.logits, expected.logits) <= ATOL
    assert abs(got.loss.item() - expected.loss.item()) <= ATOL
    assert model.config.problem_type == ref.config.problem_type


def test_sequence_classification_needs_eos():
    _, model = make_pair("BartForSequenceClassification")
    inputs = make_inputs()
    inputs["input_ids"][0, -1] = 5
    with pytest.raises(ValueError, match="eos"):
        model(**inputs)


@pytest.mark.parametrize("class_name", HEADS)
def test_inputs_embeds_and_tuple_output(class_name):
    ref, model = make_pair(class_name)
    inputs = make_inputs()
    input_ids = inputs.pop("input_ids")
    with torch.no_grad():
        embeds = model.get_input_embeddings()(input_ids)
        # With only inputs_embeds ours shifts the embeddings for the decoder, as shift_tokens_right does the ids
        # (transformers refuses); the sequence head pools at the last unmasked token, the </s>.
        from_ids = model(input_ids=input_ids, **inputs)
        from_embeds = model(inputs_embeds=embeds, **inputs)
        assert from_ids.keys() == from_embeds.keys()
        for key in from_ids.keys():
            assert_same(from_embeds[key], from_ids[key])
        if class_name == "BartForSequenceClassification":
            expected_tuple = ref(input_ids=input_ids, **inputs, return_dict=False)
        else:
            decoder_input_ids = ours.shift_tokens_right(input_ids, PAD, EOS)
            inputs["decoder_input_ids"] = decoder_input_ids
            expected_tuple = ref(inputs_embeds=embeds, **inputs, return_dict=False)
            decoder_embeds = model.get_input_embeddings()(decoder_input_ids)
            from_decoder_embeds = model(input_ids, inputs["attention_mask"], decoder_inputs_embeds=decoder_embeds)
            assert_same(from_decoder_embeds.to_tuple(), expected_tuple)
        got_tuple = model(inputs_embeds=embeds, **inputs, return_dict=False)
    assert isinstance(got_tuple, tuple)
    assert_same(got_tuple, expected_tuple)


def test_generate_matches_transformers():
    ref, model = make_pair("BartForConditionalGeneration")
    inputs = make_inputs(batch_size=2, lengths=(9, 4))  # a padded batch of two sources
    settings = dict(num_beams=1, do_sample=False, max_new_tokens=8)
    with torch.no_grad():
        for m in (ref, model):
            m.final_logits_bias[0, EOS] = -100.0  # random weights would stop at once; </s> now only forced last
        expected = ref.generate(**inputs, **settings, use_cache=True)
        got = model.generate(**inputs, **settings, use_cache=True)
        uncached = model.generate(**inputs, **settings, use_cache=False)
    assert got.shape == (2, 1 + 8) and (got[:, -1] == EOS).all()
    assert torch.equal(got, expected)
    assert torch.equal(uncached, got)


def test_cached_decoding_matches_full_decoding():
    _, model = make_pair("BartForConditionalGeneration")
    inputs = make_inputs()
    decoder_input_ids = ours.shift_tokens_right(make_labels().clamp(min=3), PAD, EOS)
    with torch.no_grad():
        full = model(**inputs, decoder_input_ids=decoder_input_ids, use_cache=False)
        encoder_outputs = (full.encoder_last_hidden_state,)
        step = model(**inputs, decoder_input_ids=decoder_input_ids[:, :3], encoder_outputs=encoder_outputs,
                     use_cache=True)  # prefill three tokens, then one at a time
        cache, logits = step.cache, [step.logits]
        for t in range(3, decoder_input_ids.size(1)):
            step = model(attention_mask=inputs["attention_mask"], decoder_input_ids=decoder_input_ids[:, t : t + 1],
                         encoder_outputs=encoder_outputs, cache=cache, use_cache=True)
            logits.append(step.logits)
    assert isinstance(cache, EncoderDecoderCache) and cache.get_seq_length() == decoder_input_ids.size(1)
    assert max_diff(torch.cat(logits, dim=1), full.logits) <= ATOL


_LOAD_IN_PLAIN_TRANSFORMERS = """
import json, sys, torch, transformers
directory, inputs = sys.argv[1], json.loads(sys.argv[2])
inputs = {k: torch.tensor(v) for k, v in inputs.items()}
result = {}
for auto in ("AutoModelForSeq2SeqLM", "AutoModelForSequenceClassification"):
    model, info = getattr(transformers, auto).from_pretrained(f"{directory}/{auto}", output_loading_info=True)
    assert not any(info.values()), info
    assert type(model).__module__.startswith("transformers."), type(model)
    with torch.no_grad():
        result[auto] = model.eval()(**inputs).logits.tolist()
result["tied"] = model.model.encoder.embed_tokens.weight is model.model.shared.weight
assert "ftcli" not in sys.modules
print(json.dumps(result))
"""


def test_our_checkpoint_loads_in_plain_transformers_in_a_fresh_process(tmp_path):
    inputs = make_inputs()
    expected = {}
    for class_name, auto in [("BartForConditionalGeneration", "AutoModelForSeq2SeqLM"),
                             ("BartForSequenceClassification", "AutoModelForSequenceClassification")]:
        _, model = make_pair(class_name)
        model.save_pretrained(tmp_path / auto)
        assert (tmp_path / auto / "model.safetensors").is_file()
        with torch.no_grad():
            expected[auto] = model(**inputs).logits
    run = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_PLAIN_TRANSFORMERS, str(tmp_path),
         json.dumps({k: v.tolist() for k, v in inputs.items()})],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result.pop("tied") is True
    for auto, logits in result.items():
        assert max_diff(torch.tensor(logits), expected[auto]) <= ATOL


@pytest.mark.parametrize("class_name", ["BartForConditionalGeneration", "BartForSequenceClassification"])
def test_transformers_checkpoint_loads_in_ours(tmp_path, class_name):
    ref, _ = make_pair(class_name)
    ref.save_pretrained(tmp_path)
    model, info = getattr(ours, class_name).from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert isinstance(model.config, ours.BartConfig)
    assert model.get_input_embeddings().weight is model.model.decoder.embed_tokens.weight
    inputs = make_inputs()
    with torch.no_grad():
        assert max_diff(model.eval()(**inputs).logits, ref(**inputs).logits) <= ATOL


def test_new_head_is_initialised_and_backbone_kept(tmp_path):
    _, backbone = make_pair("BartModel")
    backbone.save_pretrained(tmp_path)
    model, info = ours.BartForSequenceClassification.from_pretrained(tmp_path, num_labels=4, output_loading_info=True)
    assert info["missing_keys"] == {f"classification_head.{n}.{p}" for n in ("dense", "out_proj")
                                    for p in ("weight", "bias")}
    assert not info["unexpected_keys"]
    for name, tensor in backbone.state_dict().items():
        assert torch.equal(model.model.state_dict()[name], tensor), name
    weight = model.classification_head.out_proj.weight
    assert weight.shape == (4, TINY["d_model"]) and 0.01 < weight.std().item() < 0.03  # normal(0, init_std)


def test_resize_token_embeddings_resizes_final_logits_bias():
    _, model = make_pair("BartForConditionalGeneration")
    model.resize_token_embeddings(TINY["vocab_size"] + 5)
    assert model.final_logits_bias.shape == (1, TINY["vocab_size"] + 5)
    with torch.no_grad():
        assert model(**make_inputs()).logits.shape[-1] == TINY["vocab_size"] + 5


def test_registry_reaches_every_layer():
    architecture = ours.ARCHITECTURE
    _, model = make_pair("BartForConditionalGeneration")
    for name, _ in model.named_parameters():
        if ".layers." in name:
            assert architecture.layer_index(name) == int(name.split(".layers.")[1].split(".")[0]), name
        else:
            assert architecture.layer_index(name) is None and architecture.is_embedding(name), name
    assert architecture.auto_classes["AutoModelForSeq2SeqLM"] is ours.BartForConditionalGeneration


def test_output_attentions_is_rejected():
    _, model = make_pair("BartModel")
    with pytest.raises(ValueError, match="output_attentions"):
        model(**make_inputs(), output_attentions=True)
