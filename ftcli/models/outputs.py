"""What every ftcli model class shares, mixed in before `PreTrainedModel`."""

from __future__ import annotations

from transformers.utils import ModelOutput


class SdpaOutputs:
    """Attention runs through `scaled_dot_product_attention`, which returns no attention
    probabilities; outputs are `ModelOutput`s, or tuples with `return_dict=False`."""

    pack_padding: bool = False
    """True: encoders that support it run padded batches packed, without the padding (ftcli.models.attention):
    each row's outputs are those of the row alone, and positions at the padding are zeros (question-answering
    heads mask them out of the span scores). ftcli's training and inference loops turn it on; False (the
    default) keeps transformers' padded computation, padding positions included."""

    sparse_prediction: bool = False
    """True: a masked-LM head given `labels` runs only at the labelled (masked) positions and returns their
    logits flattened, (labelled tokens, vocab), as ModernBERT's `sparse_prediction` does. The head's output
    matrix (hidden x vocab) costs about as much per token as the whole body of a small BERT, and masking
    labels 15% of the tokens. ftcli's pre-training objectives turn it on; False keeps every position's logits."""

    def _check_supported(self, output_attentions):
        if output_attentions:
            raise ValueError("output_attentions is not supported: attention runs through scaled_dot_product_attention")

    def _finish(self, output: ModelOutput, return_dict: bool | None):
        return_dict = self.config.return_dict if return_dict is None else return_dict
        return output if return_dict else output.to_tuple()


def enable_packing(model, on: bool = True) -> None:
    """Set `pack_padding` on every ftcli model inside `model` (peft wrappers included); others are untouched."""
    _set_on_ftcli_models(model, "pack_padding", on)


def enable_sparse_prediction(model, on: bool = True) -> bool:
    """Set `sparse_prediction` on every ftcli model inside `model`; True when `model` itself is one (its
    masked-LM logits, given labels, then come at the labelled positions only)."""
    _set_on_ftcli_models(model, "sparse_prediction", on)
    return isinstance(model, SdpaOutputs)


def _set_on_ftcli_models(model, switch: str, on: bool) -> None:
    for module in model.modules():
        if isinstance(module, SdpaOutputs):
            setattr(module, switch, on)
