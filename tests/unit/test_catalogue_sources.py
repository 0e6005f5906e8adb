"""Where each catalogue set comes from: an installed package, a copy of the BIG-bench sdist (gone
from PyPI) named by FTCLI_BIGBENCH_SDIST, or the canonical Hub dataset when online; without any,
one line that says what is missing."""

import json

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Image, Value

from ftcli import assets
from ftcli.errors import UserError
from tests.conftest import write_jsonl

BIGBENCH_ALIASES = sorted(alias for alias, asset in assets.DATASETS.items() if asset.bigbench_tasks)


@pytest.fixture
def no_copy(monkeypatch, tmp_path):
    """No BIG-bench copy and an empty cache: a fresh machine."""
    monkeypatch.delenv("FTCLI_BIGBENCH_SDIST", raising=False)
    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "empty-cache"))


@pytest.fixture
def online(monkeypatch):
    """The Hub counts as reachable; `load_dataset` is replaced by each test, so nothing is fetched."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)


def test_the_lost_sets_are_the_bigbench_ones():
    assert BIGBENCH_ALIASES == ["cifar10", "disfl-qa", "e2e-nlg", "english-text-large", "movie-dialog", "multiemo",
                                "review-sentences", "vitaminc"]


def test_every_other_set_installs_with_make_install():
    """`make install` installs every package the catalogue names: a fresh machine loads these."""
    others = {alias: asset.availability() for alias, asset in assets.DATASETS.items() if not asset.bigbench_tasks}
    assert others == {alias: "yes" for alias in others}


@pytest.mark.parametrize("alias", BIGBENCH_ALIASES)
def test_offline_without_a_copy_each_lost_set_refuses_in_one_line(no_copy, alias):
    asset = assets.DATASETS[alias]
    assert not asset.installed()
    assert asset.availability() == "no: needs FTCLI_BIGBENCH_SDIST" + (" or the Hub" if asset.hub else "")
    with pytest.raises(UserError) as raised:
        asset.splits()
    message = str(raised.value)
    assert "\n" not in message and f"dataset '{alias}'" in message and "FTCLI_BIGBENCH_SDIST" in message
    assert (asset.hub is not None) == ("Hub copy" in message)


def test_a_run_on_a_lost_set_exits_2_and_writes_nothing(no_copy, cli, tmp_path):
    result = cli("finetune", "nli", "--train", "vitaminc", "--output-dir", tmp_path / "run")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "tals/vitaminc" in errors[0] and "FTCLI_BIGBENCH_SDIST" in errors[0]
    assert not (tmp_path / "run").exists()


def test_models_ls_says_what_loads_here(no_copy, cli):
    listed = cli("models", "ls")
    assert listed.exit_code == 0 and "loads here" in listed.stdout
    rows = {line.split("│")[1].strip(): line for line in listed.stdout.splitlines()
            if line.count("│") > 3 and line.split("│")[1].strip() in assets.DATASETS}
    assert "yes" in rows["rt-sentiment"] and "yes" in rows["drug-reviews"]
    assert "no: needs" in rows["vitaminc"] and "no: needs" in rows["movie-dialog"]


def test_a_copy_is_read_once_then_served_from_the_cache(bigbench_copy, monkeypatch):
    sdist = bigbench_copy({"vitaminc_fact_verification": [
        {"input": f"Evidence {i}.\nClaim: claim {i}", "target_scores": {"True": int(i % 3 == 0), "False": int(i % 3 == 1),
                                                                     "Neither": int(i % 3 == 2)}} for i in range(30)]
        + [{"input": "no claim marker", "target_scores": {"True": 1}}]})
    vitaminc = assets.DATASETS["vitaminc"].splits()
    assert vitaminc["train"].column_names == ["premise", "hypothesis", "label"]
    assert vitaminc["train"].num_rows + vitaminc["test"].num_rows == 30
    row = next(r for split in vitaminc.values() for r in split if r["premise"] == "Evidence 4.")
    assert row == {"premise": "Evidence 4.", "hypothesis": "claim 4", "label": "False"}
    sdist.unlink()
    monkeypatch.delenv("FTCLI_BIGBENCH_SDIST")
    assert assets.DATASETS["vitaminc"].installed()
    assert assets.DATASETS["vitaminc"].splits()["test"]["premise"] == vitaminc["test"]["premise"]


def test_an_unpacked_copy_is_a_folder(tmp_path, monkeypatch):
    task = tmp_path / "BIG-bench" / "bigbench" / "benchmark_tasks" / "multiemo" / "all_sentence_en"
    task.mkdir(parents=True)
    examples = [{"input": f"Review {i} ", "target_scores": {"positive": int(i % 2 == 0), "negative": int(i % 2)}}
                for i in range(10)]
    examples += [{"input": "Review 0", "target_scores": {"positive": 0, "negative": 1}}]  # disagrees: dropped
    (task / "task.json").write_text(json.dumps({"examples": examples}))
    monkeypatch.setenv("FTCLI_BIGBENCH_SDIST", str(tmp_path / "BIG-bench"))
    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
    multiemo = assets.DATASETS["multiemo"].splits()
    texts = list(multiemo["train"]["text"]) + list(multiemo["test"]["text"])
    assert sorted(texts) == [f"Review {i}" for i in range(1, 10)]


@pytest.mark.parametrize("value, says", [("missing.tar.gz", "does not exist"), ("not-a-tarball.tar.gz", "readable")])
def test_a_bad_copy_is_named(tmp_path, monkeypatch, value, says):
    (tmp_path / "not-a-tarball.tar.gz").write_text("hello")
    monkeypatch.setenv("FTCLI_BIGBENCH_SDIST", str(tmp_path / value))
    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError, match=says):
        assets.DATASETS["vitaminc"].splits()


# -- the Hub copies, as their dataset cards lay them out -------------------------------------


def _fake_hub(monkeypatch, expected_repo: str, splits: dict[str, Dataset]) -> list:
    import datasets

    calls = []

    def load_dataset(repo, config=None, **kwargs):
        calls.append((repo, config, kwargs))
        assert repo == expected_repo and not kwargs.get("trust_remote_code")
        return DatasetDict(splits)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_vitaminc_from_the_hub_renames_its_labels(no_copy, online, monkeypatch):
    def split(n):
        return Dataset.from_list([{"unique_id": str(i), "claim": f"claim {i}", "evidence": f"evidence {i}",
                                   "label": ["SUPPORTS", "REFUTES", "NOT ENOUGH INFO"][i % 3]} for i in range(n)])

    calls = _fake_hub(monkeypatch, "tals/vitaminc", {"train": split(6), "validation": split(3), "test": split(3)})
    assert assets.DATASETS["vitaminc"].availability() == "from the Hub (tals/vitaminc)"
    vitaminc = assets.DATASETS["vitaminc"].splits()
    assert len(calls) == 1 and (vitaminc["train"].num_rows, vitaminc["test"].num_rows) == (6, 3)
    assert vitaminc["test"][2] == {"premise": "evidence 2", "hypothesis": "claim 2", "label": "Neither"}
    assert set(vitaminc["train"]["label"]) == {"True", "False", "Neither"}


def test_disfl_qa_from_the_hub_takes_the_disfluent_question(no_copy, online, monkeypatch):
    rows = [{"squad_v2_id": "a1", "original question": "Who ruled?", "disfluent question": "Who ruled no who reigned?",
             "title": "T", "context": "The king ruled.", "answers": {"text": ["The king"], "answer_start": [0]}},
            {"squad_v2_id": "a2", "original question": "When?", "disfluent question": " ", "title": "T",
             "context": "The king ruled.", "answers": {"text": [], "answer_start": []}}]
    _fake_hub(monkeypatch, "google-research-datasets/disfl_qa",
              {"train": Dataset.from_list(rows), "test": Dataset.from_list(rows[:1])})
    disfl_qa = assets.DATASETS["disfl-qa"].splits()
    assert disfl_qa["train"].num_rows == 1  # the row without a question is dropped
    assert disfl_qa["test"][0] == {"id": "a1", "question": "Who ruled no who reigned?", "context": "The king ruled.",
                                   "answers": {"text": ["The king"], "answer_start": [0]}}


def test_e2e_and_cifar10_from_the_hub(no_copy, online, monkeypatch):
    from PIL import Image as PILImage

    from ftcli.data.images import load_image

    mr = {"gem_id": "e2e-1", "meaning_representation": "name[The Eagle], food[French]",
          "target": "The Eagle serves French food.", "references": ["The Eagle serves French food."]}
    _fake_hub(monkeypatch, "GEM/e2e_nlg", {"train": Dataset.from_list([mr]), "test": Dataset.from_list([mr])})
    e2e = assets.DATASETS["e2e-nlg"].splits()
    assert e2e["test"][0] == {"source": "name[The Eagle], food[French]", "target": "The Eagle serves French food."}

    features = Features({"img": Image(), "label": ClassLabel(names=["airplane", "automobile", "bird", "cat", "deer",
                                                                    "dog", "frog", "horse", "ship", "truck"])})
    photo = PILImage.new("RGB", (32, 32), (200, 10, 10))
    split = Dataset.from_dict({"img": [photo, photo], "label": [3, 9]}, features=features)
    _fake_hub(monkeypatch, "uoft-cs/cifar10", {"train": split, "test": split})
    cifar10 = assets.DATASETS["cifar10"].splits()
    assert list(cifar10["test"]["label"]) == ["cat", "truck"] and cifar10["test"].column_names == ["image", "label"]
    assert load_image(cifar10["test"][0]["image"]).getpixel((5, 5)) == (200, 10, 10)


def test_a_hub_copy_that_fails_to_load_is_one_line(no_copy, online, monkeypatch):
    import datasets

    def unreachable(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'tals/vitaminc' on the Hub (LocalEntryNotFoundError)\nmore detail")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(UserError) as raised:
        assets.DATASETS["vitaminc"].splits()
    assert "\n" not in str(raised.value) and "Hub copy tals/vitaminc did not load (ConnectionError" in str(raised.value)


def test_sets_without_a_hub_copy_never_reach_for_it(no_copy, online, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("no Hub copy is mapped"))
    with pytest.raises(UserError, match="FTCLI_BIGBENCH_SDIST"):
        assets.DATASETS["movie-dialog"].splits()


# -- the sets that replace them on a fresh machine --------------------------------------------


@pytest.mark.integration
def test_drug_reviews_is_a_three_class_review_set(cli, tmp_path):
    reviews = assets.DATASETS["drug-reviews"].splits()
    assert (reviews["train"].num_rows, reviews["test"].num_rows) == (600, 379)
    assert reviews["train"].column_names == ["text", "label"]
    assert sorted(set(reviews["test"]["label"])) == ["negative", "neutral", "positive"]
    assert reviews["test"]["label"].count("positive") == 248
    assert all("&#039;" not in text and not text.startswith('"') for text in reviews["train"]["text"])
    result = cli("data", "check", "drug-reviews", "--task", "classification")
    assert result.exit_code == 0, result.stderr


def test_data_check_of_a_file_still_works_offline(cli, tmp_path, no_copy):
    data = write_jsonl(tmp_path / "pairs.jsonl", [{"premise": f"a b {i}", "hypothesis": "a", "label": label}
                                                  for i, label in enumerate(("entailment", "contradiction") * 2)])
    assert cli("data", "check", data, "--task", "nli").exit_code == 0


def test_the_readme_catalogue_says_what_loads_on_a_fresh_machine(no_copy):
    """Every dataset alias has a row in the README's catalogue table, and its "fresh machine" column
    agrees with what loads here with no BIG-bench copy (Hub sets: "or the Hub")."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    said = {}
    for line in readme.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 4 and cells[1] in ("classification", "nli", "ner", "qa", "generation",
                                            "image-classification", "text"):
            for alias in re.findall(r"`([a-z0-9-]+)`", cells[0]):
                said[alias] = cells[2]
    parts = {"political-speeches", "debates-2016", "headlines", "rt-reviews", "hamlet-text"}  # "english-text and its parts"
    for alias, asset in assets.DATASETS.items():
        fresh = said.get(alias, said["english-text"] if alias in parts else None)
        assert fresh is not None, f"{alias} is missing from the README's catalogue"
        if asset.availability() == "yes":
            assert fresh == "yes", alias
        else:
            assert fresh == "no: BIG-bench copy" + (" or the Hub" if asset.hub else ""), alias
