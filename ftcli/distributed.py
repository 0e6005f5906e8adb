"""What a process does differently when it is one of several (`ftcli --num-processes`, `accelerate
launch`, `torchrun`): the process group on a machine without GPUs, one voice on the terminal, and
errors handed to ftcli's launcher so the user reads one message, not one per process.

Training and evaluation themselves need nothing from here: accelerate shards the batches and
`gather_for_metrics` puts the results together (see ftcli.training and ftcli.evaluation).
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from ftcli.errors import UserError
from ftcli.paths import write_text_atomically

ERROR_DIR_ENV = "FTCLI_ERROR_DIR"
"""Set by ftcli's launcher: each failing process writes its one-line error there (see ftcli.launch)."""
LAUNCHED_COMMAND_ENV = "FTCLI_LAUNCHED_COMMAND"
"""Set by ftcli's launcher: the user's command line, for the model card and the --resume hint."""
TIMEOUT_ENV = "FTCLI_DIST_TIMEOUT"
"""Seconds a collective waits for a silent peer before failing (default 600: a checkpoint of a large
model fits, and a hung peer does not hold the others for torch's default 30 minutes)."""

Item = TypeVar("Item")
Result = TypeVar("Result")


def world_size() -> int:
    """Processes in the job the launcher started (1 when run directly)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def has_accelerator() -> bool:
    import torch

    return bool(getattr(torch, "accelerator", None) and torch.accelerator.is_available()) or torch.cuda.is_available()


def setup_process() -> None:
    """Called once at start-up. In a launched job: start the process group (gloo on a machine without
    GPUs, where accelerate would otherwise treat each process as a lone one), and keep the terminal
    to the main process."""
    if world_size() == 1:
        return
    from accelerate import PartialState
    from accelerate.utils import InitProcessGroupKwargs

    cpu = not has_accelerator()
    engine = sharding_engine()
    if cpu and engine:
        # Accelerate would quietly run plain data parallel instead (or, for DeepSpeed, lone processes).
        raise UserError(f"the launch config asks for {engine}, which Accelerate runs on GPUs only, and this machine "
                        "has none: train data parallel on the CPU with --num-processes N instead")
    if cpu:
        os.environ["ACCELERATE_USE_CPU"] = "true"  # what the Accelerator reads; PartialState takes `cpu`
    timeout = timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, "600")))
    state = PartialState(cpu=cpu, **InitProcessGroupKwargs(timeout=timeout).to_kwargs())
    if state.num_processes != world_size():
        raise UserError(f"the launcher started {world_size()} processes but Accelerate joined {state.num_processes}; "
                        "start them with ftcli's --num-processes (or accelerate launch --multi_gpu)")
    if rank() != 0:
        from ftcli.progress import console

        console.quiet = True


def sharding_engine() -> str | None:
    """FSDP or DeepSpeed when the launch config (through accelerate's environment) asks for one."""
    for variable, name in (("ACCELERATE_USE_FSDP", "FSDP"), ("ACCELERATE_USE_DEEPSPEED", "DeepSpeed")):
        if os.environ.get(variable, "false").lower() in ("true", "1"):
            return name
    return None


def is_main_process() -> bool:
    return rank() == 0


def barrier() -> None:
    if world_size() > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()


def sharded(function: Callable[[list[Item]], list[Result]], items: Sequence[Item]) -> list[Result]:
    """`function(items)`, with the items split into contiguous parts, one per process, and the results
    gathered back in the items' order (every process gets the whole list)."""
    if world_size() == 1:
        return function(list(items))
    from accelerate import PartialState
    from accelerate.utils import gather_object

    with PartialState().split_between_processes(list(items)) as part:
        results = function(part)
    return [result for chunk in gather_object([results]) for result in chunk]


def any_process(flag: bool, device) -> bool:
    """True on every process when `flag` is true on any: a stop signal that reached one process (or
    reached them at different steps) is acted on by all at the same step."""
    if world_size() == 1:
        return flag
    import torch
    import torch.distributed as dist

    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def report_error(message: str, exit_code: int) -> bool:
    """Hand this process's error to ftcli's launcher, which prints the first failure once; False when
    not under ftcli's launcher (the caller prints it, naming the process)."""
    folder = os.environ.get(ERROR_DIR_ENV)
    if not folder:
        return False
    record = {"rank": rank(), "message": message, "exit_code": exit_code, "time": time.time()}
    write_text_atomically(Path(folder) / f"rank-{rank()}.json", json.dumps(record))
    return True


def read_errors(folder: Path) -> list[dict]:
    """The errors the processes reported, earliest first."""
    records = []
    for path in Path(folder).glob("rank-*.json"):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(records, key=lambda record: record["time"])
