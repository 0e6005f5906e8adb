"""Sequence-level heads run their model's last layer at the pooled position only (ftcli.models.attention): the
logits, loss and gradients must be those of the full computation, and the shortcut must really be taken."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

from ftcli.models.registry import architectures  # noqa: E402

ATOL = 1e-5
WIDTH = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
CONFIGS = {
    "bert": WIDTH,
    "albert": dict(WIDTH, embedding_size=16, classifier_dropout_prob=0.0),
    "electra": dict(WIDTH, embedding_size=16),
    "distilbert": dict(dim=32, n_layers=2, n_heads=4, hidden_dim=37, dropout=0.0, attention_dropout=0.0,
                       seq_classif_dropout=0.0, qa_dropout=0.0),
    "gpt2": dict(n_embd=32, n_layer=2, n_head=4, pad_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
    "vit": dict(WIDTH, image_size=16, patch_size=4),
}
# The module whose input is one token per row only when the shortcut is taken: the last layer's feed-forward.
LAST_FEED_FORWARD = {
    "bert": lambda m: m.bert.encoder.layer[-1].intermediate.dense,
    "albert": lambda m: m.albert.encoder.albert_layer_groups[0].albert_layers[0].ffn,
    "electra": lambda m: m.electra.encoder.layer[-1].intermediate.dense,
    "distilbert": lambda m: m.distilbert.transformer.layer[-1].ffn.lin1,
    "gpt2": lambda m: m.transformer.h[-1].mlp.c_fc,
    "vit": lambda m: m.vit.layers[-1].mlp.fc1,
}


def make_model(model_type: str):
    arch = architectures()[model_type]
    auto = "AutoModelForImageClassification" if model_type == "vit" else "AutoModelForSequenceClassification"
    torch.manual_seed(0)
    config = arch.config_class(vocab_size=50, max_position_embeddings=32, num_labels=3, **CONFIGS[model_type])
    return arch.auto_classes[auto](config)


def make_inputs(model_type: str, padding_side: str = "right"):
    torch.manual_seed(1)
    if model_type == "vit":
        return {"pixel_values": torch.randn(3, 3, 16, 16), "labels": torch.tensor([0, 2, 1])}
    mask = torch.ones(3, 7, dtype=torch.long)
    if padding_side == "right":
        mask[1, -3:] = 0
        mask[2, -1:] = 0
    else:
        mask[1, :3] = 0
        mask[2, :1] = 0
    input_ids = torch.randint(1, 50, (3, 7)).masked_fill(mask == 0, 0)
    return {"input_ids": input_ids, "attention_mask": mask, "labels": torch.tensor([0, 2, 1])}


def run(model, inputs, full: bool):
    """Logits, loss and every parameter's gradient; `full` asks for all hidden states, which turns the shortcut off."""
    model.zero_grad(set_to_none=True)
    out = model(**inputs, output_hidden_states=full)
    out.loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return out.logits.detach(), out.loss.detach(), grads


CASES = [(t, "right") for t in CONFIGS] + [("gpt2", "left")]


@pytest.mark.parametrize(("model_type", "padding_side"), CASES)
def test_shortcut_changes_nothing_but_the_work(model_type, padding_side):
    model = make_model(model_type).train()
    inputs = make_inputs(model_type, padding_side)
    seen = []
    LAST_FEED_FORWARD[model_type](model).register_forward_hook(lambda m, args, out: seen.append(args[0].shape[1]))

    logits, loss, grads = run(model, inputs, full=False)
    last_layer_tokens = seen[-1]  # ALBERT's shared layer runs once per layer: its last call is the last layer
    full_logits, full_loss, full_grads = run(model, inputs, full=True)

    sequence_length = 1 + (16 // 4) ** 2 if model_type == "vit" else inputs["input_ids"].shape[1]
    assert (last_layer_tokens, seen[-1]) == (1, sequence_length)  # one token per row with the shortcut only
    assert (logits - full_logits).abs().max() <= ATOL
    assert abs(loss.item() - full_loss.item()) <= ATOL
    assert grads.keys() == full_grads.keys()
    for name, grad in grads.items():
        assert (grad - full_grads[name]).abs().max() <= ATOL, name


@pytest.mark.parametrize("model_type", ["bert", "distilbert", "gpt2", "vit"])
def test_base_model_keeps_any_position(model_type):
    """The base model's `positions_to_keep` gives each row's hidden state at that position, with padding around."""
    model = make_model(model_type).eval()
    base = model.base_model
    inputs = make_inputs(model_type, "left" if model_type == "gpt2" else "right")
    inputs.pop("labels")
    positions = torch.tensor([6, 3, 5])  # each row's last real token (a middle one for gpt2's left padding)
    if model_type == "gpt2":
        positions = torch.tensor([6, 4, 6])
    with torch.no_grad():
        full = base(**inputs).last_hidden_state
        kept = base(**inputs, positions_to_keep=positions).last_hidden_state
    assert kept.shape == (3, 1, full.shape[-1])
    assert (kept[:, 0] - full[torch.arange(3), positions]).abs().max() <= ATOL
