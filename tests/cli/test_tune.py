"""`ftcli tune` on a tiny model: a 3-trial search interrupted after its second trial, then re-run: no finished
trial is trained again, the trials are scored on the validation rows only (the test rows are read once, by the
best settings' run), the files agree with each other, and best.yaml runs as a finetune config. Pruning is
checked on a stand-in worker; a bad --space is one error line before torch loads."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from ftcli.plots import read_series
from tests.conftest import sentiment_rows, write_csv

# Every worker process the search starts records its run folder as it exits; with FTCLI_TEST_STOP_AFTER=N, the
# N-th worker SIGINTs the search (its parent) once it has finished, as a Ctrl-C would.
SITECUSTOMIZE = '''
import os
if os.environ.get("FTCLI_TEST_WORKERS"):
    import atexit, signal, sys

    def _record():
        if not (len(sys.argv) == 3 and sys.argv[0].endswith("tune.py")):
            return
        with open(os.environ["FTCLI_TEST_WORKERS"], "a") as handle:
            handle.write(os.path.basename(sys.argv[2]) + "\\n")
        stop_after = int(os.environ.get("FTCLI_TEST_STOP_AFTER", "0"))
        if stop_after and sum(1 for _ in open(os.environ["FTCLI_TEST_WORKERS"])) == stop_after:
            os.kill(os.getppid(), signal.SIGINT)

    atexit.register(_record)
'''


def tune(setup, **env):
    root, model, train, test = setup
    command = [sys.executable, "-m", "ftcli", "tune", "classification", "--model", str(model), "--train", str(train),
               "--test", str(test), "--trials", "3", "--space", "optim.lr=loguniform:1e-4:3e-2",
               "--space", "train.epochs=int:1:2", "--set", "train.batch_size=8", "--max-length", "16",
               "--output-dir", str(root / "out")]
    environment = {**os.environ, "PYTHONPATH": str(root / "site"), "OMP_NUM_THREADS": "1",
                   "FTCLI_TEST_WORKERS": str(root / "workers.txt"), **env}
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=900)


def workers(root):
    path = root / "workers.txt"
    return path.read_text().splitlines() if path.is_file() else []


@pytest.fixture(scope="module")
def searched(tmp_path_factory, tiny_bert):
    """The search stopped after its second worker, then run to its end."""
    root = tmp_path_factory.mktemp("tune")
    (root / "site").mkdir()
    (root / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    setup = (root, tiny_bert, write_csv(root / "train.csv", sentiment_rows(200)),
             write_csv(root / "test.csv", sentiment_rows(20, seed=1)))
    first = tune(setup, FTCLI_TEST_STOP_AFTER="2")
    done_before = {p.name: (p / "metrics.json").read_text() for p in (root / "out" / "trials").iterdir()
                   if (p / "metrics.json").is_file()}
    done_before["best"] = (root / "out" / "best").exists()
    second = tune(setup)
    return setup, first, done_before, second


def test_a_stopped_search_continues_without_training_a_finished_trial_again(searched):
    (root, *_), first, done_before, second = searched
    assert first.returncode == 130, first.stderr
    assert "stopped by SIGINT" in first.stderr and "run the same command again" in first.stderr
    assert done_before == {"000": done_before["000"], "best": False}
    assert second.returncode == 0, second.stderr
    assert "Continuing trial 1" in second.stderr
    # Trial 1 had finished its run when the search stopped: the second worker of it only hands the result over.
    assert workers(root) == ["trial-000", "trial-001", "trial-001", "trial-002", "best"]
    out = root / "out"
    assert (out / "trials" / "000" / "metrics.json").read_text() == done_before["000"]
    for number in ("000", "001", "002"):
        epochs = [json.loads(line)["epoch"] for line in (out / "trials" / number / "log.jsonl").read_text().splitlines()
                  if "train_loss" in line]
        assert epochs == sorted(set(epochs))  # no epoch logged twice
    report = json.loads((out / "trials.json").read_text())
    assert [row["number"] for row in report["trials"]] == [0, 1, 2]
    assert not (out / "runs").exists()  # the trials' runs (model, checkpoints) are gone once recorded

    third = tune(searched[0])
    assert third.returncode == 0, third.stderr
    assert "3 trial(s) already done" in third.stderr and len(workers(root)) == 5  # nothing trained
    assert json.loads((out / "trials.json").read_text())["best"] == report["best"]


def test_the_trials_are_scored_on_validation_rows_and_only_the_best_run_reads_the_test_rows(searched):
    (root, model, train, test), *_ = searched
    out = root / "out"
    splits = json.loads((out / "data" / "splits.json").read_text())
    report = json.loads((out / "trials.json").read_text())
    best = json.loads((out / "best" / "metrics.json").read_text())
    for row in report["trials"]:
        record = out / "trials" / f"{row['number']:03d}"
        config = yaml.safe_load((record / "config.yaml").read_text())
        assert config["data"]["eval"] == config["data"]["validation"] == str(out / "data" / "validation.jsonl")
        assert str(test) not in (record / "config.yaml").read_text()
        metrics = json.loads((record / "metrics.json").read_text())
        # The run's one "test" pass scored the validation rows again: the same rows, the same score.
        assert metrics["eval_rows"] == metrics["validation_rows"] == splits["validation_rows"] == 20
        assert metrics["accuracy"] == metrics["validation_accuracy"] == row["value"]
        assert metrics["train_rows"] == best["train_rows"] == 180
        assert config["optim"]["lr"] == row["params"]["optim.lr"]
        assert config["train"]["epochs"] == row["params"]["train.epochs"] == row["epochs"][-1][0] == len(row["epochs"])
    assert best["eval_rows"] == 20 and best["validation_rows"] == 20  # test.csv, scored once
    chosen = report["trials"][report["best"]["trial"]]
    assert best["validation_accuracy"] == chosen["value"]  # the same rows and seed reproduce the trial
    assert report["best"]["test"]["accuracy"] == best["accuracy"]
    assert chosen["value"] == max(row["value"] for row in report["trials"] if row["state"] == "complete")


def test_the_files_agree_and_best_yaml_runs_as_a_finetune_config(searched, cli, tmp_path):
    (root, *_), *_ = searched
    out = root / "out"
    report = json.loads((out / "trials.json").read_text())
    table = (out / "trials.md").read_text()
    for row in report["trials"]:
        assert f"| {row['state']} | {row['value']:.4f} | {row['seconds']:.1f} |" in table
        assert row["seconds"] > 0 and row["state"] in ("complete", "pruned")
    series = read_series(out / "trials.png")
    assert series["complete"] == [[r["number"], r["value"]] for r in report["trials"] if r["state"] == "complete"]
    assert series["best so far"][-1][1] == report["best"]["validation"]
    best_yaml = yaml.safe_load((out / "best.yaml").read_text())
    assert best_yaml["optim"]["lr"] == report["best"]["params"]["optim.lr"] and best_yaml["output_dir"] is None
    result = cli("finetune", str(out / "best.yaml"), "--output-dir", str(tmp_path / "again"))
    assert result.exit_code == 0, result.stderr
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    best = json.loads((out / "best" / "metrics.json").read_text())
    assert again["accuracy"] == best["accuracy"] and again["validation_accuracy"] == best["validation_accuracy"]


BAD_SPACES = [
    ("optim.lr=loguniform:0:1e-3", "loguniform needs LOW > 0"),
    ("optim.lr=logunif:1e-5:1e-3", "unknown kind 'logunif' (did you mean 'loguniform'?)"),
    ("train.epochs=int:0:3", "must be at least 1, got 0"),
    ("train.batch_size=choice:16,x", "train.batch_size must be an integer, got 'x'"),
    ("optim.lrr=uniform:0:1", "unknown config key 'optim.lrr'"),
    ("data.train=choice:a.csv,b.csv", "data.train is not searched"),
    ("optim.lr", "write KEY=KIND:ARGS"),
]


@pytest.mark.parametrize("space,expected", BAD_SPACES, ids=[space for space, _ in BAD_SPACES])
def test_a_bad_space_is_one_error_line_before_torch_loads(space, expected, tmp_path):
    script = ("import sys\nfrom ftcli.cli.app import main\nsys.argv = ['ftcli', *sys.argv[1:]]\n"
              "try:\n    main()\nexcept SystemExit:\n"
              "    print('loaded:', ','.join(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))\n"
              "    raise\n")
    done = subprocess.run([sys.executable, "-c", script, "tune", "classification", "--space", space, "-o",
                           str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: --space "), done.stderr
    assert expected in lines[0]
    assert done.stdout.strip() == "loaded:" and not (tmp_path / "out").exists()


def test_the_pruner_stops_a_worker_after_the_epoch_it_judges(tmp_path):
    """A stand-in worker logs an epoch record every tenth of a second for 100 epochs; the search reads each new
    one and, told to prune at epoch 2, kills the worker there."""
    from ftcli.tune import watch

    log = tmp_path / "log.jsonl"
    worker = textwrap.dedent(f"""
        import json, time
        for epoch in range(1, 101):
            with open({str(log)!r}, "a") as handle:
                handle.write(json.dumps({{"step": epoch, "epoch": epoch, "train_loss": 0.5,
                                          "validation_accuracy": epoch / 100}}) + "\\n")
            time.sleep(0.1)
    """)
    seen = []

    def on_epoch(epoch, value):
        seen.append((epoch, value))
        return epoch == 2

    outcome = watch([sys.executable, "-c", worker], [tmp_path / "missing.jsonl", log], "validation_accuracy", on_epoch)
    assert outcome.pruned and outcome.returncode is None
    assert seen == [(1, 0.01), (2, 0.02)] and outcome.epochs == {1: 0.01, 2: 0.02}
    written = len(log.read_text().splitlines())
    assert written < 100
    assert len(log.read_text().splitlines()) == written  # the worker is gone: nothing more is written
    kept = watch([sys.executable, "-c", worker.replace("101", "4")], [log], "validation_accuracy", lambda e, v: False)
    assert kept.returncode == 0 and not kept.pruned


def test_epoch_scores_read_complete_epoch_records_only(tmp_path):
    from ftcli.tune import epoch_scores

    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"step": 5, "epoch": 0.5, "loss": 0.7}) + "\n"
                   + json.dumps({"step": 10, "epoch": 1, "train_loss": 0.6, "validation_f1": 0.4}) + "\n"
                   + json.dumps({"step": 10, "epoch": 1, "test_f1": 0.9}) + "\n"
                   + '{"step": 20, "epoch": 2, "train_loss": 0.5, "valid')
    assert epoch_scores(log, "validation_f1") == {1: 0.4}


def test_the_space_comes_from_the_flags_else_the_recipe_else_the_default(tmp_path):
    from ftcli.tune import Tuner, TuneSettings, parse_dimension

    for text in ("optim.lr=loguniform:1e-5:0.001", "train.epochs=int:1:4", "train.batch_size=choice:16,32",
                 "features.pooling=choice:cls,mean", "optim.warmup_ratio=uniform:0.0:0.2"):
        assert parse_dimension(text).text == text
    lora = Tuner(TuneSettings(task="classification", strategy="lora", output_dir=tmp_path / "a"))
    assert [d.key for d in lora.space] == ["optim.lr", "train.epochs", "train.batch_size", "optim.warmup_ratio",
                                           "optim.weight_decay", "peft.lora_r"]
    assert lora.space[0].low < lora.base.optim.lr < lora.space[0].high  # centred on the recipe's
    assert lora.base.data.validation_fraction == 0.1 and lora.held_out_note
    contrastive = Tuner(TuneSettings(task="classification", strategy="contrastive", output_dir=tmp_path / "d"))
    assert contrastive.space[-1].text == "contrastive.num_iterations=choice:10,20,40"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("task: classification\noptim:\n  lr: 3.0e-5\ntune:\n  space:\n"
                      "    optim.lr: loguniform:1e-5:1e-4\n    train.batch_size: [8, 16]\n")
    from_recipe = Tuner(TuneSettings(task="classification", recipe=str(recipe), output_dir=tmp_path / "b"))
    assert [d.text for d in from_recipe.space] == ["optim.lr=loguniform:1e-5:1e-4", "train.batch_size=choice:8,16"]
    flags = Tuner(TuneSettings(task="classification", recipe=str(recipe), output_dir=tmp_path / "c",
                               space=["train.epochs=int:1:3"], validation=str(recipe)))
    assert [d.text for d in flags.space] == ["train.epochs=int:1:3"] and flags.held_out_note is None


def test_label_sets_and_numbers_are_searched_by_their_own_metric(tmp_path):
    """The trials of label sets are scored by f1_micro and of numbers by pearson, read from the training rows as
    each trial reads them (accuracy, the single-label metric, is not in their logs)."""
    from ftcli.tune import Tuner, TuneSettings
    from tests.conftest import write_jsonl

    rows = sentiment_rows(20)
    sets = write_jsonl(tmp_path / "sets.jsonl", [{"text": r["text"], "label": [r["label"]]} for r in rows])
    numbers = write_jsonl(tmp_path / "numbers.jsonl", [{"text": r["text"], "label": 0.5 + i} for i, r in enumerate(rows)])
    for data, metric in ((sets, "f1_micro"), (numbers, "pearson")):
        tuner = Tuner(TuneSettings(task="classification", train=str(data), output_dir=tmp_path / metric))
        assert tuner.objective == (metric, True)
    chosen = Tuner(TuneSettings(task="classification", train=str(numbers), output_dir=tmp_path / "rmse",
                                sets=["train.select_metric=rmse"]))
    assert chosen.objective == ("rmse", False)
