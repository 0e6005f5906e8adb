"""One grammar for every command (DESIGN.md section 3): one name per concept, the same help panels in the same
order, help that fits 80 columns and shows the recipe defaults, and one `error:` line for every mistake the command
line can see, found before torch is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from ftcli.cli.options import OLD_NAMES

PANEL_ORDER = ["Data", "Model", "Training", "Output", "Launch"]


def all_commands():
    """(command path, click command) for every command of the app, sub-commands included."""
    import typer.main

    from ftcli.cli.app import app

    found = []

    def walk(command, path):
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(child, [*path, name])
        else:
            found.append((" ".join(path), command))

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = all_commands()


def visible_options(command):
    return [param for param in command.params
            if getattr(param, "param_type_name", "") == "option" and not getattr(param, "hidden", False)]


@pytest.mark.parametrize("path,command", COMMANDS, ids=[path for path, _ in COMMANDS])
def test_one_name_per_concept(path, command):
    names = {opt for param in visible_options(command) for opt in param.opts}
    assert not names & set(OLD_NAMES), f"{path} shows an old name: {names & set(OLD_NAMES)}"
    for param in visible_options(command):
        if "-o" in param.opts:
            assert param.opts == ["--output-dir", "-o"], f"{path}: -o is only --output-dir, got {param.opts}"
        if "--output" in param.opts:
            assert param.opts == ["--output"], f"{path}: --output (a file) has no short name, got {param.opts}"
    # Each old name still works (hidden) where its concept exists, so scripts keep running for a release.
    hidden = {opt for param in command.params if getattr(param, "hidden", False) for opt in param.opts}
    if "--test" in names:
        assert {"--eval", "--limit-eval"} <= hidden
    if "--output-dir" in names and path in ("export", "tokenizer train", "models init"):
        assert hidden & {"--to", "--out"}


@pytest.mark.parametrize("path,command", COMMANDS, ids=[path for path, _ in COMMANDS])
def test_help_panels_in_the_same_order(path, command):
    panels = [param.rich_help_panel for param in visible_options(command) if param.name != "help"]
    if not any(panels):
        return  # a command with no options of its own (`runs ls`) has no panels to order
    assert all(panel in PANEL_ORDER for panel in panels), f"{path}: options outside the panels: {panels}"
    order = [PANEL_ORDER.index(panel) for panel in panels]
    assert order == sorted(order), f"{path}: panels out of order: {panels}"


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS] + [""])
def test_help_fits_80_columns_and_keeps_sentences_whole(path, cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("TERMINAL_WIDTH", raising=False)
    result = cli(*path.split(), "--help")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout, f"`ftcli {path} --help` cuts something at 80 columns"
    if path == "":  # the command list: a docstring's source line breaks never reach the help
        finetune = next(i for i, line in enumerate(lines) if line.strip("│ ").startswith("finetune"))
        text = " ".join(line.strip("│ ") for line in lines[finetune:finetune + 3])
        assert "writes a run directory (model/, config.yaml, metrics.json" in text


def test_help_shows_the_recipe_defaults(cli, monkeypatch):
    from ftcli.recipe_store import recipes_root

    monkeypatch.setenv("COLUMNS", "200")
    recipe = yaml.safe_load((recipes_root() / "ner" / "full.yaml").read_text())
    text = cli("finetune", "--help").stdout
    assert f"ner: {recipe['model']['name']} on {recipe['data']['train']}, {recipe['train']['epochs']} epochs" in text
    assert f"lr {recipe['optim']['lr']}, batch {recipe['train']['batch_size']}" in text
    prompt = yaml.safe_load((recipes_root() / "classification" / "in-context.yaml").read_text())
    assert f"classification: {prompt['model']['name']} on {prompt['data']['train']}" in cli("prompt", "--help").stdout


def test_the_default_data_is_named_when_used(capsys):
    from ftcli.cli.output import print_defaults

    print_defaults({"--model": "minilm", "--train": None, "--data": "rt-sentiment"}, "flags choose others")
    err = capsys.readouterr().err
    assert err.strip() == "recipe defaults: --model minilm --data rt-sentiment (flags choose others)"
    print_defaults({"--model": None}, "x")
    assert capsys.readouterr().err == ""


MISTAKES = [
    (["finetune", "clasification"], "unknown task 'clasification' (did you mean 'classification'?)"),
    (["finetune", "classification", "--strategy", "lorra"], "(did you mean 'lora'?)"),
    (["pretrain", "mlmm"], "(did you mean 'mlm'?)"),
    (["prompt", "nerr"], "(did you mean 'ner'?)"),
    (["data", "check", "x.csv", "--task", "nli2"], "(did you mean 'nli'?)"),
    (["finetune", "classification", "--train", "missing.csv"], "--train missing.csv: data file not found"),
    (["evaluate", "./no-run", "--data", "x.csv"], "RUN_OR_MODEL ./no-run: model folder not found"),
    (["finetune", "classification", "--epochs", "two"], "Invalid value for '--epochs'"),
    (["finetune", "classification", "--evl", "x.csv"], "no such option --evl (did you mean '--test'?)"),
    (["finetune"], "Missing argument"),
    (["finetune", "classification", "--eval", "a.csv", "--test", "b.csv"], "--eval is the old name of --test"),
    (["tune", "clasification"], "unknown task 'clasification' (did you mean 'classification'?)"),
]


@pytest.mark.parametrize("args,expected", MISTAKES, ids=[" ".join(args) for args, _ in MISTAKES])
def test_command_line_mistakes_are_one_error_line_before_torch_loads(args, expected, tmp_path):
    """In a fresh process: exit 2, one `error:` line (no boxed panel, no traceback), and torch, transformers and
    datasets never imported, which is what keeps these answers well under a second (benchmarks/cli_startup.py)."""
    script = ("import sys\nfrom ftcli.cli.app import main\nsys.argv = ['ftcli', *sys.argv[1:]]\n"
              "try:\n    main()\nexcept SystemExit as exit_:\n"
              "    heavy = sorted(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules)\n"
              "    print('loaded:', ','.join(heavy))\n    raise\n")
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert expected in lines[0]
    assert done.stdout.strip() == "loaded:", done.stdout


def test_an_old_option_name_works_with_a_warning(cli, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("\n\n".join(f"the cat sat on mat number {i} and looked at the dog" for i in range(40)))
    result = cli("tokenizer", "train", "wordpiece", "--train", text, "--vocab-size", "60", "--out", tmp_path / "tok")
    assert result.exit_code == 0, result.stderr
    assert "warning: --out is now --output-dir" in result.stderr
    assert (tmp_path / "tok" / "tokenizer.json").is_file()
    missing = cli("tokenizer", "train", "wordpiece", "--train", text, "--vocab-size", "60")
    assert missing.exit_code == 2 and "missing option --output-dir" in missing.stderr


def test_an_offline_hub_id_says_the_machine_is_offline(monkeypatch, tmp_path):
    from ftcli.assets import resolve_model
    from ftcli.errors import UserError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    for name in ("bert-base-uncased", "google/electra-small-discriminator"):
        with pytest.raises(UserError, match=r"offline \(HF_HUB_OFFLINE=1\) and the Hub cache has no copy"):
            resolve_model(name)
    with pytest.raises(UserError, match=r"did you mean 'minilm'\?"):
        resolve_model("minlm")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert resolve_model("bert-base-uncased") == "bert-base-uncased"  # online, it is passed on to the Hub


CONCEPTS = [("writes a folder", ["--output-dir"]), ("writes a file", ["--output"]),
            ("data", ["--train", "--validation", "--test", "--transfer", "--data", "--demos", "--input"]),
            ("row limits", ["--limit-train", "--limit-test", "--limit"]), ("columns", ["--column"]),
            ("config", ["--recipe", "--set"]), ("model", ["--model", "--teacher", "--student", "--tokenizer", "--task"]),
            ("replace / resume", ["--overwrite", "--resume"])]


def options_table() -> str:
    """The docs' table of options by concept, from the commands themselves."""
    lines = ["| command | arguments | " + " | ".join(concept for concept, _ in CONCEPTS) + " |",
             "|---|---|" + "---|" * len(CONCEPTS)]
    for path, command in COMMANDS:
        shown = {opt for param in command.params if not getattr(param, "hidden", False) for opt in param.opts}
        arguments = " ".join((param.metavar or param.name).upper() for param in command.params
                             if param.param_type_name == "argument")
        cells = [", ".join(f"`{name}{' / -o' if name == '--output-dir' else ''}`" for name in names if name in shown)
                 for _, names in CONCEPTS]
        lines.append(f"| `{path}` | {arguments} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_the_docs_table_of_options_is_the_commands_own():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    assert options_table() in docs, "docs/cli.md is out of date: paste tests/cli/test_grammar.py's options_table()"


def test_a_comparison_file_is_the_whole_command(tmp_path, cli):
    from ftcli.cli.compare import comparison_file

    path = tmp_path / "compare.yaml"
    path.write_text("task: classification\nmodel: minilm\ntrain: reviews.csv\nstrategies: [full, lora]\n"
                    "train_sizes: [16, all]\nseeds: 2\nset: {optim.lr: 3.0e-5}\ncolumn: {text: review}\n")
    assert comparison_file(path) == {
        "task": "classification", "model": "minilm", "train": "reviews.csv", "strategies": "full,lora",
        "train_sizes": "16,all", "seeds": 2, "set": ["optim.lr=3e-05"], "column": ["text=review"]}
    path.write_text("task: classification\ntrain_size: [16]\n")
    result = cli("compare", path)
    assert result.exit_code == 2 and "unknown key 'train_size' (did you mean 'train_sizes'?)" in result.stderr
    path.write_text("task: clasification\ntrain: missing.csv\n")
    assert "did you mean 'classification'" in cli("compare", path).stderr
    path.write_text("task: classification\ntrain: missing.csv\n")
    assert "--train missing.csv: data file not found" in cli("compare", path).stderr


def test_pretrain_and_distill_take_a_config_file(tmp_path, cli):
    from ftcli.cli.distill import distill_run_file

    run = tmp_path / "run.yaml"
    run.write_text("task: nli\nmodel: {name: small}\ndata: {train: pairs.csv}\ndistill: {teacher: runs/teacher}\n")
    assert distill_run_file(str(run), None, None, None, None, None, None) == (
        "nli", "runs/teacher", "pairs.csv", run, "small", None)
    # A flag beside the file wins; a student by --init-from-teacher replaces the file's model.
    _, teacher, _, _, student, init = distill_run_file(str(run), None, "other", None, None, None, "every-other-layer")
    assert (teacher, student, init) == ("other", None, "every-other-layer")
    assert "missing option --teacher" in cli("distill", "--train", "x.csv").stderr
    run.write_text("task: mlmm\n")
    assert "unknown pre-training objective 'mlmm' (did you mean 'mlm'?)" in cli("pretrain", run).stderr
