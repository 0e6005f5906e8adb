"""ftcli's launcher: the command line the processes get, the `accelerate launch` arguments, and which
error a failed job shows (the processes themselves are tested in tests/cli/test_distributed.py)."""

from pathlib import Path

import pytest
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

from ftcli.errors import UserError
from ftcli.launch import LaunchOptions, child_arguments, first_failure, launcher_arguments, local_processes


def test_the_processes_get_the_command_without_the_launch_options():
    argv = ["finetune", "classification", "--num-processes", "2", "--model", "m", "--num-machines=2",
            "--machine-rank", "1", "--main-process-ip", "10.0.0.1", "--main-process-port", "29501",
            "--accelerate-config", "c.yaml", "--epochs", "1"]
    assert child_arguments(argv) == ["finetune", "classification", "--model", "m", "--epochs", "1"]


def test_launcher_arguments():
    arguments = launcher_arguments(LaunchOptions(num_processes=4, num_machines=2, machine_rank=1,
                                                 main_process_ip="127.0.0.1", main_process_port=29600))
    pairs = {flag: value for flag, value in zip(arguments, arguments[1:]) if flag.startswith("--")}
    assert "--multi_gpu" in arguments and pairs["--num_processes"] == "4" and pairs["--num_machines"] == "2"
    assert pairs["--machine_rank"] == "1" and pairs["--main_process_ip"] == "127.0.0.1"
    assert pairs["--main_process_port"] == "29600" and pairs["--mixed_precision"] == "no"
    # A config file keeps its own settings unless an option is given.
    config = Path(__file__).resolve().parents[2] / "configs" / "accelerate" / "fsdp.yaml"
    arguments = launcher_arguments(LaunchOptions(accelerate_config=config))
    assert arguments == ["--dynamo_backend", "no", "--config_file", str(config)]
    assert local_processes(LaunchOptions(accelerate_config=config)) == 2
    assert local_processes(LaunchOptions(num_processes=8, num_machines=2)) == 4


@pytest.mark.parametrize("options, message", [
    (LaunchOptions(num_processes=3, num_machines=2, main_process_ip="h"), "cannot be split evenly"),
    (LaunchOptions(num_processes=2, num_machines=2), "needs --main-process-ip"),
    (LaunchOptions(num_processes=2, machine_rank=1), "--machine-rank must be from 0 to 0"),
    (LaunchOptions(num_processes=0), "at least 1"),
    (LaunchOptions(accelerate_config=Path("no-such.yaml")), "no such file"),
])
def test_bad_launch_options_are_refused(options, message):
    with pytest.raises(UserError, match=message):
        launcher_arguments(options)


def failed(**exit_codes) -> ChildFailedError:
    return ChildFailedError("ftcli", {int(rank[1:]): ProcessFailure(local_rank=int(rank[1:]), pid=1, exitcode=code,
                                                                   error_file="")
                                      for rank, code in exit_codes.items()})


def test_the_error_shown_for_a_failed_job():
    lost = {"rank": 0, "message": "process 0 lost contact with the other processes", "exit_code": 1, "time": 2.0}
    user = {"rank": 1, "message": "training data x.csv, row 3: no label", "exit_code": 2, "time": 3.0}
    # A user error wins: it is what to fix.
    assert first_failure(failed(r0=1, r1=2), [lost, user]) == (user["message"], 2)
    # A process killed without a word explains the others' lost contact.
    message, code = first_failure(failed(r0=1, r1=-9), [lost])
    assert message.startswith("process 1 was killed (SIGKILL)") and "--resume" in message and code == 137
    # Otherwise the earliest reported error, else the launcher's account.
    assert first_failure(failed(r0=1), [lost]) == (lost["message"], 1)
    assert first_failure(failed(r0=3), []) == ("process 0 failed with exit status 3", 3)
    assert first_failure(ValueError("bad config"), [])[0] == "the launcher failed (ValueError: bad config)"


def test_one_process_runs_here():
    assert not LaunchOptions().requested() and not LaunchOptions(num_processes=1).requested()
    assert LaunchOptions(num_processes=2).requested() and LaunchOptions(num_machines=2).requested()
    assert LaunchOptions(accelerate_config=Path("c.yaml")).requested() and LaunchOptions(num_processes=0).requested()
