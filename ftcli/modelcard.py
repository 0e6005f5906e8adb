"""The run directory's README.md: a model card a person can read and a Hub page can show."""

from __future__ import annotations

from typing import Any

from ftcli import __version__
from ftcli.assets import base_model_id


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

{_usage(strategy, auto_class, processor_class, base_id or base_model)}
or `ftcli predict <this run> --input "some text"`.
"""


def _usage(strategy: str, auto_class: str, processor_class: str, base_model: str) -> str:
    if strategy == "lora":
        return f"""`model/` holds the LoRA adapter merged into full weights: plain transformers loads it.

```python
from transformers import {auto_class}, {processor_class}

model = {auto_class}.from_pretrained("model")
processor = {processor_class}.from_pretrained("model")
```

The adapter alone (peft, a few MB) is in `model/adapter/`:
`PeftModel.from_pretrained({auto_class}.from_pretrained("{base_model}", num_labels=...), "model/adapter")`.
"""
    if strategy == "prompt-tuning":
        return f"""`model/` holds a soft prompt and the task head (peft), not full weights: **it needs peft**
(a soft prompt is an input, so nothing merges it into the weights; plain `pipeline` cannot load it):

```python
from peft import PeftModel
from transformers import {auto_class}, {processor_class}

base = {auto_class}.from_pretrained("{base_model}", num_labels=...)  # the head's size: model/labels.json
model = PeftModel.from_pretrained(base, "model")
processor = {processor_class}.from_pretrained("model")
```
"""
    if strategy == "feature-extraction":
        return f"""`model/` holds the head trained on frozen features of `{base_model}`
(`feature_head.safetensors`, settings in `feature_head.json`); ftcli loads both.
"""
    return f"""```python
from transformers import {auto_class}, {processor_class}

model = {auto_class}.from_pretrained("model")
processor = {processor_class}.from_pretrained("model")
```
"""
