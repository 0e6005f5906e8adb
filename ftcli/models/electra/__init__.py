"""ftcli's own ELECTRA: parameter-compatible with transformers' ELECTRA, SDPA attention, encoder only."""

from ftcli.models.registry import Architecture

from .configuration_electra import ElectraConfig
from .modeling_electra import (
    ElectraForMaskedLM,
    ElectraForPreTraining,
    ElectraForPreTrainingOutput,
    ElectraForQuestionAnswering,
    ElectraForSequenceClassification,
    ElectraForTokenClassification,
    ElectraModel,
    ElectraPreTrainedModel,
)

__all__ = [
    "ElectraConfig",
    "ElectraForMaskedLM",
    "ElectraForPreTraining",
    "ElectraForPreTrainingOutput",
    "ElectraForQuestionAnswering",
    "ElectraForSequenceClassification",
    "ElectraForTokenClassification",
    "ElectraModel",
    "ElectraPreTrainedModel",
]

ARCHITECTURE = Architecture(
    model_type="electra",
    config_class=ElectraConfig,
    auto_classes={
        "AutoModel": ElectraModel,
        "AutoModelForPreTraining": ElectraForPreTraining,
        "AutoModelForMaskedLM": ElectraForMaskedLM,
        "AutoModelForSequenceClassification": ElectraForSequenceClassification,
        "AutoModelForTokenClassification": ElectraForTokenClassification,
        "AutoModelForQuestionAnswering": ElectraForQuestionAnswering,
    },
    layer_pattern=r"(?:^|\.)encoder\.layer\.(\d+)\.",
    # `embeddings_project` (embedding_size -> hidden_size) sits below layer 0, so it counts as embeddings too.
    embedding_pattern=r"(?:^|\.)embeddings(?:_project)?\.",
)
