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
    """python launcher.py MODE N ARGS...: `ftcli ARGS...`, with an accident at the N-th call of
    accelerate's backward (MODE kill / sigint / sigterm: that signal to itself, before the
    backward) or save_state (MODE kill-in-save: SIGKILL once the state files are written, before
    the checkpoint is complete), or (kill-in-finalize) as the finished run is put in place."""
    import os, signal, sys
    import accelerate

    mode, count = sys.argv[1], int(sys.argv[2])
    calls = {"n": 0}
    name = "save_state" if mode == "kill-in-save" else "backward"
    real = getattr(accelerate.Accelerator, name)
    sent = {"kill": signal.SIGKILL, "kill-in-save": signal.SIGKILL, "sigint": signal.SIGINT,
            "sigterm": signal.SIGTERM}.get(mode)

    def patched(self, *args, **kwargs):
        calls["n"] += 1
        if name == "backward" and sent is not None and calls["n"] == count:
            os.kill(os.getpid(), sent)
        if mode == "pause" and calls["n"] == count:  # until the test says go on (at most 5 min)
            import time
            open(os.environ["PAUSE_FLAG"], "w").close()
            for _ in range(3000):
                if os.path.exists(os.environ["PAUSE_FLAG"] + ".go"):
                    break
                time.sleep(0.1)
        result = real(self, *args, **kwargs)
        if name == "save_state" and calls["n"] == count:
            os.kill(os.getpid(), sent)
        return result

    setattr(accelerate.Accelerator, name, patched)
    if mode == "kill-in-finalize":  # everything written, not yet in place
        import ftcli.rundir

        def killed(self, *args):
            os.kill(os.getpid(), signal.SIGKILL)

        ftcli.rundir.RunDirectory.finalize = killed
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
               "--model", str(model), "--train", str(train), "--eval", str(test), "--output-dir", str(out),
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
         "--train", str(train), "--eval", str(test), "--output-dir", str(out), *SETTINGS, "--seed", "1"],
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


def test_a_kill_while_the_finished_run_is_put_in_place_resumes_without_recomputing(setup, reference):
    out = setup[0] / "killed-in-finalize"
    staging = out.parent / f".{out.name}.partial"
    assert ftcli(setup, out, mode="kill-in-finalize").returncode == -signal.SIGKILL
    assert (staging / "metrics.json").is_file() and not out.exists()
    result = ftcli(setup, out, "--resume")
    assert result.returncode == 0, result.stderr
    assert "nothing was recomputed" in result.stderr and "Resuming from step" not in result.stderr
    assert not staging.exists()
    assert_same_run(out, reference)


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
                              str(model), "--train", str(cut), "--eval", str(test), "--output-dir", str(out2),
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
