"""Datasets as users keep them: `save_to_disk` folders (a Dataset, or a DatasetDict whose splits the command
picks, `PATH@split` one of them) and Hub datasets `NAME[:CONFIG][@SPLIT]` (load_dataset's arguments; offline,
one line saying so)."""

import json

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from ftcli.data.hub_datasets import HubName, parse_hub_name
from ftcli.data.sources import _looks_like_file, load_single, load_splits, load_train_split
from ftcli.errors import UserError
from tests.conftest import sentiment_rows

LABELS = ClassLabel(names=["negative", "positive"])


def labelled(rows: list[dict]) -> Dataset:
    """Rows with the label as a ClassLabel id, the way Hub datasets keep it."""
    features = Features({"text": Value("string"), "label": LABELS})
    return Dataset.from_dict({"text": [r["text"] for r in rows], "label": [LABELS.str2int(r["label"]) for r in rows]},
                             features=features)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved")
    labelled(sentiment_rows(20)).save_to_disk(root / "one")
    DatasetDict(train=labelled(sentiment_rows(48)), validation=labelled(sentiment_rows(16, seed=2)),
                test=labelled(sentiment_rows(12, seed=3))).save_to_disk(root / "dict")
    DatasetDict(train=labelled(sentiment_rows(10)), validation=labelled(sentiment_rows(6, seed=2))).save_to_disk(
        root / "no-test")
    return root


def test_a_saved_dataset_folder_is_one_dataset(folders):
    rows, where = load_single(str(folders / "one"))
    assert rows.num_rows == 20 and where == str(folders / "one")
    assert rows[0]["label"] in ("negative", "positive")  # class labels read as their names
    splits = load_splits(str(folders / "one"), None, 0.25, 42)  # no split of its own: some rows held out
    assert (splits.train.num_rows, splits.eval.num_rows) == (15, 5) and "held out" in splits.eval_source


def test_a_saved_dataset_dict_gives_the_splits_the_command_asks_for(folders):
    spec = str(folders / "dict")
    splits = load_splits(spec, None, 0.1, 42, validation=spec)
    assert (splits.train.num_rows, splits.eval.num_rows, splits.validation.num_rows) == (48, 12, 16)
    assert splits.eval_source == f"{spec} (test split)" and splits.validation_source == f"{spec} (validation split)"
    assert load_train_split(spec).num_rows == 48
    rows, where = load_single(spec)
    assert rows.num_rows == 12 and where == f"{spec} (test split)"
    # Without a test split, its validation split is the test data (as for a catalogue set).
    no_test = load_splits(str(folders / "no-test"), None, 0.1, 42)
    assert no_test.eval.num_rows == 6 and no_test.eval_source.endswith("(validation split)")


def test_path_at_split_picks_one_split(folders):
    spec = str(folders / "dict")
    rows, where = load_single(f"{spec}@validation")
    assert rows.num_rows == 16 and where == f"{spec}@validation"
    splits = load_splits(f"{spec}@validation", f"{spec}@train", 0.1, 42)
    assert (splits.train.num_rows, splits.eval.num_rows) == (16, 48)
    assert load_train_split(f"{spec}@test").num_rows == 12


@pytest.mark.parametrize("suffix, fragments", [
    ("dict@valid", ["has no 'valid' split", "did you mean 'validation'", "it has train, validation, test"]),
    ("one@train", ["holds one dataset (Dataset.save_to_disk), not named splits", "drop '@train'"]),
])
def test_a_wrong_split_is_one_clear_line(folders, suffix, fragments):
    with pytest.raises(UserError) as error:
        load_single(str(folders / suffix))
    message = str(error.value)
    assert "\n" not in message and all(f in message for f in fragments), message


def test_class_label_lists_become_tag_names(tmp_path):
    tags = ClassLabel(names=["O", "B-LOC"])
    features = Features({"tokens": List(Value("string")), "tags": List(tags), "label": LABELS})
    Dataset.from_dict({"tokens": [["paris", "is"], ["x"]], "tags": [[1, 0], [0]], "label": [1, -1]},
                      features=features).save_to_disk(tmp_path / "ner")
    rows, _ = load_single(str(tmp_path / "ner"))
    assert rows["tags"] == [["B-LOC", "O"], ["O"]]
    assert rows["label"] == ["positive", None]  # a hidden label (-1, as in GLUE's test splits) is missing
    assert not [p for p in (tmp_path / "ner").iterdir() if p.name.startswith("cache-")]  # the folder is left as is


def test_the_cli_takes_folder_at_split(cli, folders, tmp_path):
    # `ftcli data check` reads one dataset; the path check before loading accepts FOLDER@split.
    result = cli("data", "check", f"{folders / 'dict'}@validation", "--task", "classification")
    assert result.exit_code == 0, result.stderr
    missing = cli("data", "check", f"{tmp_path / 'nothing'}@validation", "--task", "classification")
    assert missing.exit_code == 2 and "not found" in missing.stderr


# -- Hub names -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, parsed", [
    ("glue:sst2@train", HubName("glue", "sst2", "train")),
    ("imdb@test", HubName("imdb", None, "test")),
    ("imdb", HubName("imdb")),
    ("nyu-mll/glue:mrpc", HubName("nyu-mll/glue", "mrpc")),
    ("stanfordnlp/imdb@train[:10%]", HubName("stanfordnlp/imdb", None, "train[:10%]")),
    ("bad name!", None),
])
def test_hub_names_parse(spec, parsed):
    assert parse_hub_name(spec) == parsed


@pytest.mark.parametrize("spec", ["glue:sst2@train", "imdb@test", "owner/name:cfg", "c4:en.noblocklist@validation"])
def test_hub_names_are_not_files(spec):
    assert not _looks_like_file(spec)


@pytest.mark.parametrize("spec", ["data/train.csv@train", "./missing:x", "/abs/folder@train"])
def test_paths_stay_paths(spec):
    assert _looks_like_file(spec)


@pytest.fixture
def hub(monkeypatch):
    """datasets.load_dataset replaced: records its arguments, returns a split or a DatasetDict as the Hub would."""
    import datasets

    calls = []

    def load_dataset(path, name=None, split=None, **kwargs):
        calls.append((path, name, split, kwargs))
        whole = DatasetDict(train=labelled(sentiment_rows(30)), test=labelled(sentiment_rows(10, seed=1)))
        return whole[split] if split else whole

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_a_hub_name_becomes_load_dataset_arguments(hub):
    rows, where = load_single("glue:sst2@train")
    assert hub == [("glue", "sst2", "train", {})] and rows.num_rows == 30 and where == "glue:sst2@train"
    assert rows[0]["label"] in ("negative", "positive")
    splits = load_splits("imdb", None, 0.1, 42)  # no split named: its own train and test splits
    assert hub[-1] == ("imdb", None, None, {}) and (splits.train.num_rows, splits.eval.num_rows) == (30, 10)
    assert splits.eval_source == "imdb (test split)"
    splits = load_splits("imdb@train", "imdb@test", 0.1, 42)
    assert [call[2] for call in hub[-2:]] == ["train", "test"] and splits.eval.num_rows == 10


def test_a_name_the_hub_lacks_is_one_line(monkeypatch):
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    def missing(*args, **kwargs):
        raise DatasetNotFoundError("Dataset 'nope/nothing' doesn't exist on the Hub or cannot be accessed.")

    monkeypatch.setattr(datasets, "load_dataset", missing)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    with pytest.raises(UserError, match="the Hub has no dataset 'nope/nothing'"):
        load_single("nope/nothing@test")


def test_offline_a_hub_name_says_so_in_one_line():
    # conftest sets HF_HUB_OFFLINE=1; the real datasets.load_dataset answers at once, from the cache or not at all.
    with pytest.raises(UserError) as error:
        load_single("ftcli-test/not-cached:some-config@test")
    message = str(error.value)
    assert "\n" not in message
    for fragment in ("unknown dataset 'ftcli-test/not-cached:some-config@test'", "offline (HF_HUB_OFFLINE=1)",
                     "the datasets cache has no copy of ftcli-test/not-cached (config some-config, split test)"):
        assert fragment in message, message


# -- end to end ------------------------------------------------------------------------------------------------

def test_finetune_on_a_saved_dataset_dict(cli, tiny_bert, folders, tmp_path):
    spec, out = str(folders / "dict"), tmp_path / "run"
    result = cli("finetune", "classification", "--model", tiny_bert, "--train", spec, "--validation", spec,
                 "--output-dir", out, "--epochs", "2", "--lr", "2e-3", "--batch-size", "8", "--max-length", "16")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["train_rows"], metrics["validation_rows"], metrics["eval_rows"]) == (48, 16, 12)
    assert metrics["selected_on"] == "validation accuracy"
    model_config = json.loads((out / "model" / "config.json").read_text())
    assert model_config["label2id"] == {"negative": 0, "positive": 1}  # the ClassLabel's names
    card = (out / "README.md").read_text()
    assert "- Test: dict (test split), 12 rows" in card  # the card names folders, not their paths
