"""`ftcli runs show RUN`: the settings that differ from the recipe the run started from (--all: every
setting), then its metrics and files, on stdout."""

import shutil

import pytest
import yaml

from tests.conftest import run_ftcli, sentiment_rows, write_csv


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_bert):
    """A tiny classification run with a learning rate and epochs of its own."""
    root = tmp_path_factory.mktemp("show")
    train = write_csv(root / "train.csv", sentiment_rows(24))
    out = root / "run"
    run_ftcli("finetune", "classification", "--model", tiny_bert, "--train", train, "--test", train,
              "--output-dir", out, "--epochs", "1", "--lr", "3e-5", "--batch-size", "8", "--max-length", "16",
              "--column", "text=text")
    return out


def settings_lines(stdout: str) -> list[str]:
    """The lines that name a setting the run changed."""
    return [line.strip() for line in stdout.splitlines() if line.startswith("  ") and any(
        what in line for what in ("(recipe: ", "(default: ", "(not in this version"))]


def test_show_prints_what_differs_from_the_recipe_then_the_metrics(cli, finished, tiny_bert):
    result = cli("runs", "show", finished)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "task: classification, strategy: full" in out
    assert "Settings that differ from the recipe classification/full" in out
    lines = settings_lines(out)
    assert "optim.lr: 3e-05 (recipe: 5e-05)" in lines
    assert "train.epochs: 1 (recipe: 2)" in lines
    assert "model.max_length: 16 (recipe: 128)" in lines
    assert f"model.name: {tiny_bert} (recipe: minilm)" in lines
    assert 'data.columns: {"text": "text"} (recipe: {})' in lines
    # Settings the run kept from the recipe, and the sections a classification run never reads, are left out.
    assert not any(line.startswith(("optim.weight_decay", "train.seed", "prompt.", "pretrain.", "distill."))
                   for line in lines)
    assert "accuracy" in out and "test metrics" in out
    assert f"training log: {finished / 'log.jsonl'}" in out.replace("\n", "")


def test_show_all_prints_every_setting(cli, finished):
    shown = cli("runs", "show", finished).stdout
    result = cli("runs", "show", finished, "--all")
    assert result.exit_code == 0, result.stderr
    assert "mlm_probability: 0.15" in result.stdout and "pretrain:" in result.stdout
    assert "(recipe: " not in result.stdout
    assert len(result.stdout.splitlines()) > len(shown.splitlines()) + 80


def test_a_run_without_a_recipe_is_compared_with_the_defaults(cli, finished, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["task"] = "mystery"  # a task of another version: no recipe here
    config["train"]["future_knob"] = 3
    config["prompt"]["separator"] = "\n"
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = cli("runs", "show", run)
    assert result.exit_code == 0, result.stderr
    lines = settings_lines(result.stdout)
    assert "Settings that differ from the defaults" in result.stdout
    assert "task: mystery (default: classification)" in lines
    assert "optim.lr: 3e-05 (default: 5e-05)" in lines
    assert "train.future_knob: 3 (not in this version's settings)" in lines
    assert 'prompt.separator: "\\n" (default: "\\n\\n")' in lines


def test_a_run_that_kept_its_recipe_says_so(cli, finished, tmp_path):
    from ftcli.config import build_config, load_recipe
    from ftcli.recipe_store import recipe_path

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    recipe = build_config(recipe=load_recipe(recipe_path("classification/full"))).to_dict()
    (run / "config.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    result = cli("runs", "show", run)
    assert result.exit_code == 0, result.stderr
    assert "Settings: those of the recipe classification/full" in result.stdout
    assert settings_lines(result.stdout) == []
