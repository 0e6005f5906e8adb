"""Crashes and signals at any point of a run, then --resume: the result equals an uninterrupted
run's, bit for bit on CPU. Each run is a real `ftcli finetune` process; a small launcher makes it
die (SIGKILL) or receive SIGINT/SIGTERM at a chosen moment."""

import json
import signal
import subprocess
import sys
import textwrap

import pytest
from safetensors.torch import load_file

from tests.conftest import sentiment_rows, write_csv

# 48 training rows + 16 validation rows, batch 8: 6 steps an epoch; checkpoints at steps 4, 6
# (epoch end), 8, 12 (epoch end); log lines every 2 steps.
SETTINGS = ["--epochs", "2", "--lr", "2e-3", "--batch-size", "8", "--max-length", "16",
            "--set", "data.validation_fraction=0.25", "--set", "train.save_every=4",
            "--set", "train.logging_steps=2", "--set", "train.keep_checkpoints=2"]
# Wall-clock measurements differ between any two runs.
TIMING = {"train_samples_per_second", "train_runtime", "eval_samples_per_second", "peak_memory_mb"}

LAUNCHER = textwrap.dedent('''
    """python launcher.py MODE N ARGS...: `ftcli ARGS...`, with an accident the N-th time a phase is
    reached: MODE kill / sigint / sigterm (that signal to itself, before the N-th backward), kill-in-save
    (SIGKILL once the N-th checkpoint's state files are written, before it is complete), kill-tokenizing
    (once the N-th tokenized set is cached), kill-before-training (the run folder made, no step taken),
    kill-validating / kill-testing (as the N-th validation / the test pass starts), kill-saving-model
    (once model/'s weights are written, before the rest), kill-in-finalize (as the finished run is put in
    place), or pause (at the N-th backward, until $PAUSE_FLAG.go exists). With $TRACE set, every phase
    begun is appended to that file, one name a line."""
    import os, signal, sys, time
    import accelerate
    import transformers

    import ftcli.data.cache
    import ftcli.rundir
    import ftcli.training

    mode, count = sys.argv[1], int(sys.argv[2])
    KILLED_AT = {"kill": "step", "sigint": "step", "sigterm": "step", "pause": "step", "kill-in-save": "checkpoint",
                 "kill-tokenizing": "tokenize", "kill-before-training": "train", "kill-validating": "Validating",
                 "kill-testing": "Testing", "kill-saving-model": "save-model", "kill-in-finalize": "finalize"}
    ONCE_WRITTEN = {"checkpoint", "tokenize", "save-model"}  # these die after the phase's work, not before
    SENT = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM}.get(mode, signal.SIGKILL)
    calls = {}

    def accident():
        if mode != "pause":
            os.kill(os.getpid(), SENT)
            return
        open(os.environ["PAUSE_FLAG"], "w").close()
        for _ in range(3000):  # at most 5 minutes
            if os.path.exists(os.environ["PAUSE_FLAG"] + ".go"):
                break
            time.sleep(0.1)

    def wrap(owner, name, phase_of):
        real = getattr(owner, name)

        def patched(*args, **kwargs):
            phase = phase_of(*args)
            calls[phase] = calls.get(phase, 0) + 1
            if os.environ.get("TRACE"):
                with open(os.environ["TRACE"], "a") as trace:
                    trace.write(phase + "\\n")
            due = KILLED_AT.get(mode) == phase and calls[phase] == count
            if due and phase not in ONCE_WRITTEN:
                accident()
            result = real(*args, **kwargs)
            if due and phase in ONCE_WRITTEN:
                accident()
            return result

        setattr(owner, name, patched)

    wrap(accelerate.Accelerator, "backward", lambda *args: "step")
    wrap(accelerate.Accelerator, "save_state", lambda *args: "checkpoint")
    wrap(ftcli.data.cache, "cached_map", lambda *args: "tokenize")
    wrap(ftcli.training, "train", lambda *args: "train")
    wrap(ftcli.training, "_score", lambda *args: args[-1])  # its description: "Validating" or "Testing"
    wrap(transformers.PreTrainedModel, "save_pretrained", lambda *args: "save-model")
    wrap(ftcli.rundir.RunDirectory, "finalize", lambda *args: "finalize")
    from ftcli.cli.app import main

    sys.argv = ["ftcli", *sys.argv[3:]]
    main()
''')


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("resume")
    launcher = root / "launcher.py"
    launcher.write_text(LAUNCHER)
    train = write_csv(root / "train.csv", sentiment_rows(64))
    test = write_csv(root / "test.csv", sentiment_rows(24, seed=1))
    return root, launcher, train, test, tiny_bert


def ftcli(setup, out, *extra, mode="none", count=0, env=None):
    root, launcher, train, test, model = setup
    command = [sys.executable, str(launcher), mode, str(count), "finetune", "classification",
               "--model", str(model), "--train", str(train), "--test", str(test), "--output-dir", str(out),
               *SETTINGS, *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def reference(setup):
    out = setup[0] / "reference"
    result = ftcli(setup, out)
    assert result.returncode == 0, result.stderr
    return out


def assert_same_run(run, reference):
    ours = json.loads((run / "metrics.json").read_text())
    theirs = json.loads((reference / "metrics.json").read_text())
    assert {k: v for k, v in ours.items() if k not in TIMING} == {k: v for k, v in theirs.items() if k not in TIMING}
    a, b = load_file(run / "model" / "model.safetensors"), load_file(reference / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) == 0
    # No step logged twice, and the same records (minus speeds) as without interruptions.
    def records(path):
        return [{k: v for k, v in json.loads(line).items() if k != "examples_per_second"}
                for line in (path / "log.jsonl").read_text().splitlines()]
    assert records(run) == records(reference)


def test_sigkill_at_three_points_then_resume_equals_an_uninterrupted_run(setup, reference):
    out = setup[0] / "killed"
    staging = out.parent / f".{out.name}.partial"

    # 1. Killed before the first checkpoint (during step 3): nothing to resume from yet.
    assert ftcli(setup, out, mode="kill", count=3).returncode == -signal.SIGKILL
    assert not out.exists() and not (staging / "checkpoints").exists()
    # 2. --resume starts over cleanly; killed in step 5, after the step-4 checkpoint.
    result = ftcli(setup, out, "--resume", mode="kill", count=5)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert (staging / "checkpoints" / "latest").read_text() == "step-00000004"
    # 3. Resumed mid-epoch (step 4 of 6); killed while writing its second checkpoint (step 8):
    #    the state files are on disk but the checkpoint is not complete.
    result = ftcli(setup, out, "--resume", mode="kill-in-save", count=2)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert (staging / "checkpoints" / "latest").read_text() == "step-00000006"
    assert (staging / "checkpoints" / ".tmp-step-00000008").is_dir()
    # 4. Resumed from the epoch-1 checkpoint, to the end.
    result = ftcli(setup, out, "--resume")
    assert result.returncode == 0, result.stderr
    assert "Resuming from step 6" in result.stderr
    assert not staging.exists()
    assert_same_run(out, reference)


@pytest.mark.parametrize("first, second", [("sigterm", "sigint")])
def test_sigterm_and_sigint_save_a_resumable_checkpoint(setup, reference, first, second):
    out = setup[0] / "signalled"
    staging = out.parent / f".{out.name}.partial"
    result = ftcli(setup, out, mode=first, count=3)  # the signal arrives during step 3
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert "stopped by SIGTERM at step 3" in result.stderr and "--resume" in result.stderr
    assert (staging / "checkpoints" / "latest").read_text() == "step-00000003"
    result = ftcli(setup, out, "--resume", mode=second, count=4)  # global step 3 + 4 = 7
    assert result.returncode == 128 + signal.SIGINT, result.stderr
    assert (staging / "checkpoints" / "latest").read_text() == "step-00000007"
    result = ftcli(setup, out, "--resume")
    assert result.returncode == 0, result.stderr
    assert_same_run(out, reference)


def test_second_run_on_the_same_directory_is_refused_while_the_first_finishes(setup, tmp_path):
    import os

    out = tmp_path / "run"
    flag = tmp_path / "paused"
    env = {**os.environ, "PAUSE_FLAG": str(flag)}
    root, launcher, train, test, model = setup
    first = subprocess.Popen(
        [sys.executable, str(launcher), "pause", "2", "finetune", "classification", "--model", str(model),
         "--train", str(train), "--test", str(test), "--output-dir", str(out), *SETTINGS, "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        import time

        deadline = time.time() + 120
        while not flag.exists() and time.time() < deadline and first.poll() is None:
            time.sleep(0.2)
        assert flag.exists(), first.communicate()[1]
        for extra in ([], ["--overwrite"], ["--resume"]):
            second = ftcli(setup, out, *extra, "--seed", "2")
            assert second.returncode == 2, second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and f"being written by another ftcli process (PID {first.pid})" in lines[0]
        (tmp_path / "paused.go").touch()
        _, stderr = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 0, stderr
    config = (out / "config.yaml").read_text()
    assert "seed: 1" in config and "seed: 2" not in config
    assert json.loads((out / "metrics.json").read_text())["kept_epoch"] >= 1
    assert not (out / ".lock").exists()


def test_lora_checkpoints_hold_only_the_adapter_and_resume_exactly(setup):
    """A partly frozen model checkpoints only what trains; --resume rebuilds the rest from the base."""
    root = setup[0]
    reference = root / "lora-reference"
    result = ftcli(setup, reference, "--strategy", "lora")
    assert result.returncode == 0, result.stderr
    checkpoint = reference / "checkpoints" / (reference / "checkpoints" / "latest").read_text()
    files = {p.name for p in checkpoint.iterdir()}
    assert "trainable.safetensors" in files and not {"model.safetensors", "pytorch_model.bin"} & files
    saved = load_file(checkpoint / "trainable.safetensors")
    assert saved and all("lora_" in name or "classifier" in name or "modules_to_save" in name for name in saved)

    out = root / "lora-killed"
    result = ftcli(setup, out, "--strategy", "lora", mode="kill", count=5)  # after the step-4 checkpoint
    assert result.returncode == -9
    result = ftcli(setup, out, "--strategy", "lora", "--resume")
    assert result.returncode == 0, result.stderr
    ours, theirs = (json.loads((run / "metrics.json").read_text()) for run in (out, reference))
    assert {k: v for k, v in ours.items() if k not in TIMING} == {k: v for k, v in theirs.items() if k not in TIMING}
    a, b = (load_file(run / "model" / "adapter" / "adapter_model.safetensors") for run in (out, reference))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


# A kill in each phase of a run, and what the resumed run does (the phases it begins, counted by the
# launcher): nothing that had finished is done again. 2 epochs of 6 steps; checkpoints at steps 4, 6, 8, 12.
PHASES = {
    # before training: tokenizing (nothing written yet), then with the run folder made and no step taken
    "tokenizing": ("kill-tokenizing", 1, {"step": 12, "Validating": 2, "Testing": 1, "save-model": 1}),
    "before the first step": ("kill-before-training", 1, {"step": 12, "Validating": 2, "Testing": 1, "save-model": 1}),
    "mid-epoch": ("kill", 5, {"step": 8, "Validating": 2, "Testing": 1, "save-model": 1}),  # after step 4's checkpoint
    "validating epoch 2": ("kill-validating", 2, {"Validating": 1, "Testing": 1, "save-model": 1}),
    "the test pass": ("kill-testing", 1, {"Testing": 1, "save-model": 1}),
    "saving model/": ("kill-saving-model", 1, {"save-model": 1}),
    "finalisation": ("kill-in-finalize", 1, {}),
}


@pytest.mark.parametrize("phase", PHASES)
def test_a_kill_in_any_phase_resumes_to_the_same_run_without_redoing_finished_work(setup, reference, tmp_path, phase):
    import os

    mode, count, redone = PHASES[phase]
    out = tmp_path / "run"
    env = {**os.environ, "FTCLI_CACHE": str(tmp_path / "cache")}  # empty: this run tokenizes
    assert ftcli(setup, out, mode=mode, count=count, env=env).returncode == -signal.SIGKILL
    assert not out.exists()
    cached = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cache" / "tokenized").glob("*.arrow")}
    trace = tmp_path / "trace"
    result = ftcli(setup, out, "--resume", env={**env, "TRACE": str(trace)})
    assert result.returncode == 0, result.stderr
    assert_same_run(out, reference)
    phases = trace.read_text().split()
    begun = {name: phases.count(name) for name in ("step", "Validating", "Testing", "save-model") if name in phases}
    assert begun == redone, result.stderr
    # The tokenized sets cached before the kill are read, not written again.
    assert all((tmp_path / "cache" / "tokenized" / name).stat().st_mtime_ns == mtime for name, mtime in cached.items())
    assert len(cached) == (1 if mode == "kill-tokenizing" else 3)  # training, validation and test rows
    assert not (out.parent / f".{out.name}.partial").exists()


def test_resume_with_other_settings_or_changed_data_is_refused(setup, tmp_path):
    root, launcher, train, test, model = setup
    out = tmp_path / "run"
    assert ftcli(setup, out, mode="kill", count=5).returncode == -signal.SIGKILL  # after the step-4 checkpoint
    for extra, named in ((["--lr", "1e-3"], "optim.lr 0.001 (the run: 0.002)"),
                         (["--set", "optim.weight_decay=0.5"], "optim.weight_decay 0.5 (the run: 0.0)"),
                         (["--batch-size", "4"], "train.batch_size 4")):
        result = ftcli(setup, out, "--resume", *extra)
        assert result.returncode == 2, result.stderr
        assert named in result.stderr and "settings it started with" in result.stderr
    # The same file name, fewer rows: the run would go on "on neither" data.
    cut = tmp_path / "train.csv"
    write_csv(cut, sentiment_rows(64))
    out2 = tmp_path / "run2"
    command = lambda *extra: [sys.executable, str(launcher), *extra[:2], "finetune", "classification", "--model",
                              str(model), "--train", str(cut), "--test", str(test), "--output-dir", str(out2),
                              *SETTINGS, *extra[2:]]
    assert subprocess.run(command("kill", "5"), capture_output=True).returncode == -signal.SIGKILL
    write_csv(cut, sentiment_rows(40))
    result = subprocess.run(command("none", "0", "--resume"), capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "data.train" in result.stderr and "changed since this run started" in result.stderr
    write_csv(cut, sentiment_rows(64))  # back as it was: the run goes on
    result = subprocess.run(command("none", "0", "--resume"), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Resuming from step 4" in result.stderr
