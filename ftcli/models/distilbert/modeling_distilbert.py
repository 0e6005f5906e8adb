"""A compact DistilBERT encoder, weight-compatible with `transformers.models.distilbert`.

Module and parameter names mirror transformers exactly (`distilbert.embeddings`, `distilbert.transformer.layer.N`
with `attention.{q,k,v,out}_lin`, `sa_layer_norm`, `ffn.lin{1,2}`, `output_layer_norm`), so Hub checkpoints load
without key remapping and models saved from here load back into plain transformers (`model_type="distilbert"`,
identical class names in `architectures`). Unlike BERT there are no token-type embeddings and no pooler, and the
attention output goes into the residual without dropout. Attention goes straight through
`F.scaled_dot_product_attention`; there is no attention-probability output.
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_outputs import (
    BaseModelOutput,
    MaskedLMOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import ModelOutput

from ftcli.models.attention import attend, first_positions, keep_rows, positions_to_keep, run_encoder
from ftcli.models.heads import (classification_loss, labelled_positions, sequence_classification_loss, span_loss,
                                split_span_logits)
from ftcli.models.outputs import SdpaOutputs

from .configuration_distilbert import DistilBertConfig


def sinusoidal_embeddings(n_pos: int, dim: int) -> torch.Tensor:
    """The fixed table of `sinusoidal_pos_embds=True`: sin on even columns, cos on odd ones (Vaswani et al.)."""
    position = torch.arange(n_pos, dtype=torch.float64)[:, None]
    angles = position / torch.pow(10000.0, 2.0 * (torch.arange(dim) // 2).double() / dim)
    table = torch.empty(n_pos, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles[:, 0::2])
    table[:, 1::2] = torch.cos(angles[:, 1::2])
    return table.float()


class DistilBertEmbeddings(nn.Module):
    """word + position embeddings, then LayerNorm and dropout (transformers calls this class `Embeddings`)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.dim, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.dim)
        self.LayerNorm = nn.LayerNorm(config.dim, eps=1e-12)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids=None, position_ids=None, inputs_embeds=None):
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        if position_ids is None:
            # Built on the fly rather than kept as a buffer: see BertEmbeddings.
            position_ids = torch.arange(inputs_embeds.size(1), device=inputs_embeds.device).unsqueeze(0)
        embeddings = inputs_embeds + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class DistilBertSelfAttention(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        if config.dim % config.n_heads != 0:
            raise ValueError(f"n_heads ({config.n_heads}) must divide dim ({config.dim}) evenly")
        self.n_heads = config.n_heads
        self.q_lin = nn.Linear(config.dim, config.dim)
        self.k_lin = nn.Linear(config.dim, config.dim)
        self.v_lin = nn.Linear(config.dim, config.dim)
        self.out_lin = nn.Linear(config.dim, config.dim)
        self.dropout_p = config.attention_dropout

    def forward(self, hidden_states, attention_mask=None, key_value_states=None):
        dropout_p = self.dropout_p if self.training else 0.0
        return self.out_lin(attend(self.q_lin, self.k_lin, self.v_lin, hidden_states, self.n_heads, attention_mask,
                                   dropout_p, key_value_states))


class DistilBertFFN(nn.Module):
    """lin1 -> activation -> lin2 -> dropout (transformers' `FFN`; its `chunk_size_feed_forward` only saves memory)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.lin1 = nn.Linear(config.dim, config.hidden_dim)
        self.lin2 = nn.Linear(config.hidden_dim, config.dim)
        self.activation = ACT2FN[config.activation]
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden_states):
        return self.dropout(self.lin2(self.activation(self.lin1(hidden_states))))


class DistilBertLayer(nn.Module):
    """Post-norm block (transformers' `TransformerBlock`): LN(x + attn(x)), then LN(h + ffn(h))."""

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.attention = DistilBertSelfAttention(config)
        self.sa_layer_norm = nn.LayerNorm(config.dim, eps=1e-12)
        self.ffn = DistilBertFFN(config)
        self.output_layer_norm = nn.LayerNorm(config.dim, eps=1e-12)

    def forward(self, hidden_states, attention_mask=None, positions_to_keep=None):
        # With positions_to_keep, only those rows' queries go on (see ftcli.models.attention).
        queries = keep_rows(hidden_states, positions_to_keep)
        hidden_states = self.sa_layer_norm(self.attention(queries, attention_mask, hidden_states) + queries)
        return self.output_layer_norm(self.ffn(hidden_states) + hidden_states)


class DistilBertTransformer(nn.Module):
    """The layer stack (transformers' `Transformer`; the attribute is `distilbert.transformer`)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.layer = nn.ModuleList([DistilBertLayer(config) for _ in range(config.n_layers)])

    def forward(self, hidden_states, attention_mask=None, output_hidden_states=False, positions_to_keep=None):
        # Like transformers: the embeddings output first, then the output of every layer.
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        for i, layer in enumerate(self.layer):
            last = i == len(self.layer) - 1
            hidden_states = layer(hidden_states, attention_mask, positions_to_keep if last else None)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
        return hidden_states, all_hidden_states


class DistilBertPreTrainedModel(SdpaOutputs, PreTrainedModel):
    config: DistilBertConfig
    config_class = DistilBertConfig
    base_model_prefix = "distilbert"
    _no_split_modules = ["DistilBertEmbeddings", "DistilBertLayer"]
    _supports_sdpa = True
    # Checkpoints written by older transformers may still store the `embeddings.position_ids` buffer.
    _keys_to_ignore_on_load_unexpected = [r"(^|\.)position_ids$"]

    @torch.no_grad()
    def _init_weights(self, module):
        # The base class covers Linear/Embedding (normal(0, initializer_range), zero padding row) and LayerNorm.
        # `transformers.initialization` functions skip tensors already loaded from a checkpoint.
        super()._init_weights(module)
        # Matched on the nn.Embedding itself: for code outside transformers, initialize_weights skips modules that
        # hold no parameters of their own, such as DistilBertEmbeddings. As in transformers 5 the table is only the
        # initial value: it is stored in checkpoints and stays trainable.
        if self.config.sinusoidal_pos_embds and module is self.base_model.embeddings.position_embeddings:
            init.copy_(module.weight, sinusoidal_embeddings(*module.weight.shape).to(module.weight))



class DistilBertModel(DistilBertPreTrainedModel):
    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.embeddings = DistilBertEmbeddings(config)
        self.transformer = DistilBertTransformer(config)
        self.post_init()

    def get_position_embeddings(self) -> nn.Embedding:
        return self.embeddings.position_embeddings

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        positions_to_keep: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...] | BaseModelOutput:
        """`positions_to_keep` (batch,): the last layer runs at those positions only and `last_hidden_state` is
        (batch, 1, dim) (see ftcli.models.attention)."""
        # token_type_ids is accepted and ignored, as transformers' DistilBERT does (it swallows it in **kwargs):
        # BERT tokenizers shipped with some DistilBERT checkpoints still emit it, and the collators pass it on.
        del token_type_ids
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        self._check_supported(output_attentions)
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states

        hidden_states = self.embeddings(input_ids, position_ids, inputs_embeds)
        last_hidden_state, all_hidden_states = run_encoder(
            self.transformer, hidden_states, attention_mask, output_hidden_states, positions_to_keep, self.pack_padding)
        output = BaseModelOutput(last_hidden_state=last_hidden_state, hidden_states=all_hidden_states)
        return self._finish(output, return_dict)


class DistilBertForMaskedLM(DistilBertPreTrainedModel):
    # transformers 5 style: tied parameter -> its source, applied in post_init when config.tie_word_embeddings.
    # Only the weight is tied; vocab_projector keeps its own bias.
    _tied_weights_keys = {"vocab_projector.weight": "distilbert.embeddings.word_embeddings.weight"}

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.distilbert = DistilBertModel(config)
        self.activation = ACT2FN[config.activation]
        self.vocab_transform = nn.Linear(config.dim, config.dim)
        self.vocab_layer_norm = nn.LayerNorm(config.dim, eps=1e-12)
        self.vocab_projector = nn.Linear(config.dim, config.vocab_size)
        self.post_init()

    def get_output_embeddings(self):
        return self.vocab_projector

    def set_output_embeddings(self, new_embeddings):
        self.vocab_projector = new_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple[torch.Tensor, ...] | MaskedLMOutput:
        outputs = self.distilbert(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        sequence_output, labels = labelled_positions(outputs.last_hidden_state, labels, self.sparse_prediction)
        hidden = self.vocab_layer_norm(self.activation(self.vocab_transform(sequence_output)))
        logits = self.vocab_projector(hidden)

        # Label -100 marks the unmasked tokens, which the loss skips.
        loss = classification_loss(logits, labels) if labels is not None else None
        output = MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return self._finish(output, return_dict)


class DistilBertForSequenceClassification(DistilBertPreTrainedModel):
    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        # No pooler: the head itself transforms the first token, relu(pre_classifier(h[:, 0])).
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple[torch.Tensor, ...] | SequenceClassifierOutput:
        outputs = self.distilbert(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            # The head reads the first token only.
            positions_to_keep=positions_to_keep(first_positions(input_ids, inputs_embeds), output_hidden_states,
                                                self.config),
        )
        pooled = F.relu(self.pre_classifier(outputs.last_hidden_state[:, 0]))
        logits = self.classifier(self.dropout(pooled))

        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        output = SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return self._finish(output, return_dict)


class DistilBertForTokenClassification(DistilBertPreTrainedModel):
    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.distilbert = DistilBertModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple[torch.Tensor, ...] | TokenClassifierOutput:
        outputs = self.distilbert(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.classifier(self.dropout(outputs.last_hidden_state))

        loss = classification_loss(logits, labels) if labels is not None else None
        output = TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return self._finish(output, return_dict)


class DistilBertForQuestionAnswering(DistilBertPreTrainedModel):
    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        if config.num_labels != 2:
            raise ValueError(f"config.num_labels should be 2, but it is {config.num_labels}")
        self.distilbert = DistilBertModel(config)
        self.dropout = nn.Dropout(config.qa_dropout)
        self.qa_outputs = nn.Linear(config.dim, config.num_labels)
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
    ) -> tuple[torch.Tensor, ...] | QuestionAnsweringModelOutput:
        outputs = self.distilbert(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        start_logits, end_logits = split_span_logits(
            self.qa_outputs(self.dropout(outputs.last_hidden_state)), attention_mask if self.pack_padding else None)
        total_loss = None
        if start_positions is not None and end_positions is not None:
            total_loss = span_loss(start_logits, end_logits, start_positions, end_positions)

        output = QuestionAnsweringModelOutput(
            loss=total_loss, start_logits=start_logits, end_logits=end_logits, hidden_states=outputs.hidden_states
        )
        return self._finish(output, return_dict)


__all__ = [
    "DistilBertForMaskedLM",
    "DistilBertForQuestionAnswering",
    "DistilBertForSequenceClassification",
    "DistilBertForTokenClassification",
    "DistilBertModel",
    "DistilBertPreTrainedModel",
]
