"""One deletion rule for every command that writes: ftcli replaces or deletes only what its manifest
proves it wrote, never a source of the same command, never a user's file (issue 26's data-loss cases)."""

import json
import shutil

import pytest

from tests.cli.test_finetune_cli import assert_user_error, finetune
from tests.conftest import sentiment_rows, write_jsonl


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_bert, sentiment_csv):
    import sys

    from ftcli.cli.app import main

    out = tmp_path_factory.mktemp("deletion") / "myrun"
    argv = ["ftcli", "finetune", "classification", "--model", str(tiny_bert), "--train", str(sentiment_csv),
            "--output-dir", str(out), "--epochs", "1", "--max-length", "16", "--batch-size", "8"]
    saved, sys.argv = sys.argv, argv
    try:
        main()
    except SystemExit as exit_:
        assert not exit_.code, exit_.code
    finally:
        sys.argv = saved
    return out


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


@pytest.fixture
def workspace(tmp_path, finished_run):
    """A user's folder: a run, a thesis and a data folder side by side."""
    shutil.copytree(finished_run, tmp_path / "myrun")
    (tmp_path / "thesis.txt").write_text("three years of work")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text('{"text": "x", "label": "a"}\n')
    return tmp_path


@pytest.mark.parametrize("target", [".", "myrun", "myrun/model/sub", "myrun/model"])
def test_export_never_touches_its_own_run_or_what_holds_it(cli, workspace, monkeypatch, target):
    monkeypatch.chdir(workspace)
    before = snapshot(workspace)
    for extra in ([], ["--overwrite"]):
        assert_user_error(cli("export", "myrun", "--output-dir", target, *extra), "the run itself")
    assert snapshot(workspace) == before


def test_export_overwrite_refuses_a_user_folder_and_names_what_is_in_it(cli, workspace):
    docs = workspace / "docs"
    docs.mkdir()
    (docs / "keep.txt").write_text("mine")
    result = cli("export", workspace / "myrun", "--output-dir", docs, "--overwrite")
    assert_user_error(result, "keep.txt", "did not write")
    assert (docs / "keep.txt").read_text() == "mine"


def test_export_replaces_its_own_export_only_while_unchanged(cli, workspace):
    out = workspace / "exported"
    assert cli("export", workspace / "myrun", "--output-dir", out).exit_code == 0
    assert_user_error(cli("export", workspace / "myrun", "--output-dir", out), "earlier export", "--overwrite")
    assert cli("export", workspace / "myrun", "--output-dir", out, "--overwrite").exit_code == 0
    (out / "notes.md").write_text("my notes on this model")
    assert_user_error(cli("export", workspace / "myrun", "--output-dir", out, "--overwrite"), "notes.md")
    assert (out / "notes.md").is_file()


def test_export_refuses_a_symbolic_link_inside_the_run(cli, workspace, tmp_path_factory):
    secrets = tmp_path_factory.mktemp("secrets")
    (secrets / "key").write_text("hunter2")
    (workspace / "myrun" / "model" / "extra").symlink_to(secrets)
    assert_user_error(cli("export", workspace / "myrun", "--output-dir", workspace / "out"), "symbolic link")
    assert not (workspace / "out").exists()


def test_finetune_overwrite_keeps_a_file_the_user_put_into_the_run(cli, workspace, tiny_bert, sentiment_csv):
    run = workspace / "myrun"
    (run / "notes.txt").write_text("why this run matters")
    before = snapshot(run)
    result = finetune(cli, tiny_bert, sentiment_csv, run, "--epochs", "1", "--overwrite")
    assert_user_error(result, "notes.txt", "did not write")
    assert snapshot(run) == before


def test_a_bare_marker_proves_nothing(cli, workspace, tiny_bert, sentiment_csv):
    mine = workspace / "thesis"
    (mine / "photos").mkdir(parents=True)
    (mine / ".ftcli-run").write_text("")
    (mine / "thesis.tex").write_text("precious")
    before = snapshot(mine)
    for extra in ([], ["--overwrite"]):
        result = finetune(cli, tiny_bert, sentiment_csv, mine, "--epochs", "1", *extra)
        assert_user_error(result, "ftcli did not create")
        assert "--overwrite" not in result.stderr  # never steer a user towards deleting their own folder
    assert snapshot(mine) == before


def test_overwrite_still_replaces_an_unchanged_run(cli, workspace, tiny_bert, sentiment_csv):
    run = workspace / "myrun"
    result = finetune(cli, tiny_bert, sentiment_csv, run, "--epochs", "1", "--overwrite")
    assert result.exit_code == 0, result.stderr
    marker = json.loads((run / ".ftcli-run").read_text())
    assert "model/model.safetensors" in marker["files"] and "metrics.json" in marker["files"]


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_an_output_never_replaces_the_input_data(cli, workspace, command):
    data = write_jsonl(workspace / "in.jsonl", sentiment_rows(6))
    before = data.read_bytes()
    flag = "--data" if command == "predict" else "--data"
    for extra in ([], ["--overwrite"]):
        assert_user_error(cli(command, workspace / "myrun", flag, data, "--output", data, *extra), "input")
        assert_user_error(cli(command, workspace / "myrun", flag, data, "--output", workspace / "myrun" / "metrics.json",
                              *extra), "input")
    assert data.read_bytes() == before


def test_an_existing_output_is_replaced_only_if_ftcli_wrote_it(cli, workspace):
    data = write_jsonl(workspace / "in.jsonl", sentiment_rows(6))
    out = workspace / "predictions.json"
    assert cli("predict", workspace / "myrun", "--data", data, "--output", out).exit_code == 0
    assert_user_error(cli("predict", workspace / "myrun", "--data", data, "--output", out), "--overwrite")
    assert cli("predict", workspace / "myrun", "--data", data, "--output", out, "--overwrite").exit_code == 0
    assert_user_error(cli("predict", workspace / "myrun", "--data", data, "--output", workspace / "thesis.txt",
                          "--overwrite"), "did not write")
    assert (workspace / "thesis.txt").read_text() == "three years of work"


def test_output_dir_of_the_working_folder_is_refused_before_training(cli, tmp_path, monkeypatch, tiny_bert, sentiment_csv):
    here = tmp_path / "empty"
    here.mkdir()
    monkeypatch.chdir(here)
    assert_user_error(finetune(cli, tiny_bert, sentiment_csv, "."), "the folder you are working in")
    assert list(here.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["empty"]


@pytest.mark.parametrize("length", [250, 300])
def test_a_name_too_long_for_the_staging_folder_is_refused_in_one_line(cli, tmp_path, tiny_bert, sentiment_csv, length):
    result = finetune(cli, tiny_bert, sentiment_csv, tmp_path / ("r" * length))
    assert_user_error(result, "too long")
    assert list(tmp_path.iterdir()) == []
