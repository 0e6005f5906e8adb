"""The run directory's README.md: a model card a person can read and a Hub page can show.

The YAML front matter holds the Hub's metadata (base_model, datasets, metrics, license, library_name,
pipeline_tag, tags): Hub ids only, never a local path. The "Use" section's code runs as written from the
run directory the card sits in: it loads `./model`, with `pipeline` where plain transformers can load it,
with peft for a soft prompt, and points at `ftcli predict` where only ftcli can (a feature-extraction head).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ftcli import __version__
from ftcli.assets import DATASETS, MODELS, base_model_id, base_model_license, dataset_hub_id
from ftcli.strategies import get_strategy

PIPELINE_TAGS = {
    "AutoModelForSequenceClassification": "text-classification",
    "AutoModelForTokenClassification": "token-classification",
    "AutoModelForQuestionAnswering": "question-answering",
    "AutoModelForCausalLM": "text-generation",
    "AutoModelForSeq2SeqLM": "text2text-generation",
    "AutoModelForImageClassification": "image-classification",
    "AutoModelForMaskedLM": "fill-mask",
}
"""The Hub's `pipeline_tag` for the Auto class a run's model/ loads with (none for pre-training heads)."""

HUB_METRICS = {"accuracy": "accuracy", "f1": "f1", "precision": "precision", "recall": "recall",
               "exact_match": "exact_match", "perplexity": "perplexity", "rougeL": "rouge"}
"""Test-split keys of metrics.json -> the Hub metric id a card's `metrics:` names."""

# pipeline tag -> (variable, the call shown, comment line); the inputs are examples, any text works.
PIPELINE_CALLS = {
    "text-classification": ("classifier", 'classifier("This film was a delight from start to finish.")', None),
    "text-pair-classification": (
        "classifier", 'classifier({"text": "A man is playing a guitar on stage.", "text_pair": "Someone is making '
        'music."})', "premise and hypothesis go in as a text pair (segments A and B), as in training"),
    "token-classification": ("tagger", 'tagger("Alice Smith flew from Paris to London.")', None),
    "text-generation": ("generator", 'generator("Once upon a time", max_new_tokens=40)[0]["generated_text"]',
                        "a model with a chat template also takes [{\"role\": \"user\", \"content\": ...}]"),
    "fill-mask": ("fill", 'fill(f"Paris is the {fill.tokenizer.mask_token} of France.")', None),
    "image-classification": ("classifier", "classifier(image)", None),
}
EXAMPLE_TEXT = "This film was a delight from start to finish."
NO_PIPELINE = ("question-answering", "text2text-generation")
"""Tags whose `pipeline` transformers 5 removed: their snippets use the Auto classes instead."""
PREDICT_INPUTS = {"nli": "A man is playing a guitar on stage. ||| Someone is making music.",
                  "qa": "Where does Alice live? ||| Alice lives in Paris with her two cats.",
                  "ner": "Alice Smith flew from Paris to London.", "generation": "Once upon a time",
                  "image-classification": "photo.jpg"}
"""`ftcli predict --input` examples by task (pairs joined by |||); other tasks take EXAMPLE_TEXT."""


def _is_adapter(strategy) -> bool:
    """A peft strategy (prompt tuning, LoRA). Without importing peft: a `full` run never loads it, and
    no strategy can be an adapter one while the module that defines them is not loaded."""
    adapters = sys.modules.get("ftcli.strategies.adapters")
    return adapters is not None and isinstance(strategy, adapters.AdapterStrategy)


def _table(rows: list[tuple[str, Any]]) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def shown_name(spec: str | None) -> str:
    """A model or data argument as prose names it: aliases and Hub names as given, a local path by its
    file or folder name only (a card travels; absolute paths, site-packages ones above all, do not)."""
    if not spec:
        return "-"
    path = Path(spec).expanduser()
    if spec in MODELS or spec in DATASETS or not (path.is_absolute() or path.exists() or spec.startswith(("~", "."))):
        return spec
    return path.resolve().name or spec


def hub_metrics(metrics: dict[str, Any]) -> list[str]:
    """The Hub metric ids of the test scores in metrics.json, in their order, once each."""
    found = [HUB_METRICS[key] for key in metrics if key in HUB_METRICS]
    return list(dict.fromkeys(found))


def front_matter(config: dict[str, Any], metrics: dict[str, Any], auto_class: str) -> dict[str, Any]:
    """The card's Hub metadata; keys without a known value are left out rather than guessed."""
    strategy = get_strategy(config["strategy"])
    name = config["model"]["name"]
    meta: dict[str, Any] = {}
    if strategy.plain_transformers is None:
        meta["library_name"] = "transformers"
    elif _is_adapter(strategy):
        meta["library_name"] = "peft"  # Hub convention for an adapter repository (loads onto base_model)
    licence = base_model_license(name)
    if licence:
        meta["license"] = licence
    base = base_model_id(name)
    if base:
        meta["base_model"] = base
    dataset = dataset_hub_id(config["data"]["train"])
    if dataset:
        meta["datasets"] = [dataset]
    found = hub_metrics(metrics)
    if found:
        meta["metrics"] = found
    if PIPELINE_TAGS.get(auto_class) and "library_name" in meta:  # a model a Hub widget could load
        meta["pipeline_tag"] = PIPELINE_TAGS[auto_class]
    meta["tags"] = ["ftcli", config["task"], config["strategy"]]
    return meta


def render_front_matter(meta: dict[str, Any]) -> str:
    import yaml

    return "---\n" + yaml.safe_dump(meta, sort_keys=False, default_flow_style=False, allow_unicode=True) + "---\n"


def _pipeline_snippet(tag: str, task: str) -> str:
    """`pipeline(TAG, model="./model")` and one call on an example input."""
    key = "text-pair-classification" if tag == "text-classification" and task == "nli" else tag
    variable, call, comment = PIPELINE_CALLS[key]
    options = ', aggregation_strategy="simple"' if tag == "token-classification" else ""
    imports = "from PIL import Image\nfrom transformers import pipeline\n" if tag == "image-classification" \
        else "from transformers import pipeline\n"
    image = ('image = Image.new("RGB", (224, 224), "white")  # your picture: Image.open("photo.jpg")\n'
             if tag == "image-classification" else "")
    note = f"# {comment}\n" if comment else ""
    return (f"```python\n{imports}\n{variable} = pipeline(\"{tag}\", model=\"./model\"{options})\n"
            f"{image}{note}print({call})\n```\n")


def _auto_snippet(auto_class: str, processor_class: str) -> str:
    """Auto classes, for what has no pipeline (QA and seq2seq generation in transformers 5, pre-training heads)."""
    if auto_class == "AutoModelForQuestionAnswering":
        use = ('inputs = processor("Where does Alice live?", "Alice lives in Paris with her two cats.", '
               'return_tensors="pt")\noutputs = model(**inputs)\n'
               "start, end = int(outputs.start_logits.argmax()), int(outputs.end_logits.argmax())\n"
               'print(processor.decode(inputs["input_ids"][0, start:end + 1]) if 0 < start <= end else "(no answer)")\n')
    elif auto_class == "AutoModelForSeq2SeqLM":
        use = (f'inputs = processor("{EXAMPLE_TEXT}", return_tensors="pt")\n'
               "print(processor.decode(model.generate(**inputs, max_new_tokens=40)[0], skip_special_tokens=True))\n")
    else:
        use = f'outputs = model(**processor("{EXAMPLE_TEXT}", return_tensors="pt"))\nprint(type(outputs).__name__)\n'
    return (f"```python\nfrom transformers import {auto_class}, {processor_class}\n\n"
            f'model = {auto_class}.from_pretrained("./model")\nprocessor = {processor_class}.from_pretrained("./model")\n'
            f"{use}```\n")


def _peft_snippet(auto_class: str, processor_class: str, base_id: str | None, with_head: bool) -> str:
    """A soft prompt (+ head) loaded onto its base model with peft; labels.json sizes the head."""
    from ftcli.strategies.adapters import LABELS_FILE

    lines = ["import json", ""] if with_head else []
    lines += [f"from peft import {'PeftModel' if base_id else 'PeftConfig, PeftModel'}",
              f"from transformers import {auto_class}, {processor_class}", ""]
    lines.append(f'base_model = "{base_id}"' if base_id else
                 'base_model = PeftConfig.from_pretrained("./model").base_model_name_or_path  # as trained here')
    if with_head:
        lines += [f'labels = json.load(open("model/{LABELS_FILE}"))["labels"]  # the head\'s label names',
                  f"base = {auto_class}.from_pretrained(base_model, num_labels=len(labels), "
                  "id2label=dict(enumerate(labels)),",
                  "    label2id={label: i for i, label in enumerate(labels)})"]
    else:
        lines.append(f"base = {auto_class}.from_pretrained(base_model)")
    lines += ['model = PeftModel.from_pretrained(base, "./model").eval()',
              f'processor = {processor_class}.from_pretrained("./model")',
              f'inputs = processor("{EXAMPLE_TEXT}", return_tensors="pt")']
    if auto_class == "AutoModelForSequenceClassification":
        lines += ["probabilities = model(**inputs).logits.softmax(-1)[0].tolist()",
                  "print(dict(zip(labels, probabilities)))"]
    elif not with_head:
        lines.append("print(processor.decode(model.generate(**inputs, max_new_tokens=40)[0], skip_special_tokens=True))")
    else:  # token / span logits: peft puts the soft prompt's positions first
        lines += ["outputs = model(**inputs)  # the first num_virtual_tokens positions are the soft prompt's",
                  'print({key: tuple(value.shape) for key, value in outputs.items() if key.endswith("logits")})']
    return "```python\n" + "\n".join(lines) + "\n```\n"


def usage_section(config: dict[str, Any], auto_class: str, processor_class: str, base_id: str | None) -> str:
    """The "Use" section: code that runs from this folder, then the ftcli command."""
    strategy = get_strategy(config["strategy"])
    tag = PIPELINE_TAGS.get(auto_class)
    example = PREDICT_INPUTS.get(config["task"], EXAMPLE_TEXT)
    predict = f'\nFrom the command line, in this folder: `ftcli predict . --input "{example}"`.\n'
    if strategy.plain_transformers is None:
        code = (_pipeline_snippet(tag, config["task"]) if tag and tag not in NO_PIPELINE
                else _auto_snippet(auto_class, processor_class))
        merged = (f"`model/` holds the {strategy.name} adapter merged into full weights, so plain transformers "
                  "loads it; the adapter alone (peft, a few MB) is in `model/adapter/`. " if _is_adapter(strategy) else "")
        return f"{merged}Run from this folder (transformers):\n\n{code}{predict}"
    if _is_adapter(strategy):
        with_head = auto_class not in ("AutoModelForCausalLM", "AutoModelForSeq2SeqLM")
        return (f"`model/` holds a soft prompt{' and the task head' if with_head else ''}, not full weights: **it "
                "needs peft** (a soft prompt is an input, so nothing merges it into the weights; plain `pipeline` "
                "cannot load it). Run from this folder:\n\n"
                f"{_peft_snippet(auto_class, processor_class, base_id, with_head)}{predict}")
    prose = strategy.model_usage(auto_class, processor_class, base_id or shown_name(config["model"]["name"]))
    return f"{prose}{predict}"


def _data_lines(config: dict[str, Any], train_rows: int, eval_rows: int, eval_source: str) -> str:
    """The Data section's lists: catalogue sets by alias (with their Hub copy), files by name only."""
    data = config["data"]
    train, hub = data["train"], dataset_hub_id(data["train"])
    about = f", an ftcli catalogue set: {DATASETS[train].description}" if train in DATASETS else ""
    link = f" (Hub: [{hub}](https://huggingface.co/datasets/{hub}))" if hub else ""
    for spec in (train, data.get("eval"), data.get("validation")):
        if spec and shown_name(spec) != spec:
            eval_source = eval_source.replace(spec, shown_name(spec))
    return (f"- Training: {train_rows} rows of `{shown_name(train)}`{link}{about}\n"
            f"- Test: {eval_source}, {eval_rows} rows, scored once with the kept model")


def _base_line(name: str, base_id: str | None) -> str:
    """How the prose names the base model: alias, Hub id (linked) or local folder name, never a path."""
    link = f"[{base_id}](https://huggingface.co/{base_id})" if base_id else None
    if name in MODELS:
        return f"`{name}` (ftcli catalogue" + (f": {link})" if link else ")")
    if base_id and name == base_id:
        return link
    local = f"the local checkpoint `{shown_name(name)}`"
    return local + (f", saved from {link}" if link else "")


def lineage(name: str, limit: int = 10) -> list[str]:
    """The ftcli runs a checkpoint came out of, oldest first, when `name` is a run's model/: "`minilm`",
    "mlm pre-training on `rt-sentiment` (2 epochs, run `tapt`)". Empty for any other checkpoint."""
    steps: list[str] = []
    path = Path(name).expanduser()
    while len(steps) < limit:
        run = path.parent if path.name == "model" else path
        config = _run_config(run)
        if config is None:
            if steps:  # the chain starts at a local checkpoint that no ftcli run wrote
                steps.append(f"`{shown_name(str(path))}`")
            break
        steps.append(f"{_step(config)} (run `{run.resolve().name}`)")
        base = str(config["model"]["name"])
        path = Path(base).expanduser()
        if not path.exists():  # a catalogue alias or a Hub id
            steps.append(f"`{base}`")
            break
    return steps[::-1]


def _run_config(run: Path) -> dict[str, Any] | None:
    """An ftcli run's config.yaml, when `run` is one (its model/ beside it)."""
    import yaml

    from ftcli.rundir import CONFIG_FILE, is_run_directory

    try:
        config = yaml.safe_load((run / CONFIG_FILE).read_text()) if is_run_directory(run) else None
        return config if isinstance(config, dict) and config["model"]["name"] and config["data"]["train"] else None
    except (OSError, TypeError, KeyError, yaml.YAMLError):
        return None


def _step(config: dict[str, Any]) -> str:
    task, strategy, epochs = config["task"], config["strategy"], config["train"]["epochs"]
    made = f"{task} pre-training" if strategy == "pretrain" else f"{task} fine-tuning ({strategy})"
    return f"{made} on `{shown_name(config['data']['train'])}`, {epochs} epoch{'s' if epochs != 1 else ''}"


def _lineage_section(config: dict[str, Any]) -> str:
    """## Lineage: the base model and the ftcli runs between it and this one (continued pre-training...)."""
    steps = lineage(config["model"]["name"])
    if not steps:
        return ""
    steps.append(f"{_step(config)}: this run")
    return "## Lineage\n\n" + "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1)) + "\n\n"


def _hyperparameters(config: dict[str, Any]) -> list[tuple[str, Any]]:
    optim, train = config["optim"], config["train"]
    return [
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


def render_model_card(
    config: dict[str, Any],
    metrics: dict[str, Any],
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
    """README.md for a finished run: Hub front matter, what was trained on what, scores, and runnable use."""
    task, strategy, name = config["task"], config["strategy"], config["model"]["name"]
    base_id = base_model_id(name)
    shown_metrics = [(k, f"{v:.4f}" if isinstance(v, float) else v) for k, v in metrics.items()]
    label_line = f"Labels: {', '.join(f'`{l}`' for l in labels)}.\n\n" if labels else ""
    plot = f"## Training curve\n\n![Training and validation loss]({loss_plot})\n\n" if loss_plot else ""
    made = "pre-trained" if strategy == "pretrain" else "fine-tuned"
    return f"""{render_front_matter(front_matter(config, metrics, auto_class))}
# {task} model {made} from `{base_id or shown_name(name)}`

{made.capitalize()} with [ftcli](https://pypi.org/project/ftcli/) {__version__}: task **{task}**,
strategy **{strategy}**, base model {_base_line(name, base_id)}.

## Data

{_data_lines(config, train_rows, eval_rows, eval_source)}
- Model selection: {validation}

{_lineage_section(config)}{label_line}## Hyperparameters

{_table(_hyperparameters(config))}

## Evaluation (test split; `validation_*`: the validation split)

{_table(shown_metrics)}

{plot}## How it was made

```bash
{command}
```

## Use

{usage_section(config, auto_class, processor_class, base_id)}"""


def render_distillation_section(method: str, teacher: str, teacher_metrics: dict[str, Any],
                                speed: dict[str, Any], transfer: str | None = None) -> str:
    """The card's `## Distillation` section (`ftcli distill`): the teacher's test scores beside the
    student's speed-up, written once the teacher has been scored after the run."""
    shown = ", ".join(f"{k} {v:.4f}" for k, v in teacher_metrics.items() if isinstance(v, float))
    return ("## Distillation\n\n"
            f"Distilled ({method}) from the teacher `{shown_name(teacher)}`, which scores "
            f"{shown} on the same test rows. The student runs "
            f"{speed['speedup']:.2f}x as fast ({speed['student_examples_per_second']:.1f} vs "
            f"{speed['teacher_examples_per_second']:.1f} examples/s, batch size "
            f"{speed['speed_batch_size']}, {speed['speed_device']})."
            + (f" Besides the labelled rows, the student learned the teacher's outputs on the transfer set "
               f"`{shown_name(transfer)}` (its labels, if any, unread)." if transfer else "") + "\n")


def with_section(card: str, section: str) -> str:
    """`card` with `section` (rendered here, e.g. `render_distillation_section`) added at its end."""
    return card.rstrip("\n") + "\n\n" + section
