"""A student made from the teacher (`--init-from-teacher every-other-layer`)."""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path

from torch import nn

from ftcli.distillation.attention import layer_count
from ftcli.distillation.teacher import TeacherRef
from ftcli.errors import UserError
from ftcli.tasks.base import Task


def every_other_layer(teacher: nn.Module) -> nn.Module:
    """A copy of `teacher` with layers 0, 2, 4, ... (half the depth, rounded up), its embeddings and
    its head. An architecture sharing one set of layer weights (ALBERT) keeps them and applies
    them half as many times."""
    from ftcli.models.registry import architecture_of
    from ftcli.models.layers import _LAYER

    config = copy.deepcopy(teacher.config)
    key, depth = layer_count(config)
    if depth < 2:
        raise UserError(f"the teacher has {depth} layer; --init-from-teacher every-other-layer needs at least 2")
    kept = list(range(0, depth, 2))
    setattr(config, key, len(kept))
    architecture = architecture_of(teacher)
    pattern = re.compile(architecture.layer_pattern) if architecture is not None else _LAYER
    shared = architecture is not None and architecture.shared_layers
    student = type(teacher)(config)
    source = teacher.state_dict()
    weights = {}
    for name in student.state_dict():
        match = None if shared else pattern.search(name)
        origin = name if match is None else f"{name[:match.start(1)]}{kept[int(match.group(1))]}{name[match.end(1):]}"
        weights[name] = source[origin]
    student.load_state_dict(weights, strict=True)
    return student


def student_from_teacher(teacher: TeacherRef, task: Task, trust_remote_code: bool = False) -> Path:
    """Write (once) the every-other-layer student of `teacher` as a normal checkpoint directory under
    the ftcli cache, keyed by the teacher's path and file times, and return it."""
    from accelerate import PartialState

    from ftcli.models.loading import load_model, load_tokenizer
    from ftcli.ownership import atomic_directory
    from ftcli.paths import cache_dir

    if teacher.run_dir is not None:
        from ftcli.config import config_from_yaml
        from ftcli.rundir import CONFIG_FILE

        strategy = config_from_yaml(teacher.run_dir / CONFIG_FILE).strategy
        if strategy not in ("full", "distill"):
            raise UserError(f"--init-from-teacher copies the teacher's weights; {teacher.spec} is a {strategy} run "
                            "whose model/ holds no full checkpoint: export it first (ftcli export RUN --output-dir DIR) "
                            "and pass that folder")
    folder = Path(teacher.checkpoint).expanduser()
    if not folder.is_dir():
        raise UserError(f"--init-from-teacher needs a local teacher (run or checkpoint directory), not {teacher.spec}")
    folder = folder.resolve()
    stamp = [str(folder)] + [f"{p.name}:{p.stat().st_mtime_ns}:{p.stat().st_size}"
                             for p in sorted(folder.iterdir()) if p.suffix in (".json", ".safetensors")]
    digest = hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:12]
    name = teacher.run_dir.name if teacher.run_dir is not None else folder.name
    target = cache_dir() / "students" / f"{name}-every-other-layer-{digest}"
    with PartialState().main_process_first():
        if not ((target / "config.json").is_file() and any(target.glob("*.safetensors"))):
            model = load_model(str(folder), task.auto_class_for, trust_remote_code)
            missing = getattr(model, "ftcli_new_weights", [])
            if missing:
                raise UserError(f"teacher {teacher.spec} has no trained {task.name} head (its checkpoint lacks "
                                f"{', '.join(missing[:3])})")
            student = every_other_layer(model)
            tokenizer = load_tokenizer(str(folder), trust_remote_code)
            with atomic_directory(target) as staging:
                student.save_pretrained(staging, safe_serialization=True)
                tokenizer.save_pretrained(staging)
    return target
