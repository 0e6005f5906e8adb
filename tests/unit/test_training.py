"""Optimizer groups: no decay on biases/LayerNorm, a separate learning rate for the new head."""

import torch

import ftcli.models.bert as ours
from ftcli.config import OptimConfig
from ftcli.strategies.base import head_parameter_names
from ftcli.training import build_optimizer


def tiny_classifier():
    config = ours.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=37, num_labels=3)
    return ours.BertForSequenceClassification(config)


def test_head_parameters_are_outside_the_body():
    assert head_parameter_names(tiny_classifier()) == {"classifier.weight", "classifier.bias"}


def test_param_groups_split_decay_and_head_lr():
    model = tiny_classifier()
    optimizer = build_optimizer(model, OptimConfig(lr=1e-5, head_lr=1e-3, weight_decay=0.1))
    names = {id(p): n for n, p in model.named_parameters()}
    seen = set()
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            name = names[id(parameter)]
            seen.add(name)
            assert group["lr"] == (1e-3 if name.startswith("classifier.") else 1e-5), name
            no_decay = name.endswith("bias") or "LayerNorm" in name
            assert group["weight_decay"] == (0.0 if no_decay else 0.1), name
    assert seen == set(names.values())


def test_head_lr_defaults_to_lr():
    optimizer = build_optimizer(tiny_classifier(), OptimConfig(lr=2e-5))
    assert {g["lr"] for g in optimizer.param_groups} == {2e-5}


def test_frozen_parameters_are_left_out():
    model = tiny_classifier()
    model.bert.embeddings.requires_grad_(False)
    optimizer = build_optimizer(model, OptimConfig())
    trained = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert all(id(p) not in trained for p in model.bert.embeddings.parameters())
    assert torch.is_tensor(next(iter(optimizer.param_groups))["params"][0])
