"""Classification problem types (single-label, multi-label, regression): inferring the type, reading the labels,
the metrics against hand computations, thresholds chosen on validation only, class weights in the loss, and
ftcli's own models computing the loss by `config.problem_type` as transformers' do."""

import importlib
import importlib.util
import math
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ftcli.config import RunConfig, TaskOptions
from ftcli.data.labels import (MULTI, REGRESSION, SINGLE, class_weights, infer_label_set, infer_problem_type,
                               label_set, regression_targets)
from ftcli.errors import UserError
from ftcli.metrics import METRICS_DIR, load_metric
from ftcli.metrics.thresholds import best_threshold, best_thresholds
from ftcli.models.heads import sequence_classification_loss
from ftcli.tasks import get_task
from ftcli.tasks.base import EvalData

# -- which problem type ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "expected"), [
    ([["a", "b"], [], ["c"]], MULTI),
    ([["a"], "b", ["a", "c"], None], MULTI),  # most are lists; a plain name is a one-label set
    ([0.25, 1.5, 3.0, -2.75], REGRESSION),
    ([1.5, 2.5, 3, None], REGRESSION),  # empty labels do not count
    ([1, 2, 3, 2], SINGLE),
    (["pos", "neg"], SINGLE),
    ([0, 1, 0.5, 1, 0, 1], SINGLE),  # one fraction among class ids stays a problem to report
    ([["a"], "b", "c", "d"], SINGLE),  # one list among names too
])
def test_problem_type_inferred_from_the_labels(values, expected):
    assert infer_problem_type(values)[0] == expected


def test_single_label_names_joined_by_the_separator_get_a_hint():
    problem_type, why = infer_problem_type(["drama|comedy", "drama"], "|")
    assert problem_type == SINGLE and "multi_label_classification" in why and "'drama|comedy'" in why


def test_label_sets_read_lists_and_joined_strings():
    assert label_set(["b", "a", "b"]) == ["b", "a"]
    assert label_set(" drama | comedy|", "|") == ["drama", "comedy"]
    assert label_set("a,b", ",") == ["a", "b"]
    assert label_set([3, 1]) == ["3", "1"] and label_set(2) == ["2"]
    assert label_set(None) == [] and label_set(float("nan")) == [] and label_set("") == [] and label_set([]) == []
    assert label_set([0.5]) is None and label_set([["a"]]) is None and label_set([None]) is None
    assert infer_label_set([[10, 2], [1]], "|") == ["1", "2", "10"]  # numerically, as strings
    with pytest.raises(UserError, match=r"row 2 has a 'label' that is not a label set"):
        infer_label_set([["a"], [{"x": 1}]], "|")


def test_regression_targets_are_numbers():
    assert regression_targets([1, "2.5", 3.25], "train.jsonl") == [1.0, 2.5, 3.25]
    with pytest.raises(UserError, match=r"train.jsonl: row 2 has a non-numeric 'label'"):
        regression_targets([1.5, "high", 2.5], "train.jsonl")
    with pytest.raises(UserError, match=r"rows 1, 3 have an empty 'label'"):
        regression_targets([None, 1.5, float("nan")], "train.jsonl")


# -- metrics against hand computations --------------------------------------------------------------------


def test_multilabel_metric_by_hand():
    truth = [[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]]
    predicted = [[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 0, 0]]
    got = load_metric("multilabel").compute(predictions=predicted, references=truth)
    # Per label (tp, fp, fn): label 0 (2, 0, 0), label 1 (1, 0, 1), label 2 (0, 1, 1).
    # micro: tp 3, fp 1, fn 2 -> 2*3 / (2*3 + 1 + 2) = 6/9; macro: mean(1, 2/3, 0) = 5/9.
    assert got["f1_micro"] == pytest.approx(6 / 9)
    assert got["f1_macro"] == pytest.approx(5 / 9)
    assert got["subset_accuracy"] == pytest.approx(2 / 4)  # rows 2 and 4 are exactly right


def _regression_module():
    path = METRICS_DIR / "regression" / "regression.py"
    spec = importlib.util.spec_from_file_location("ftcli_regression_metric_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_regression_metric_by_hand():
    predictions, references = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0]
    got = load_metric("regression").compute(predictions=predictions, references=references)
    # Deviations from the mean 2.5: (-1.5, -0.5, 0.5, 1.5) and (-1.5, 0.5, -0.5, 1.5): sum of products 4,
    # sums of squares 5 and 5 -> r = 4/5. The ranks are the values themselves, so Spearman is 0.8 too.
    assert got["pearson"] == pytest.approx(0.8)
    assert got["spearman"] == pytest.approx(0.8)
    assert got["rmse"] == pytest.approx(math.sqrt((0 + 1 + 1 + 0) / 4))
    # Tied references share their mean rank: ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4) -> r = 4.5 / sqrt(4.5 * 5).
    tied = load_metric("regression").compute(predictions=[1.0, 2.0, 3.0, 4.0], references=[0.0, 7.0, 7.0, 9.0])
    assert tied["spearman"] == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    constant = load_metric("regression").compute(predictions=[2.0, 2.0, 2.0], references=[1.0, 2.0, 3.0])
    assert constant["pearson"] == 0.0 and constant["spearman"] == 0.0  # undefined: reported as 0


def test_regression_metric_without_scipy_matches_scipy(monkeypatch):
    module = _regression_module()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=40), rng.normal(size=40)
    y[::5] = y[1]  # ties
    with_scipy = (module.pearson(x, y), module.spearman(x, y))
    monkeypatch.setitem(sys.modules, "scipy.stats", None)  # `from scipy.stats import ...` now raises ImportError
    assert (module.pearson(x, y), module.spearman(x, y)) == pytest.approx(with_scipy, abs=1e-12)


# -- thresholds -------------------------------------------------------------------------------------------


def test_best_threshold_sits_between_the_scores_it_separates():
    scores = np.array([0.9, 0.8, 0.8, 0.3])
    truth = np.array([1, 0, 1, 0])
    # Cuts: top 1 (F1 2/3), top 3 (tp 2 of 3 predicted, 2 positives: 4/5), all 4 (4/6): the best cut lies
    # between 0.8 and 0.3.
    assert best_threshold(scores, truth) == pytest.approx(0.55)
    assert best_threshold(scores, np.zeros(4)) == 0.5  # no positive row: nothing to choose on
    assert best_thresholds(np.stack([scores, scores], 1), np.stack([truth, truth], 1)).tolist() == \
        pytest.approx([0.55, 0.55])


def multi_label_task(thresholds=None):
    task = get_task("classification", TaskOptions(problem_type=MULTI))
    task.thresholds = thresholds
    return task


def logit(p):
    return np.log(p / (1 - p))


def test_thresholds_are_chosen_on_the_validation_split_only():
    labels = ["a", "b"]
    # Validation: label a's positives score 0.35 and 0.4, its negatives 0.1 and 0.2 -> threshold 0.275 (F1 1);
    # label b is separated at 0.5 already (0.7, 0.9 against 0.2, 0.3) -> the candidate nearest 0.5, i.e. 0.5.
    validation = {"logits": logit(np.array([[0.35, 0.7], [0.4, 0.9], [0.1, 0.2], [0.2, 0.3]])),
                  "labels": np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])}
    # Test: label a's best threshold there would be 0.65 (positives 0.7, 0.8; negatives 0.3, 0.6); at the
    # validation threshold 0.275 all four rows are predicted a.
    test = {"logits": logit(np.array([[0.7, 0.8], [0.8, 0.2], [0.3, 0.1], [0.6, 0.9]])),
            "labels": np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])}
    task = multi_label_task()
    chosen = task.compute_metrics(validation, EvalData(None, None, {}, labels, split="validation"))
    assert chosen["threshold_a"] == pytest.approx(0.275) and chosen["threshold_b"] == pytest.approx(0.5)
    assert chosen["f1_micro"] == 1.0
    # Before the kept epoch's thresholds are handed over, other splits use 0.5, never their own best.
    untuned = task.compute_metrics(test, EvalData(None, None, {}, labels, split="test"))
    model = SimpleNamespace(config=SimpleNamespace(id2label={0: "a", 1: "b"}))
    task.on_kept_model(model, chosen)
    assert model.config.ftcli_thresholds == pytest.approx({"a": 0.275, "b": 0.5})
    scored = task.compute_metrics(test, EvalData(None, None, {}, labels, split="test"))
    assert "threshold_a" not in scored
    # At (0.275, 0.5): a predicted on all 4 rows (tp 2, fp 2); b on rows 1 and 4 (tp 2) -> micro 2*4 / (2*4 + 2).
    assert scored["f1_micro"] == pytest.approx(8 / 10)
    # At 0.5 for both: a on rows 1, 2, 4 (tp 2, fp 1); b on rows 1, 4 -> 2*4 / (2*4 + 1).
    assert untuned["f1_micro"] == pytest.approx(8 / 9)
    records = task.format_predictions(test, EvalData(None, None, {}, labels))
    assert [r["label"] for r in records] == [["a", "b"], ["a"], ["a"], ["a", "b"]]
    assert records[1]["scores"] == pytest.approx({"a": 0.8, "b": 0.2})


def test_no_validation_split_keeps_one_half():
    task = multi_label_task()
    model = SimpleNamespace(config=SimpleNamespace(id2label={0: "a", 1: "b"}))
    task.on_kept_model(model, {})
    assert model.config.ftcli_thresholds == {"a": 0.5, "b": 0.5}


def test_a_saved_model_brings_its_thresholds_and_problem_type():
    task = get_task("classification")
    config = SimpleNamespace(problem_type=MULTI, num_labels=2, ftcli_thresholds={"a": 0.3}, model_type="bert")
    task.bind(config)
    assert task.problem_type == MULTI and task.best_metric == "f1_micro"
    assert task.threshold_array(["a", "b"]).tolist() == [0.3, 0.5]
    regression = get_task("classification").bind(SimpleNamespace(problem_type=None, num_labels=1, model_type="bert"))
    assert regression.problem_type == REGRESSION and regression.best_metric == "pearson"
    assert get_task("classification").best_metric == "accuracy"


# -- class weights ----------------------------------------------------------------------------------------


def test_class_weights_resolved():
    assert class_weights("none", SINGLE, ["a", "b"], ["a", "b"]) is None
    # balanced single-label: n / (labels x count) = 4 / (2 x 3) and 4 / (2 x 1)
    assert class_weights("balanced", SINGLE, ["a", "b"], ["a", "a", "a", "b"]) == pytest.approx([2 / 3, 2])
    # balanced multi-label: rows without / rows with; a label on every row keeps 1
    sets = [["a", "c"], ["c"], ["b", "c"], ["c"]]
    assert class_weights("balanced", MULTI, ["a", "b", "c"], sets) == pytest.approx([3, 3, 1])
    assert class_weights({"b": 2.5}, MULTI, ["a", "b", "c"], sets) == [1.0, 2.5, 1.0]
    with pytest.raises(UserError, match=r"not in the training data: 'z' \(labels: a, b\)"):
        class_weights({"z": 2.0}, SINGLE, ["a", "b"], ["a", "b"])
    with pytest.raises(UserError, match="regression run has none"):
        class_weights("balanced", REGRESSION, ["label"], [1.0, 2.0])
    with pytest.raises(UserError, match="greater than 0"):
        class_weights({"a": 0.0}, SINGLE, ["a", "b"], ["a", "b"])


def test_weighted_cross_entropy_by_hand():
    logits = torch.tensor([[2.0, 0.5], [0.1, 1.0], [0.3, -0.2]])
    labels = torch.tensor([0, 1, 1])
    config = SimpleNamespace(problem_type=SINGLE, ftcli_class_weights=[1.0, 3.0])
    log_p = torch.log_softmax(logits, -1)
    nll = -log_p[torch.arange(3), labels]  # each row's loss
    expected = (1.0 * nll[0] + 3.0 * nll[1] + 3.0 * nll[2]) / (1.0 + 3.0 + 3.0)  # a weighted mean
    assert sequence_classification_loss(logits, labels, config).item() == pytest.approx(expected.item(), rel=1e-6)
    unweighted = sequence_classification_loss(logits, labels, SimpleNamespace(problem_type=SINGLE))
    assert unweighted.item() == pytest.approx(nll.mean().item(), rel=1e-6)


def test_bce_pos_weight_by_hand():
    logits = torch.tensor([[1.0, -0.5], [0.2, 0.7]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    config = SimpleNamespace(problem_type=MULTI, ftcli_class_weights=[2.0, 4.0])
    p = torch.sigmoid(logits)
    # -(pos_weight * y * log p + (1 - y) * log(1 - p)), averaged over the 4 decisions
    terms = [-2.0 * math.log(p[0, 0]), -math.log(1 - p[0, 1]), -math.log(1 - p[1, 0]), -4.0 * math.log(p[1, 1])]
    assert sequence_classification_loss(logits, labels, config).item() == pytest.approx(sum(terms) / 4, rel=1e-6)
    plain = F.binary_cross_entropy_with_logits(logits, labels).item()
    assert sequence_classification_loss(logits, labels, SimpleNamespace(problem_type=MULTI)).item() == plain


def test_class_weights_reach_the_loss_of_our_model(tmp_path):
    """`train.class_weights` -> the task's model kwargs -> the loaded config -> the model's loss."""
    import ftcli.models.bert as ours
    from ftcli.models.loading import load_model

    ours.BertModel(ours.BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=32)).save_pretrained(tmp_path)
    config = RunConfig()
    config.train.class_weights = {"b": 3.0}
    task = get_task("classification", TaskOptions(), config)
    from datasets import Dataset

    labels = task.label_list(Dataset.from_dict({"text": ["x", "y", "z"], "label": ["a", "b", "b"]}),
                             {"text": "text", "label": "label"})
    model = load_model(str(tmp_path), "AutoModelForSequenceClassification", **task.model_kwargs(labels)).eval()
    assert model.config.problem_type == SINGLE and model.config.ftcli_class_weights == [1.0, 3.0]
    inputs = {"input_ids": torch.tensor([[2, 5, 7], [2, 9, 4], [2, 3, 3]]), "labels": torch.tensor([0, 1, 1])}
    with torch.no_grad():
        out = model(**inputs)
    nll = -torch.log_softmax(out.logits, -1)[torch.arange(3), inputs["labels"]]
    assert out.loss.item() == pytest.approx(((nll[0] + 3 * nll[1] + 3 * nll[2]) / 7).item(), rel=1e-5)


def test_class_weights_need_our_own_model_class():
    config = RunConfig()
    config.train.class_weights = "balanced"
    task = get_task("classification", TaskOptions(), config)
    task.weights = [1.0, 2.0]
    with pytest.raises(UserError, match="needs one of ftcli's own architectures.*roberta"):
        task.bind(SimpleNamespace(problem_type=None, num_labels=2, model_type="roberta"))


def test_feature_extraction_refuses_other_problem_types():
    from datasets import Dataset

    config = RunConfig(strategy="feature-extraction")
    task = get_task("classification", config.options, config)
    with pytest.raises(UserError, match="feature-extraction trains single-label heads.*regression"):
        task.label_list(Dataset.from_dict({"text": ["x", "y"], "label": [0.5, 1.5]}), {"text": "text", "label": "label"})


# -- ftcli's own models: the loss by config.problem_type, as transformers computes it ---------------------------

ARCHITECTURES = {"bert": "Bert", "albert": "Albert", "electra": "Electra", "distilbert": "DistilBert",
                 "gpt2": "GPT2", "bart": "Bart"}


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
@pytest.mark.parametrize(("problem_type", "num_labels", "labels"), [
    (REGRESSION, 1, torch.tensor([0.5, -1.0, 2.0])),
    (MULTI, 3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])),
    (SINGLE, 3, torch.tensor([0, 2, 1])),
])
def test_our_models_compute_the_loss_by_problem_type(arch, problem_type, num_labels, labels):
    equivalence = importlib.import_module(f"tests.unit.test_{arch}_equivalence")
    extra = {"pad_token_id": 0} if arch == "gpt2" else {}
    ref, model = equivalence.make_pair(f"{ARCHITECTURES[arch]}ForSequenceClassification", num_labels=num_labels,
                                       problem_type=problem_type, **extra)
    inputs = equivalence.make_inputs()
    with torch.no_grad():
        expected, got = ref(**inputs, labels=labels), model(**inputs, labels=labels)
    assert (got.logits - expected.logits).abs().max().item() <= 1e-5
    assert got.loss.item() == pytest.approx(expected.loss.item(), abs=1e-5)
    assert model.config.problem_type == ref.config.problem_type == problem_type


def test_class_weights_settings_round_trip_through_config_yaml():
    """A mapping is a value here, not a section: recipes and a run's config.yaml (resume, evaluate) read it back."""
    from ftcli.config import apply_mapping, build_config

    config = build_config(sets=["train.class_weights={pos: 2, 3: 0.5}", "options.problem_type=regression"])
    assert config.train.class_weights == {"pos": 2.0, "3": 0.5} and config.options.problem_type == REGRESSION
    again = RunConfig()
    apply_mapping(again, config.to_dict())
    assert again.train.class_weights == {"pos": 2.0, "3": 0.5}
    assert build_config(sets=["train.class_weights=balanced"]).train.class_weights == "balanced"
    with pytest.raises(UserError, match="train.class_weights must be one of none, balanced"):
        build_config(sets=["train.class_weights=balancd"])
