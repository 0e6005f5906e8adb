"""BERT configuration, field-for-field compatible with `transformers.BertConfig`.

Written the transformers 5.x way: `PretrainedConfig` subclasses are dataclasses (the base class turns every
subclass into one in `__init_subclass__`), so fields are plain annotated class attributes and unknown keys from
an old config.json (e.g. `position_embedding_type`, `gradient_checkpointing`) are accepted as extra attributes.
"""

from huggingface_hub.dataclasses import strict
from transformers import PretrainedConfig


@strict
class BertConfig(PretrainedConfig):
    model_type = "bert"

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float | int = 0.1
    attention_probs_dropout_prob: float | int = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int | None = 0
    use_cache: bool = True
    classifier_dropout: float | int | None = None
    # Kept so that any Hub config.json round-trips; our modeling only implements the encoder (see BertModel).
    is_decoder: bool = False
    add_cross_attention: bool = False
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    tie_word_embeddings: bool = True


__all__ = ["BertConfig"]
