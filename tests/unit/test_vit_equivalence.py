"""ftcli's ViT must be a drop-in, numerically identical replacement for transformers' ViT."""

import json
import os
import subprocess
import sys

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402

import ftcli.models.vit as ours  # noqa: E402
from tests.unit.equivalence import max_diff, reference_pair  # noqa: E402

ATOL = 1e-5
TINY = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    image_size=16,
    patch_size=4,
    num_channels=3,
)
SEQ_LEN = (16 // 4) ** 2 + 1  # patches + [CLS]
HEADS = ["ViTModel", "ViTForImageClassification"]


def make_pair(class_name: str, attn_implementation: str | None = None, **config_overrides):
    """transformers' model with random weights (eval mode) and ours loaded from its state_dict."""
    kwargs = {**TINY, "num_labels": 3, **config_overrides}
    return reference_pair(
        getattr(transformers, class_name), transformers.ViTConfig(**kwargs),
        getattr(ours, class_name), ours.ViTConfig(**kwargs),
        attn_implementation,
    )


def make_inputs(batch_size: int = 3, height: int = 16, width: int = 16, mask: bool = True):
    torch.manual_seed(1)
    inputs = dict(pixel_values=torch.randn(batch_size, 3, height, width))
    if mask:
        seq_len = (height // 4) * (width // 4) + 1
        attention_mask = torch.ones(batch_size, seq_len, dtype=torch.long)
        attention_mask[1, -4:] = 0  # right padding of different lengths
        attention_mask[2, -1:] = 0
        inputs["attention_mask"] = attention_mask
    return inputs


def assert_same_base_outputs(got, expected):
    assert max_diff(got.last_hidden_state, expected.last_hidden_state) <= ATOL
    if expected.pooler_output is not None:
        assert max_diff(got.pooler_output, expected.pooler_output) <= ATOL
    assert len(got.hidden_states) == len(expected.hidden_states) == TINY["num_hidden_layers"] + 1
    for g, e in zip(got.hidden_states, expected.hidden_states):
        assert max_diff(g, e) <= ATOL


@pytest.mark.parametrize("mask", [False, True])
@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_base_model_matches(attn_implementation, mask):
    ref, model = make_pair("ViTModel", attn_implementation)
    inputs = make_inputs(mask=mask)
    with torch.no_grad():
        expected = ref(**inputs, output_hidden_states=True)
        got = model(**inputs, output_hidden_states=True)
    assert_same_base_outputs(got, expected)


def test_mask_takes_effect():
    _, model = make_pair("ViTModel")
    with torch.no_grad():
        masked = model(**make_inputs()).last_hidden_state
        unmasked = model(**make_inputs(mask=False)).last_hidden_state
    assert max_diff(masked[0], unmasked[0]) <= ATOL  # row 0 has no padding
    assert max_diff(masked[1], unmasked[1]) > 1e-3


@pytest.mark.parametrize(
    ("num_labels", "labels"),
    [
        (3, torch.tensor([0, 2, 1])),  # single_label_classification
        (1, torch.tensor([0.5, -1.0, 2.0])),  # regression
        (3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),  # multi_label_classification
    ],
)
@pytest.mark.parametrize("mask", [False, True])
def test_image_classification_matches(num_labels, labels, mask):
    ref, model = make_pair("ViTForImageClassification", num_labels=num_labels)
    inputs = make_inputs(mask=mask)
    with torch.no_grad():
        expected = ref(**inputs, labels=labels, output_hidden_states=True)
        got = model(**inputs, labels=labels, output_hidden_states=True)
    assert max_diff(got.logits, expected.logits) <= ATOL
    assert abs(got.loss.item() - expected.loss.item()) <= ATOL
    assert model.config.problem_type == ref.config.problem_type
    assert len(got.hidden_states) == len(expected.hidden_states)
    for g, e in zip(got.hidden_states, expected.hidden_states):
        assert max_diff(g, e) <= ATOL


@pytest.mark.parametrize("class_name", HEADS)
@pytest.mark.parametrize(("height", "width"), [(24, 24), (20, 28), (16, 16)])
def test_interpolated_position_embeddings_match(class_name, height, width):
    ref, model = make_pair(class_name)
    inputs = make_inputs(height=height, width=width)
    with torch.no_grad():
        expected = ref(**inputs, interpolate_pos_encoding=True, output_hidden_states=True)
        got = model(**inputs, interpolate_pos_encoding=True, output_hidden_states=True)
    assert got.keys() == expected.keys()
    for key in got.keys():
        values = got[key] if isinstance(got[key], tuple) else (got[key],)
        for g, e in zip(values, expected[key] if isinstance(expected[key], tuple) else (expected[key],)):
            assert max_diff(g, e) <= ATOL, key


def test_other_image_size_needs_interpolation():
    _, model = make_pair("ViTModel")
    with pytest.raises(ValueError, match="interpolate_pos_encoding"):
        model(**make_inputs(height=24, width=24, mask=False))


@pytest.mark.parametrize("class_name", HEADS)
def test_tuple_output(class_name):
    ref, model = make_pair(class_name)
    inputs = make_inputs()
    extra = {"labels": torch.tensor([0, 2, 1])} if class_name != "ViTModel" else {}
    with torch.no_grad():
        expected_tuple = ref(**inputs, **extra, output_hidden_states=True, return_dict=False)
        got_tuple = model(**inputs, **extra, output_hidden_states=True, return_dict=False)
    assert isinstance(got_tuple, tuple) and len(got_tuple) == len(expected_tuple)
    for g, e in zip(got_tuple, expected_tuple):
        for gg, ee in zip(g, e) if isinstance(e, tuple) else [(g, e)]:
            assert max_diff(gg, ee) <= ATOL


@pytest.mark.parametrize("class_name", HEADS)
def test_input_embeddings_are_the_patch_embeddings(class_name):
    # ViT has no inputs_embeds argument (in transformers either): the patch projection is its input embedding.
    ref, model = make_pair(class_name)
    assert type(model.get_input_embeddings()).__name__ == type(ref.get_input_embeddings()).__name__
    assert model.get_input_embeddings() is model.base_model.embeddings.patch_embeddings


def saved_keys(directory) -> set[str]:
    with safe_open(str(directory / "model.safetensors"), framework="pt") as f:
        return set(f.keys())


_PLAIN_TRANSFORMERS = """
import json, sys, torch, transformers
inputs = torch.load(sys.argv[1])
out = {}
for auto, directory in [("AutoModel", sys.argv[2]), ("AutoModelForImageClassification", sys.argv[3])]:
    model, info = getattr(transformers, auto).from_pretrained(directory, output_loading_info=True)
    with torch.no_grad():
        o = model.eval()(**inputs)
    out[auto] = {"class": type(model).__name__, "info": {k: sorted(v) for k, v in info.items()},
                 "output": (o.last_hidden_state if auto == "AutoModel" else o.logits).tolist()}
out["ftcli_imported"] = any(name.split(".")[0] == "ftcli" for name in sys.modules)
print(json.dumps(out))
"""


def test_our_checkpoint_loads_in_plain_transformers(tmp_path):
    """In a fresh process that never imports ftcli."""
    _, base = make_pair("ViTModel")
    ref, model = make_pair("ViTForImageClassification")
    base.save_pretrained(tmp_path / "base")
    model.save_pretrained(tmp_path / "cls")
    ref.save_pretrained(tmp_path / "ref")
    assert not (tmp_path / "cls" / "pytorch_model.bin").exists()
    # Written with the checkpoint names transformers itself writes (`encoder.layer.N.attention.attention.query`).
    assert saved_keys(tmp_path / "cls") == saved_keys(tmp_path / "ref")

    inputs = make_inputs()
    torch.save(inputs, tmp_path / "inputs.pt")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", _PLAIN_TRANSFORMERS, str(tmp_path / "inputs.pt"), str(tmp_path / "base"),
         str(tmp_path / "cls")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert not loaded["ftcli_imported"]
    with torch.no_grad():
        expected = {"AutoModel": base(**inputs).last_hidden_state,
                    "AutoModelForImageClassification": model(**inputs).logits}
    for auto, class_name in [("AutoModel", "ViTModel"),
                             ("AutoModelForImageClassification", "ViTForImageClassification")]:
        assert loaded[auto]["class"] == class_name
        assert not any(loaded[auto]["info"][k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
        assert max_diff(torch.tensor(loaded[auto]["output"]), expected[auto]) <= ATOL


@pytest.mark.parametrize("class_name", HEADS)
def test_transformers_checkpoint_loads_in_ours(tmp_path, class_name):
    ref, _ = make_pair(class_name)
    ref.save_pretrained(tmp_path)
    model, info = getattr(ours, class_name).from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert type(model) is getattr(ours, class_name) and isinstance(model.config, ours.ViTConfig)
    inputs = make_inputs()
    with torch.no_grad():
        expected, got = ref(**inputs), model.eval()(**inputs)
    for key in expected.keys():
        assert max_diff(got[key], expected[key]) <= ATOL, key


def test_new_head_is_initialised_and_backbone_kept(tmp_path):
    # The vit-tiny-random asset: transformers' ViTModel without a pooler, fine-tuned with a new classifier.
    torch.manual_seed(0)
    backbone = transformers.ViTModel(transformers.ViTConfig(**TINY), add_pooling_layer=False)
    backbone.save_pretrained(tmp_path)
    model, info = ours.ViTForImageClassification.from_pretrained(tmp_path, num_labels=4, output_loading_info=True)
    assert info["missing_keys"] == {"classifier.weight", "classifier.bias"}
    assert not info["unexpected_keys"]
    for name, tensor in backbone.state_dict().items():
        assert torch.equal(model.vit.state_dict()[name], tensor), name
    weight = model.classifier.weight
    assert weight.shape == (4, TINY["hidden_size"]) and torch.isfinite(weight).all()
    assert 0.01 < weight.std().item() < 0.03  # normal(0, initializer_range=0.02)
    assert torch.equal(model.classifier.bias, torch.zeros(4))


def test_registry_entry_covers_every_layer():
    architecture = ours.ARCHITECTURE
    assert architecture.model_type == "vit"
    assert architecture.auto_classes == {
        "AutoModel": ours.ViTModel,
        "AutoModelForImageClassification": ours.ViTForImageClassification,
    }
    _, model = make_pair("ViTForImageClassification")
    by_layer = {}
    for name, _ in model.named_parameters():
        index = architecture.layer_index(name)
        if index is not None:
            by_layer.setdefault(index, []).append(name)
        elif name.startswith("vit.embeddings."):
            assert architecture.is_embedding(name), name
        else:
            assert not architecture.is_embedding(name), name  # final layernorm, classifier
    assert sorted(by_layer) == list(range(TINY["num_hidden_layers"]))
    assert all(len(names) == len(by_layer[0]) for names in by_layer.values())


def test_output_attentions_is_rejected():
    _, model = make_pair("ViTModel")
    with pytest.raises(ValueError, match="output_attentions"):
        model(**make_inputs(), output_attentions=True)
