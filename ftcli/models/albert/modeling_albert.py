"""A compact ALBERT encoder, weight-compatible with `transformers.models.albert`.

ALBERT is BERT with two savings: token embeddings of a small size E projected up to the hidden size H
(`encoder.embedding_hidden_mapping_in`), and one set of layer weights reused by every layer
(`encoder.albert_layer_groups.0.albert_layers.0` unless the config asks for more groups).
Module and parameter names mirror transformers exactly, so Hub checkpoints load without key remapping and models
saved from here load back into plain transformers (`model_type="albert"`, identical class names in `architectures`).
Attention goes straight through `F.scaled_dot_product_attention`; there is no attention-probability output.
"""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_outputs import (
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import ModelOutput

from ftcli.models.attention import first_positions, keep_rows, positions_to_keep, run_encoder
from ftcli.models.bert.modeling_bert import BertEmbeddings, BertSelfAttention
from ftcli.models.heads import (classification_loss, labelled_positions, sequence_classification_loss, span_loss,
                                split_span_logits)
from ftcli.models.outputs import SdpaOutputs

from .configuration_albert import AlbertConfig


class AlbertAttention(BertSelfAttention):
    """BERT's self-attention with its output projection and post-LayerNorm in the same module
    (BERT keeps those in a sibling `BertSelfOutput`)."""

    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.output_dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, attention_mask=None, key_value_states=None):
        out = super().forward(hidden_states, attention_mask, key_value_states)
        return self.LayerNorm(hidden_states + self.output_dropout(self.dense(out)))


class AlbertLayer(nn.Module):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.attention = AlbertAttention(config)
        self.ffn = nn.Linear(config.hidden_size, config.intermediate_size)
        act = config.hidden_act
        self.activation = ACT2FN[act] if isinstance(act, str) else act
        self.ffn_output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.full_layer_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states, attention_mask=None, positions_to_keep=None):
        # With positions_to_keep, only those rows' queries go on (see ftcli.models.attention).
        attention_output = self.attention(keep_rows(hidden_states, positions_to_keep), attention_mask, hidden_states)
        # No dropout on the feed-forward output: transformers' ALBERT (and the original) has none there.
        ffn_output = self.ffn_output(self.activation(self.ffn(attention_output)))
        return self.full_layer_layer_norm(ffn_output + attention_output)


class AlbertLayerGroup(nn.Module):
    """One set of shared weights: inner_group_num layers, applied in turn (see AlbertTransformer)."""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.albert_layers = nn.ModuleList([AlbertLayer(config) for _ in range(config.inner_group_num)])


class AlbertTransformer(nn.Module):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.num_hidden_layers = config.num_hidden_layers
        self.num_hidden_groups = config.num_hidden_groups
        self.embedding_hidden_mapping_in = nn.Linear(config.embedding_size, config.hidden_size)
        self.albert_layer_groups = nn.ModuleList([AlbertLayerGroup(config) for _ in range(config.num_hidden_groups)])

    def forward(self, hidden_states, attention_mask=None, output_hidden_states=False, positions_to_keep=None):
        hidden_states = self.embedding_hidden_mapping_in(hidden_states)
        # Like transformers 5: the projected embeddings first, then the output of every AlbertLayer call
        # (num_hidden_layers * inner_group_num of them).
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        for i in range(self.num_hidden_layers):
            # transformers' float formula, kept so that uneven splits pick the same group.
            group = self.albert_layer_groups[int(i / (self.num_hidden_layers / self.num_hidden_groups))]
            for j, layer in enumerate(group.albert_layers):
                last = i == self.num_hidden_layers - 1 and j == len(group.albert_layers) - 1
                hidden_states = layer(hidden_states, attention_mask, positions_to_keep if last else None)
                if output_hidden_states:
                    all_hidden_states += (hidden_states,)
        return hidden_states, all_hidden_states


class AlbertMLMHead(nn.Module):
    """hidden H -> dense to E -> activation -> LayerNorm -> decoder to the vocabulary (tied to word embeddings)."""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        # decoder.weight is tied to the word embeddings and decoder.bias to `bias` (see `_tied_weights_keys`).
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.decoder = nn.Linear(config.embedding_size, config.vocab_size)
        act = config.hidden_act
        self.activation = ACT2FN[act] if isinstance(act, str) else act

    def forward(self, hidden_states):
        return self.decoder(self.LayerNorm(self.activation(self.dense(hidden_states))))


class AlbertSOPHead(nn.Module):
    """Sentence-order prediction from the pooled output (num_labels outputs; 2 in pre-training)."""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, pooled_output):
        return self.classifier(self.dropout(pooled_output))


class AlbertPreTrainedModel(SdpaOutputs, PreTrainedModel):
    config: AlbertConfig
    config_class = AlbertConfig
    base_model_prefix = "albert"
    _no_split_modules = ["BertEmbeddings", "AlbertLayer"]
    _supports_sdpa = True
    # Checkpoints written by older transformers still store the `embeddings.position_ids` buffer.
    _keys_to_ignore_on_load_unexpected = [r"(^|\.)position_ids$"]

    @torch.no_grad()
    def _init_weights(self, module):
        # The base class covers Linear/Embedding (normal(0, initializer_range), zero padding row) and LayerNorm.
        super()._init_weights(module)
        if isinstance(module, AlbertMLMHead):
            init.zeros_(module.bias)



class AlbertModel(AlbertPreTrainedModel):
    def __init__(self, config: AlbertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        if getattr(config, "position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"position_embedding_type={config.position_embedding_type!r} is not supported")
        self.embeddings = BertEmbeddings(config, config.embedding_size)
        self.encoder = AlbertTransformer(config)
        # A bare Linear + Tanh, not a pooler module: the checkpoint keys are `pooler.weight` / `pooler.bias`.
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size) if add_pooling_layer else None
        self.pooler_activation = nn.Tanh() if add_pooling_layer else None
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
    ) -> tuple[torch.Tensor, ...] | BaseModelOutputWithPooling:
        """`positions_to_keep` (batch,): the last layer runs at those positions only and `last_hidden_state` is
        (batch, 1, hidden) (see ftcli.models.attention)."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        self._check_supported(output_attentions)
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states

        hidden_states = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        sequence_output, all_hidden_states = run_encoder(
            self.encoder, hidden_states, attention_mask, output_hidden_states, positions_to_keep, self.pack_padding)
        pooled_output = self.pooler_activation(self.pooler(sequence_output[:, 0])) if self.pooler is not None else None
        output = BaseModelOutputWithPooling(
            last_hidden_state=sequence_output, pooler_output=pooled_output, hidden_states=all_hidden_states
        )
        return self._finish(output, return_dict)


@dataclass
class AlbertForPreTrainingOutput(ModelOutput):
    """Output of `AlbertForPreTraining`: loss = MLM loss + sentence-order-prediction loss."""

    loss: torch.Tensor | None = None
    prediction_logits: torch.Tensor | None = None
    sop_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


# transformers 5.x: a {target: source} dict, resolved in post_init and applied when config.tie_word_embeddings.
_MLM_TIED_WEIGHTS = {
    "predictions.decoder.weight": "albert.embeddings.word_embeddings.weight",
    "predictions.decoder.bias": "predictions.bias",
}


class _AlbertMLMOutputEmbeddingsMixin:
    def get_output_embeddings(self):
        return self.predictions.decoder

    def set_output_embeddings(self, new_embeddings):
        self.predictions.decoder = new_embeddings
        self.predictions.bias = new_embeddings.bias


class AlbertForPreTraining(_AlbertMLMOutputEmbeddingsMixin, AlbertPreTrainedModel):
    _tied_weights_keys = dict(_MLM_TIED_WEIGHTS)

    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.albert = AlbertModel(config)
        self.predictions = AlbertMLMHead(config)
        self.sop_classifier = AlbertSOPHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        sentence_order_label: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple[torch.Tensor, ...] | AlbertForPreTrainingOutput:
        outputs = self.albert(
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
        prediction_scores = self.predictions(sequence_output)
        sop_scores = self.sop_classifier(outputs.pooler_output)

        total_loss = None
        if labels is not None and sentence_order_label is not None:
            # Label -100 marks the unmasked tokens, which the MLM loss skips.
            total_loss = classification_loss(prediction_scores, labels) + classification_loss(
                sop_scores, sentence_order_label)

        output = AlbertForPreTrainingOutput(
            loss=total_loss,
            prediction_logits=prediction_scores,
            sop_logits=sop_scores,
            hidden_states=outputs.hidden_states,
        )
        return self._finish(output, return_dict)


class AlbertForMaskedLM(_AlbertMLMOutputEmbeddingsMixin, AlbertPreTrainedModel):
    _tied_weights_keys = dict(_MLM_TIED_WEIGHTS)

    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.albert = AlbertModel(config, add_pooling_layer=False)
        self.predictions = AlbertMLMHead(config)
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
        outputs = self.albert(
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
        prediction_scores = self.predictions(sequence_output)

        loss = classification_loss(prediction_scores, labels) if labels is not None else None
        output = MaskedLMOutput(loss=loss, logits=prediction_scores, hidden_states=outputs.hidden_states)
        return self._finish(output, return_dict)


class AlbertForSequenceClassification(AlbertPreTrainedModel):
    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.albert = AlbertModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
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
        outputs = self.albert(
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


class AlbertForTokenClassification(AlbertPreTrainedModel):
    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.albert = AlbertModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
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
        outputs = self.albert(
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


class AlbertForQuestionAnswering(AlbertPreTrainedModel):
    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.albert = AlbertModel(config, add_pooling_layer=False)
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
        outputs = self.albert(
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
    "AlbertForMaskedLM",
    "AlbertForPreTraining",
    "AlbertForPreTrainingOutput",
    "AlbertForQuestionAnswering",
    "AlbertForSequenceClassification",
    "AlbertForTokenClassification",
    "AlbertModel",
    "AlbertPreTrainedModel",
]
