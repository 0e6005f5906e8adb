"""`rtd`: ELECTRA's replaced-token detection. A small generator (a masked LM a fraction of the
discriminator's width, sharing its embeddings) fills the masked positions with sampled tokens; the
discriminator learns, at every token, whether it was replaced. Loss = generator MLM loss +
`pretrain.discriminator_weight` (50) x discriminator loss. The discriminator is the run's model."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ftcli.errors import UserError
from ftcli.models.outputs import enable_sparse_prediction
from ftcli.objectives.base import ObjectiveOutput
from ftcli.objectives.masking import chosen_logits, masked_accuracy, masked_lm_loss, masked_metrics
from ftcli.objectives.mlm import MaskedLm, MaskedLmModule
from ftcli.tasks.base import IGNORE


def build_generator(discriminator, size: float):
    """An ELECTRA masked LM `size` times the discriminator's width (heads and feed-forward scaled
    alike), depth and embedding size unchanged, its embeddings those of the discriminator."""
    from ftcli.models.electra import ElectraConfig, ElectraForMaskedLM

    config = discriminator.config.to_dict()
    heads = max(1, round(config["num_attention_heads"] * size))
    head_dim = config["hidden_size"] // config["num_attention_heads"]
    config.update(hidden_size=heads * head_dim, num_attention_heads=heads,
                  intermediate_size=max(1, round(config["intermediate_size"] * size)),
                  architectures=["ElectraForMaskedLM"])
    generator = ElectraForMaskedLM(ElectraConfig(**config))
    generator.electra.embeddings = discriminator.electra.embeddings  # shared token, position and segment embeddings
    generator.generator_lm_head.weight = discriminator.electra.embeddings.word_embeddings.weight
    return generator


class ReplacedTokenDetection(MaskedLm):
    name = "rtd"
    auto_model_class = "AutoModelForPreTraining"

    def check_model(self, model_config, model_name: str) -> None:
        if model_config.model_type != "electra":
            raise UserError(f"rtd trains an ELECTRA discriminator; {model_name} is a {model_config.model_type} model "
                            "(pass an ELECTRA checkpoint, or --config electra for a fresh one)")

    def training_module(self, model, config):
        return ReplacedTokenModule(model, self, build_generator(model, self.settings.generator_size))

    def compute_metrics(self, gathered, data):
        from sklearn.metrics import roc_auc_score

        labels, probs = gathered["rtd_label"].ravel(), gathered["rtd_probability"].ravel()
        real = labels != IGNORE
        labels, probs = labels[real], probs[real]
        metrics = {**masked_metrics(gathered),
                   "rtd_accuracy": float(((probs > 0.5) == (labels == 1)).mean()) if len(labels) else 0.0,
                   "replaced_share": float(labels.mean()) if len(labels) else 0.0}
        if len(set(labels.tolist())) == 2:
            metrics["rtd_auc"] = float(roc_auc_score(labels, probs))
        return metrics


class ReplacedTokenModule(MaskedLmModule):
    def __init__(self, model, objective, generator):
        super().__init__(model, objective)
        self.generator_model = generator
        self.generator_sparse = enable_sparse_prediction(generator)

    def forward(self, **batch):
        input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
        rng = self.rng(input_ids)  # one stream for the masks and the sampled replacements
        masked, labels = self.mask(batch, rng)
        inputs = {k: v for k, v in batch.items() if k in ("attention_mask", "token_type_ids")}
        generator_logits = self.generator_model(input_ids=masked, **inputs,
                                                **({"labels": labels} if self.generator_sparse else {})).logits
        generator_loss = masked_lm_loss(generator_logits, labels)

        chosen = labels != IGNORE
        with torch.no_grad():  # the discriminator's loss does not reach the generator (ELECTRA samples)
            probabilities = chosen_logits(generator_logits, labels).float().softmax(-1)
            sampled = torch.multinomial(probabilities, 1, generator=rng).squeeze(-1) if chosen.any() else None
        corrupted = input_ids.clone()
        if sampled is not None:
            corrupted[chosen] = sampled
        real = attention_mask.bool()
        replaced = (corrupted != input_ids).float()
        logits = self.model(input_ids=corrupted, **inputs).logits
        discriminator_loss = F.binary_cross_entropy_with_logits(logits[real].float(), replaced[real])

        weight = self.objective.settings.discriminator_weight
        return ObjectiveOutput(
            loss=generator_loss + weight * discriminator_loss,
            loss_parts={"generator": generator_loss.detach(), "discriminator": discriminator_loss.detach()},
            metrics={**masked_accuracy(generator_logits, labels),
                     "rtd_probability": torch.sigmoid(logits.float()).masked_fill(~real, IGNORE),
                     "rtd_label": replaced.long().masked_fill(~real, IGNORE)},
        )
