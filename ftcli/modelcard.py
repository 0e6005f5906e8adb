"""The run directory's README.md: a model card a person can read and a Hub page can show."""

from __future__ import annotations

from typing import Any

from ftcli import __version__
from ftcli.assets import base_model_id
from ftcli.strategies import get_strategy


def _table(rows: list[tuple[str, Any]]) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def render_model_card(
    config: dict[str, Any],
    metrics: dict[str, Any],
    base_model: str,
    train_rows: int,
    eval_rows: int,
    eval_source: str,
    labels: list[str] | None,
    validation: str,
    command: str,
    auto_class: str,
    processor_class: str = "AutoTokenizer",
    loss_plot: str | None = None,
) -> str:
    task, strategy = config["task"], config["strategy"]
    optim, train = config["optim"], config["train"]
    hyper = [
        ("epochs", train["epochs"]),
        ("batch size", f"{train['batch_size']} x {train['grad_accum_steps']} accumulation step(s)"),
        ("learning rate", optim["lr"]),
        ("head learning rate", optim["head_lr"] if optim["head_lr"] is not None else optim["lr"]),
        ("weight decay", optim["weight_decay"]),
        ("warm-up ratio", optim["warmup_ratio"]),
        ("max grad norm", optim["max_grad_norm"]),
        ("max length", config["model"]["max_length"]),
        ("mixed precision", train["mixed_precision"]),
        ("seed", train["seed"]),
    ]
    shown_metrics = [(k, f"{v:.4f}" if isinstance(v, float) else v) for k, v in metrics.items()]
    label_line = f"Labels: {', '.join(f'`{l}`' for l in labels)}.\n\n" if labels else ""
    base_id = base_model_id(config["model"]["name"])
    plot = f"## Training curve\n\n![Training and validation loss]({loss_plot})\n\n" if loss_plot else ""
    return f"""---
library_name: transformers
{f"base_model: {base_id}" + chr(10) if base_id else ""}tags: [ftcli, {task}, {strategy}]
---

# {task} model fine-tuned from `{base_id or config['model']['name']}`

Fine-tuned with [ftcli](https://pypi.org/project/ftcli/) {__version__}: task **{task}**,
strategy **{strategy}**, base checkpoint `{base_model}`.

## Data

- Training: `{config['data']['train']}` ({train_rows} rows)
- Test: {eval_source} ({eval_rows} rows), scored once with the kept model
- Model selection: {validation}

{label_line}## Hyperparameters

{_table(hyper)}

## Evaluation (test split; `validation_*`: the validation split)

{_table(shown_metrics)}

{plot}## How it was made

```bash
{command}
```

## Use

{get_strategy(strategy).model_usage(auto_class, processor_class, base_id or base_model)}
or `ftcli predict <this run> --input "some text"`.
"""


def render_distillation_section(method: str, teacher: str, teacher_metrics: dict[str, Any],
                                speed: dict[str, Any]) -> str:
    """The card's `## Distillation` section (`ftcli distill`): the teacher's test scores beside the
    student's speed-up, written once the teacher has been scored after the run."""
    shown = ", ".join(f"{k} {v:.4f}" for k, v in teacher_metrics.items() if isinstance(v, float))
    return ("## Distillation\n\n"
            f"Distilled ({method}) from the teacher `{teacher}`, which scores "
            f"{shown} on the same test rows. The student runs "
            f"{speed['speedup']:.2f}x as fast ({speed['student_examples_per_second']:.1f} vs "
            f"{speed['teacher_examples_per_second']:.1f} examples/s, batch size "
            f"{speed['speed_batch_size']}, {speed['speed_device']}).\n")


def with_section(card: str, section: str) -> str:
    """`card` with `section` (rendered here, e.g. `render_distillation_section`) added at its end."""
    return card.rstrip("\n") + "\n\n" + section
