"""ftcli's own ALBERT: parameter-compatible with transformers' ALBERT, SDPA attention, shared layer weights."""

from ftcli.models.registry import Architecture

from .configuration_albert import AlbertConfig
from .modeling_albert import (
    AlbertForMaskedLM,
    AlbertForPreTraining,
    AlbertForPreTrainingOutput,
    AlbertForQuestionAnswering,
    AlbertForSequenceClassification,
    AlbertForTokenClassification,
    AlbertModel,
    AlbertPreTrainedModel,
)

__all__ = [
    "AlbertConfig",
    "AlbertForMaskedLM",
    "AlbertForPreTraining",
    "AlbertForPreTrainingOutput",
    "AlbertForQuestionAnswering",
    "AlbertForSequenceClassification",
    "AlbertForTokenClassification",
    "AlbertModel",
    "AlbertPreTrainedModel",
]

ARCHITECTURE = Architecture(
    model_type="albert",
    config_class=AlbertConfig,
    auto_classes={
        "AutoModel": AlbertModel,
        "AutoModelForPreTraining": AlbertForPreTraining,
        "AutoModelForMaskedLM": AlbertForMaskedLM,
        "AutoModelForSequenceClassification": AlbertForSequenceClassification,
        "AutoModelForTokenClassification": AlbertForTokenClassification,
        "AutoModelForQuestionAnswering": AlbertForQuestionAnswering,
    },
    # The index is that of the weight group (0 in every released checkpoint), not of the layer applying it.
    layer_pattern=r"(?:^|\.)encoder\.albert_layer_groups\.(\d+)\.",
    # The E -> H projection belongs with the embeddings: it only ever sees their output.
    embedding_pattern=r"(?:^|\.)(?:embeddings|encoder\.embedding_hidden_mapping_in)\.",
    shared_layers=True,
)
