"""Sparse prediction: the masked-LM heads of ftcli's encoders, given labels, run at the labelled positions
only; their logits, loss and gradients are those of the full head at those positions; the pre-training
objectives score the same either way."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

import ftcli.models.albert as albert  # noqa: E402
import ftcli.models.bert as bert  # noqa: E402
import ftcli.models.distilbert as distilbert  # noqa: E402
import ftcli.models.electra as electra  # noqa: E402
from ftcli.config import PretrainConfig  # noqa: E402
from ftcli.models.outputs import enable_sparse_prediction  # noqa: E402
from ftcli.objectives.masking import masked_accuracy, masked_lm_loss  # noqa: E402
from ftcli.tasks.base import IGNORE  # noqa: E402

LAYERS = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
              max_position_embeddings=64)
MODELS = {
    "bert-mlm": lambda: bert.BertForMaskedLM(bert.BertConfig(**LAYERS)),
    "bert-pretraining": lambda: bert.BertForPreTraining(bert.BertConfig(**LAYERS)),
    "albert-mlm": lambda: albert.AlbertForMaskedLM(albert.AlbertConfig(**LAYERS, embedding_size=16)),
    "albert-pretraining": lambda: albert.AlbertForPreTraining(albert.AlbertConfig(**LAYERS, embedding_size=16)),
    "electra-generator": lambda: electra.ElectraForMaskedLM(electra.ElectraConfig(**LAYERS, embedding_size=16)),
    "distilbert-mlm": lambda: distilbert.DistilBertForMaskedLM(distilbert.DistilBertConfig(
        vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64)),
}


def batch(rows=3, length=12):
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, 99, (rows, length), generator=generator)
    attention_mask = torch.ones(rows, length, dtype=torch.long)
    attention_mask[0, -4:] = 0  # padding: packed, and never labelled
    labels = torch.full((rows, length), IGNORE)
    for row, positions in enumerate(([1, 3], [0, 5, 11], [2])):
        labels[row, positions] = input_ids[row, positions]
    return input_ids, attention_mask, labels


def logits_of(out):
    return out.logits if hasattr(out, "logits") else out.prediction_logits


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sparse_logits_and_gradients_are_the_full_heads_at_the_labelled_positions(name):
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    input_ids, attention_mask, labels = batch()
    full = logits_of(model(input_ids=input_ids, attention_mask=attention_mask))
    assert full.shape[:2] == labels.shape
    full_loss = masked_lm_loss(full, labels)
    full_loss.backward()
    full_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()

    assert enable_sparse_prediction(model)
    sparse = logits_of(model(input_ids=input_ids, attention_mask=attention_mask, labels=labels))
    chosen = labels != IGNORE
    assert sparse.shape == (int(chosen.sum()), 99)
    torch.testing.assert_close(sparse, full[chosen], atol=1e-5, rtol=1e-5)
    sparse_loss = masked_lm_loss(sparse, labels)
    torch.testing.assert_close(sparse_loss, full_loss)
    sparse_loss.backward()
    for parameter_name, parameter in model.named_parameters():
        if parameter_name in full_grads:
            torch.testing.assert_close(parameter.grad, full_grads[parameter_name], atol=1e-6, rtol=1e-4)
    for key, value in masked_accuracy(sparse, labels).items():
        assert torch.equal(value, masked_accuracy(full, labels)[key]), key


def test_without_labels_a_sparse_model_still_predicts_every_position():
    model = MODELS["bert-mlm"]().eval()
    enable_sparse_prediction(model)
    input_ids, attention_mask, _ = batch()
    assert model(input_ids=input_ids, attention_mask=attention_mask).logits.shape == (3, 12, 99)


def test_the_mlm_objective_scores_the_same_sparse_or_not():
    from ftcli.objectives.mlm import MaskedLmModule

    class Settings:
        settings = PretrainConfig()
        mask_token_id = 4

    model = MODELS["bert-mlm"]().eval()
    input_ids, attention_mask, _ = batch(rows=8, length=24)
    features = {"input_ids": input_ids, "attention_mask": attention_mask,
                "special_tokens_mask": torch.zeros_like(input_ids)}
    module = MaskedLmModule(model, Settings()).eval()
    assert module.sparse
    sparse = module(**features)
    module.sparse = False
    enable_sparse_prediction(model, False)
    full = module(**features)
    torch.testing.assert_close(sparse.loss, full.loss)
    for key in ("masked_right", "masked_total"):
        assert torch.equal(sparse.metrics[key], full.metrics[key])
