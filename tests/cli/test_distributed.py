"""Several processes on this CPU (gloo): `accelerate launch -m ftcli`, ftcli's own --num-processes,
two "machines" on one host, a process killed mid-run then --resume, `ftcli evaluate` and
`ftcli prompt` sharded, and the shipped launch configs.

What each process did is recorded by a `sitecustomize` module the test puts on PYTHONPATH (Python
imports it at start-up in every process the launcher starts): the training rows each rank saw,
and how many rows each evaluation gathered. With FTCLI_TEST_KILL_AT=N, the process of rank 1
SIGKILLs itself at its N-th backward pass; with FTCLI_TEST_SLOW_SAVE_RANK=R, rank R starts
writing each checkpoint late (as on a loaded machine).
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from tests.conftest import sentiment_rows, write_csv, write_jsonl
from tests.unit.test_generation import tiny_causal_lm

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "accelerate"
# 64 training rows, 16 of them held out for validation: 48 rows, global batch 16, 3 steps an epoch.
# 25 test rows in evaluation batches of 4: the last batch holds 1 row, so the two processes' last
# batches are uneven and accelerate pads one with a repeated row.
# Length-grouped batches: that sampler groups by the global batch, so N processes train on exactly the
# batches one process does. The default shuffle does not promise that (runs on 1 and 2 processes
# differed, 2026-12-05); see the closing note of issue 25.
SETTINGS = ["--epochs", "2", "--lr", "2e-3", "--max-length", "16", "--set", "data.validation_fraction=0.25",
            "--set", "train.group_by_length=true",
            "--set", "train.eval_batch_size=4", "--set", "train.save_every=2", "--set", "train.logging_steps=1"]
TIMING = {"train_samples_per_second", "train_runtime", "eval_samples_per_second", "peak_memory_mb", "seconds"}
LAUNCH = {"num_processes", "global_batch_size"}

SITECUSTOMIZE = textwrap.dedent('''
    import os

    if os.environ.get("FTCLI_TEST_RECORD"):
        import json, signal
        import accelerate
        import ftcli.training as training

        folder, rank = os.environ["FTCLI_TEST_RECORD"], os.environ.get("RANK", "0")

        def record(name, item):
            with open(os.path.join(folder, f"{name}-rank{rank}.jsonl"), "a") as handle:
                handle.write(json.dumps(item) + "\\n")

        token_weighted = training._token_weighted

        def _token_weighted(loss, batch, scale):  # called once per training batch
            mask = batch["attention_mask"]
            rows = [ids[m.bool()].tolist() for ids, m in zip(batch["input_ids"], mask)]
            record("train", rows)
            return token_weighted(loss, batch, scale)

        collect_outputs = training.collect_outputs

        def _collect_outputs(*args, **kwargs):
            outputs = collect_outputs(*args, **kwargs)
            record("eval", len(outputs.gathered["labels"]))
            return outputs

        training._token_weighted, training.collect_outputs = _token_weighted, _collect_outputs

        kill_at = int(os.environ.get("FTCLI_TEST_KILL_AT", "0"))
        backward = accelerate.Accelerator.backward
        calls = {"n": 0}

        def _backward(self, *args, **kwargs):
            calls["n"] += 1
            if rank == "1" and calls["n"] == kill_at:
                with open(os.path.join(folder, "killed-at"), "w") as handle:
                    handle.write(repr(__import__("time").time()))
                os.kill(os.getpid(), signal.SIGKILL)
            return backward(self, *args, **kwargs)

        accelerate.Accelerator.backward = _backward

    if os.environ.get("FTCLI_TEST_SLOW_SAVE_RANK"):
        import time
        import accelerate

        save_state = accelerate.Accelerator.save_state

        def _save_state(self, *args, **kwargs):  # one process reaches every checkpoint late
            if str(self.process_index) == os.environ["FTCLI_TEST_SLOW_SAVE_RANK"]:
                time.sleep(float(os.environ.get("FTCLI_TEST_SLOW_SAVE_SECONDS", "2")))
            return save_state(self, *args, **kwargs)

        accelerate.Accelerator.save_state = _save_state
''')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("distributed")
    (root / "site").mkdir()
    (root / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    model = root / "tiny-bert"
    model.mkdir()
    for file in tiny_bert.iterdir():  # without dropout, one process with batch 16 and two with 8 agree
        (model / file.name).write_bytes(file.read_bytes())
    config = json.loads((model / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (model / "config.json").write_text(json.dumps(config))
    train = write_csv(root / "train.csv", sentiment_rows(64))
    test = write_csv(root / "test.csv", sentiment_rows(25, seed=1))
    return {"root": root, "model": model, "train": train, "test": test}


def environment(setup, record: Path | None = None, **extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(setup["root"] / "site"), "OMP_NUM_THREADS": "1", **extra}
    if record is not None:
        record.mkdir(parents=True, exist_ok=True)
        env["FTCLI_TEST_RECORD"] = str(record)
    return env


def finetune_args(setup, out: Path, batch_size: int) -> list[str]:
    return ["finetune", "classification", "--model", str(setup["model"]), "--train", str(setup["train"]),
            "--test", str(setup["test"]), "--output-dir", str(out), "--batch-size", str(batch_size), *SETTINGS]


def ftcli(args, env, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftcli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def read_records(folder: Path, name: str, rank: int) -> list:
    path = folder / f"{name}-rank{rank}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def quality(run: Path) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if k not in TIMING | LAUNCH and not k.endswith("loss")}


def assert_same_training(run: Path, reference: Path, tolerance: float, eval_loss_tolerance: float = 0.0) -> None:
    """Same metrics, training losses per step and weights within `tolerance`; evaluation losses within
    `eval_loss_tolerance` more (a last batch that two processes even out holds a repeated row, which
    the batch's mean loss includes)."""
    ours, theirs = (json.loads((path / "metrics.json").read_text()) for path in (run, reference))
    assert quality(run) == quality(reference)
    for key in [k for k in theirs if k.endswith("loss")]:
        assert abs(ours[key] - theirs[key]) < tolerance + eval_loss_tolerance, key
    logs = [[json.loads(line) for line in (path / "log.jsonl").read_text().splitlines()] for path in (run, reference)]
    assert [r["step"] for r in logs[0]] == [r["step"] for r in logs[1]]
    losses = [[r.get("loss", r.get("train_loss", 0.0)) for r in log] for log in logs]
    assert losses[0] == pytest.approx(losses[1], abs=tolerance)
    a, b = (load_file(path / "model" / "model.safetensors") for path in (run, reference))
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) < tolerance


@pytest.fixture(scope="module")
def one_process(setup):
    """The reference: one process, batch 16."""
    out = setup["root"] / "one-process"
    result = ftcli(finetune_args(setup, out, 16), environment(setup))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def two_processes(setup):
    """`accelerate launch` with two processes of batch 8 (the same global batch of 16)."""
    out, record = setup["root"] / "two-processes" / "run", setup["root"] / "record-two"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), "-m", "ftcli", *finetune_args(setup, out, 8)]
    result = subprocess.run(command, capture_output=True, text=True, env=environment(setup, record), timeout=600)
    assert result.returncode == 0, result.stderr
    return out, record, result


def test_two_processes_through_accelerate_launch_match_one(setup, one_process, two_processes):
    out, record, result = two_processes
    # Each process saw half of every global batch: disjoint halves that together are the training rows.
    seen = [read_records(record, "train", rank) for rank in (0, 1)]
    assert len(seen[0]) == len(seen[1]) == 6  # 3 steps an epoch, 2 epochs
    for epoch in (0, 1):
        halves = [[tuple(row) for batch in seen[rank][3 * epoch:3 * epoch + 3] for row in batch] for rank in (0, 1)]
        assert len(halves[0]) == len(halves[1]) == 24
        assert len(set(halves[0]) | set(halves[1])) == len(set(halves[0])) + len(set(halves[1]))
    # Every evaluation gathered each row once: 16 validation rows per epoch, then the 25 test rows.
    for rank in (0, 1):
        assert read_records(record, "eval", rank) == [16, 16, 25]
    # One run directory, written by the main process, and the one-process result.
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_processes"] == 2 and metrics["global_batch_size"] == 16
    assert "8 per process x 2 process(es) x 1 accumulation step(s) = 16" in result.stderr.replace("\n", " ")
    assert result.stderr.count("Epoch 1/2: validation") == 1  # the other process keeps quiet
    assert_same_training(out, one_process, tolerance=1e-5, eval_loss_tolerance=1e-3)


def test_gradient_accumulation_on_two_processes_keeps_the_global_batch(setup, one_process):
    """2 processes x batch 4 x 2 accumulation steps train as 1 process x batch 16."""
    out = setup["root"] / "accumulated"
    result = ftcli([*finetune_args(setup, out, 4), "--set", "train.grad_accum_steps=2", "--num-processes", "2",
                    "--main-process-port", free_port()], environment(setup))
    assert result.returncode == 0, result.stderr
    assert "4 per process x 2 process(es) x 2 accumulation step(s) = 16" in result.stderr.replace("\n", " ")
    assert_same_training(out, one_process, tolerance=1e-5, eval_loss_tolerance=1e-3)


def test_evaluate_on_two_processes_matches_one(setup, one_process, tmp_path):
    outputs = []
    for extra in ([], ["--num-processes", "2", "--main-process-port", free_port()]):
        out = tmp_path / f"metrics-{len(extra)}.json"
        result = ftcli(["evaluate", one_process, "--data", setup["test"], "--batch-size", "4", "--output", out, *extra],
                       environment(setup))
        assert result.returncode == 0, result.stderr
        outputs.append(json.loads(out.read_text()))
    single, double = ({k: v for k, v in o.items() if k not in TIMING and k != "loss"} for o in outputs)
    assert single == double and single["accuracy"] > 0
    assert abs(outputs[0]["loss"] - outputs[1]["loss"]) < 1e-3


def test_two_machines_on_one_host(setup, two_processes):
    """Two launcher invocations, machine ranks 0 and 1, meeting at 127.0.0.1: the multi-node path."""
    out, port = setup["root"] / "two-machines", free_port()
    machines = [subprocess.Popen([sys.executable, "-m", "ftcli", *finetune_args(setup, out, 8), "--num-processes", "2",
                                  "--num-machines", "2", "--machine-rank", str(rank), "--main-process-ip", "127.0.0.1",
                                  "--main-process-port", str(port)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(setup))
                for rank in (0, 1)]
    results = [machine.communicate(timeout=600) for machine in machines]
    assert [machine.returncode for machine in machines] == [0, 0], results
    assert "machine 1 of 2" in results[1][1]
    assert_same_training(out, two_processes[0], tolerance=1e-6)


def test_a_killed_process_stops_the_job_and_resume_finishes_it(setup, two_processes):
    out, record = setup["root"] / "killed", setup["root"] / "record-killed"
    args = [*finetune_args(setup, out, 8), "--num-processes", "2", "--main-process-port", free_port()]
    # Rank 1 dies at its 4th backward pass (step 4 of 6, after the step-2 and epoch-end checkpoints).
    result = ftcli(args, environment(setup, record, FTCLI_TEST_KILL_AT="4"))
    stopped = time.time()
    assert result.returncode == 137, result.stderr
    killed_at = float((record / "killed-at").read_text())
    assert stopped - killed_at < 60  # the other process and the launcher stopped in bounded time
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert errors == ["error: process 1 was killed (SIGKILL), so the job stopped; a run that had written a "
                      "checkpoint continues with the same command and --resume"]
    assert not out.exists() and (out.parent / ".killed.partial" / "checkpoints").is_dir()

    args[args.index("--main-process-port") + 1] = free_port()
    result = ftcli([*args, "--resume"], environment(setup))
    assert result.returncode == 0, result.stderr
    assert "Resuming from step 3" in result.stderr
    assert_same_training(out, two_processes[0], tolerance=1e-6)


@pytest.mark.parametrize("slow_rank", ["0", "1"])
def test_a_checkpoint_holds_every_process_state_when_one_process_is_late(setup, tmp_path, slow_rank):
    """Every process writes its own files (its RNG state) into the checkpoint being built; the main
    process renames it into place only once all of them are done, whichever process is late."""
    out = tmp_path / "run"
    args = [*finetune_args(setup, out, 8), "--set", "train.keep_checkpoints=1", "--num-processes", "2",
            "--main-process-port", free_port()]
    result = ftcli(args, environment(setup, FTCLI_TEST_SLOW_SAVE_RANK=slow_rank, FTCLI_TEST_SLOW_SAVE_SECONDS="2"))
    assert result.returncode == 0, result.stderr
    checkpoints = out / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["latest", "step-00000006"]  # no half-built .tmp-step
    kept = sorted(p.name for p in (checkpoints / "step-00000006").iterdir())
    assert {"random_states_0.pkl", "random_states_1.pkl", "trainer_state.json"} <= set(kept), kept


def test_shipped_launch_configs(setup, tmp_path):
    """Every config parses as accelerate reads it and names its command; DDP and multi-node launch
    through ftcli (see the tests above); FSDP and DeepSpeed launch their processes, which refuse
    with one line on a machine without GPUs, where Accelerate would run plain data parallel."""
    from accelerate.commands.config.config_args import load_config_from_file

    names = sorted(path.name for path in CONFIGS.glob("*.yaml"))
    assert names == ["ddp.yaml", "deepspeed-zero2-offload.yaml", "deepspeed-zero2.yaml", "deepspeed-zero3-offload.yaml",
                     "deepspeed-zero3.yaml", "fsdp.yaml", "multi-node.yaml"]
    for name in names:
        text = (CONFIGS / name).read_text()
        assert f"--accelerate-config configs/accelerate/{name}" in text and "accelerate launch" in text
        config = load_config_from_file(str(CONFIGS / name))
        assert config.distributed_type.value == yaml.safe_load(text)["distributed_type"]
    assert load_config_from_file(str(CONFIGS / "fsdp.yaml")).fsdp_config["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    for name in ("fsdp.yaml", "deepspeed-zero3-offload.yaml"):
        out = tmp_path / name
        result = ftcli([*finetune_args(setup, out, 8), "--accelerate-config", CONFIGS / name,
                        "--main-process-port", free_port()], environment(setup))
        engine = "FSDP" if name == "fsdp.yaml" else "DeepSpeed"
        errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
        assert not out.exists() and len(errors) == 1, result.stderr
        if engine == "DeepSpeed" and importlib.util.find_spec("deepspeed") is None:
            # Accelerate's DeepSpeed launcher needs the package (`pip install deepspeed`, for GPUs).
            assert result.returncode == 1 and "DeepSpeed is not installed" in errors[0]
            continue
        assert result.returncode == 2
        assert errors == [f"error: the launch config asks for {engine}, which Accelerate runs on GPUs only, and this "
                          "machine has none: train data parallel on the CPU with --num-processes N instead"]


def test_prompt_on_two_processes_matches_one(setup, tmp_path):
    model = tiny_causal_lm(tmp_path / "llama")
    data = write_jsonl(tmp_path / "eval.jsonl", sentiment_rows(9, seed=1))
    demos = write_jsonl(tmp_path / "demos.jsonl", sentiment_rows(12, seed=2))
    records = []
    for extra in ([], ["--num-processes", "2", "--main-process-port", free_port()]):
        out = tmp_path / f"prompt-{len(extra)}.json"
        result = ftcli(["prompt", "classification", "--model", model, "--data", data, "--demos", demos, "--shots", "2",
                        "--set", "prompt.label_words={negative: red, positive: blue}", "--batch-size", "2",
                        "--output", out, *extra], environment(setup))
        assert result.returncode == 0, result.stderr
        records.append(json.loads(out.read_text()))
    single, double = records
    assert [e["prompt"] for e in single["examples"]] == [e["prompt"] for e in double["examples"]]
    assert [e["prediction"] for e in single["examples"]] == [e["prediction"] for e in double["examples"]]
    for a, b in zip(single["examples"], double["examples"]):
        for kind in ("scores", "calibrated"):
            assert a[kind] == pytest.approx(b[kind], abs=1e-4)
    assert {k: v for k, v in single["metrics"].items() if k not in TIMING} == \
           {k: v for k, v in double["metrics"].items() if k not in TIMING}
    assert single["calibration"]["prior"] == pytest.approx(double["calibration"]["prior"], abs=1e-4)
