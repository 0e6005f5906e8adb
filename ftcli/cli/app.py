"""Wires the commands together; each lives in its own module and only parses arguments."""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path

import typer

from ftcli import __version__
from ftcli.cli.compare import compare
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
from ftcli.cli.runs import runs_app
from ftcli.cli.tokenizer import tokenizer_app
from ftcli.cli.tune import tune
from ftcli.distributed import is_main_process, report_error, setup_process, world_size
from ftcli.errors import UserError, disk_full
from ftcli.launch import launchable
from ftcli.memory import limit_kernel_cache
from ftcli.quiet import quiet_libraries
from ftcli.recipe_store import recipe_defaults

def _options_without_type() -> None:
    """Typer's help shows `<bool>`, `<list[str]>`, `<int>` beside each option; each option's help already says
    what it takes, and the column would squeeze the names and the help at 80 columns: show nothing."""
    from typer.core import TyperOption

    TyperOption.display_type_rich = lambda self, ctx: None


_options_without_type()

app = typer.Typer(
    name="ftcli",
    help="Transfer learning with pretrained transformers: fine-tune, evaluate, predict, and prompt "
         "(in-context learning). Set FTCLI_DEBUG=1 to see the traceback of an internal error.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
)
TASK_NAMES = ["classification", "nli", "ner", "qa", "generation", "image-classification"]
# These run unchanged on several processes or machines: --num-processes starts the launcher.
app.command(epilog=recipe_defaults("full", TASK_NAMES))(launchable(finetune))
app.command()(launchable(evaluate))
app.command()(predict)
app.command(epilog=recipe_defaults("in-context", TASK_NAMES))(launchable(prompt))
app.command()(launchable(pretrain))
app.command()(launchable(distill))
app.command()(export)
app.command()(compare)
app.command()(tune)
app.add_typer(recipes_app, name="recipes")
app.add_typer(models_app, name="models")
app.add_typer(runs_app, name="runs")
app.add_typer(data_app, name="data")
app.add_typer(tokenizer_app, name="tokenizer")


def unwrap(text: str | None) -> str | None:
    """Help text as paragraphs: the line breaks inside a docstring paragraph are source layout, and the help
    would keep them (mid-sentence breaks at any terminal width); blank lines still separate paragraphs."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in paragraph.splitlines()) for paragraph in paragraphs)


def _unwrap_help(typer_app: typer.Typer) -> None:
    """Every command's and group's help, as `unwrap` lays it out."""
    for command in typer_app.registered_commands:
        command.help = unwrap(command.help or (command.callback.__doc__ if command.callback else None))
    for group in typer_app.registered_groups:
        group.typer_instance.info.help = unwrap(group.typer_instance.info.help)
        _unwrap_help(group.typer_instance)


_unwrap_help(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ftcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                        help="Show the version and exit.")) -> None:
    pass


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
    are not Exceptions and pass through. One of several processes hands its error to ftcli's
    launcher, which prints the first one once (see ftcli.launch)."""
    quiet_libraries()
    limit_kernel_cache()
    try:
        setup_process()
        sys.exit(_run_app())
    except UserError as err:
        _fail(str(err), err.exit_code)
    except Exception as err:
        if os.environ.get("FTCLI_DEBUG", "") not in ("", "0"):
            raise
        full = disk_full(err)
        if full is not None:
            _fail(f"the disk is full{f' (writing {full})' if full else ''}: free some space and run the command again "
                  "(an interrupted run continues with --resume; nothing half-written is kept as a result)", 2)
        message = (str(err).strip().splitlines() or [""])[0]
        what = f"{type(err).__name__}: {message}" if message else type(err).__name__
        if world_size() > 1 and _lost_peer(err):
            detail = what.split(". This is typically")[0]  # gloo goes on with advice for developers
            _fail(f"process {os.environ.get('RANK')} lost contact with the other processes (one stopped or was "
                  f"killed: {detail}); a run that had written a checkpoint continues with the same command and "
                  "--resume", 1)
        log = _save_traceback(err)
        where = f"full traceback in {log}" if log else "set FTCLI_DEBUG=1 to see the traceback"
        _fail(f"internal error ({what}); {where}", 1)


def _run_app() -> int:
    """The app, with typer's own usage errors (an unknown option, a missing argument, a bad number) as the same
    one `error:` line as ftcli's, naming the help to read, instead of a boxed panel."""
    from typer import _click

    try:
        code = app(standalone_mode=False)
    except _click.exceptions.ClickException as err:
        context = getattr(err, "ctx", None)
        hint = f" See `{context.command_path if context else 'ftcli'} --help`."
        if isinstance(err, _click.exceptions.NoSuchOption):
            raise UserError(f"no such option {err.option_name}{_closest_option(err.option_name, context)}.{hint}") from None
        message = err.format_message().rstrip(".")
        raise UserError(f"{message}.{hint if isinstance(err, _click.exceptions.UsageError) else ''}") from None
    except typer.Abort:
        return 130
    return code if isinstance(code, int) else 0


def _closest_option(name: str, context) -> str:
    """A "did you mean" among the command's options; close to an old, hidden name, it offers the new one."""
    from ftcli.cli.options import OLD_NAMES
    from ftcli.preflight import did_you_mean

    options = [opt for param in (context.command.params if context else []) for opt in param.opts if opt.startswith("--")]
    close = did_you_mean(name, options)
    for old, new in OLD_NAMES.items():
        close = close.replace(f"'{old}'", f"'{new}'")
    return close


def _fail(message: str, exit_code: int) -> None:
    if world_size() == 1 or not report_error(message, exit_code):
        prefix = "error" if is_main_process() else f"error (process {os.environ.get('RANK')})"
        print(f"{prefix}: {message}", file=sys.stderr)
    sys.exit(exit_code)


def _lost_peer(err: Exception) -> bool:
    """A collective failed because another process is gone (gloo and NCCL say it in these words)."""
    text = str(err).lower()
    return any(words in text for words in ("connection closed by peer", "connection reset", "broken pipe",
                                           "timed out", "nccl communicator was aborted"))
