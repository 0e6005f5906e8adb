"""Wires the commands together; each lives in its own module and only parses arguments."""

from __future__ import annotations

import os
import sys
import warnings

import typer

from ftcli import __version__
from ftcli.cli.data import data_app
from ftcli.cli.evaluate import evaluate
from ftcli.cli.export import export
from ftcli.cli.finetune import finetune
from ftcli.cli.models import models_app
from ftcli.cli.predict import predict
from ftcli.cli.prompt import prompt
from ftcli.cli.recipes import recipes_app
from ftcli.errors import UserError

app = typer.Typer(
    name="ftcli",
    help="Transfer learning with pretrained transformers: fine-tune, evaluate, predict, and prompt (in-context learning).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
app.command()(finetune)
app.command()(evaluate)
app.command()(predict)
app.command()(prompt)
app.command()(export)
app.add_typer(recipes_app, name="recipes")
app.add_typer(models_app, name="models")
app.add_typer(data_app, name="data")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ftcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                        help="Show the version and exit.")) -> None:
    pass


def _quiet_libraries() -> None:
    """Library chatter (loading reports, tokenizer warnings) would bury ftcli's own output."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Deprecation notices between libraries (peft calling transformers) are not the user's to fix.
    warnings.filterwarnings("ignore", category=FutureWarning)
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()


def main() -> None:
    _quiet_libraries()
    try:
        app()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
