"""ftcli's own DistilBERT: parameter-compatible with transformers' DistilBERT, SDPA attention."""

from ftcli.models.registry import Architecture

from .configuration_distilbert import DistilBertConfig
from .modeling_distilbert import (
    DistilBertForMaskedLM,
    DistilBertForQuestionAnswering,
    DistilBertForSequenceClassification,
    DistilBertForTokenClassification,
    DistilBertModel,
    DistilBertPreTrainedModel,
)

__all__ = [
    "DistilBertConfig",
    "DistilBertForMaskedLM",
    "DistilBertForQuestionAnswering",
    "DistilBertForSequenceClassification",
    "DistilBertForTokenClassification",
    "DistilBertModel",
    "DistilBertPreTrainedModel",
]

ARCHITECTURE = Architecture(
    model_type="distilbert",
    config_class=DistilBertConfig,
    auto_classes={
        "AutoModel": DistilBertModel,
        "AutoModelForMaskedLM": DistilBertForMaskedLM,
        "AutoModelForSequenceClassification": DistilBertForSequenceClassification,
        "AutoModelForTokenClassification": DistilBertForTokenClassification,
        "AutoModelForQuestionAnswering": DistilBertForQuestionAnswering,
    },
    layer_pattern=r"(?:^|\.)transformer\.layer\.(\d+)\.",
    embedding_pattern=r"(?:^|\.)embeddings\.",
)
