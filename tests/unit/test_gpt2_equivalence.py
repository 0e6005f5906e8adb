"""ftcli's GPT-2 must be a drop-in, numerically identical replacement for transformers' GPT-2."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers.cache_utils import Cache  # noqa: E402

import ftcli.models.gpt2 as ours  # noqa: E402
from ftcli.models.registry import architectures  # noqa: E402
from tests.unit.equivalence import max_diff, reference_pair  # noqa: E402

ATOL = 1e-5
TINY = dict(
    vocab_size=99,
    n_embd=32,
    n_layer=2,
    n_head=4,
    n_inner=37,
    n_positions=64,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
)
HEADS = [
    "GPT2Model",
    "GPT2LMHeadModel",
    "GPT2ForSequenceClassification",
    "GPT2ForTokenClassification",
    "GPT2ForQuestionAnswering",
]


def assert_close(got, expected, inputs: dict | None = None):
    """Tensors, tuples of them, and KV caches (every layer's keys and values, at real tokens if `inputs` say)."""
    if isinstance(expected, Cache):
        assert isinstance(got, Cache) and len(got.layers) == len(expected.layers)
        for g, e in zip(got.layers, expected.layers):
            for got_states, expected_states in [(g.keys, e.keys), (g.values, e.values)]:
                # (batch, heads, seq, head_dim) -> positions first, as `real` selects them
                got_states, expected_states = got_states.transpose(1, 2), expected_states.transpose(1, 2)
                assert max_diff(real(got_states, inputs or {}), real(expected_states, inputs or {})) <= ATOL
    elif isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_close(g, e)
    else:
        assert max_diff(got, expected) <= ATOL


def make_pair(class_name: str, attn_implementation: str | None = None, **config_overrides):
    """transformers' model with random weights (eval mode) and ours loaded from its state_dict."""
    kwargs = {**TINY, **config_overrides}
    return reference_pair(
        getattr(transformers, class_name), transformers.GPT2Config(**kwargs),
        getattr(ours, class_name), ours.GPT2Config(**kwargs),
        attn_implementation,
    )


def make_inputs(padding: str | None = "right", batch_size: int = 3, seq_len: int = 9):
    """Token ids (never the pad id 0 on real tokens) and, unless `padding` is None, a mask padding rows 1 and 2."""
    torch.manual_seed(1)
    input_ids = torch.randint(3, TINY["vocab_size"], (batch_size, seq_len))
    if padding is None:
        return dict(input_ids=input_ids)
    attention_mask = torch.ones(batch_size, seq_len, dtype=torch.long)
    pads = slice(-4, None) if padding == "right" else slice(None, 4)
    attention_mask[1, pads] = 0
    attention_mask[2, slice(-1, None) if padding == "right" else slice(None, 1)] = 0
    input_ids = input_ids.masked_fill(attention_mask == 0, 0)
    return dict(input_ids=input_ids, attention_mask=attention_mask)


def generation_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """The position ids generate() gives a left-padded batch (what our model computes when given none)."""
    return (attention_mask.cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)


def real(tensor: torch.Tensor, inputs: dict) -> torch.Tensor:
    """The positions of real tokens: padding queries are don't-cares (transformers' eager attention spreads a
    fully masked row over every key, SDPA returns zeros)."""
    mask = inputs.get("attention_mask")
    return tensor if mask is None else tensor[mask.bool()]


@pytest.mark.parametrize("padding", [None, "right", "left"])
@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_base_model_matches(attn_implementation, padding):
    ref, model = make_pair("GPT2Model", attn_implementation)
    inputs = make_inputs(padding)
    ref_inputs = dict(inputs)
    if padding == "left":
        ref_inputs["position_ids"] = generation_positions(inputs["attention_mask"])
    with torch.no_grad():
        expected = ref(**ref_inputs, output_hidden_states=True)
        got = model(**inputs, output_hidden_states=True)
    assert max_diff(real(got.last_hidden_state, inputs), real(expected.last_hidden_state, inputs)) <= ATOL
    assert len(got.hidden_states) == len(expected.hidden_states) == TINY["n_layer"] + 1
    for g, e in zip(got.hidden_states, expected.hidden_states):
        assert max_diff(real(g, inputs), real(e, inputs)) <= ATOL
    assert_close(got.cache, expected.cache, inputs)


def test_config_variants_match():
    # Unscaled attention, the per-layer 1/(i + 1) scaling, exact GELU, the default 4 * n_embd MLP, token types.
    overrides = dict(scale_attn_weights=False, scale_attn_by_inverse_layer_idx=True, activation_function="gelu",
                     n_inner=None)
    ref, model = make_pair("GPT2LMHeadModel", **overrides)
    inputs = make_inputs("right")
    inputs["token_type_ids"] = torch.randint(0, 3, inputs["input_ids"].shape)
    with torch.no_grad():
        assert max_diff(model(**inputs).logits, ref(**inputs).logits) <= ATOL


@pytest.mark.parametrize("padding", [None, "left"])
def test_lm_head_matches_and_is_tied(padding):
    ref, model = make_pair("GPT2LMHeadModel")
    inputs = make_inputs(padding)
    labels = inputs["input_ids"].clone()
    if padding:
        labels = labels.masked_fill(inputs["attention_mask"] == 0, -100)
        ref_inputs = dict(inputs, position_ids=generation_positions(inputs["attention_mask"]))
    else:
        ref_inputs = inputs
    with torch.no_grad():
        expected = ref(**ref_inputs, labels=labels, output_hidden_states=True)
        got = model(**inputs, labels=labels, output_hidden_states=True)
    assert max_diff(real(got.logits, inputs), real(expected.logits, inputs)) <= ATOL
    assert abs(got.loss.item() - expected.loss.item()) <= ATOL
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight


@pytest.mark.parametrize(
    ("num_labels", "labels"),
    [
        (3, torch.tensor([0, 2, 1])),  # single_label_classification
        (1, torch.tensor([0.5, -1.0, 2.0])),  # regression
        (3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),  # multi_label_classification
    ],
)
def test_sequence_classification_matches(num_labels, labels):
    # Right padding with a mask: ours pools the last attended token, transformers the last non-pad id; the same one.
    ref, model = make_pair("GPT2ForSequenceClassification", num_labels=num_labels)
    inputs = make_inputs("right")
    with torch.no_grad():
        expected = ref(**inputs, labels=labels)
        got = model(**inputs, labels=labels)
        # inputs_embeds: transformers cannot see the padding (it takes the last position), ours reads the mask.
        from_embeds = model(inputs_embeds=model.get_input_embeddings()(inputs["input_ids"]),
                            attention_mask=inputs["attention_mask"], labels=labels)
    assert max_diff(got.logits, expected.logits) <= ATOL
    assert abs(got.loss.item() - expected.loss.item()) <= ATOL
    assert model.config.problem_type == ref.config.problem_type
    assert max_diff(from_embeds.logits, expected.logits) <= ATOL


def test_sequence_classification_without_mask_uses_pad_token_id():
    ref, model = make_pair("GPT2ForSequenceClassification", num_labels=3)
    input_ids = make_inputs("right")["input_ids"]
    with torch.no_grad():
        assert max_diff(model(input_ids).logits, ref(input_ids).logits) <= ATOL
    model.config.pad_token_id = None
    with pytest.raises(ValueError, match="last token"):
        model(input_ids)


def test_token_classification_matches():
    ref, model = make_pair("GPT2ForTokenClassification", num_labels=5)
    inputs = make_inputs("right")
    torch.manual_seed(2)
    labels = torch.randint(0, 5, inputs["input_ids"].shape).masked_fill(inputs["attention_mask"] == 0, -100)
    with torch.no_grad():
        expected = ref(**inputs, labels=labels)
        got = model(**inputs, labels=labels)
    assert max_diff(got.logits, expected.logits) <= ATOL
    assert abs(got.loss.item() - expected.loss.item()) <= ATOL


def test_question_answering_matches():
    ref, model = make_pair("GPT2ForQuestionAnswering")
    inputs = make_inputs("right")
    start_positions = torch.tensor([1, 3, 50])  # 50 is outside the window: clamped and ignored
    end_positions = torch.tensor([2, 4, 60])
    with torch.no_grad():
        expected = ref(**inputs, start_positions=start_positions, end_positions=end_positions)
        got = model(**inputs, start_positions=start_positions, end_positions=end_positions)
    assert max_diff(got.start_logits, expected.start_logits) <= ATOL
    assert max_diff(got.end_logits, expected.end_logits) <= ATOL
    assert abs(got.loss.item() - expected.loss.item()) <= ATOL


@pytest.mark.parametrize("class_name", HEADS)
def test_inputs_embeds_and_tuple_output(class_name):
    ref, model = make_pair(class_name)
    inputs = make_inputs("right")
    input_ids = inputs.pop("input_ids")
    with torch.no_grad():
        from_ids = model(input_ids=input_ids, **inputs)
        embeds = model.get_input_embeddings()(input_ids)
        from_embeds = model(inputs_embeds=embeds, **inputs)
        # transformers' sequence classifier only finds the last real token from input_ids.
        ref_input = dict(input_ids=input_ids) if class_name == "GPT2ForSequenceClassification" else dict(
            inputs_embeds=embeds)
        expected_tuple = ref(**ref_input, **inputs, return_dict=False)
        got_tuple = model(inputs_embeds=embeds, **inputs, return_dict=False)
    assert from_ids.keys() == from_embeds.keys()
    for key in from_ids.keys():
        assert_close(from_embeds[key], from_ids[key])
    assert_close(got_tuple, expected_tuple)  # the KV cache included, where transformers returns one


def test_greedy_generation_matches_transformers():
    ref, model = make_pair("GPT2LMHeadModel")
    input_ids = torch.tensor([[0, 0, 0, 17, 42, 5], [23, 9, 71, 4, 38, 60]])  # a left-padded batch of 2 prompts
    attention_mask = (input_ids != 0).long()
    settings = dict(max_new_tokens=8, do_sample=False, use_cache=True, pad_token_id=0, eos_token_id=None,
                    return_dict_in_generate=True, output_logits=True)
    with torch.no_grad():
        expected = ref.generate(input_ids=input_ids, attention_mask=attention_mask, **settings)
        got = model.generate(input_ids=input_ids, attention_mask=attention_mask, **settings)
    assert got.sequences.shape == (2, 6 + 8)
    assert torch.equal(got.sequences, expected.sequences)
    assert_close(got.logits, expected.logits)  # every step's next-token logits
    # From inputs_embeds (prompt tuning generates this way): only the new tokens come back.
    embeds = model.get_input_embeddings()(input_ids)
    with torch.no_grad():
        expected = ref.generate(inputs_embeds=embeds, attention_mask=attention_mask, **settings)
        got = model.generate(inputs_embeds=embeds, attention_mask=attention_mask, **settings)
    assert got.sequences.shape == (2, 8) and torch.equal(got.sequences, expected.sequences)
    assert_close(got.logits, expected.logits)


@pytest.mark.parametrize("padding", [None, "left"])
def test_kv_cache_incremental_logits_equal_full_sequence(padding):
    _, model = make_pair("GPT2LMHeadModel")
    inputs = make_inputs(padding)
    input_ids, mask = inputs["input_ids"], inputs.get("attention_mask")
    with torch.no_grad():
        full = model(**inputs, use_cache=False).logits
        assert model(**inputs, use_cache=False).cache is None
        # A prefix of 4, a chunk of 3 (several new queries over a cached prefix), then one token at a time.
        steps = [(0, 4), (4, 7), (7, 8), (8, 9)]
        cache, pieces = None, []
        for begin, end in steps:
            step_mask = None if mask is None else mask[:, :end]
            # `past_key_values` is transformers' old name for `cache` (ftcli's rank scoring still uses it).
            out = model(input_ids=input_ids[:, begin:end], attention_mask=step_mask, past_key_values=cache,
                        use_cache=True)
            cache = out.cache
            assert cache.get_seq_length() == end
            pieces.append(out.logits)
    assert max_diff(real(torch.cat(pieces, 1), inputs), real(full, inputs)) <= ATOL


def test_logits_to_keep():
    ref, model = make_pair("GPT2LMHeadModel")
    inputs = make_inputs("right")
    with torch.no_grad():
        full = model(**inputs).logits
        last = model(**inputs, logits_to_keep=1).logits
        last_three = model(**inputs, logits_to_keep=3).logits
        expected = ref(**inputs, logits_to_keep=3).logits
    assert last.shape == (3, 1, TINY["vocab_size"])
    assert max_diff(last, full[:, -1:]) <= ATOL
    assert max_diff(last_three, full[:, -3:]) <= ATOL and max_diff(last_three, expected) <= ATOL


_PLAIN_TRANSFORMERS = """
import json, sys, torch, transformers
inputs = torch.load(sys.argv[1])
results = {}
for directory, auto_class in json.loads(sys.argv[2]).items():
    model, info = getattr(transformers, auto_class).from_pretrained(directory, output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    with torch.no_grad():
        results[directory] = (type(model).__name__, model.eval()(**inputs).logits)
assert not any(name.startswith("ftcli") for name in sys.modules)
torch.save(results, sys.argv[3])
"""


def test_our_checkpoints_load_in_plain_transformers(tmp_path):
    """In a fresh process that never imports ftcli, as a user of the fine-tuned model would."""
    inputs = make_inputs("right")
    expected, directories = {}, {}
    for class_name, auto_class, overrides in [
        ("GPT2LMHeadModel", "AutoModelForCausalLM", {}),
        ("GPT2ForSequenceClassification", "AutoModelForSequenceClassification", {"num_labels": 3}),
    ]:
        _, model = make_pair(class_name, **overrides)
        directory = str(tmp_path / class_name)
        model.save_pretrained(directory)
        assert os.path.isfile(os.path.join(directory, "model.safetensors"))
        with torch.no_grad():
            expected[directory] = (class_name, model(**inputs).logits)
        directories[directory] = auto_class
    torch.save(inputs, tmp_path / "inputs.pt")
    subprocess.run(
        [sys.executable, "-c", _PLAIN_TRANSFORMERS, str(tmp_path / "inputs.pt"), json.dumps(directories),
         str(tmp_path / "outputs.pt")],
        cwd=tmp_path, env={**os.environ, "HF_HUB_OFFLINE": "1"}, check=True, timeout=120,
    )
    got = torch.load(tmp_path / "outputs.pt")
    for directory, (class_name, logits) in expected.items():
        assert got[directory][0] == class_name  # transformers' own class, picked from config.json
        assert max_diff(got[directory][1], logits) <= ATOL


@pytest.mark.parametrize(
    ("class_name", "overrides"), [("GPT2LMHeadModel", {}), ("GPT2ForSequenceClassification", {"num_labels": 3})]
)
def test_transformers_checkpoint_loads_in_ours(tmp_path, class_name, overrides):
    ref, _ = make_pair(class_name, **overrides)
    ref.save_pretrained(tmp_path)
    model, info = getattr(ours, class_name).from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert isinstance(model.config, ours.GPT2Config)
    if class_name == "GPT2LMHeadModel":
        assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    inputs = make_inputs("right")
    with torch.no_grad():
        assert max_diff(model.eval()(**inputs).logits, ref(**inputs).logits) <= ATOL


def test_old_checkpoint_attention_buffers_are_ignored(tmp_path):
    # openai-community/gpt2 and other early checkpoints store each layer's causal-mask buffers.
    ref, _ = make_pair("GPT2Model")
    ref.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    for i in range(TINY["n_layer"]):
        weights[f"h.{i}.attn.bias"] = torch.ones(1, 1, 64, 64).tril()
        weights[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    model, info = ours.GPT2LMHeadModel.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["unexpected_keys"] and not info["missing_keys"]  # lm_head comes from the tied wte


def test_new_head_is_initialised_and_backbone_kept(tmp_path):
    _, backbone = make_pair("GPT2Model")
    backbone.save_pretrained(tmp_path)
    model, info = ours.GPT2ForSequenceClassification.from_pretrained(tmp_path, num_labels=4, output_loading_info=True)
    assert info["missing_keys"] == {"score.weight"}
    assert not info["unexpected_keys"]
    for name, tensor in backbone.state_dict().items():
        assert torch.equal(model.transformer.state_dict()[name], tensor), name
    weight = model.score.weight
    assert weight.shape == (4, TINY["n_embd"]) and 0.01 < weight.std().item() < 0.03  # normal(0, 0.02)


def test_fresh_model_uses_gpt2_initialisation():
    torch.manual_seed(0)
    model = ours.GPT2LMHeadModel(ours.GPT2Config(**{**TINY, "n_embd": 64, "n_inner": 256, "n_layer": 8}))
    assert 0.015 < model.transformer.h[0].attn.c_attn.weight.std().item() < 0.025
    for projection in (model.transformer.h[0].attn.c_proj, model.transformer.h[0].mlp.c_proj):
        assert 0.004 < projection.weight.std().item() < 0.006  # 0.02 / sqrt(2 * 8): into the residual stream
    assert torch.equal(model.transformer.h[0].attn.c_attn.bias, torch.zeros(3 * 64))


def test_registry_declares_layers_and_embeddings():
    architecture = architectures()["gpt2"]
    assert architecture.auto_classes["AutoModelForCausalLM"] is ours.GPT2LMHeadModel
    assert architecture.config_class is ours.GPT2Config
    _, model = make_pair("GPT2LMHeadModel")
    for name, _ in model.named_parameters():
        index = architecture.layer_index(name)
        if name.startswith("transformer.h."):
            assert index == int(name.split(".")[2]), name
        else:
            assert index is None, name
            assert architecture.is_embedding(name) == name.startswith(("transformer.wte.", "transformer.wpe.")), name
    assert architecture.layer_index("h.1.attn.c_proj.weight") == 1  # the bare GPT2Model's names
    assert architecture.is_embedding("wpe.weight") and not architecture.is_embedding("ln_f.weight")


def test_unsupported_options_are_rejected():
    _, model = make_pair("GPT2Model")
    with pytest.raises(ValueError, match="output_attentions"):
        model(**make_inputs(), output_attentions=True)
    with pytest.raises(ValueError, match="add_cross_attention"):
        ours.GPT2Model(ours.GPT2Config(**TINY, add_cross_attention=True))
