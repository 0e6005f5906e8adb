"""Distillation losses, layer mapping, attention maps rebuilt from hooks, and the every-other-layer
student, on tiny random models."""

import math
import os
import re

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from torch import nn  # noqa: E402

import ftcli.models.bert as bert  # noqa: E402
import ftcli.models.distilbert as distilbert  # noqa: E402
from ftcli.config import DistillConfig  # noqa: E402
from ftcli.distillation import (  # noqa: E402
    AttentionRecorder,
    Distillation,
    FrozenTeacher,
    attention_mse,
    every_other_layer,
    layer_mapping,
    soft_target_loss,
)
from ftcli.errors import UserError  # noqa: E402

LABELS = {"id2label": {0: "negative", 1: "positive"}, "label2id": {"negative": 0, "positive": 1}}


def tiny_bert(hidden=32, layers=4, heads=4, cls=bert.BertForSequenceClassification, seed=0, **extra):
    torch.manual_seed(seed)
    config = bert.BertConfig(vocab_size=40, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                             intermediate_size=2 * hidden, max_position_embeddings=32, hidden_dropout_prob=0.0,
                             attention_probs_dropout_prob=0.0, **LABELS, **extra)
    model = cls(config)
    with torch.no_grad():  # default init leaves LayerNorms at 1/0: perturb so every path matters
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def batch(rows=3, length=8, token_labels=False):
    torch.manual_seed(1)
    ids = torch.randint(5, 40, (rows, length))
    mask = torch.ones(rows, length, dtype=torch.long)
    mask[1, -3:] = 0
    mask[2, -1:] = 0
    labels = torch.randint(0, 2, (rows, length)) if token_labels else torch.tensor([0, 1, 1][:rows])
    if token_labels:
        labels = labels.masked_fill(mask == 0, -100)
        labels[:, 0] = -100
    return {"input_ids": ids.masked_fill(mask == 0, 0), "attention_mask": mask, "labels": labels}


# -- the soft-target loss ---------------------------------------------------------------------


def test_kl_term_equals_a_hand_computation():
    student, teacher, t = [1.0, 2.0, 0.0], [0.5, 1.5, -1.0], 2.0

    def softmax(xs):
        exps = [math.exp(x / t) for x in xs]
        return [e / sum(exps) for e in exps]

    p_s, p_t = softmax(student), softmax(teacher)
    kl = sum(pt * math.log(pt / ps) for pt, ps in zip(p_t, p_s))
    loss = soft_target_loss(torch.tensor([student]), torch.tensor([teacher]), t)
    assert loss.item() == pytest.approx(t * t * kl, rel=1e-4)  # float32 arithmetic
    # The mean over rows: a second, identical row changes nothing.
    assert soft_target_loss(torch.tensor([student] * 2), torch.tensor([teacher] * 2), t).item() == pytest.approx(
        loss.item(), rel=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_t_squared_scaling(temperature):
    torch.manual_seed(0)
    s, t = torch.randn(5, 3), torch.randn(5, 3)
    kl = F.kl_div(F.log_softmax(s / temperature, -1), F.log_softmax(t / temperature, -1), log_target=True,
                  reduction="batchmean")
    assert soft_target_loss(s, t, temperature).item() == pytest.approx(temperature ** 2 * kl.item(), rel=1e-5)
    assert soft_target_loss(t, t, temperature).item() == pytest.approx(0.0, abs=1e-6)


def test_token_level_kl_counts_only_labelled_tokens():
    torch.manual_seed(0)
    s, t = torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    mask = torch.tensor([[True, False, True, False], [False, False, True, False]])
    expected = soft_target_loss(s[mask], t[mask], 2.0)
    assert soft_target_loss(s, t, 2.0, mask).item() == pytest.approx(expected.item(), rel=1e-6)
    changed = t.clone()
    changed[~mask] = 100.0  # unlabelled positions (sub-tokens, padding) do not matter
    assert soft_target_loss(s, changed, 2.0, mask).item() == pytest.approx(expected.item(), rel=1e-6)


# -- the training module ----------------------------------------------------------------------


def wrap(student, teacher, **settings):
    return Distillation(student, FrozenTeacher(teacher), DistillConfig(teacher="t", **settings), token_level=False)


def test_alpha_zero_is_the_hard_label_loss():
    student, teacher = tiny_bert(layers=2, seed=1), tiny_bert()
    inputs = batch()
    expected = student(**inputs).loss
    module = wrap(student, teacher, alpha=0.0).train()
    out = module(**inputs)
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert set(out.loss_parts) == {"hard"}


def test_loss_combines_soft_and_hard_parts():
    student, teacher = tiny_bert(layers=2, seed=1), tiny_bert()
    inputs = batch()
    module = wrap(student, teacher, alpha=0.3, temperature=3.0).train()
    out = module(**inputs)
    plain = {k: v for k, v in inputs.items() if k != "labels"}
    soft = soft_target_loss(student(**plain).logits, teacher(**plain).logits, 3.0)
    hard = student(**inputs).loss
    assert out.loss_parts["soft"].item() == pytest.approx(soft.item(), rel=1e-5)
    assert out.loss.item() == pytest.approx(0.3 * soft.item() + 0.7 * hard.item(), rel=1e-5)


def test_eval_mode_returns_the_plain_student_output():
    student, teacher = tiny_bert(layers=2, seed=1), tiny_bert()
    module = wrap(student, teacher, method="tinybert").eval()
    inputs = batch()
    out = module(**inputs)
    assert torch.equal(out.logits, student(**inputs).logits)
    assert getattr(out, "loss_parts", None) is None


def test_teacher_is_frozen_and_not_part_of_the_module():
    student, teacher = tiny_bert(layers=2, seed=1), tiny_bert()
    module = wrap(student, teacher, method="tinybert").train()
    assert not any(name.startswith("teacher") for name, _ in module.named_parameters())
    assert all(not p.requires_grad for p in module.teacher.parameters())
    assert not module.teacher.training
    module(**batch()).loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert student.classifier.weight.grad is not None


def test_tinybert_projection_when_widths_differ():
    student, teacher = tiny_bert(hidden=16, layers=2, heads=2, seed=1), tiny_bert(hidden=32, layers=4)
    module = wrap(student, teacher, method="tinybert").train()
    assert isinstance(module.projection, nn.Linear)
    assert module.projection.weight.shape == (32, 16)
    assert module.mapping == [0, 2, 4]
    out = module(**batch())
    assert set(out.loss_parts) == {"hard", "soft", "hidden", "attention"}
    out.loss.backward()
    assert module.projection.weight.grad is not None and module.projection.weight.grad.abs().sum() > 0
    same = wrap(tiny_bert(layers=2, seed=1), teacher, method="tinybert")
    assert isinstance(same.projection, nn.Identity)
    assert not list(same.projection.parameters())
    assert not list(wrap(student, teacher).projection.parameters())  # soft-targets: no projection


def test_student_equal_to_teacher_has_no_distillation_loss():
    teacher = tiny_bert(layers=2)
    student = tiny_bert(layers=2)  # same seed: same weights
    out = wrap(student, teacher, method="tinybert", cosine_weight=1.0).train()(**batch())
    for part in ("soft", "hidden", "attention", "cosine"):
        assert out.loss_parts[part].item() == pytest.approx(0.0, abs=1e-6), part


def test_token_classification_uses_the_label_mask():
    student = tiny_bert(layers=2, seed=1, cls=bert.BertForTokenClassification)
    teacher = tiny_bert(cls=bert.BertForTokenClassification)
    inputs = batch(token_labels=True)
    module = Distillation(student, FrozenTeacher(teacher), DistillConfig(teacher="t", alpha=1.0), token_level=True)
    out = module.train()(**inputs)
    plain = {k: v for k, v in inputs.items() if k != "labels"}
    mask = inputs["labels"] != -100
    expected = soft_target_loss(student(**plain).logits, teacher(**plain).logits, 2.0, mask)
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)


# -- layer mapping and attention maps ---------------------------------------------------------


def test_layer_mapping_includes_the_embeddings():
    assert layer_mapping(3, 6) == [0, 2, 4, 6]
    assert layer_mapping(2, 4) == [0, 2, 4]
    assert layer_mapping(4, 6) == [0, 1, 3, 4, 6]
    assert layer_mapping(2, 2) == [0, 1, 2]


ARCHITECTURES = {  # tiny configs, 3 layers, 4 heads
    "bert": dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64),
    "electra": dict(embedding_size=16, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                    intermediate_size=64),
    "albert": dict(embedding_size=16, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                   intermediate_size=64),
    "distilbert": dict(dim=32, n_layers=3, n_heads=4, hidden_dim=64),
}


@pytest.mark.parametrize("model_type", sorted(ARCHITECTURES))
def test_attention_maps_from_hooks_equal_eager_attention(model_type):
    """The probabilities rebuilt from the query/key hooks equal transformers' eager attention, layer
    by layer (ALBERT: one shared layer applied three times)."""
    from ftcli.models.registry import architectures

    architecture = architectures()[model_type]
    torch.manual_seed(0)
    config = architecture.config_class(vocab_size=40, max_position_embeddings=32, **ARCHITECTURES[model_type],
                                       **LABELS)
    ours = architecture.auto_classes["AutoModelForSequenceClassification"](config).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.add_(0.05 * torch.randn_like(p))
    values = {k: v for k, v in config.to_dict().items() if k not in ("architectures", "transformers_version")}
    ref_config = transformers.AutoConfig.for_model(**values)
    ref_config._attn_implementation = "eager"
    ref = getattr(transformers, type(ours).__name__)(ref_config).eval()
    ref.load_state_dict(ours.state_dict(), strict=False)
    recorder = AttentionRecorder(ours, num_heads=4, num_layers=3)
    inputs = {k: v for k, v in batch().items() if k != "labels"}
    with torch.no_grad(), recorder.recording():
        ours(**inputs, output_hidden_states=True)
        maps = recorder.maps([0, 1, 2], inputs["attention_mask"].bool())
        expected = ref(**inputs, output_attentions=True).attentions
    assert len(expected) == 3
    for mine, theirs in zip(maps, expected):
        assert mine.shape == theirs.shape
        assert (mine - theirs).abs().max().item() < 1e-5


def test_attention_mse_ignores_padding_and_averages_heads_when_counts_differ():
    a = torch.rand(1, 2, 3, 3)
    b = a.clone()
    b[..., 2] = 5.0  # the padded key
    b[:, :, 2, :] = 5.0  # the padded query
    mask = torch.tensor([[True, True, False]])
    assert attention_mse(a, b, mask).item() == pytest.approx(0.0, abs=1e-7)
    four_heads = a.repeat(1, 2, 1, 1)  # averaging 4 heads = averaging the same 2 twice
    assert attention_mse(a, four_heads, None).item() == pytest.approx(0.0, abs=1e-7)


# -- the every-other-layer student ------------------------------------------------------------


def test_every_other_layer_copies_layers_0_2_4_embeddings_and_head():
    teacher = tiny_bert(layers=5)
    student = every_other_layer(teacher)
    assert student.config.num_hidden_layers == 3 and len(student.bert.encoder.layer) == 3
    assert teacher.config.num_hidden_layers == 5
    source = teacher.state_dict()
    kept = {"0": "0", "1": "2", "2": "4"}
    for name, tensor in student.state_dict().items():
        origin = re.sub(r"encoder\.layer\.(\d+)\.", lambda m: f"encoder.layer.{kept[m.group(1)]}.", name)
        assert torch.equal(tensor, source[origin]), name
    assert torch.equal(student.bert.encoder.layer[1].output.dense.weight,
                       teacher.bert.encoder.layer[2].output.dense.weight)
    assert torch.equal(student.classifier.weight, teacher.classifier.weight)
    assert torch.equal(student.bert.embeddings.word_embeddings.weight, teacher.bert.embeddings.word_embeddings.weight)
    assert student.config.id2label == teacher.config.id2label


def test_every_other_layer_for_distilbert_uses_n_layers():
    torch.manual_seed(0)
    config = distilbert.DistilBertConfig(vocab_size=40, dim=32, n_layers=4, n_heads=4, hidden_dim=64,
                                         max_position_embeddings=32, **LABELS)
    teacher = distilbert.DistilBertForSequenceClassification(config)
    student = every_other_layer(teacher)
    assert student.config.n_layers == 2
    assert torch.equal(student.distilbert.transformer.layer[1].attention.q_lin.weight,
                       teacher.distilbert.transformer.layer[2].attention.q_lin.weight)
    assert torch.equal(student.classifier.weight, teacher.classifier.weight)


def test_every_other_layer_needs_two_layers():
    with pytest.raises(UserError, match="at least 2"):
        every_other_layer(tiny_bert(layers=1))


def test_teacher_outputs_reordered_to_the_data_label_order():
    from ftcli.distillation import reorder_outputs

    teacher = tiny_bert(layers=2)
    inputs = {k: v for k, v in batch().items() if k != "labels"}
    before = teacher.eval()(**inputs).logits
    reorder_outputs(teacher, [1, 0], "teacher")
    assert torch.equal(teacher(**inputs).logits, before[:, [1, 0]])


def test_tinybert_refuses_models_without_separate_query_key_projections():
    import ftcli.models.gpt2 as gpt2
    from ftcli.distillation import check_attention_support

    check_attention_support(tiny_bert(layers=2), "student", "bert")  # BERT-family: fine
    model = gpt2.GPT2ForSequenceClassification(gpt2.GPT2Config(vocab_size=40, n_embd=32, n_layer=2, n_head=4,
                                                               n_positions=32, **LABELS))
    with pytest.raises(UserError, match="--method soft-targets"):
        check_attention_support(model, "teacher", "tiny-gpt2")


def test_transfer_rows_add_no_hard_loss():
    """The hard-label loss covers the labelled rows only: a transfer row's placeholder label changes nothing,
    and the soft-target loss reads the cached logits."""
    import torch

    from ftcli.config import DistillConfig
    from ftcli.distillation.module import Distillation
    import ftcli.models.bert as ours

    torch.manual_seed(0)
    config = ours.BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=8, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                             num_labels=2, problem_type="single_label_classification")
    student = ours.BertForSequenceClassification(config)
    module = Distillation(student, teacher=student, settings=DistillConfig(alpha=0.5), token_level=False).train()
    inputs, cached = torch.randint(0, 20, (4, 5)), torch.randn(4, 2)
    batch = lambda labels: {"input_ids": inputs, "labels": torch.tensor(labels),  # noqa: E731
                            "labelled": torch.tensor([1, 1, 0, 0]), "teacher_logits": cached}
    first, second = module(**batch([0, 1, 0, 0])), module(**batch([0, 1, 1, 1]))
    assert torch.allclose(first.loss, second.loss)
    logits = student(input_ids=inputs).logits
    hard = torch.nn.functional.cross_entropy(logits[:2], torch.tensor([0, 1]))
    assert torch.allclose(first.loss_parts["hard"], hard)
    assert not torch.allclose(module(**batch([1, 0, 0, 0])).loss, first.loss)  # a labelled row's label counts
    sharper = module(**{**batch([0, 1, 0, 0]), "teacher_logits": cached * 3})
    assert not torch.allclose(sharper.loss_parts["soft"], first.loss_parts["soft"])  # the soft targets are cached
