"""Helpers shared by the test_*_equivalence.py files: compare tensors, and build a transformers model with
ftcli's counterpart loaded from its weights."""

from collections.abc import Iterable

import torch


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


def reference_pair(
    reference_class,
    reference_config,
    our_class,
    our_config,
    attn_implementation: str | None = None,
    perturb_buffers: Iterable[str] = (),
):
    """transformers' model with random weights (eval mode) and ours loaded from its state_dict.

    `perturb_buffers` names buffers (e.g. BART's `final_logits_bias`) to perturb as well, where the model has them."""
    torch.manual_seed(0)
    if attn_implementation is not None:
        reference_config._attn_implementation = attn_implementation
    ref = reference_class(reference_config).eval()
    # Default init leaves LayerNorms at 1/0 and biases at 0; perturb everything so every path is exercised.
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for name in perturb_buffers:
            if hasattr(ref, name):
                buffer = getattr(ref, name)
                buffer.add_(0.05 * torch.randn_like(buffer))
    model = our_class(our_config).eval()
    model.load_state_dict(ref.state_dict(), strict=True)
    return ref, model
