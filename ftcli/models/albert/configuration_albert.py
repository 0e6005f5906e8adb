"""ALBERT configuration, field-for-field compatible with `transformers.AlbertConfig`.

Written the transformers 5.x way, like `configuration_bert.py`: `PretrainedConfig` subclasses are dataclasses, so
fields are plain annotated class attributes and unknown keys from an old config.json are kept as extra attributes.
"""

from huggingface_hub.dataclasses import strict
from transformers import PretrainedConfig


@strict
class AlbertConfig(PretrainedConfig):
    model_type = "albert"

    vocab_size: int = 30000
    embedding_size: int = 128
    hidden_size: int = 4096
    num_hidden_layers: int = 12
    # The num_hidden_layers layers are split evenly over num_hidden_groups weight groups; each group applies
    # inner_group_num layers of its own. Every released checkpoint has 1 and 1: one layer shared by all.
    num_hidden_groups: int = 1
    num_attention_heads: int = 64
    intermediate_size: int = 16384
    inner_group_num: int = 1
    hidden_act: str = "gelu_new"
    hidden_dropout_prob: int | float = 0.0
    attention_probs_dropout_prob: int | float = 0.0
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    classifier_dropout_prob: int | float = 0.1
    pad_token_id: int | None = 0
    bos_token_id: int | None = 2
    eos_token_id: int | list[int] | None = 3
    tie_word_embeddings: bool = True


__all__ = ["AlbertConfig"]
