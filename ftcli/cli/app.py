"""Wires the commands together; each lives in its own module and only parses arguments."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
import warnings
from datetime import datetime
from pathlib import Path

import typer

from ftcli import __version__
from ftcli.cli.data import data_app
from ftcli.cli.distill import distill
from ftcli.cli.evaluate import evaluate
from ftcli.cli.export import export
from ftcli.cli.finetune import finetune
from ftcli.cli.models import models_app
from ftcli.cli.predict import predict
from ftcli.cli.pretrain import pretrain
from ftcli.cli.prompt import prompt
from ftcli.cli.recipes import recipes_app
from ftcli.cli.tokenizer import tokenizer_app
from ftcli.errors import UserError

app = typer.Typer(
    name="ftcli",
    help="Transfer learning with pretrained transformers: fine-tune, evaluate, predict, and prompt "
         "(in-context learning). Set FTCLI_DEBUG=1 to see the traceback of an internal error.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
app.command()(finetune)
app.command()(evaluate)
app.command()(predict)
app.command()(prompt)
app.command()(pretrain)
app.command()(distill)
app.command()(export)
app.add_typer(recipes_app, name="recipes")
app.add_typer(models_app, name="models")
app.add_typer(data_app, name="data")
app.add_typer(tokenizer_app, name="tokenizer")


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


def _save_traceback(err: Exception) -> Path | None:
    """Write the full traceback to <cache>/logs (the temp folder if that cannot be written)."""
    from ftcli.paths import cache_dir

    name = f"ftcli-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    text = (f"ftcli {__version__}\ncommand: {' '.join(sys.argv)}\n\n"
            + "".join(traceback.format_exception(type(err), err, err.__traceback__)))
    for folder in (cache_dir() / "logs", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
            return folder / name
        except OSError:
            continue
    return None


def main() -> None:
    """The console script. User mistakes (UserError) print one line and exit 2; anything else is a
    bug: one line naming it and the log file holding the traceback, exit 1 (FTCLI_DEBUG=1 shows
    the traceback instead). KeyboardInterrupt and SystemExit (typer's own usage errors, exit 2)
    are not Exceptions and pass through."""
    _quiet_libraries()
    try:
        app()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except Exception as err:
        if os.environ.get("FTCLI_DEBUG", "") not in ("", "0"):
            raise
        message = (str(err).strip().splitlines() or [""])[0]
        what = f"{type(err).__name__}: {message}" if message else type(err).__name__
        log = _save_traceback(err)
        where = f"full traceback in {log}" if log else "set FTCLI_DEBUG=1 to see the traceback"
        print(f"error: internal error ({what}); {where}", file=sys.stderr)
        sys.exit(1)
