"""Typed config: recipes, --set overrides, unknown keys and wrong types."""

import pytest
import yaml

from ftcli.config import RunConfig, build_config, load_recipe, parse_set_argument, set_value
from ftcli.errors import UserError
from ftcli.recipe_store import copy_recipe, list_recipes, recipe_path


def test_set_parses_typed_values():
    config = build_config(sets=["optim.lr=3e-5", "train.epochs=4", "train.mixed_precision=bf16",
                                "data.limit_train=null", "train.save_checkpoint=false"])
    assert config.optim.lr == pytest.approx(3e-5)
    assert config.train.epochs == 4
    assert config.train.mixed_precision == "bf16"
    assert config.data.limit_train is None
    assert config.train.save_checkpoint is False


def test_set_int_accepted_for_float_and_mapping_keys():
    config = build_config(sets=["optim.lr=1", "data.columns.text=review"])
    assert config.optim.lr == 1.0 and isinstance(config.optim.lr, float)
    assert config.data.columns == {"text": "review"}


@pytest.mark.parametrize("argument, message", [
    ("optim.lrr=1e-3", "unknown config key 'optim.lrr'"),
    ("nosuch=1", "unknown config key 'nosuch'"),
    ("train.epochs=two", "train.epochs must be an integer"),
    ("train.epochs=2.5", "train.epochs must be an integer"),
    ("optim.lr=fast", "optim.lr must be a number"),
    ("train.save_checkpoint=maybe", "must be true or false"),
    ("train.mixed_precision=fp8", "must be one of auto, no, bf16, fp16"),
    ("optim=1", "optim is a section"),
    ("optim.lr", "--set expects key=value"),
])
def test_set_rejects_unknown_keys_and_wrong_types(argument, message):
    with pytest.raises(UserError, match=message):
        build_config(sets=[argument])


def test_flags_win_over_set_and_recipe():
    config = build_config(recipe={"optim": {"lr": 1e-4}}, sets=["optim.lr=2e-4"], flags={"optim.lr": 3e-4})
    assert config.optim.lr == pytest.approx(3e-4)
    config = build_config(recipe={"optim": {"lr": 1e-4}}, flags={"optim.lr": None})
    assert config.optim.lr == pytest.approx(1e-4)


def test_recipe_with_unknown_key_is_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  learning_rate: 1e-4\n")
    with pytest.raises(UserError, match="unknown config key 'optim.learning_rate'"):
        build_config(recipe=load_recipe(bad))


def test_a_recipe_with_a_tune_section_still_runs_as_one_run(tmp_path):
    recipe = tmp_path / "searched.yaml"
    recipe.write_text("optim:\n  lr: 3.0e-5\ntune:\n  space:\n    optim.lr: loguniform:1e-5:1e-4\n")
    config = build_config(recipe=load_recipe(recipe))
    assert config.optim.lr == 3.0e-5 and not hasattr(config, "tune")
    with pytest.raises(UserError, match="unknown config key 'tunes'"):  # only the one section `ftcli tune` reads
        build_config(recipe={"tunes": {"space": {}}})


def test_parse_set_reads_yaml_scalars():
    assert parse_set_argument("a.b=5e-5") == ("a.b", 5e-5)
    assert parse_set_argument("a=true") == ("a", True)
    assert parse_set_argument("a=review") == ("a", "review")


VARIANTS = {"tapt": "pretrain"}
"""Recipes named for a method rather than a strategy (recipes/TASK/NAME.yaml), and their strategy."""


@pytest.mark.parametrize("name", list_recipes())
def test_every_recipe_loads_and_validates(name):
    path = recipe_path(name)
    text = path.read_text()
    task, strategy = name.split("/")
    config = build_config(recipe=load_recipe(path))
    # TASK/STRATEGY, or a variant of a strategy's recipe (mlm/tapt)
    assert (config.task, config.strategy) == (task, VARIANTS.get(strategy, strategy))
    strategy = config.strategy
    command = {"in-context": f"ftcli prompt {task}", "pretrain": f"ftcli pretrain {task}"}.get(
        strategy, f"ftcli finetune {task}")
    assert command in text.split("\n\n")[0], "header comment must show the command"
    assert config.task == task
    from ftcli.strategies import IN_CONTEXT, get_strategy

    if strategy != IN_CONTEXT:  # in-context recipes feed `ftcli prompt`, not a training strategy
        get_strategy(strategy).check_task(task)  # the pair is one the strategy supports
    # Round trip through the YAML a run directory stores.
    again = RunConfig()
    from ftcli.config import apply_mapping

    apply_mapping(again, yaml.safe_load(yaml.safe_dump(config.to_dict())))
    assert again == config


def test_recipes_cp_refuses_to_overwrite(tmp_path):
    copied = copy_recipe("classification/full", tmp_path / "mine.yaml")
    assert copied.read_text() == recipe_path("classification/full").read_text()
    with pytest.raises(UserError, match="already exists"):
        copy_recipe("classification/full", copied)
    with pytest.raises(UserError, match="no recipe 'classification/nope'"):
        recipe_path("classification/nope")


def test_set_value_on_nested_path():
    config = RunConfig()
    set_value(config, "model.max_length", 64)
    assert config.model.max_length == 64


def test_set_keeps_text_with_braces_verbatim_for_text_fields():
    config = build_config(sets=["prompt.query=Review: {text}\\nSentiment:", "prompt.label_words={a: x, b: y}"])
    assert config.prompt.query == "Review: {text}\\nSentiment:"
    assert config.prompt.label_words == {"a": "x", "b": "y"}


def test_a_recipe_is_a_file_or_a_shipped_recipes_name(tmp_path):
    from pathlib import Path

    tapt = load_recipe(Path("mlm/tapt"))  # Gururangan et al.'s task-adaptive pre-training
    assert tapt["optim"]["lr"] == 1e-4 and tapt["optim"]["adam_beta2"] == 0.98 and tapt["train"]["epochs"] == 100
    assert tapt["train"]["batch_size"] * tapt["train"]["grad_accum_steps"] == 256
    own = tmp_path / "mine.yaml"
    own.write_text("optim:\n  lr: 0.001\n")
    assert load_recipe(own) == {"optim": {"lr": 0.001}}
    with pytest.raises(UserError, match=r"recipe file not found: mlm/nope \(nor a shipped recipe"):
        load_recipe(Path("mlm/nope"))
