"""A compact BERT encoder, weight-compatible with `transformers.models.bert`.

Module and parameter names mirror transformers exactly, so Hub checkpoints load without key remapping and models
saved from here load back into plain transformers (`model_type="bert"`, identical class names in `architectures`).
Attention goes straight through `F.scaled_dot_product_attention`; there is no decoder mode, cross-attention, KV
cache, or attention-probability output.
"""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    MaskedLMOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import ModelOutput

from ftcli.models.attention import attend, first_positions, keep_rows, positions_to_keep, run_encoder
from ftcli.models.heads import (classification_loss, labelled_positions, masked_positions, sequence_classification_loss,
                                span_loss, split_span_logits)
from ftcli.models.outputs import SdpaOutputs

from .configuration_bert import BertConfig


class BertEmbeddings(nn.Module):
    """word + token_type (segment) + position embeddings, then LayerNorm and dropout. `width` is the
    hidden size for BERT; ALBERT and ELECTRA embed in a narrower `embedding_size`."""

    def __init__(self, config: BertConfig, width: int | None = None):
        super().__init__()
        width = width or config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, width, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, width)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, width)
        self.LayerNorm = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None):
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        batch_size, seq_len = inputs_embeds.shape[:2]
        # Built on the fly rather than kept as buffers: from_pretrained builds the model on the meta device and
        # non-persistent buffers would then need re-initialising.
        if position_ids is None:
            position_ids = torch.arange(seq_len, device=inputs_embeds.device).unsqueeze(0)
        if token_type_ids is None:
            token_type_ids = torch.zeros(batch_size, seq_len, dtype=torch.long, device=inputs_embeds.device)
        embeddings = inputs_embeds + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        if config.hidden_size % config.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({config.hidden_size}) is not a multiple of num_attention_heads "
                f"({config.num_attention_heads})"
            )
        self.num_heads = config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(self, hidden_states, attention_mask=None, key_value_states=None):
        dropout_p = self.dropout_p if self.training else 0.0
        return attend(self.query, self.key, self.value, hidden_states, self.num_heads, attention_mask, dropout_p,
                      key_value_states)


class BertSelfOutput(nn.Module):
    """dense -> dropout -> LayerNorm(x + residual). Used after attention and (as `BertOutput`) after the MLP."""

    def __init__(self, config: BertConfig, in_features: int | None = None):
        super().__init__()
        self.dense = nn.Linear(in_features or config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden_states, attention_mask=None, key_value_states=None):
        return self.output(self.self(hidden_states, attention_mask, key_value_states), hidden_states)


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        act = config.hidden_act
        self.intermediate_act_fn = ACT2FN[act] if isinstance(act, str) else act

    def forward(self, hidden_states):
        return self.intermediate_act_fn(self.dense(hidden_states))


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertSelfOutput(config, in_features=config.intermediate_size)

    def forward(self, hidden_states, attention_mask=None, positions_to_keep=None):
        # With positions_to_keep, only those rows' queries go on (see ftcli.models.attention).
        attention_output = self.attention(keep_rows(hidden_states, positions_to_keep), attention_mask, hidden_states)
        return self.output(self.intermediate(attention_output), attention_output)


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden_states, attention_mask=None, output_hidden_states=False, positions_to_keep=None):
        # Like transformers: the embeddings output first, then the output of every layer.
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        for i, layer in enumerate(self.layer):
            last = i == len(self.layer) - 1
            hidden_states = layer(hidden_states, attention_mask, positions_to_keep if last else None)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
        return hidden_states, all_hidden_states


class BertPooler(nn.Module):
    """tanh(dense(hidden state of the first, [CLS], token))."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states):
        return self.activation(self.dense(hidden_states[:, 0]))


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        act = config.hidden_act
        self.transform_act_fn = ACT2FN[act] if isinstance(act, str) else act
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states):
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        # decoder.weight is tied to the word embeddings and decoder.bias to `bias` (see `_tied_weights_keys`);
        # checkpoints store the output bias as `cls.predictions.bias`.
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=True)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states):
        return self.decoder(self.transform(hidden_states))


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)

    def forward(self, sequence_output):
        return self.predictions(sequence_output)


class BertPreTrainingHeads(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)

    def forward(self, sequence_output, pooled_output):
        return self.predictions(sequence_output), self.seq_relationship(pooled_output)


class BertPreTrainedModel(SdpaOutputs, PreTrainedModel):
    config: BertConfig
    config_class = BertConfig
    base_model_prefix = "bert"
    _no_split_modules = ["BertEmbeddings", "BertLayer"]
    _supports_sdpa = True
    # Checkpoints written by transformers < 4.31 still store the `embeddings.position_ids` buffer.
    _keys_to_ignore_on_load_unexpected = [r"(^|\.)position_ids$"]

    @torch.no_grad()
    def _init_weights(self, module):
        # The base class covers Linear/Embedding (normal(0, initializer_range), zero padding row) and LayerNorm.
        # `transformers.initialization` functions skip tensors already loaded from a checkpoint.
        super()._init_weights(module)
        if isinstance(module, BertLMPredictionHead):
            init.zeros_(module.bias)



class BertModel(BertPreTrainedModel):
    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        if config.is_decoder or config.add_cross_attention:
            raise ValueError("ftcli's BertModel is encoder-only: is_decoder/add_cross_attention are not supported")
        if getattr(config, "position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"position_embedding_type={config.position_embedding_type!r} is not supported")
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.post_init()

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
    ) -> tuple[torch.Tensor, ...] | BaseModelOutputWithPoolingAndCrossAttentions:
        """`positions_to_keep` (batch,) or (batch, k): the last layer runs at those positions only and
        `last_hidden_state` is (batch, 1, hidden) or (batch, k, hidden) (see ftcli.models.attention)."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        self._check_supported(output_attentions)
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states

        hidden_states = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        sequence_output, all_hidden_states = run_encoder(
            self.encoder, hidden_states, attention_mask, output_hidden_states, positions_to_keep, self.pack_padding)
        pooled_output = self.pooler(sequence_output) if self.pooler is not None else None
        output = BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=sequence_output, pooler_output=pooled_output, hidden_states=all_hidden_states
        )
        return self._finish(output, return_dict)


@dataclass
class BertForPreTrainingOutput(ModelOutput):
    """Output of `BertForPreTraining`: loss = MLM loss + next-sentence-prediction loss."""

    loss: torch.Tensor | None = None
    prediction_logits: torch.Tensor | None = None
    seq_relationship_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


# transformers 5.x: a {target: source} dict, resolved in post_init and applied when config.tie_word_embeddings.
_MLM_TIED_WEIGHTS = {
    "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
    "cls.predictions.decoder.bias": "cls.predictions.bias",
}


class _BertMLMOutputEmbeddingsMixin:
    def get_output_embeddings(self):
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings):
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias


class BertForPreTraining(_BertMLMOutputEmbeddingsMixin, BertPreTrainedModel):
    _tied_weights_keys = dict(_MLM_TIED_WEIGHTS)

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.cls = BertPreTrainingHeads(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        next_sentence_label: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple[torch.Tensor, ...] | BertForPreTrainingOutput:
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        sequence_output, labels = labelled_positions(outputs.last_hidden_state, labels, self.sparse_prediction)
        prediction_scores, seq_relationship_score = self.cls(sequence_output, outputs.pooler_output)

        total_loss = None
        if labels is not None and next_sentence_label is not None:
            # Label -100 marks the unmasked tokens, which the MLM loss skips.
            total_loss = classification_loss(prediction_scores, labels) + classification_loss(
                seq_relationship_score, next_sentence_label)

        output = BertForPreTrainingOutput(
            loss=total_loss,
            prediction_logits=prediction_scores,
            seq_relationship_logits=seq_relationship_score,
            hidden_states=outputs.hidden_states,
        )
        return self._finish(output, return_dict)


class BertForMaskedLM(_BertMLMOutputEmbeddingsMixin, BertPreTrainedModel):
    _tied_weights_keys = dict(_MLM_TIED_WEIGHTS)

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
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
    ) -> tuple[torch.Tensor, ...] | MaskedLMOutput:
        # Sparse prediction: the last layer too runs at the masked positions only (ftcli.models.attention).
        kept = masked_positions(labels) if self.sparse_prediction and labels is not None else None
        positions = positions_to_keep(kept[0], output_hidden_states, self.config) if kept else None
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            positions_to_keep=positions,
        )
        sequence_output, labels = labelled_positions(
            outputs.last_hidden_state, labels if positions is None else kept[1], self.sparse_prediction)
        prediction_scores = self.cls(sequence_output)

        loss = classification_loss(prediction_scores, labels) if labels is not None else None
        output = MaskedLMOutput(loss=loss, logits=prediction_scores, hidden_states=outputs.hidden_states)
        return self._finish(output, return_dict)


class BertForSequenceClassification(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = nn.Dropout(classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
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
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            # The pooler reads [CLS] only.
            positions_to_keep=positions_to_keep(first_positions(input_ids, inputs_embeds), output_hidden_states,
                                                self.config),
        )
        logits = self.classifier(self.dropout(outputs.pooler_output))

        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None

        output = SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return self._finish(output, return_dict)


class BertForTokenClassification(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = nn.Dropout(classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
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
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
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


class BertForQuestionAnswering(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)
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
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        start_logits, end_logits = split_span_logits(
            self.qa_outputs(outputs.last_hidden_state), attention_mask if self.pack_padding else None)
        total_loss = None
        if start_positions is not None and end_positions is not None:
            total_loss = span_loss(start_logits, end_logits, start_positions, end_positions)

        output = QuestionAnsweringModelOutput(
            loss=total_loss, start_logits=start_logits, end_logits=end_logits, hidden_states=outputs.hidden_states
        )
        return self._finish(output, return_dict)


__all__ = [
    "BertForMaskedLM",
    "BertForPreTraining",
    "BertForPreTrainingOutput",
    "BertForQuestionAnswering",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertModel",
    "BertPreTrainedModel",
]
