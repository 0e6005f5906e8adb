"""BART configuration, field-for-field compatible with `transformers.BartConfig`.

Written the transformers 5.x way (see `ftcli.models.bert.configuration_bert`): fields are annotated class attributes
and unknown keys from an old config.json (e.g. `add_bias_logits`, `normalize_before`) are kept as extra attributes.
"""

from huggingface_hub.dataclasses import strict
from transformers import PretrainedConfig


@strict
class BartConfig(PretrainedConfig):
    model_type = "bart"
    # The generic names other code reads (num_hidden_layers, hidden_size, ...) resolve to BART's own fields.
    attribute_map = {
        "num_attention_heads": "encoder_attention_heads",
        "hidden_size": "d_model",
        "num_hidden_layers": "encoder_layers",
    }

    vocab_size: int = 50265
    max_position_embeddings: int = 1024
    encoder_layers: int | None = 12
    encoder_ffn_dim: int | None = 4096
    encoder_attention_heads: int | None = 16
    decoder_layers: int | None = 12
    decoder_ffn_dim: int | None = 4096
    decoder_attention_heads: int | None = 16
    encoder_layerdrop: float | None = 0.0
    decoder_layerdrop: float | None = 0.0
    activation_function: str | None = "gelu"
    d_model: int | None = 1024
    dropout: float | int | None = 0.1
    attention_dropout: float | int | None = 0.0
    activation_dropout: float | int | None = 0.0
    init_std: float | None = 0.02
    classifier_dropout: float | int | None = 0.0
    scale_embedding: bool | None = False
    use_cache: bool = True
    pad_token_id: int | None = 1
    bos_token_id: int | None = 0
    eos_token_id: int | list[int] | None = 2
    is_encoder_decoder: bool | None = True
    decoder_start_token_id: int | None = 2
    forced_eos_token_id: int | list[int] | None = 2
    # Kept so that any Hub config.json round-trips; ftcli has no decoder-only BART (BartForCausalLM).
    is_decoder: bool | None = False
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        # Like transformers: BART's classification head defaults to 3 labels (MNLI) unless id2label says otherwise.
        if self.id2label is None:
            self.num_labels = kwargs.pop("num_labels", 3)
        super().__post_init__(**kwargs)


__all__ = ["BartConfig"]
