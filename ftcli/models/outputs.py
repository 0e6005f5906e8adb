"""What every ftcli model class shares, mixed in before `PreTrainedModel`."""

from __future__ import annotations

from transformers.utils import ModelOutput


class SdpaOutputs:
    """Attention runs through `scaled_dot_product_attention`, which returns no attention
    probabilities; outputs are `ModelOutput`s, or tuples with `return_dict=False`."""

    def _check_supported(self, output_attentions):
        if output_attentions:
            raise ValueError("output_attentions is not supported: attention runs through scaled_dot_product_attention")

    def _finish(self, output: ModelOutput, return_dict: bool | None):
        return_dict = self.config.return_dict if return_dict is None else return_dict
        return output if return_dict else output.to_tuple()
