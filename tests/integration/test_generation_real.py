"""Generation on real assets: the hamlet and dialogue catalogue splits, e2e-nlg read from a copy
of BIG-bench (made here), and SmolLM2's perplexity on a few held-out Hamlet rows."""

import math

import pytest

from ftcli import assets

pytestmark = pytest.mark.integration


def test_hamlet_split_is_fixed_and_disjoint():
    hamlet = assets.DATASETS["hamlet"].splits()
    assert hamlet["train"].column_names == ["text"] and hamlet["test"].num_rows == 36
    assert 300 < hamlet["train"].num_rows < 400
    assert all(text.strip() for text in hamlet["train"]["text"])
    assert "Who's there?" in "".join(list(hamlet["train"]["text"]) + list(hamlet["test"]["text"]))
    assert not set(hamlet["test"]["text"]) & set(hamlet["train"]["text"])
    again = assets.DATASETS["hamlet"].splits()
    assert list(again["test"]["text"]) == list(hamlet["test"]["text"]), "the split must be fixed"


def test_dialogue_holds_out_whole_prompts():
    dialogue = assets.DATASETS["dialogue"].splits()
    assert dialogue["train"].column_names == ["prompt", "completion"]
    assert (dialogue["train"].num_rows, dialogue["test"].num_rows) == (1069, 107)
    assert len(set(dialogue["test"]["prompt"])) == 100
    pairs = [tuple(row.values()) for split in dialogue.values() for row in split]
    assert len(pairs) == len(set(pairs)), "a repeated exchange is kept once"
    assert {"prompt": "What is AI?", "completion": "Artificial Intelligence is the branch of engineering and science "
            "devoted to constructing machines that think."} in list(dialogue["train"]) + list(dialogue["test"])
    assert not set(dialogue["test"]["prompt"]) & set(dialogue["train"]["prompt"]), "no test prompt may be trained on"
    again = assets.DATASETS["dialogue"].splits()
    assert list(again["test"]["completion"]) == list(dialogue["test"]["completion"]), "the split must be fixed"


def test_e2e_nlg_holds_out_whole_meaning_representations(bigbench_copy):
    """From a copy of BIG-bench's gem/e2e_nlg (synthetic examples in its format): 30 meaning
    representations with 3 references each; the loader's 40 held-out ones are capped at half of them,
    here 15, each with all its references."""
    examples = [{"input": f"name[Place {m}], eatType[pub], area[riverside]", "target": f"Place {m} is a pub, take {r}."}
                for m in range(30) for r in range(3)]
    examples.append({"input": " ", "target": "an example without input is dropped"})
    bigbench_copy({"gem/e2e_nlg": examples})
    e2e = assets.DATASETS["e2e-nlg"].splits()
    assert e2e["train"].column_names == ["source", "target"]
    assert (e2e["train"].num_rows, e2e["test"].num_rows) == (45, 45)
    assert len(set(e2e["test"]["source"])) == 15
    assert not set(e2e["test"]["source"]) & set(e2e["train"]["source"]), "no test input may be trained on"
    assert list(assets.DATASETS["e2e-nlg"].splits()["test"]["target"]) == list(e2e["test"]["target"]), \
        "the split must be fixed"


def test_smollm2_perplexity_on_hamlet():
    from ftcli.inference import evaluate_dataset, load_trained

    if not assets.MODELS["smollm2"].installed():
        pytest.fail("the smollm2 asset is not installed: run `make install`")
    loaded = load_trained(assets.resolve_model("smollm2"), "generation", max_length=64)
    assert loaded.task.auto_class_for(loaded.model.config) == "AutoModelForCausalLM"
    rows = assets.DATASETS["hamlet"].splits()["test"].select(range(8))
    metrics = evaluate_dataset(loaded, rows, "hamlet", batch_size=8)
    # A pretrained LM is far better than chance (the vocabulary has 49,152 tokens) on English verse.
    assert math.isfinite(metrics["perplexity"]) and 1 < metrics["perplexity"] < 1000
    assert "rougeL" not in metrics  # plain text: nothing to generate from
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]), rel=0.1)
