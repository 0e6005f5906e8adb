"""Issue 26's internal errors, misleading messages, crashes and blow-ups, as a class: every bad setting
or damaged file is one `error:` line naming it (exit status 2), and ftcli's own damaged caches heal."""

import json
import sys

import pytest
from pathlib import Path

from tests.cli.test_finetune_cli import assert_user_error
from tests.conftest import sentiment_rows, write_jsonl

FAST = ["--epochs", "1", "--batch-size", "8", "--max-length", "16"]


def finetune(cli, model, train, out, *extra):
    return cli("finetune", "classification", "--model", model, "--train", train, "--output-dir", out, *FAST, *extra)


@pytest.mark.parametrize("extra, expected", [
    (["--seed", "-1"], "--seed (train.seed) must be in the interval [0, 4294967295], got -1"),
    (["--seed", str(2**64)], f"got {2**64}"),
    (["--lr", "inf"], "--lr (optim.lr) must be a finite number greater than 0, got inf"),
    (["--set", "data.columns.text=label"], "the text and label fields both read the column 'label'"),
])
def test_settings_that_cannot_work_are_one_line(cli, tmp_path, tiny_bert, sentiment_csv, extra, expected):
    result = finetune(cli, tiny_bert, sentiment_csv, tmp_path / "run", *extra)
    assert_user_error(result, expected)
    assert not (tmp_path / "run").exists()


def test_a_cache_path_that_is_a_file_is_named(cli, tmp_path, tiny_bert, sentiment_csv, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("FTCLI_CACHE", str(blocker))
    assert_user_error(finetune(cli, tiny_bert, sentiment_csv, tmp_path / "run"), "ftcli's cache", "FTCLI_CACHE")


def test_a_label_found_only_in_the_held_out_rows_is_explained(cli, tmp_path, tiny_bert):
    from ftcli.data.sources import load_splits

    rows = [{"text": f"review number {i} of a film", "label": "pos"} for i in range(40)]
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    held_out = set(load_splits(str(data), None, 0.1, 42).eval["text"])
    rows = [{**row, "label": "neg"} if row["text"] in held_out else row for row in rows]
    write_jsonl(data, rows)
    result = finetune(cli, tiny_bert, data, tmp_path / "run")
    assert_user_error(result, "'neg' occur only in the rows held out for testing", "--test")


def test_data_check_reports_labels_that_differ_only_in_case_or_spaces(cli, tmp_path):
    rows = [{"text": f"text {i}", "label": ["positive", "Positive", "positive ", "negative"][i % 4]} for i in range(12)]
    result = cli("data", "check", write_jsonl(tmp_path / "d.jsonl", rows), "--task", "classification")
    assert result.exit_code == 2
    assert "differ only in case or spaces" in result.stdout and "No problems found" not in result.stdout


def test_runs_ls_lists_the_other_runs_when_one_is_damaged(cli, tmp_path, tiny_bert, sentiment_csv):
    for name in ("good", "bad-config", "bad-metrics"):
        assert finetune(cli, tiny_bert, sentiment_csv, tmp_path / name).exit_code == 0
    (tmp_path / "bad-config" / "config.yaml").write_text("- a list\n- not a mapping\n")
    (tmp_path / "bad-metrics" / "metrics.json").write_text("[1, 2")
    result = cli("runs", "ls", tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "3 run(s)" in result.stdout + result.stderr and "damaged config.yaml" in result.stdout + result.stderr
    assert_user_error(cli("runs", "show", tmp_path / "bad-metrics"), "metrics.json is damaged")


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))


def test_a_yaml_alias_bomb_is_refused_in_one_short_line(cli, tmp_path, tiny_bert, sentiment_csv, finished=None):
    recipe = tmp_path / "bomb.yaml"
    recipe.write_text(BOMB)
    result = finetune(cli, tiny_bert, sentiment_csv, tmp_path / "run", "--recipe", recipe)
    assert_user_error(result, "aliases (*name) are not allowed")
    assert len(result.stderr) < 500
    run = tmp_path / "run2"
    assert finetune(cli, tiny_bert, sentiment_csv, run).exit_code == 0
    (run / "config.yaml").write_text(BOMB)
    result = cli("runs", "show", run)
    assert_user_error(result, "aliases (*name) are not allowed")


def test_a_python_tag_in_a_yaml_file_is_a_one_line_error(tmp_path):
    from ftcli.config import read_yaml_mapping
    from ftcli.errors import UserError

    config = tmp_path / "accelerate.yaml"
    config.write_text("num_processes: !!python/object/apply:os.system ['echo owned']\n")
    with pytest.raises(UserError, match="is not valid YAML"):
        read_yaml_mapping(config, "--accelerate-config")


def test_a_deeply_nested_jsonl_line_is_named(cli, tmp_path, tiny_bert):
    data = tmp_path / "deep.jsonl"
    lines = [json.dumps(row) for row in sentiment_rows(10)]
    lines[3] = '{"text": ' + "[" * 100_000 + "]" * 100_000 + ', "label": "pos"}'
    data.write_text("\n".join(lines) + "\n")
    assert_user_error(finetune(cli, tiny_bert, data, tmp_path / "run"), "deep.jsonl: line 4 nests")


def test_a_decompression_bomb_image_is_an_image_error(tmp_path):
    from PIL import Image

    from ftcli.data.images import ImageError, image_size, load_image

    path = tmp_path / "huge.png"
    Image.new("1", (20_000, 20_000)).save(path)
    assert path.stat().st_size < 200_000
    for read in (image_size, load_image):
        with pytest.raises(ImageError, match="too large to decode safely"):
            read(str(path))


def test_a_fresh_model_config_with_a_wrong_type_is_named(tiny_bert):
    from ftcli.errors import UserError
    from ftcli.models.fresh import build_config
    from ftcli.models.loading import load_tokenizer

    with pytest.raises(UserError, match="--config"):
        build_config({"model_type": "bert", "hidden_size": "big"}, load_tokenizer(str(tiny_bert)), 64)


@pytest.mark.parametrize("template", ["{text.__class__.__mro__}", "{text[0]}", "{}", "{0}"])
def test_a_prompt_template_reaches_no_further_than_its_fields(template):
    from ftcli.errors import UserError
    from ftcli.prompting.templates import fill

    assert fill("Review: {text}", text="fine") == "Review: fine"
    with pytest.raises(UserError, match="not a plain name|not a valid template"):
        fill(template, text="fine")


def test_a_damaged_tokenized_cache_file_is_rebuilt(tmp_path, monkeypatch):
    from datasets import Dataset

    from ftcli.data.cache import cached_map

    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
    rows = Dataset.from_dict({"text": [f"row {i}" for i in range(50)]})

    def lengths(batch):
        return {"length": [len(t) for t in batch["text"]]}

    first = list(cached_map(rows, lengths, batched=True)["length"])
    (cached,) = (tmp_path / "cache" / "tokenized").glob("*.arrow")
    cached.write_bytes(cached.read_bytes()[:100])
    assert list(cached_map(rows, lengths, batched=True)["length"]) == first == [5] * 10 + [6] * 40


def _full_disk_after_a_partial(path):
    """What a disk that fills midway does: part of the file is written, then ENOSPC."""
    import errno

    Path(path).write_bytes(b"half a file")
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def test_a_full_cache_disk_leaves_no_partial_file_and_tokenizes_in_memory(tmp_path, monkeypatch, capsys):
    from datasets import Dataset

    from ftcli.data.cache import cached_map

    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
    real_map = Dataset.map

    def map_on_a_full_disk(self, function, *args, cache_file_name=None, **kwargs):
        if cache_file_name:  # datasets writes a tmp* file beside the entry, renamed when complete
            _full_disk_after_a_partial(Path(cache_file_name).parent / "tmpk2d9x1")
        return real_map(self, function, *args, **kwargs)

    monkeypatch.setattr(Dataset, "map", map_on_a_full_disk)
    rows = Dataset.from_dict({"text": ["a", "bb", "ccc"]})
    result = cached_map(rows, lambda batch: {"length": [len(t) for t in batch["text"]]}, batched=True)
    assert list(result["length"]) == [1, 2, 3]
    assert list((tmp_path / "cache" / "tokenized").iterdir()) == []
    assert "is full; tokenizing in memory" in capsys.readouterr().err


def test_a_full_cache_disk_for_features_leaves_no_partial_file_and_the_run_goes_on(
        cli, tiny_bert, sentiment_csv, sentiment_eval_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("FTCLI_CACHE", str(tmp_path / "cache"))
    from ftcli import tensor_cache

    real_save = tensor_cache.save_file

    def save_on_a_full_cache_disk(tensors, path, *args, **kwargs):
        if "features" in Path(path).parts:  # the cache; the run's own model is written as usual
            _full_disk_after_a_partial(path)
        return real_save(tensors, path, *args, **kwargs)

    monkeypatch.setattr(tensor_cache, "save_file", save_on_a_full_cache_disk)
    result = cli("finetune", "classification", "--strategy", "feature-extraction", "--model", tiny_bert,
                 "--train", sentiment_csv, "--test", sentiment_eval_csv, "--epochs", "1", "--max-length", "16",
                 "--output-dir", tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    assert "training features are not cached" in " ".join(result.stderr.split())
    assert list((tmp_path / "cache" / "features").iterdir()) == []
    assert (tmp_path / "run" / "metrics.json").is_file()


@pytest.mark.parametrize("unusable", ["datasets", "modules"])
def test_an_unusable_home_folder_is_named_before_any_work_not_blamed_on_the_data(
        cli, tiny_bert, sentiment_csv, sentiment_eval_csv, tmp_path, monkeypatch, unusable):
    """HOME a file (or unreadable, or gone): the Hugging Face caches under it cannot be created."""
    import datasets.config
    import evaluate.config

    home = tmp_path / "home"
    home.write_text("a file, not a folder")
    setting = {"datasets": (datasets.config, "HF_DATASETS_CACHE"), "modules": (evaluate.config, "HF_MODULES_CACHE")}
    module, name = setting[unusable]
    monkeypatch.setattr(module, name, str(home / ".cache" / "huggingface" / unusable))
    result = finetune(cli, tiny_bert, sentiment_csv, tmp_path / "run", "--test", sentiment_eval_csv)
    assert_user_error(result, f"the Hugging Face {unusable} cache {home}/.cache/huggingface/{unusable}")
    assert "set HF_HOME to a writable folder" in result.stderr and "could not read" not in result.stderr
    assert "Epoch" not in result.stderr and not (tmp_path / "run").exists()


def test_a_model_gets_only_the_inputs_its_forward_takes(tiny_bert):
    from ftcli.models.bart import BartConfig, BartForSequenceClassification  # ftcli's own: no **kwargs in forward
    from ftcli.models.loading import align_tokenizer_inputs, load_tokenizer

    tokenizer = load_tokenizer(str(tiny_bert))
    assert "token_type_ids" in tokenizer("a b")
    bart = BartForSequenceClassification(BartConfig(vocab_size=len(tokenizer), d_model=16, encoder_layers=1,
                                                    decoder_layers=1, encoder_attention_heads=2,
                                                    decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16))
    align_tokenizer_inputs(tokenizer, bart)
    assert "token_type_ids" not in tokenizer("a b") and "input_ids" in tokenizer("a b")


def test_a_lora_run_from_a_relative_model_path_predicts_from_anywhere(cli, tmp_path, tiny_bert, sentiment_csv,
                                                                      monkeypatch):
    import shutil

    shutil.copytree(tiny_bert, tmp_path / "tb2")
    monkeypatch.chdir(tmp_path)
    assert finetune(cli, "tb2", sentiment_csv, "lora-run", "--strategy", "lora").exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = cli("predict", tmp_path / "lora-run", "--input", "a fine film")
    assert result.exit_code == 0, result.stderr


def test_compare_refuses_to_mix_results_of_other_settings(cli, tmp_path, tiny_bert):
    train = write_jsonl(tmp_path / "train.jsonl", sentiment_rows(40))
    test = write_jsonl(tmp_path / "test.jsonl", sentiment_rows(20, seed=1))
    common = ["compare", "classification", "--model", tiny_bert, "--train", train, "--test", test,
              "--strategies", "feature-extraction", "--train-sizes", "16", "--seeds", "1", "--output-dir", tmp_path / "cmp"]
    assert cli(*common, "--limit-test", "10").exit_code == 0
    assert_user_error(cli(*common, "--limit-test", "5"), "holds results of other settings", "limit_eval")
    assert cli(*common, "--limit-test", "10").exit_code == 0  # the same settings reuse the finished cell
    # A folder compare did not make: nothing is written beside the user's files (their compare.md least of all).
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "compare.md").write_text("my notes")
    result = cli(*common[:-1], mine)
    assert_user_error(result, f"{mine} holds files and is not a folder `ftcli compare` made")
    assert [p.name for p in mine.iterdir()] == ["compare.md"] and (mine / "compare.md").read_text() == "my notes"


@pytest.mark.parametrize("writing", ["checkpoint", "model"])
def test_a_disk_that_fills_while_a_run_writes_is_one_line_naming_it_and_leaves_no_half_file(
        cli, tiny_bert, sentiment_csv, tmp_path, monkeypatch, writing):
    """torch's writer says only "unexpected pos" when the disk fills: with no space left where it was
    writing, that is a full disk; the half-written checkpoint or model/ goes."""
    import accelerate
    import transformers

    import ftcli.errors

    def fills_up(self, folder, *args, **kwargs):
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1464832 vs 1464724")

    if writing == "checkpoint":
        monkeypatch.setattr(accelerate.Accelerator, "save_state", fills_up)
        extra, named = ["--set", "train.save_every=2"], f"checkpoint {tmp_path}/.run.partial/checkpoints/step-00000002"
    else:
        monkeypatch.setattr(transformers.PreTrainedModel, "save_pretrained", fills_up)
        extra, named = ["--set", "train.save_checkpoint=false"], f"{tmp_path}/.run.partial/model"
    monkeypatch.setattr(ftcli.errors, "_no_space_left", lambda path: True)  # what a full file system reports
    result = finetune(cli, tiny_bert, sentiment_csv, tmp_path / "run", *extra)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(errors) == 1 and f"the disk is full (writing {named})" in errors[0], result.stderr
    staging = tmp_path / ".run.partial"
    assert not list(staging.rglob(".tmp-step-*")) and not (staging / ".model.partial").exists()
    assert not (staging / "model").exists() and not (tmp_path / "run").exists()


def test_a_missing_column_hint_names_a_flag_the_command_takes(cli, tiny_bert, sentiment_csv, tmp_path):
    """`predict`, `evaluate` and `finetune` on a file whose text column is named otherwise: the hint is
    `--column text=NAME`, and following it works."""
    rows = [{"review": r["text"], "label": r["label"]} for r in sentiment_rows(40)]
    data = write_jsonl(tmp_path / "reviews.jsonl", rows)
    out = tmp_path / "run"
    assert_user_error(finetune(cli, tiny_bert, data, out), "map it with --column text=NAME")
    assert finetune(cli, tiny_bert, data, out, "--column", "text=review").exit_code == 0
    for command in (["predict", out, "--data", data], ["evaluate", out, "--data", data]):
        assert_user_error(cli(*command, "--column", "text=nope"), "map it with --column text=NAME")
        result = cli(*command, "--column", "text=review")
        assert result.exit_code == 0, result.stderr
