"""GPT-2 configuration, field-for-field compatible with `transformers.GPT2Config`.

Written the transformers 5.x way, like `configuration_bert.py`: fields are annotated class attributes of a dataclass,
and `attribute_map` gives the GPT-2 names (`n_embd`, `n_layer`, ...) their common aliases (`hidden_size`, ...).
"""

from huggingface_hub.dataclasses import strict
from transformers import PretrainedConfig


@strict
class GPT2Config(PretrainedConfig):
    model_type = "gpt2"
    attribute_map = {
        "hidden_size": "n_embd",
        "max_position_embeddings": "n_positions",
        "num_attention_heads": "n_head",
        "num_hidden_layers": "n_layer",
    }

    vocab_size: int = 50257
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    n_inner: int | None = None
    activation_function: str = "gelu_new"
    resid_pdrop: float | int = 0.1
    embd_pdrop: float | int = 0.1
    attn_pdrop: float | int = 0.1
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    # Only transformers' GPT2DoubleHeadsModel reads the summary_* fields; kept so any Hub config.json round-trips.
    summary_type: str = "cls_index"
    summary_use_proj: bool = True
    summary_activation: str | None = None
    summary_proj_to_labels: bool = True
    summary_first_dropout: float | int = 0.1
    scale_attn_weights: bool = True
    use_cache: bool = True
    bos_token_id: int | None = 50256
    eos_token_id: int | list[int] | None = 50256
    pad_token_id: int | None = None
    scale_attn_by_inverse_layer_idx: bool = False
    # Only changes transformers' eager attention (float32 scores under autocast); SDPA, here and there, ignores it.
    reorder_and_upcast_attn: bool = False
    # Kept for round trips; our modeling has no cross-attention (see GPT2Model).
    add_cross_attention: bool = False
    tie_word_embeddings: bool = True


__all__ = ["GPT2Config"]
