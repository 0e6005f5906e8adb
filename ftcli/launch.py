"""`--num-processes N` and the multi-machine options: ftcli starts Accelerate's launcher (torchrun
underneath) on its own command line, so the same command scales from one process to several GPUs
or machines without the user learning `accelerate launch`.

    ftcli finetune classification ... --num-processes 2
      == accelerate launch --multi_gpu --num_processes 2 -m ftcli finetune classification ...

On a machine without GPUs the processes train on the CPU over gloo. With `--accelerate-config`
(one of configs/accelerate/: FSDP, DeepSpeed ZeRO, multi-node) the file chooses the engine. The
processes report their errors to a folder the launcher reads, so a failure prints one message
however many processes saw it.
"""


import functools
import inspect
import logging
import os
import shlex
import signal
import sys
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Optional

import typer

from ftcli.distributed import ERROR_DIR_ENV, LAUNCHED_COMMAND_ENV, has_accelerator, read_errors, world_size
from ftcli.errors import UserError

PANEL = "Launch"


@dataclass
class LaunchOptions:
    num_processes: Annotated[Optional[int], typer.Option(
        "--num-processes", rich_help_panel=PANEL,
        help="Processes in all (GPUs, or CPU processes without GPUs); more than 1 starts Accelerate's launcher. "
             "--batch-size stays per process.")] = None
    num_machines: Annotated[Optional[int], typer.Option(
        "--num-machines", rich_help_panel=PANEL, help="Machines taking part; run the same command on each with its --machine-rank.")] = None
    machine_rank: Annotated[Optional[int], typer.Option(
        "--machine-rank", rich_help_panel=PANEL, help="This machine's rank, 0 to --num-machines - 1 (0 is the main one).")] = None
    main_process_ip: Annotated[Optional[str], typer.Option(
        "--main-process-ip", rich_help_panel=PANEL, help="Address of the machine of rank 0.")] = None
    main_process_port: Annotated[Optional[int], typer.Option(
        "--main-process-port", rich_help_panel=PANEL, help="Free port on the machine of rank 0 (default 29500).")] = None
    accelerate_config: Annotated[Optional[Path], typer.Option(
        "--accelerate-config", rich_help_panel=PANEL,
        help="An `accelerate config` file (see configs/accelerate/: ddp, fsdp, deepspeed-zero2/3, multi-node).")] = None

    def requested(self) -> bool:
        """More than one process or machine, or a launch config: `--num-processes 1` alone runs here."""
        return (self.accelerate_config is not None or (self.num_machines or 1) > 1
                or (self.num_processes or 1) > 1 or (self.num_processes is not None and self.num_processes < 1))


OPTION_NAMES = [f.name for f in fields(LaunchOptions)]
_FLAGS = {f"--{name.replace('_', '-')}" for name in OPTION_NAMES}


def launchable(command):
    """Add the launch options to a typer command: given any of them (outside a launched job), the
    command re-runs itself under Accelerate's launcher instead of running here."""
    signature = inspect.signature(command, eval_str=True)
    hints = {name: field.type for name, field in LaunchOptions.__dataclass_fields__.items()}
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hints[name])
             for name in OPTION_NAMES]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        options = LaunchOptions(**{name: kwargs.pop(name, None) for name in OPTION_NAMES})
        if options.requested() and world_size() == 1:
            raise typer.Exit(relaunch(options, sys.argv[1:]))
        return command(*args, **kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*signature.parameters.values(), *extra])
    wrapper.__annotations__ = {**getattr(command, "__annotations__", {}), **hints}
    return wrapper


def child_arguments(argv: list[str]) -> list[str]:
    """The command line without the launch options (the processes must not launch again)."""
    kept, skip = [], False
    for argument in argv:
        if skip:
            skip = False
        elif argument in _FLAGS:
            skip = True
        elif argument.split("=", 1)[0] in _FLAGS:
            continue
        else:
            kept.append(argument)
    return kept


def launcher_arguments(options: LaunchOptions) -> list[str]:
    """`accelerate launch` arguments for these options. With --accelerate-config, the file's settings
    hold except where an option is given."""
    machines = 1 if options.num_machines is None else options.num_machines
    processes = machines if options.num_processes is None else options.num_processes
    if machines < 1 or processes < 1:
        raise UserError("--num-processes and --num-machines must be at least 1")
    if processes % machines:
        raise UserError(f"--num-processes {processes} (in all) cannot be split evenly over --num-machines {machines}")
    rank = options.machine_rank or 0
    if not 0 <= rank < machines:
        raise UserError(f"--machine-rank must be from 0 to {machines - 1}, got {rank}")
    arguments = ["--dynamo_backend", "no"]
    given = {"--num_processes": options.num_processes, "--num_machines": options.num_machines,
             "--machine_rank": options.machine_rank, "--main_process_ip": options.main_process_ip,
             "--main_process_port": options.main_process_port}
    if options.accelerate_config is not None:
        if not options.accelerate_config.is_file():
            raise UserError(f"--accelerate-config {options.accelerate_config}: no such file")
        arguments += ["--config_file", str(options.accelerate_config)]
    else:
        if machines > 1 and not options.main_process_ip:
            raise UserError("--num-machines > 1 needs --main-process-ip (the address of the machine of rank 0)")
        given.update({"--num_processes": processes, "--num_machines": machines, "--machine_rank": rank})
        arguments += ["--mixed_precision", "no"]  # ftcli sets the precision itself (train.mixed_precision)
        if processes > 1:
            arguments.append("--multi_gpu")  # torchrun; on a machine without GPUs each process uses the CPU
    return arguments + [item for flag, value in given.items() if value is not None for item in (flag, str(value))]


def local_processes(options: LaunchOptions) -> int:
    """Processes this machine starts (the config file's counts when the options leave them out)."""
    processes, machines = options.num_processes, options.num_machines
    if options.accelerate_config is not None and (processes is None or machines is None):
        from ftcli.config import read_yaml_mapping

        settings = read_yaml_mapping(options.accelerate_config, "--accelerate-config")
        processes = processes or settings.get("num_processes", 1)
        machines = machines or settings.get("num_machines", 1)
    machines = machines or 1
    return max(1, (processes or machines) // machines)


def relaunch(options: LaunchOptions, argv: list[str]) -> int:
    """Run `ftcli ARGV` (less the launch options) under Accelerate's launcher; the exit status of
    the job. A failure prints one line: the first error a process reported."""
    from accelerate.commands.launch import launch_command, launch_command_parser

    from ftcli.progress import console

    arguments = launcher_arguments(options)
    parsed = launch_command_parser().parse_args([*arguments, "-m", "ftcli", *child_arguments(argv)])
    machines = options.num_machines or 1
    local = local_processes(options)
    # Threads per process: the machine's cores shared out (torchrun would set 1 and warn).
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // local)))
    if not has_accelerator():
        os.environ["ACCELERATE_USE_CPU"] = "true"
    os.environ[LAUNCHED_COMMAND_ENV] = shlex.join(["ftcli", *argv])
    quiet_launcher_logs()
    console.print(f"Starting {local} process(es) on this machine"
                  + (f" (machine {options.machine_rank or 0} of {machines})" if machines > 1 else "")
                  + (f" with {options.accelerate_config}" if options.accelerate_config else "")
                  + ("" if has_accelerator() else ", on the CPU (gloo)"))
    with tempfile.TemporaryDirectory(prefix="ftcli-errors-") as folder:
        os.environ[ERROR_DIR_ENV] = folder
        try:
            launch_command(parsed)
            return 0
        except Exception as err:  # the job failed: a process's error, a signal, a launcher problem
            message, code = first_failure(err, read_errors(Path(folder)))
        finally:
            os.environ.pop(ERROR_DIR_ENV, None)
    print(f"error: {message}", file=sys.stderr)
    return code


def quiet_launcher_logs() -> None:
    """torchrun's and accelerate's own log lines ("Received 2 death signal, shutting down workers"): the
    processes' messages, and the one error line, say what happened."""
    import torch.distributed.elastic.agent.server.api  # noqa: F401 (creates the loggers to quiet)

    for name in list(logging.root.manager.loggerDict):
        if name.startswith(("torch.distributed", "accelerate", "DeepSpeed")):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def first_failure(err: Exception, reported: list[dict]) -> tuple[str, int]:
    """The message and exit status to show for a failed job: a user error wins (every process saw
    the same input); then a process killed without a word (the others' errors follow from it); then
    the earliest error reported; else what the launcher says."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    user_errors = [record for record in reported if record["exit_code"] == 2]
    if user_errors:
        return user_errors[0]["message"], 2
    failures = err.failures if isinstance(err, ChildFailedError) else {}
    silent = {rank: failure for rank, failure in failures.items()
              if failure.exitcode < 0 and rank not in {record["rank"] for record in reported}}
    if silent:
        rank, failure = min(silent.items(), key=lambda item: item[1].timestamp)
        name = signal.Signals(-failure.exitcode).name if -failure.exitcode in signal.valid_signals() else failure.exitcode
        return (f"process {rank} was killed ({name}), so the job stopped; a run that had written a checkpoint "
                "continues with the same command and --resume"), 128 - failure.exitcode
    if reported:
        return reported[0]["message"], reported[0]["exit_code"]
    if failures:
        rank, failure = min(failures.items(), key=lambda item: item[1].timestamp)
        return f"process {rank} failed with exit status {failure.exitcode}", failure.exitcode if failure.exitcode > 0 else 1
    if isinstance(err, UserError):
        return str(err), 2
    detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return f"the launcher failed ({type(err).__name__}: {detail})", 1
