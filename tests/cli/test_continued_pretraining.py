"""Continued pre-training as one step: `pretrain mlm` on a labelled set reads its text only (never its test
split), a checkpoint without a masked-LM head gets a new one tied to its embeddings (said in one line), and
the model fine-tuned from the run names the chain in its card."""

import json

from datasets import Dataset, DatasetDict

from ftcli.data.sources import load_splits
from ftcli.objectives import get_objective
from tests.conftest import ner_rows


def labelled_ner_set(root):
    """A saved NER set (words and tags) with a train and a test split, the test rows told apart by their tags."""
    train, test = ner_rows(40), [{**row, "tags": ["TEST"] * len(row["tags"])} for row in ner_rows(7, seed=1)]
    folder = root / "ner-set"
    DatasetDict({"train": Dataset.from_list(train), "test": Dataset.from_list(test)}).save_to_disk(str(folder))
    return folder


def test_pre_training_on_a_labelled_set_holds_out_its_training_text_and_leaves_the_test_split_unread(tmp_path):
    folder = str(labelled_ner_set(tmp_path))
    spared = load_splits(folder, None, 0.1, 42, spare_test_split=True)
    assert spared.train.num_rows + spared.eval.num_rows == 40 and spared.eval.num_rows == 4
    assert "TEST" not in {tag for tags in spared.eval["tags"] for tag in tags}
    assert spared.eval_source == f"10% of {folder} (train split) held out (seed 42)"
    assert load_splits(folder, None, 0.1, 42).eval.num_rows == 7  # fine-tuning scores the test split
    assert load_splits(folder, folder + "@test", 0.1, 42, spare_test_split=True).eval.num_rows == 7  # asked for
    mlm = get_objective("mlm")
    assert mlm.spares_test_split("rt-sentiment") and mlm.spares_test_split("wnut16") and mlm.spares_test_split(folder)
    assert not mlm.spares_test_split("english-text") and not mlm.spares_test_split("rt-reviews")


def test_words_of_a_tagged_sentence_are_its_text():
    rows = Dataset.from_list([{"tokens": ["alice", "smith", "was", "in", "paris"]}, {"tokens": []},
                              {"tokens": [" rome "]}])
    mlm = get_objective("mlm")
    mlm.validate(rows, {"text": "tokens"}, None, "the rows")
    assert mlm.documents(rows, {"text": "tokens"}) == ["alice smith was in paris", "rome"]


def test_continued_pre_training_then_fine_tuning_names_the_chain(cli, tmp_path, tiny_bert, sentiment_csv,
                                                                 sentiment_eval_csv):
    folder = labelled_ner_set(tmp_path)
    pre = tmp_path / "tapt"
    result = cli("pretrain", "mlm", "--model", tiny_bert, "--train", folder, "--column", "text=tokens",
                 "--max-length", "16", "--epochs", "1", "--output-dir", pre)
    assert result.exit_code == 0, result.stderr
    said = " ".join((result.stdout + result.stderr).split())
    assert f"head: {tiny_bert} has no mlm head; a new one is trained (its output layer tied to the word embeddings" in said
    assert "(train split) held out (seed 42)" in said
    assert json.loads((pre / "metrics.json").read_text())["eval_rows"] == 4  # 10% of the 40 training rows
    out = tmp_path / "ft"
    result = cli("finetune", "classification", "--model", pre / "model", "--train", sentiment_csv,
                 "--test", sentiment_eval_csv, "--epochs", "1", "--max-length", "16", "--output-dir", out)
    assert result.exit_code == 0, result.stderr
    card = (out / "README.md").read_text()
    lineage = card[card.index("## Lineage"):].split("\n\n")[1].splitlines()
    assert lineage == [f"1. `{tiny_bert.name}`", "2. mlm pre-training on `ner-set`, 1 epoch (run `tapt`)",
                       "3. classification fine-tuning (full) on `train.csv`, 1 epoch: this run"]
