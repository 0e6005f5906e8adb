"""In-context classification you can trust: calibration flips a prediction that only the label
prior made (hand-computed on a tiny model whose bias is set by hand), demonstrations are
class-balanced and never the query, and the standard errors match their formulas."""

import json
import math
import random
from types import SimpleNamespace

import pytest
import torch

from ftcli.prompting import stats
from ftcli.prompting.calibration import answer_cue, calibrate, contextual_prior
from ftcli.prompting.demos import draw, most_similar
from ftcli.prompting.formats import format_for
from ftcli.prompting.rows import choose_demonstrations, row_key
from tests.conftest import write_jsonl
from tests.unit.test_generation import one_thread, tiny_causal_lm  # noqa: F401 (one_thread is autouse)

SQRT_HIDDEN = math.sqrt(32)


def biased_lm(directory):
    """A tiny Llama whose next-token logits depend on the last token only, set by hand: layers
    add nothing (output projections zeroed), so the last position's hidden state is RMSNorm of
    that token's embedding. With embeddings on unit axes, the logit of label word w after token t
    is LOGITS[t][w]."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tiny_causal_lm(directory)
    model, tokenizer = AutoModelForCausalLM.from_pretrained(directory), AutoTokenizer.from_pretrained(directory)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.embed_tokens.weight.zero_()
        model.lm_head.weight.zero_()
        for axis, token in enumerate(LOGITS):
            model.model.embed_tokens.weight[tokenizer.convert_tokens_to_ids(token), axis] = 1.0
            for word, logit in LOGITS[token].items():  # RMSNorm scales a unit axis to sqrt(hidden)
                model.lm_head.weight[tokenizer.convert_tokens_to_ids(word), axis] = logit / SQRT_HIDDEN
    model.save_pretrained(directory)
    return directory


# "N/A" and "[MASK]" are unknown words to the tiny tokenizer: content-free inputs end in <unk>.
LOGITS = {"<unk>": {"red": 2.0, "blue": 0.0}, "cat": {"red": 1.0, "blue": 0.5}, "dog": {"red": 0.0, "blue": 3.0}}


def test_contextual_calibration_flips_a_prediction_the_prior_made(cli, tmp_path):
    model = biased_lm(tmp_path / "model")
    data = write_jsonl(tmp_path / "rows.jsonl", [{"text": "cat", "label": "red"}, {"text": "dog", "label": "blue"}])
    results = {}
    for method in ("none", "contextual"):
        out = tmp_path / f"{method}.json"
        result = cli("prompt", "classification", "--model", model, "--data", data, "--set", "prompt.query={text}",
                     "--set", "prompt.chat_template=false", "--set", "prompt.label_words={}",
                     "--set", f"prompt.calibrate={method}", "--output", out)
        assert result.exit_code == 0, result.stderr
        results[method] = json.loads(out.read_text())
    # By hand: the content-free prior is softmax(2, 0) = (0.881, 0.119) for (red, blue). "cat"
    # scores (1, 0.5): red raw (0.622), but 0.622 / 0.881 < 0.378 / 0.119, so blue calibrated.
    prior_red = 1 / (1 + math.exp(-2))
    assert [e["prediction"] for e in results["none"]["examples"]] == ["red", "blue"]
    assert [e["prediction"] for e in results["contextual"]["examples"]] == ["blue", "blue"]
    calibration = results["contextual"]["calibration"]
    assert calibration["method"] == "contextual"
    assert calibration["prior"] == pytest.approx({"blue": 1 - prior_red, "red": prior_red}, abs=1e-4)
    cat = results["contextual"]["examples"][0]["calibrated"]
    p_red = 1 / (1 + math.exp(-0.5))
    assert cat["red"] == pytest.approx(math.log(p_red / prior_red), abs=1e-4)
    assert cat["blue"] == pytest.approx(math.log((1 - p_red) / (1 - prior_red)), abs=1e-4)
    # The output says how the prompt was built.
    recorded = results["contextual"]
    assert recorded["shots"] == 0 and recorded["demo_seed"] == 42 and recorded["template"]["query"] == "{text}"
    assert recorded["distributions"] == {"predicted": {"blue": 2}, "gold": {"red": 1, "blue": 1}}
    assert results["none"]["metrics"]["accuracy"] == 1.0 and results["contextual"]["metrics"]["accuracy"] == 0.5


def test_calibration_formulas():
    prior = contextual_prior([[math.log(0.8), math.log(0.2)], [math.log(0.6), math.log(0.4)]])
    assert prior == pytest.approx([0.7, 0.3])
    calibrated = calibrate([math.log(0.6), math.log(0.4)], "contextual", prior)
    assert calibrated == pytest.approx([math.log(0.6 / 0.7), math.log(0.4 / 0.3)])
    # pmi: the log-likelihood after the input minus the one after the answer cue alone
    assert calibrate([-1.0, -3.0], "pmi", [-0.5, -4.0]) == pytest.approx([-0.5, 1.0])
    assert calibrate([-1.0, -3.0], "none", None) == [-1.0, -3.0]
    assert answer_cue("Review: {text}\nSentiment:") == "Sentiment:"
    assert answer_cue("Evidence: {premise}\nClaim: {hypothesis}\nAnswer:") == "Answer:"


def pool_of(counts: dict[str, int]) -> list[dict]:
    return [{"text": f"{label} review number {i}", "label": label} for label, n in counts.items() for i in range(n)]


def settings(**changes):
    base = dict(select="random", balanced=True, resample=False, order="shuffled")
    return SimpleNamespace(**{**base, **changes})


@pytest.mark.parametrize("select", ["random", "similar"])
def test_balanced_demonstrations_show_every_label(select):
    pool = pool_of({"positive": 50, "negative": 3, "neutral": 2})  # skewed: a random draw would miss labels
    rows = [{"text": f"positive review number {i}", "label": "positive"} for i in range(60, 70)]
    for demos in choose_demonstrations(pool, rows, 4, settings(select=select), seed=1):
        assert {d["label"] for d in demos} == {"positive", "negative", "neutral"} and len(demos) == 4


@pytest.mark.parametrize("chooser", ["resample", "similar"])
def test_no_demonstration_equals_its_query(chooser):
    pool = pool_of({"a": 20, "b": 20})
    rows = pool[:10]  # the evaluated rows are in the pool too: they must not show their own answer
    chosen = choose_demonstrations(pool, rows, 6, settings(select="similar" if chooser == "similar" else "random",
                                                           resample=chooser == "resample"), seed=0)
    for row, demos in zip(rows, chosen):
        assert row_key(row) not in {row_key(d) for d in demos} and len(demos) == 6


def test_similar_demonstrations_are_the_nearest_and_nearest_last():
    pool = [{"text": "the cat sat on the mat", "label": "a"}, {"text": "stock markets fell sharply", "label": "b"},
            {"text": "a cat and a mat", "label": "a"}, {"text": "markets rose", "label": "b"}]
    [demos] = most_similar(pool, [{"text": "cat on a mat", "label": "a"}], 2, lambda r: r["text"], row_key)
    assert [d["text"] for d in demos] == ["a cat and a mat", "the cat sat on the mat"]


def test_order_is_shuffled_per_query_with_the_seed():
    pool = pool_of({"a": 10, "b": 10})
    rows = [{"text": f"query {i}", "label": "a"} for i in range(30)]
    first = choose_demonstrations(pool, rows, 4, settings(), seed=3)
    assert first == choose_demonstrations(pool, rows, 4, settings(), seed=3)
    assert len({tuple(d["text"] for d in demos) for demos in first}) > 1  # not one order for all
    assert all(sorted(map(row_key, demos)) == sorted(map(row_key, first[0])) for demos in first)  # same set
    fixed = choose_demonstrations(pool, rows, 4, settings(order="fixed"), seed=3)
    assert all(demos == fixed[0] for demos in fixed)


def test_draw_gives_at_least_one_per_label_when_shots_cover_them():
    pool = pool_of({"x": 30, "y": 2, "z": 1})
    for seed in range(20):
        demos = draw(pool, 3, random.Random(seed), label_of=lambda r: r["label"], balanced=True)
        assert sorted(d["label"] for d in demos) == ["x", "y", "z"]


def test_standard_errors_and_baselines_match_hand_computation():
    assert stats.binomial_stderr(0.75, 300) == pytest.approx(math.sqrt(0.75 * 0.25 / 300))  # 0.025
    rows = [{"label": label} for label in ["pos", "pos", "pos", "neg"]]
    metrics = format_for("classification").metrics(["pos", "pos", "neg", "neg"], rows, None)
    assert metrics["accuracy"] == 0.75 and metrics["accuracy_stderr"] == pytest.approx(math.sqrt(0.1875 / 4))
    assert metrics["majority_accuracy"] == 0.75
    # uniform guessing over 2 labels: recall 1/2; precision = the label's share (3/4, 1/4)
    assert metrics["random_f1"] == pytest.approx((2 * 0.75 * 0.5 / 1.25 + 2 * 0.25 * 0.5 / 0.75) / 2)
    assert 0 < metrics["f1_stderr"] < 0.5
    assert stats.macro_f1(torch.tensor([0, 0, 1]).numpy(), torch.tensor([0, 1, 1]).numpy(), 3) == pytest.approx(
        (2 / 3 + 2 / 3 + 0) / 3)


def test_label_words_that_encode_alike_are_refused(cli, tmp_path):
    model = tiny_causal_lm(tmp_path / "model")
    data = write_jsonl(tmp_path / "rows.jsonl", [{"text": "cat", "label": "red"}, {"text": "dog", "label": "blue"}])
    result = cli("prompt", "classification", "--model", model, "--data", data, "--set", "prompt.query={text}",
                 "--set", "prompt.label_words={red: sun, blue: sun}")
    assert result.exit_code == 2 and "encode to the same tokens" in result.stderr


def test_auto_calibration_is_contextual_only_with_demonstrations():
    from ftcli.prompting.calibration import resolve_method

    assert resolve_method("auto", 0) == "none" and resolve_method("auto", 4) == "contextual"
    assert resolve_method("pmi", 0) == "pmi" and resolve_method("none", 4) == "none"
