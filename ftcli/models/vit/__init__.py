"""ftcli's own ViT: parameter-compatible with transformers' ViT, SDPA attention, image classification."""

from ftcli.models.registry import Architecture

from .configuration_vit import ViTConfig
from .modeling_vit import ViTForImageClassification, ViTModel, ViTPreTrainedModel

__all__ = ["ViTConfig", "ViTForImageClassification", "ViTModel", "ViTPreTrainedModel"]

ARCHITECTURE = Architecture(
    model_type="vit",
    config_class=ViTConfig,
    auto_classes={
        "AutoModel": ViTModel,
        "AutoModelForImageClassification": ViTForImageClassification,
    },
    # transformers 5 names the layers `layers.N.` (on disk they are still `encoder.layer.N.`, renamed on load).
    layer_pattern=r"(?:^|\.)layers\.(\d+)\.",
    embedding_pattern=r"(?:^|\.)embeddings\.",
)
