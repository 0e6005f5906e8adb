"""log.jsonl, and the experiment trackers (train.report_to) that get the same records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from accelerate import Accelerator


class RunLog:
    """log.jsonl, appended by the main process. `lines` counts what it holds, so a resumed run
    can drop the lines the interrupted run wrote after its last checkpoint."""

    def __init__(self, path: Path, accelerator: Accelerator):
        self.path, self.main, self.lines = path, accelerator.is_main_process, 0
        self.accelerator, self.trackers = accelerator, False

    def start_trackers(self, tracker: str) -> None:
        """Send every record to accelerate's `tracker` as well; tensorboard writes to logs/ beside log.jsonl."""
        from accelerate.tracking import filter_trackers

        # The run directory is known only now, so the tracker is attached here rather than in make_accelerator.
        self.accelerator.project_configuration.set_directories(str(self.path.parent))
        self.accelerator.log_with = filter_trackers([tracker], self.accelerator.logging_dir)
        self.accelerator.init_trackers("logs")
        self.trackers = True

    def end_trackers(self) -> None:
        if self.trackers:
            self.accelerator.end_training()

    def truncate(self, keep: int) -> None:
        if self.main and self.path.exists():
            lines = self.path.read_text().splitlines(keepends=True)
            if len(lines) > keep:
                partial = self.path.with_name(f".{self.path.name}.partial")
                partial.write_text("".join(lines[:keep]))
                partial.replace(self.path)
        self.lines = keep

    def write(self, record: dict[str, Any]) -> None:
        if self.main:
            with self.path.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
        if self.trackers:
            values = {k: v for k, v in record.items() if k != "step" and isinstance(v, (int, float))
                      and not isinstance(v, bool)}
            self.accelerator.log(values, step=record["step"])
        self.lines += 1
