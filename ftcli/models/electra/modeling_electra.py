"""A compact ELECTRA encoder, weight-compatible with `transformers.models.electra`.

ELECTRA is BERT's encoder with two differences: the embeddings may be narrower than the encoder
(`embedding_size`, projected up by `embeddings_project`), and there is no pooler. So it reuses
ftcli's BERT embeddings (at `embedding_size`) and encoder, which have the same parameter names. It is pre-trained as a
discriminator (`ElectraForPreTraining`: was each token replaced?) next to a small masked-LM generator
(`ElectraForMaskedLM`).

Module and parameter names mirror transformers exactly, so Hub checkpoints load without key remapping and models
saved from here load back into plain transformers (`model_type="electra"`, identical class names in
`architectures`). Attention goes straight through `F.scaled_dot_product_attention`; there is no decoder mode
(`ElectraForCausalLM`), cross-attention, KV cache, or attention-probability output.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import (
    BaseModelOutputWithCrossAttentions,
    MaskedLMOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import ModelOutput

from ftcli.models.attention import first_positions, positions_to_keep, run_encoder
from ftcli.models.bert.modeling_bert import BertEmbeddings, BertEncoder
from ftcli.models.heads import (classification_loss, labelled_positions, sequence_classification_loss, span_loss,
                                split_span_logits)
from ftcli.models.outputs import SdpaOutputs

from .configuration_electra import ElectraConfig


def _activation(act):
    return ACT2FN[act] if isinstance(act, str) else act


class ElectraDiscriminatorPredictions(nn.Module):
    """One replaced-token logit per token: dense -> act -> dense_prediction (hidden -> 1)."""

    def __init__(self, config: ElectraConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = _activation(config.hidden_act)
        self.dense_prediction = nn.Linear(config.hidden_size, 1)

    def forward(self, discriminator_hidden_states):
        return self.dense_prediction(self.activation(self.dense(discriminator_hidden_states))).squeeze(-1)


class ElectraGeneratorPredictions(nn.Module):
    """hidden -> embedding_size (dense, gelu, LayerNorm), ready for the tied `generator_lm_head`."""

    def __init__(self, config: ElectraConfig):
        super().__init__()
        self.activation = ACT2FN["gelu"]  # always gelu, whatever hidden_act says
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)

    def forward(self, generator_hidden_states):
        return self.LayerNorm(self.activation(self.dense(generator_hidden_states)))


class ElectraClassificationHead(nn.Module):
    """Sentence-level head on the first token: dropout -> dense -> gelu -> dropout -> out_proj."""

    def __init__(self, config: ElectraConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.activation = ACT2FN["gelu"]  # gelu where BERT's pooler uses tanh, as ELECTRA's authors did
        self.dropout = nn.Dropout(classifier_dropout)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, features):
        x = self.dropout(features[:, 0])
        x = self.dropout(self.activation(self.dense(x)))
        return self.out_proj(x)


def _replaced_token_loss(logits, labels, attention_mask=None):
    """The discriminator's binary cross-entropy (label 1 = replaced token), over the non-padding tokens only."""
    if attention_mask is not None:
        active = attention_mask == 1
        logits, labels = logits[active], labels[active]
    return F.binary_cross_entropy_with_logits(logits, labels.float())


class ElectraPreTrainedModel(SdpaOutputs, PreTrainedModel):
    config: ElectraConfig
    config_class = ElectraConfig
    base_model_prefix = "electra"
    _no_split_modules = ["BertEmbeddings", "BertLayer"]
    _supports_sdpa = True
    # Checkpoints written by older transformers still store the `embeddings.position_ids` buffer.
    _keys_to_ignore_on_load_unexpected = [r"(^|\.)position_ids$"]

    @torch.no_grad()
    def _init_weights(self, module):
        # Every ELECTRA parameter lives in a Linear, Embedding or LayerNorm, all of which the base class covers:
        # normal(0, initializer_range), zero biases and padding row, LayerNorm 1/0.
        super()._init_weights(module)



@dataclass
class ElectraForPreTrainingOutput(ModelOutput):
    """Output of `ElectraForPreTraining`: one replaced-token logit per token."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class ElectraModel(ElectraPreTrainedModel):
    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        if config.is_decoder or config.add_cross_attention:
            raise ValueError("ftcli's ElectraModel is encoder-only: is_decoder/add_cross_attention are not supported")
        if getattr(config, "position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"position_embedding_type={config.position_embedding_type!r} is not supported")
        self.embeddings = BertEmbeddings(config, config.embedding_size)
        if config.embedding_size != config.hidden_size:
            self.embeddings_project = nn.Linear(config.embedding_size, config.hidden_size)
        self.encoder = BertEncoder(config)  # ELECTRA's encoder is BERT's, parameter for parameter
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
    ) -> tuple[torch.Tensor, ...] | BaseModelOutputWithCrossAttentions:
        """`positions_to_keep` (batch,): the last layer runs at those positions only and `last_hidden_state` is
        (batch, 1, hidden) (see ftcli.models.attention)."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        self._check_supported(output_attentions)
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states

        # inputs_embeds, like the word embeddings, are `embedding_size` wide: the projection comes after.
        hidden_states = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        if hasattr(self, "embeddings_project"):
            hidden_states = self.embeddings_project(hidden_states)
        sequence_output, all_hidden_states = run_encoder(
            self.encoder, hidden_states, attention_mask, output_hidden_states, positions_to_keep, self.pack_padding)
        output = BaseModelOutputWithCrossAttentions(last_hidden_state=sequence_output, hidden_states=all_hidden_states)
        return self._finish(output, return_dict)


class ElectraForPreTraining(ElectraPreTrainedModel):
    """The discriminator: was each token replaced by the generator?"""

    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.electra = ElectraModel(config)
        self.discriminator_predictions = ElectraDiscriminatorPredictions(config)
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
    ) -> tuple[torch.Tensor, ...] | ElectraForPreTrainingOutput:
        outputs = self.electra(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.discriminator_predictions(outputs.last_hidden_state)

        loss = _replaced_token_loss(logits, labels, attention_mask) if labels is not None else None
        output = ElectraForPreTrainingOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return self._finish(output, return_dict)


class ElectraForMaskedLM(ElectraPreTrainedModel):
    """The generator: a masked-LM head whose output matrix is the word embeddings."""

    # transformers 5.x: a {target: source} dict, resolved in post_init and applied when config.tie_word_embeddings.
    # The head's bias stays its own.
    _tied_weights_keys = {"generator_lm_head.weight": "electra.embeddings.word_embeddings.weight"}

    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.electra = ElectraModel(config)
        self.generator_predictions = ElectraGeneratorPredictions(config)
        self.generator_lm_head = nn.Linear(config.embedding_size, config.vocab_size)
        self.post_init()

    def get_output_embeddings(self):
        return self.generator_lm_head

    def set_output_embeddings(self, new_embeddings):
        self.generator_lm_head = new_embeddings

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
        outputs = self.electra(
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
        prediction_scores = self.generator_lm_head(self.generator_predictions(sequence_output))

        # Label -100 marks the unmasked tokens, which the loss skips.
        loss = classification_loss(prediction_scores, labels) if labels is not None else None
        output = MaskedLMOutput(loss=loss, logits=prediction_scores, hidden_states=outputs.hidden_states)
        return self._finish(output, return_dict)


class ElectraForSequenceClassification(ElectraPreTrainedModel):
    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.electra = ElectraModel(config)
        self.classifier = ElectraClassificationHead(config)
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
        outputs = self.electra(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            # The head reads [CLS] only.
            positions_to_keep=positions_to_keep(first_positions(input_ids, inputs_embeds), output_hidden_states,
                                                self.config),
        )
        logits = self.classifier(outputs.last_hidden_state)

        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        output = SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return self._finish(output, return_dict)


class ElectraForTokenClassification(ElectraPreTrainedModel):
    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.electra = ElectraModel(config)
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
        outputs = self.electra(
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


class ElectraForQuestionAnswering(ElectraPreTrainedModel):
    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.electra = ElectraModel(config)
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
        outputs = self.electra(
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
    "ElectraForMaskedLM",
    "ElectraForPreTraining",
    "ElectraForPreTrainingOutput",
    "ElectraForQuestionAnswering",
    "ElectraForSequenceClassification",
    "ElectraForTokenClassification",
    "ElectraModel",
    "ElectraPreTrainedModel",
]
