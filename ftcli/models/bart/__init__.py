"""ftcli's own BART: parameter-compatible with transformers' BART, SDPA attention, encoder-decoder with KV cache."""

from ftcli.models.registry import Architecture

from .configuration_bart import BartConfig
from .modeling_bart import (
    BartForConditionalGeneration,
    BartForSequenceClassification,
    BartModel,
    BartPreTrainedModel,
    shift_tokens_right,
)

__all__ = [
    "BartConfig",
    "BartForConditionalGeneration",
    "BartForSequenceClassification",
    "BartModel",
    "BartPreTrainedModel",
    "shift_tokens_right",
]

ARCHITECTURE = Architecture(
    model_type="bart",
    config_class=BartConfig,
    auto_classes={
        "AutoModel": BartModel,
        "AutoModelForSeq2SeqLM": BartForConditionalGeneration,
        "AutoModelForSequenceClassification": BartForSequenceClassification,
    },
    # Encoder layer i and decoder layer i share depth i + 1 (config.num_hidden_layers is encoder_layers).
    layer_pattern=r"(?:^|\.)(?:encoder|decoder)\.layers\.(\d+)\.",
    embedding_pattern=r"(?:^|\.)(?:shared|embed_tokens|embed_positions|layernorm_embedding)\.",
)
