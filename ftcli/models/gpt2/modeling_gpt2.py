"""A compact GPT-2 decoder, weight-compatible with `transformers.models.gpt2`.

Module and parameter names mirror transformers exactly (`wte`, `wpe`, `h.N.attn.c_attn`, ...; the projections are
transformers' `Conv1D`, whose weight is stored (in_features, out_features)), so Hub checkpoints load without key
remapping and models saved from here load back into plain transformers (`model_type="gpt2"`, identical class names).
Attention goes through `F.scaled_dot_product_attention` with a boolean causal + padding mask; the key/value cache is
transformers' `DynamicCache`, so `generate()` works. There is no cross-attention, attention-probability output, or
`GPT2DoubleHeadsModel`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache, DynamicCache
from transformers.modeling_outputs import (
    BaseModelOutputWithPastAndCrossAttentions,
    CausalLMOutputWithCrossAttentions,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutputWithPast,
    TokenClassifierOutput,
)
from transformers.pytorch_utils import Conv1D
from transformers.utils import ModelOutput
from transformers.utils.deprecation import deprecate_kwarg

from ftcli.models.attention import keep_rows, positions_to_keep
from ftcli.models.heads import (
    causal_lm_loss,
    classification_loss,
    sequence_classification_loss,
    span_loss,
    split_span_logits,
)
from ftcli.models.outputs import SdpaOutputs

from .configuration_gpt2 import GPT2Config

# transformers 5 renamed `past_key_values` to `cache` (inputs and outputs); the old name is still accepted.
_accept_past_key_values = deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")


class ResidualProjection(Conv1D):
    """A `Conv1D` writing into the residual stream (`attn.c_proj`, `mlp.c_proj`), initialised scaled down.

    Marked by its type because transformers skips `_init_weights` on parameter-less modules of code outside the
    library (our GPT2Attention, GPT2MLP), where its own GPT-2 applies that scaling."""


class GPT2Attention(nn.Module):
    def __init__(self, config: GPT2Config, layer_idx: int):
        super().__init__()
        if config.hidden_size % config.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({config.hidden_size}) is not a multiple of num_attention_heads "
                f"({config.num_attention_heads})"
            )
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.layer_idx = layer_idx
        self.scale = self.head_dim**-0.5 if config.scale_attn_weights else 1.0
        if config.scale_attn_by_inverse_layer_idx:
            self.scale /= layer_idx + 1
        self.c_attn = Conv1D(3 * config.hidden_size, config.hidden_size)
        self.c_proj = ResidualProjection(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attn_pdrop
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden_states, attention_mask=None, cache: Cache | None = None, positions_to_keep=None):
        batch_size, seq_len, _ = hidden_states.shape
        # (batch, seq, 3 * hidden) -> q, k, v, each (batch, heads, seq, head_dim); with positions_to_keep the
        # queries of those positions only (see ftcli.models.attention).
        q, k, v = self.c_attn(hidden_states).view(batch_size, seq_len, 3, self.num_heads, self.head_dim).unbind(2)
        q, k, v = keep_rows(q, positions_to_keep).transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx)  # returns the past keys/values followed by these
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attention_mask, dropout_p=self.dropout_p if self.training else 0.0,
            is_causal=attention_mask is None, scale=self.scale,
        )
        return self.resid_dropout(self.c_proj(out.transpose(1, 2).reshape(batch_size, q.size(2), -1)))


class GPT2MLP(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        inner = config.n_inner if config.n_inner is not None else 4 * config.hidden_size
        self.c_fc = Conv1D(inner, config.hidden_size)
        self.c_proj = ResidualProjection(config.hidden_size, inner)
        self.act = ACT2FN[config.activation_function]
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden_states):
        return self.dropout(self.c_proj(self.act(self.c_fc(hidden_states))))


class GPT2Block(nn.Module):
    """Pre-LayerNorm: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPT2Config, layer_idx: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(config)

    def forward(self, hidden_states, attention_mask=None, cache: Cache | None = None, positions_to_keep=None):
        attention_output = self.attn(self.ln_1(hidden_states), attention_mask, cache, positions_to_keep)
        hidden_states = keep_rows(hidden_states, positions_to_keep) + attention_output
        return hidden_states + self.mlp(self.ln_2(hidden_states))


def causal_padding_mask(attention_mask: torch.Tensor | None, q_len: int, kv_len: int, device) -> torch.Tensor | None:
    """Boolean (batch or 1, 1, q_len, kv_len) mask, True = attend: query i (position kv_len - q_len + i) sees every
    earlier non-padding key. None when SDPA's `is_causal` alone is exact (no padding, no cached prefix), which lets
    it pick its fastest kernel. A left-padding query sees no key at all; SDPA returns zeros for it."""
    if attention_mask is not None and bool(attention_mask.all()):
        attention_mask = None
    if attention_mask is None and q_len == kv_len:
        return None
    mask = torch.ones(q_len, kv_len, dtype=torch.bool, device=device).tril(diagonal=kv_len - q_len)[None, None]
    if attention_mask is not None:
        mask = mask & attention_mask[:, None, None, :].bool()
    return mask


def causal_row_mask(attention_mask: torch.Tensor | None, positions: torch.Tensor, past_len: int, kv_len: int,
                    device) -> torch.Tensor:
    """Boolean (batch, 1, 1, kv_len): what the one query kept per row (at `past_len + positions`) sees, every
    earlier non-padding key."""
    mask = torch.arange(kv_len, device=device)[None, :] <= (past_len + positions.to(device))[:, None]
    if attention_mask is not None:
        mask = mask & attention_mask.to(device).bool()
    return mask[:, None, None, :]


class GPT2PreTrainedModel(SdpaOutputs, PreTrainedModel):
    config: GPT2Config
    config_class = GPT2Config
    base_model_prefix = "transformer"
    _no_split_modules = ["GPT2Block"]
    _supports_sdpa = True
    # Old checkpoints (the Hub's openai-community/gpt2 among them) still store the causal-mask buffers.
    _keys_to_ignore_on_load_unexpected = [r"\.attn\.(masked_)?bias$"]

    @torch.no_grad()
    def _init_weights(self, module):
        # The base class covers Linear/Embedding (normal(0, initializer_range)) and LayerNorm; Conv1D is GPT-2's own.
        super()._init_weights(module)
        if isinstance(module, Conv1D):
            std = self.config.initializer_range
            if isinstance(module, ResidualProjection):
                # GPT-2 paper: scaled by 1/sqrt(number of residual layers), two (attention, MLP) per block.
                std /= math.sqrt(2 * self.config.n_layer)
            init.normal_(module.weight, mean=0.0, std=std)
            init.zeros_(module.bias)



class GPT2Model(GPT2PreTrainedModel):
    def __init__(self, config: GPT2Config):
        super().__init__(config)
        if config.add_cross_attention:
            raise ValueError("ftcli's GPT2Model is decoder-only: add_cross_attention is not supported")
        self.wte = nn.Embedding(config.vocab_size, config.hidden_size)
        self.wpe = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = nn.ModuleList([GPT2Block(config, layer_idx=i) for i in range(config.num_hidden_layers)])
        self.ln_f = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.post_init()

    def get_input_embeddings(self):
        return self.wte

    def set_input_embeddings(self, value):
        self.wte = value

    @_accept_past_key_values
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        positions_to_keep: torch.Tensor | None = None,
    ) -> tuple | BaseModelOutputWithPastAndCrossAttentions:
        """`positions_to_keep` (batch,): the last block runs at those positions only and `last_hidden_state` is
        (batch, 1, hidden) (see ftcli.models.attention)."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        self._check_supported(output_attentions)
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        if use_cache is None:
            use_cache = self.config.use_cache
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        if attention_mask is not None and attention_mask.dim() != 2:
            raise ValueError(f"attention_mask must be (batch, seq_len), got shape {tuple(attention_mask.shape)}")

        if inputs_embeds is None:
            inputs_embeds = self.wte(input_ids)
        seq_len = inputs_embeds.shape[1]
        past_len = cache.get_seq_length() if cache is not None else 0
        if position_ids is None:
            position_ids = torch.arange(past_len, past_len + seq_len, device=inputs_embeds.device).unsqueeze(0)
            if attention_mask is not None:
                # Left padding: positions count from each row's first real token, as generate() numbers them.
                # (Right padding changes nothing, so encoder-style batches match transformers' forward exactly.)
                leading_pads = (attention_mask.cumsum(-1) == 0).sum(-1, keepdim=True)
                position_ids = (position_ids - leading_pads).clamp(min=0)
        hidden_states = inputs_embeds + self.wpe(position_ids)
        if token_type_ids is not None:
            hidden_states = hidden_states + self.wte(token_type_ids)  # GPT-2 embeds token types with wte
        hidden_states = self.drop(hidden_states)

        mask = causal_padding_mask(attention_mask, seq_len, past_len + seq_len, hidden_states.device)
        # Like transformers: the embeddings output first, then every block's, the last one after ln_f.
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        for i, block in enumerate(self.h):
            if i == len(self.h) - 1 and positions_to_keep is not None:
                last_mask = causal_row_mask(attention_mask, positions_to_keep, past_len, past_len + seq_len,
                                            hidden_states.device)
                hidden_states = block(hidden_states, last_mask, cache, positions_to_keep)
            else:
                hidden_states = block(hidden_states, mask, cache)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
        hidden_states = self.ln_f(hidden_states)
        if output_hidden_states:
            all_hidden_states = all_hidden_states[:-1] + (hidden_states,)

        output = BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden_states, cache=cache if use_cache else None, hidden_states=all_hidden_states
        )
        return self._finish(output, return_dict)


class GPT2LMHeadModel(GPT2PreTrainedModel, GenerationMixin):
    # transformers 5.x: a {target: source} dict, resolved in post_init and applied when config.tie_word_embeddings.
    _tied_weights_keys = {"lm_head.weight": "transformer.wte.weight"}

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, new_embeddings):
        self.lm_head = new_embeddings

    @_accept_past_key_values
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple | CausalLMOutputWithCrossAttentions:
        """`logits_to_keep`: an int keeps the last that many positions (0 = all), a tensor the positions it lists;
        the LM head over the whole vocabulary is the costliest layer, so generation and rank scoring keep only
        what they read."""
        outputs = self.transformer(
            input_ids,
            cache=cache,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(outputs.last_hidden_state[:, keep])

        loss = causal_lm_loss(logits, labels) if labels is not None else None
        output = CausalLMOutputWithCrossAttentions(
            loss=loss, logits=logits, cache=outputs.cache, hidden_states=outputs.hidden_states
        )
        return self._finish(output, return_dict)


class GPT2ForSequenceClassification(GPT2PreTrainedModel):
    """Classifies from the last non-padding token, the only one that has seen the whole text."""

    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.transformer = GPT2Model(config)
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=False)
        self.post_init()

    def _last_token_index(self, input_ids, attention_mask, batch_size: int, seq_len: int, device):
        """The last attended position from the attention mask (any padding side, also with inputs_embeds); else
        the last token that is not `pad_token_id`, like transformers; else the last position."""
        positions = torch.arange(seq_len, device=device)
        if attention_mask is not None:
            return (positions * attention_mask[:, -seq_len:].to(device)).argmax(-1)
        if self.config.pad_token_id is None:
            if batch_size != 1:
                raise ValueError("Cannot find the last token of a batch without an attention mask or pad_token_id")
            return torch.tensor([seq_len - 1], device=device)
        if input_ids is not None:
            return (positions * (input_ids != self.config.pad_token_id).to(device)).argmax(-1)
        return torch.full((batch_size,), seq_len - 1, device=device)

    @_accept_past_key_values
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple | SequenceClassifierOutputWithPast:
        reference = input_ids if input_ids is not None else inputs_embeds
        batch_size, seq_len = reference.shape[:2]
        last = self._last_token_index(input_ids, attention_mask, batch_size, seq_len, reference.device)
        kept = positions_to_keep(last, output_hidden_states, self.config)  # the last block runs at `last` only
        outputs = self.transformer(
            input_ids,
            cache=cache,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            positions_to_keep=kept,
        )
        logits = self.score(outputs.last_hidden_state)
        pooled_logits = logits[:, 0] if kept is not None else keep_rows(logits, last).squeeze(1)

        loss = sequence_classification_loss(pooled_logits, labels, self.config) if labels is not None else None
        output = SequenceClassifierOutputWithPast(
            loss=loss, logits=pooled_logits, cache=outputs.cache, hidden_states=outputs.hidden_states
        )
        return self._finish(output, return_dict)


class GPT2ForTokenClassification(GPT2PreTrainedModel):
    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.transformer = GPT2Model(config)
        # GPT2Config has no dropout field for heads; transformers reads these if a config.json brings them.
        classifier_dropout = getattr(config, "classifier_dropout", None)
        if classifier_dropout is None:
            classifier_dropout = getattr(config, "hidden_dropout", None)
        self.dropout = nn.Dropout(0.1 if classifier_dropout is None else classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @_accept_past_key_values
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        cache: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple | TokenClassifierOutput:
        # `cache`/`use_cache` keep transformers' signature (and argument order); the output carries no cache.
        outputs = self.transformer(
            input_ids,
            cache=cache,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=bool(use_cache),
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(outputs.last_hidden_state))

        loss = classification_loss(logits, labels) if labels is not None else None
        output = TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return self._finish(output, return_dict)


class GPT2ForQuestionAnswering(GPT2PreTrainedModel):
    def __init__(self, config: GPT2Config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.transformer = GPT2Model(config)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple | QuestionAnsweringModelOutput:
        outputs = self.transformer(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            use_cache=False,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        start_logits, end_logits = split_span_logits(self.qa_outputs(outputs.last_hidden_state))
        total_loss = None
        if start_positions is not None and end_positions is not None:
            total_loss = span_loss(start_logits, end_logits, start_positions, end_positions)

        output = QuestionAnsweringModelOutput(
            loss=total_loss, start_logits=start_logits, end_logits=end_logits, hidden_states=outputs.hidden_states
        )
        return self._finish(output, return_dict)


__all__ = [
    "GPT2ForQuestionAnswering",
    "GPT2ForSequenceClassification",
    "GPT2ForTokenClassification",
    "GPT2LMHeadModel",
    "GPT2Model",
    "GPT2PreTrainedModel",
]
