"""ftcli's own GPT-2: parameter-compatible with transformers' GPT-2, SDPA attention, DynamicCache for generation."""

from ftcli.models.registry import Architecture

from .configuration_gpt2 import GPT2Config
from .modeling_gpt2 import (
    GPT2ForQuestionAnswering,
    GPT2ForSequenceClassification,
    GPT2ForTokenClassification,
    GPT2LMHeadModel,
    GPT2Model,
    GPT2PreTrainedModel,
)

__all__ = [
    "GPT2Config",
    "GPT2ForQuestionAnswering",
    "GPT2ForSequenceClassification",
    "GPT2ForTokenClassification",
    "GPT2LMHeadModel",
    "GPT2Model",
    "GPT2PreTrainedModel",
]

ARCHITECTURE = Architecture(
    model_type="gpt2",
    config_class=GPT2Config,
    auto_classes={
        "AutoModel": GPT2Model,
        "AutoModelForCausalLM": GPT2LMHeadModel,
        "AutoModelForSequenceClassification": GPT2ForSequenceClassification,
        "AutoModelForTokenClassification": GPT2ForTokenClassification,
        "AutoModelForQuestionAnswering": GPT2ForQuestionAnswering,
    },
    layer_pattern=r"(?:^|\.)h\.(\d+)\.",
    # The position embeddings sit below layer 0 as well; lm_head shares wte's weight (and its name, wte's).
    embedding_pattern=r"(?:^|\.)(?:wte|wpe)\.",
)
