"""ftcli's own BERT: parameter-compatible with transformers' BERT, SDPA attention, encoder only."""

from ftcli.models.registry import Architecture

from .configuration_bert import BertConfig
from .modeling_bert import (
    BertForMaskedLM,
    BertForPreTraining,
    BertForPreTrainingOutput,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertPreTrainedModel,
)

__all__ = [
    "BertConfig",
    "BertForMaskedLM",
    "BertForPreTraining",
    "BertForPreTrainingOutput",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
    "BertPreTrainedModel",
]

ARCHITECTURE = Architecture(
    model_type="bert",
    config_class=BertConfig,
    auto_classes={
        "AutoModel": BertModel,
        "AutoModelForPreTraining": BertForPreTraining,
        "AutoModelForMaskedLM": BertForMaskedLM,
        "AutoModelForSequenceClassification": BertForSequenceClassification,
        "AutoModelForTokenClassification": BertForTokenClassification,
        "AutoModelForQuestionAnswering": BertForQuestionAnswering,
    },
    layer_pattern=r"(?:^|\.)encoder\.layer\.(\d+)\.",
    embedding_pattern=r"(?:^|\.)embeddings\.",
)
