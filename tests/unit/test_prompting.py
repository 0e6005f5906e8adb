"""In-context learning on tiny random models: demonstrations never include the evaluated row,
the shared-prefix cache scores exactly like scoring from scratch, and the answer parsers survive
malformed generations."""

import random

import pytest
import torch

from ftcli.prompting.demos import draw, exclude_evaluated
from ftcli.prompting.parsers import entities_to_tags, parse_answer, parse_entities, tags_to_entities
from ftcli.prompting.rank import (RankRequest, common_prefix_length, leading_special_tokens, rank_scores,
                                  rank_scores_from_scratch)
from tests.unit.test_generation import one_thread, tiny_causal_lm, tiny_tokenizer  # noqa: F401 (one_thread is autouse)


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = tiny_causal_lm(tmp_path_factory.mktemp("llama"))
    return AutoModelForCausalLM.from_pretrained(directory).eval(), AutoTokenizer.from_pretrained(directory)


@pytest.fixture(scope="module")
def gpt2():
    """ftcli's own GPT-2 (random, hidden 32, 2 layers) with the tiny word-level tokenizer."""
    from ftcli.models.gpt2 import GPT2Config, GPT2LMHeadModel

    tokenizer = tiny_tokenizer("bos", pad=False)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=4, n_positions=128,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    return GPT2LMHeadModel(config).eval(), tokenizer


@pytest.mark.parametrize("architecture", ["llama", "gpt2"])
@pytest.mark.parametrize("candidates", [["red", "blue"], ["red cat", "blue", "one two three"],
                                        ["red cat", "red dog"]],
                         ids=["single-token", "multi-token", "same-first-token"])
def test_shared_prefix_cache_scores_like_scoring_from_scratch(request, architecture, candidates):
    model, tokenizer = request.getfixturevalue(architecture)
    prefix = "say red cat : red cat\n\nsay blue dog : blue dog\n\n"
    requests = [RankRequest(prefix, "say sun :"), RankRequest(prefix, "say one two moon :"),
                RankRequest(prefix, "say a :"), RankRequest("", "say green :"),  # a group with no prefix
                RankRequest("go ", "say sun :"), RankRequest("go ", "say sun :")]  # identical queries
    cached = rank_scores(model, tokenizer, requests, candidates, batch_size=2)
    fresh = rank_scores_from_scratch(model, tokenizer, requests, candidates)
    assert torch.allclose(torch.tensor(cached), torch.tensor(fresh), atol=1e-4)


def test_the_prefix_runs_once_per_group(llama, monkeypatch):
    model, tokenizer = llama
    lengths = []
    original = model.forward

    def counting(*args, **kwargs):
        lengths.append(kwargs["input_ids"].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "forward", counting)
    prefix = "say red : red\n\nsay blue : blue\n\n"
    rank_scores(model, tokenizer, [RankRequest(prefix, f"say {w} :") for w in ("sun", "moon", "cat", "dog")],
                ["red", "blue"], batch_size=2)
    # One pass over the prefix (batch 1, its full length plus the "say" every query starts with),
    # then two batches of two short queries, each without the shared "say".
    prefix_length = len(leading_special_tokens(tokenizer)) + len(tokenizer(prefix, add_special_tokens=False)["input_ids"])
    say = len(tokenizer("say", add_special_tokens=False)["input_ids"])
    assert lengths[0] == (1, prefix_length + say)
    query_lengths = sorted(len(tokenizer(f"say {w} :", add_special_tokens=False)["input_ids"]) - say
                           for w in ("sun", "moon", "cat", "dog"))
    assert [shape[0] for shape in lengths[1:]] == [2, 2]
    assert [shape[1] for shape in lengths[1:]] == [max(query_lengths[:2]), max(query_lengths[2:])]


def test_tokens_all_queries_start_with_join_the_prefix():
    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]]) == 2
    assert common_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2  # each query keeps its last token
    assert common_prefix_length([[7], [7, 8]]) == 0
    assert common_prefix_length([[1, 2], [3, 4]]) == 0


def test_demos_never_include_the_evaluated_row():
    pool = [{"text": f"t{i}", "label": i % 2} for i in range(20)]
    evaluated = pool[:5]
    key = lambda row: row["text"]  # noqa: E731
    kept = exclude_evaluated(pool, evaluated, key)
    assert not {r["text"] for r in kept} & {r["text"] for r in evaluated}
    for i in range(50):  # re-drawn per query, the query's own row never comes back
        demos = draw(pool, 4, random.Random(i), exclude=key(pool[7]), key=key)
        assert pool[7] not in demos and len(demos) == 4


def test_balanced_demos_take_turns_over_labels():
    pool = [{"text": f"t{i}", "label": "a" if i < 18 else "b"} for i in range(20)]
    demos = draw(pool, 4, random.Random(0), label_of=lambda r: r["label"], balanced=True)
    assert sorted(d["label"] for d in demos) == ["a", "a", "b", "b"]
    assert draw(pool, 4, random.Random(0)) == draw(pool, 4, random.Random(0))  # seeded


@pytest.mark.parametrize("text", ["", "\n\n", "none", "???", "Paris", "— LOC", "Paris — ", "x" * 500,
                                  "Paris — PLANET", "1. — —", "(LOC)"])
def test_ner_parser_survives_malformed_generations(text):
    tokens = ["alice", "went", "to", "paris"]
    tags = entities_to_tags(tokens, parse_entities(text, {"LOC", "PER"}))
    assert len(tags) == 4 and all(t == "O" or t[2:] in {"LOC", "PER"} for t in tags)


def test_ner_parser_reads_entity_lines():
    tokens = ["alice", "met", "Bob", "Smith", "in", "New", "York"]
    text = "Alice — PER\n- bob smith: per\nNew York (LOC)\nMars — LOC\ngarbage line"
    assert entities_to_tags(tokens, parse_entities(text, {"PER", "LOC"})) == \
        ["B-PER", "O", "B-PER", "I-PER", "O", "B-LOC", "I-LOC"]
    assert tags_to_entities(tokens, ["B-PER", "O", "B-PER", "I-PER", "O", "B-LOC", "I-LOC"]) == \
        [("alice", "PER"), ("Bob Smith", "PER"), ("New York", "LOC")]


@pytest.mark.parametrize("text,expected", [("Paris.\nmore", "Paris"), ('"the Seine"', "the Seine"),
                                           ("Unknown", ""), ("", ""), ("\n\n  \n", ""), ("x" * 30, "x" * 30)])
def test_qa_parser(text, expected):
    assert parse_answer(text, "unknown") == expected
