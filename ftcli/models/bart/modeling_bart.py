"""A compact BART encoder-decoder, weight-compatible with `transformers.models.bart`.

Module and parameter names mirror transformers exactly, so Hub checkpoints load without key remapping and models
saved from here load back into plain transformers (`model_type="bart"`, identical class names in `architectures`).
Attention goes straight through `F.scaled_dot_product_attention`; the decoder keeps its keys/values in transformers'
`EncoderDecoderCache`, so `generate()` works unchanged. There is no attention-probability output and no
decoder-only `BartForCausalLM`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers.generation import GenerationMixin
from transformers.modeling_outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
    Seq2SeqSequenceClassifierOutput,
)
from transformers.utils import ModelOutput
from transformers.utils.deprecation import deprecate_kwarg

from ftcli.models.heads import classification_loss, sequence_classification_loss
from ftcli.models.outputs import SdpaOutputs

from .configuration_bart import BartConfig


def shift_tokens_right(input_ids: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Decoder inputs from labels: [start, y0, y1, ...], with the loss's -100 placeholders turned into padding."""
    if pad_token_id is None:
        raise ValueError("config.pad_token_id has to be defined.")
    shifted = input_ids.new_zeros(input_ids.shape)
    shifted[:, 1:] = input_ids[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


class BartLearnedPositionalEmbedding(nn.Embedding):
    """Learned positions. fairseq reserved the first two rows, so position p is row p + 2."""

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__(num_embeddings + 2, embedding_dim)
        self.offset = 2

    def forward(self, seq_len: int, past_len: int = 0) -> torch.Tensor:
        positions = torch.arange(past_len, past_len + seq_len, device=self.weight.device)
        return super().forward(positions + self.offset)  # (seq_len, dim), broadcast over the batch


class BartScaledWordEmbedding(nn.Embedding):
    """Token embeddings times `embed_scale` (sqrt(d_model) when config.scale_embedding, else 1)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int, embed_scale: float = 1.0):
        super().__init__(num_embeddings, embedding_dim, padding_idx)
        self.embed_scale = embed_scale

    def forward(self, input_ids):
        return super().forward(input_ids) * self.embed_scale


class BartAttention(nn.Module):
    """Self-attention, or cross-attention when `key_value_states` (the encoder output) is given."""

    def __init__(self, config: BartConfig, num_heads: int, layer_idx: int | None = None):
        super().__init__()
        embed_dim = config.d_model
        if embed_dim % num_heads != 0:
            raise ValueError(f"d_model ({embed_dim}) is not a multiple of the number of heads ({num_heads})")
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout_p = config.attention_dropout
        self.layer_idx = layer_idx
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def _heads(self, x):
        return x.view(x.size(0), x.size(1), self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, hidden_states, key_value_states=None, attention_mask=None, cache=None):
        batch_size, seq_len, _ = hidden_states.shape
        q = self._heads(self.q_proj(hidden_states))
        is_cross = key_value_states is not None
        if is_cross and cache is not None and cache.is_updated.get(self.layer_idx):
            # The encoder output is fixed while decoding: its keys and values were computed at the first step.
            layer = cache.cross_attention_cache.layers[self.layer_idx]
            k, v = layer.keys, layer.values
        else:
            source = key_value_states if is_cross else hidden_states
            k, v = self._heads(self.k_proj(source)), self._heads(self.v_proj(source))
            if cache is not None:
                sub_cache = cache.cross_attention_cache if is_cross else cache.self_attention_cache
                k, v = sub_cache.update(k, v, self.layer_idx)
                if is_cross:
                    cache.is_updated[self.layer_idx] = True
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attention_mask, dropout_p=self.dropout_p if self.training else 0.0
        )
        return self.out_proj(out.transpose(1, 2).reshape(batch_size, seq_len, -1))


class BartLayer(nn.Module):
    """Post-LayerNorm block: self-attention, [cross-attention,] MLP; each `x = norm(x + dropout(f(x)))`."""

    def __init__(self, config: BartConfig, is_decoder: bool, layer_idx: int | None = None):
        super().__init__()
        num_heads = config.decoder_attention_heads if is_decoder else config.encoder_attention_heads
        ffn_dim = config.decoder_ffn_dim if is_decoder else config.encoder_ffn_dim
        self.self_attn = BartAttention(config, num_heads, layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        if is_decoder:
            self.encoder_attn = BartAttention(config, num_heads, layer_idx)
            self.encoder_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.activation_fn = ACT2FN[config.activation_function]
        self.fc1 = nn.Linear(config.d_model, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.dropout = config.dropout
        self.activation_dropout = config.activation_dropout

    def _residual(self, x, residual):
        return residual + F.dropout(x, p=self.dropout, training=self.training)

    def forward(self, hidden_states, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
                cache=None):
        attn = self.self_attn(hidden_states, attention_mask=attention_mask, cache=cache)
        hidden_states = self.self_attn_layer_norm(self._residual(attn, hidden_states))
        if encoder_hidden_states is not None:
            attn = self.encoder_attn(hidden_states, encoder_hidden_states, encoder_attention_mask, cache)
            hidden_states = self.encoder_attn_layer_norm(self._residual(attn, hidden_states))
        mlp = F.dropout(self.activation_fn(self.fc1(hidden_states)), p=self.activation_dropout, training=self.training)
        hidden_states = self.final_layer_norm(self._residual(self.fc2(mlp), hidden_states))
        if hidden_states.dtype == torch.float16 and not torch.isfinite(hidden_states).all():
            # As transformers' encoder layer does: keep fp16 overflow from turning into inf/NaN downstream.
            limit = torch.finfo(hidden_states.dtype).max - 1000
            hidden_states = hidden_states.clamp(-limit, limit)
        return hidden_states


class BartEncoderLayer(BartLayer):
    def __init__(self, config: BartConfig, layer_idx: int | None = None):
        super().__init__(config, is_decoder=False, layer_idx=layer_idx)


class BartDecoderLayer(BartLayer):
    def __init__(self, config: BartConfig, layer_idx: int | None = None):
        super().__init__(config, is_decoder=True, layer_idx=layer_idx)


def _check_supported(output_attentions):
    if output_attentions:
        raise ValueError("output_attentions is not supported: attention runs through scaled_dot_product_attention")


def _padding_mask(attention_mask):
    """(batch, seq) 1 = token / 0 = padding -> boolean (batch, 1, 1, seq), broadcast over heads and queries."""
    if attention_mask is None:
        return None
    if attention_mask.dim() != 2:
        raise ValueError(f"attention masks must be (batch, seq_len), got shape {tuple(attention_mask.shape)}")
    return attention_mask[:, None, None, :].bool()


def _causal_mask(attention_mask, seq_len: int, past_len: int, device):
    """Boolean (batch or 1, 1, seq_len, past_len + seq_len): query i sees cached keys and keys up to itself."""
    mask = torch.ones(seq_len, past_len + seq_len, dtype=torch.bool, device=device).tril(past_len)[None, None]
    return mask if attention_mask is None else mask & _padding_mask(attention_mask)


class BartStack(nn.Module):
    """Embeddings (token + learned position, LayerNorm) followed by the encoder or decoder layers."""

    def __init__(self, config: BartConfig, is_decoder: bool):
        super().__init__()
        self.config = config
        embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.embed_tokens = BartScaledWordEmbedding(config.vocab_size, config.d_model, config.pad_token_id, embed_scale)
        self.embed_positions = BartLearnedPositionalEmbedding(config.max_position_embeddings, config.d_model)
        layer_class, num_layers = (
            (BartDecoderLayer, config.decoder_layers) if is_decoder else (BartEncoderLayer, config.encoder_layers)
        )
        self.layers = nn.ModuleList([layer_class(config, layer_idx=i) for i in range(num_layers)])
        self.layernorm_embedding = nn.LayerNorm(config.d_model)
        self.dropout = config.dropout
        self.layerdrop = config.decoder_layerdrop if is_decoder else config.encoder_layerdrop

    def _embed(self, input_ids, inputs_embeds, past_len=0):
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        hidden_states = inputs_embeds + self.embed_positions(inputs_embeds.size(1), past_len)
        return F.dropout(self.layernorm_embedding(hidden_states), p=self.dropout, training=self.training)

    def _run_layers(self, hidden_states, output_hidden_states, **layer_kwargs):
        # Like transformers: the embeddings output first, then the output of every layer that ran.
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        for layer in self.layers:
            if self.training and self.layerdrop > 0.0 and torch.rand([]) < self.layerdrop:
                continue  # LayerDrop (https://huggingface.co/papers/1909.11556)
            hidden_states = layer(hidden_states, **layer_kwargs)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
        return hidden_states, all_hidden_states

    def _defaults(self, output_attentions, output_hidden_states, return_dict):
        """Output options left unset fall back to the config, as in transformers."""
        _check_supported(output_attentions)
        config = self.config
        return (
            config.output_hidden_states if output_hidden_states is None else output_hidden_states,
            config.return_dict if return_dict is None else return_dict,
        )


class BartEncoder(BartStack):
    def __init__(self, config: BartConfig):
        super().__init__(config, is_decoder=False)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple[torch.Tensor, ...] | BaseModelOutput:
        output_hidden_states, return_dict = self._defaults(output_attentions, output_hidden_states, return_dict)
        hidden_states, all_hidden_states = self._run_layers(
            self._embed(input_ids, inputs_embeds), output_hidden_states, attention_mask=_padding_mask(attention_mask)
        )
        output = BaseModelOutput(last_hidden_state=hidden_states, hidden_states=all_hidden_states)
        return output if return_dict else output.to_tuple()


class BartDecoder(BartStack):
    def __init__(self, config: BartConfig):
        super().__init__(config, is_decoder=True)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cache: EncoderDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple[torch.Tensor, ...] | BaseModelOutputWithPastAndCrossAttentions:
        output_hidden_states, return_dict = self._defaults(output_attentions, output_hidden_states, return_dict)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if use_cache and cache is None:
            cache = EncoderDecoderCache(DynamicCache(config=self.config), DynamicCache(config=self.config))
        if cache is not None and not isinstance(cache, EncoderDecoderCache):
            raise TypeError(f"BART's decoder needs an EncoderDecoderCache, got {type(cache).__name__}")

        past_len = cache.get_seq_length() if cache is not None else 0
        hidden_states = self._embed(input_ids, inputs_embeds, past_len)
        hidden_states, all_hidden_states = self._run_layers(
            hidden_states,
            output_hidden_states,
            attention_mask=_causal_mask(attention_mask, hidden_states.size(1), past_len, hidden_states.device),
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=_padding_mask(encoder_attention_mask),
            cache=cache,
        )
        output = BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden_states, cache=cache if use_cache else None, hidden_states=all_hidden_states
        )
        return output if return_dict else output.to_tuple()


class BartClassificationHead(nn.Module):
    """dropout -> dense -> tanh -> dropout -> out_proj, on one token's hidden state."""

    def __init__(self, input_dim: int, inner_dim: int, num_classes: int, pooler_dropout: float):
        super().__init__()
        self.dense = nn.Linear(input_dim, inner_dim)
        self.dropout = nn.Dropout(p=pooler_dropout)
        self.out_proj = nn.Linear(inner_dim, num_classes)

    def forward(self, hidden_states):
        hidden_states = self.dropout(torch.tanh(self.dense(self.dropout(hidden_states))))
        return self.out_proj(hidden_states)


class BartPreTrainedModel(SdpaOutputs, PreTrainedModel):
    config: BartConfig
    config_class = BartConfig
    base_model_prefix = "model"
    _no_split_modules = ["BartEncoderLayer", "BartDecoderLayer"]
    _supports_sdpa = True
    # fairseq conversions left these version markers in some Hub checkpoints.
    _keys_to_ignore_on_load_unexpected = ["encoder.version", "decoder.version"]

    @torch.no_grad()
    def _init_weights(self, module):
        # The base class covers Linear/Embedding (normal(0, init_std), zero padding row) and LayerNorm.
        super()._init_weights(module)
        if isinstance(module, BartForConditionalGeneration):
            init.zeros_(module.final_logits_bias)



class BartModel(BartPreTrainedModel):
    # transformers 5.x: {target: source}, applied when config.tie_word_embeddings.
    _tied_weights_keys = {
        "decoder.embed_tokens.weight": "shared.weight",
        "encoder.embed_tokens.weight": "shared.weight",
    }

    def __init__(self, config: BartConfig):
        super().__init__(config)
        embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.shared = BartScaledWordEmbedding(config.vocab_size, config.d_model, config.pad_token_id, embed_scale)
        self.encoder = BartEncoder(config)
        self.decoder = BartDecoder(config)
        self.post_init()

    def get_input_embeddings(self):
        return self.shared

    def set_input_embeddings(self, value):
        self.shared = value
        self.encoder.embed_tokens = self.shared
        self.decoder.embed_tokens = self.shared

    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple[torch.Tensor, ...] | None = None,
        cache: EncoderDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple | Seq2SeqModelOutput:
        _check_supported(output_attentions)
        # Without decoder inputs BART denoises: the decoder reads its own input shifted right, as in pre-training.
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            if input_ids is not None:
                decoder_input_ids = shift_tokens_right(
                    input_ids, self.config.pad_token_id, self.config.decoder_start_token_id
                )
            elif inputs_embeds is not None:
                # The same shift on embeddings (transformers refuses this case); peft prompt tuning sends only these.
                start = torch.full_like(inputs_embeds[:, :1, 0], self.config.decoder_start_token_id, dtype=torch.long)
                decoder_inputs_embeds = torch.cat([self.decoder.embed_tokens(start), inputs_embeds[:, :-1]], dim=1)
            else:
                raise ValueError("Pass input_ids, inputs_embeds, decoder_input_ids or decoder_inputs_embeds")

        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids, attention_mask, inputs_embeds, output_hidden_states=output_hidden_states, return_dict=True
            )
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(
                last_hidden_state=encoder_outputs[0],
                hidden_states=encoder_outputs[1] if len(encoder_outputs) > 1 else None,
            )

        decoder_outputs = self.decoder(
            decoder_input_ids,
            attention_mask=decoder_attention_mask,
            encoder_hidden_states=encoder_outputs.last_hidden_state,
            encoder_attention_mask=attention_mask,
            cache=cache,
            inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        output = Seq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            cache=decoder_outputs.cache,
            decoder_hidden_states=decoder_outputs.hidden_states,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
        )
        return self._finish(output, return_dict)


class BartForConditionalGeneration(BartPreTrainedModel, GenerationMixin):
    _tied_weights_keys = {"lm_head.weight": "model.shared.weight"}
    _keys_to_ignore_on_load_missing = ["final_logits_bias"]

    def __init__(self, config: BartConfig):
        super().__init__(config)
        self.model = BartModel(config)
        # A persistent buffer (fairseq's output bias, zero in released checkpoints), saved like a weight.
        self.register_buffer("final_logits_bias", torch.zeros(1, config.vocab_size))
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.post_init()

    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None, mean_resizing=True):
        new_embeddings = super().resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        num_tokens, bias = new_embeddings.weight.shape[0], self.final_logits_bias
        self.final_logits_bias = F.pad(bias[:, :num_tokens], (0, max(0, num_tokens - bias.shape[-1])))
        return new_embeddings

    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple[torch.Tensor, ...] | None = None,
        cache: EncoderDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple | Seq2SeqLMOutput:
        if labels is not None:
            use_cache = False
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        outputs = self.model(
            input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            cache=cache,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.lm_head(outputs.last_hidden_state) + self.final_logits_bias

        # Labels are aligned with the decoder positions (the shift happened on the inputs): no causal_lm_loss shift.
        loss = classification_loss(logits, labels) if labels is not None else None
        output = Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            decoder_hidden_states=outputs.decoder_hidden_states,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
        )
        return self._finish(output, return_dict)

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor):
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)


class BartForSequenceClassification(BartPreTrainedModel):
    def __init__(self, config: BartConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = BartModel(config)
        self.classification_head = BartClassificationHead(
            config.d_model, config.d_model, config.num_labels, config.classifier_dropout
        )
        self.post_init()

    def _sentence_representation(self, hidden_states, input_ids, attention_mask):
        """The decoder state at the last </s> of each example (transformers' pooling); with only inputs_embeds, at
        the last token the attention mask keeps, which is where a BART tokenizer puts </s>."""
        if input_ids is not None:
            selected = input_ids.eq(self.config.eos_token_id)
            if not selected.any(dim=1).all():
                raise ValueError("Each example must contain at least one <eos> token.")
        elif attention_mask is not None:
            selected = attention_mask.bool()
        else:
            selected = torch.ones(hidden_states.shape[:2], dtype=torch.bool, device=hidden_states.device)
        last = selected.size(1) - 1 - selected.flip(1).int().argmax(dim=1)
        return hidden_states[torch.arange(hidden_states.size(0), device=hidden_states.device), last]

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple[torch.Tensor, ...] | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple | Seq2SeqSequenceClassifierOutput:
        if labels is not None:
            use_cache = False
        outputs = self.model(
            input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        sentence = self._sentence_representation(outputs.last_hidden_state, input_ids, attention_mask)
        logits = self.classification_head(sentence)

        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        output = Seq2SeqSequenceClassifierOutput(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            decoder_hidden_states=outputs.decoder_hidden_states,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
        )
        return self._finish(output, return_dict)


__all__ = [
    "BartForConditionalGeneration",
    "BartForSequenceClassification",
    "BartModel",
    "BartPreTrainedModel",
    "shift_tokens_right",
]
