"""`ftcli recipes ls | show TASK/STRATEGY | cp TASK/STRATEGY DEST`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

recipes_app = typer.Typer(help="List, show and copy the shipped recipes (defaults for each task/strategy).",
                          no_args_is_help=True)


@recipes_app.command("ls")
def list_() -> None:
    """List the recipes as TASK/STRATEGY."""
    from ftcli.recipe_store import list_recipes

    for name in list_recipes():
        typer.echo(name)


@recipes_app.command("show")
def show(name: Annotated[str, typer.Argument(help="TASK/STRATEGY, e.g. classification/full.")]) -> None:
    """Print a recipe."""
    from ftcli.recipe_store import recipe_path

    typer.echo(recipe_path(name).read_text(), nl=False)


@recipes_app.command("cp")
def copy(
    name: Annotated[str, typer.Argument(help="TASK/STRATEGY, e.g. classification/full.")],
    destination: Annotated[Path, typer.Argument(help="File or directory to copy it to.")],
) -> None:
    """Copy a recipe to edit it; use it with `ftcli finetune TASK --recipe FILE`."""
    from ftcli.recipe_store import copy_recipe

    typer.echo(f"Copied to {copy_recipe(name, destination)}")
