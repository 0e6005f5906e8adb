"""Padding-free packing (ftcli.models.attention.Packing): on a padded batch, each row's logits and the losses must
be those of the row computed alone and of the padded computation (1e-5, float32), gradients included, and the
layers must really run on the real tokens only."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

from ftcli.models import attention  # noqa: E402
from ftcli.models.outputs import enable_packing  # noqa: E402
from ftcli.models.registry import architectures  # noqa: E402

from tests.unit.test_last_layer_shortcut import ATOL, CONFIGS as TINY_CONFIGS  # noqa: E402

CONFIGS = {t: TINY_CONFIGS[t] for t in ("bert", "albert", "electra", "distilbert")}  # the encoders that pack
HEADS = ["AutoModelForSequenceClassification", "AutoModelForTokenClassification", "AutoModelForQuestionAnswering",
         "AutoModelForMaskedLM"]
LENGTHS = [7, 4, 6, 2]


def make_model(model_type: str, auto: str):
    torch.manual_seed(0)
    num_labels = 2 if auto == "AutoModelForQuestionAnswering" else 3  # start and end logits
    config = architectures()[model_type].config_class(vocab_size=50, max_position_embeddings=32,
                                                      num_labels=num_labels, **CONFIGS[model_type])
    return architectures()[model_type].auto_classes[auto](config)


def make_batch(auto: str):
    """Right-padded rows of LENGTHS, with labels for `auto`'s head (-100 at the padding)."""
    torch.manual_seed(1)
    rows, width = len(LENGTHS), max(LENGTHS)
    mask = (torch.arange(width)[None, :] < torch.tensor(LENGTHS)[:, None]).long()
    batch = {"input_ids": torch.randint(1, 50, (rows, width)).masked_fill(mask == 0, 0), "attention_mask": mask}
    if auto == "AutoModelForSequenceClassification":
        batch["labels"] = torch.randint(0, 3, (rows,))
    elif auto == "AutoModelForQuestionAnswering":
        batch["start_positions"] = torch.tensor([1, 0, 2, 1])
        batch["end_positions"] = torch.tensor([3, 2, 5, 1])
    else:
        vocab = 3 if auto == "AutoModelForTokenClassification" else 50
        batch["labels"] = torch.randint(0, vocab, (rows, width)).masked_fill(mask == 0, -100)
    return batch


def row_alone(batch: dict, row: int) -> dict:
    length = LENGTHS[row]
    return {k: v[row:row + 1, :length] if v.dim() == 2 else v[row:row + 1] for k, v in batch.items()}


def logits_of(out) -> list[torch.Tensor]:
    return [out.start_logits, out.end_logits] if hasattr(out, "start_logits") else [out.logits]


def forward(model, batch, packed: bool):
    enable_packing(model, packed)
    model.zero_grad(set_to_none=True)
    out = model(**batch)
    out.loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return out, grads


@pytest.mark.parametrize("multiple", [1, 8])
@pytest.mark.parametrize("auto", HEADS)
@pytest.mark.parametrize("model_type", list(CONFIGS))
def test_packed_rows_equal_rows_alone_and_the_padded_batch(model_type, auto, multiple, monkeypatch):
    # multiple 8: the packed length rounded up (as for bf16 on the CPU), zero rows after the real tokens.
    monkeypatch.setattr(attention, "token_multiple", lambda hidden_states: multiple)
    model = make_model(model_type, auto).train()  # dropout is 0: train mode checks the gradients' path
    batch = make_batch(auto)
    packed, packed_grads = forward(model, batch, packed=True)
    padded, padded_grads = forward(model, batch, packed=False)

    per_token = auto != "AutoModelForSequenceClassification"
    for row, length in enumerate(LENGTHS):
        enable_packing(model, True)  # a row alone has no padding: the plain computation
        with torch.no_grad():
            alone = model(**row_alone(batch, row))
        for got, padded_logits, expected in zip(logits_of(packed), logits_of(padded), logits_of(alone)):
            got_row = got[row, :length] if per_token else got[row]
            assert (got_row - expected[0]).abs().max() <= ATOL
            assert (got_row - (padded_logits[row, :length] if per_token else padded_logits[row])).abs().max() <= ATOL

    if auto == "AutoModelForQuestionAnswering":
        # The padded computation lets padding positions into the span softmax (as transformers does); packed, each
        # row's loss is that of the row alone.
        with torch.no_grad():
            alone_losses = [model(**row_alone(batch, row)).loss for row in range(len(LENGTHS))]
        assert abs(packed.loss.item() - torch.stack(alone_losses).mean().item()) <= ATOL
    else:
        assert abs(packed.loss.item() - padded.loss.item()) <= ATOL
        assert packed_grads.keys() == padded_grads.keys()
        for name, grad in packed_grads.items():
            assert (grad - padded_grads[name]).abs().max() <= ATOL, name


def test_the_packed_length_is_rounded_up_for_bf16_on_the_cpu_only():
    hidden = torch.zeros(2, 3)
    assert attention.token_multiple(hidden) == 1
    assert attention.token_multiple(hidden.bfloat16()) == attention.CPU_BF16_TOKEN_MULTIPLE
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert attention.token_multiple(hidden) == attention.CPU_BF16_TOKEN_MULTIPLE
        model = make_model("bert", "AutoModelForTokenClassification").eval()
        linears = [m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and "layer" in name]
        rows = []
        for linear in linears:
            linear.register_forward_hook(lambda m, args, out: rows.append(args[0].shape[0]))
        enable_packing(model, True)
        with torch.no_grad():
            model(**{k: v for k, v in make_batch("AutoModelForTokenClassification").items() if k != "labels"})
    assert set(rows) == {attention.CPU_BF16_TOKEN_MULTIPLE}  # 19 real tokens and 45 zero rows


@pytest.mark.parametrize("model_type", list(CONFIGS))
def test_layers_run_on_the_real_tokens_only(model_type):
    model = make_model(model_type, "AutoModelForTokenClassification").eval()
    batch = make_batch("AutoModelForTokenClassification")
    # Every linear layer of the transformer layers (ELECTRA's narrow embedding projection runs before them, padded).
    linears = [m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and "layer" in name]
    assert len(linears) >= 6
    positions = []
    for linear in linears:
        linear.register_forward_hook(lambda m, args, out: positions.append(args[0][..., 0].numel()))
    enable_packing(model, True)
    with torch.no_grad():
        model(**batch)
    assert set(positions) == {sum(LENGTHS)}
    positions.clear()
    enable_packing(model, False)
    with torch.no_grad():
        model(**batch)
    assert set(positions) == {len(LENGTHS) * max(LENGTHS)}


def test_hidden_states_are_unpacked_with_zeros_at_the_padding():
    model = make_model("bert", "AutoModelForTokenClassification").eval()
    batch = make_batch("AutoModelForTokenClassification")
    enable_packing(model, True)
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    assert len(out.hidden_states) == 3
    for states in out.hidden_states:
        assert states.shape == (len(LENGTHS), max(LENGTHS), 32)
        assert states[batch["attention_mask"] == 0].abs().max() == 0
