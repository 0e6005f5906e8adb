"""The layers of DESIGN.md section 2, as declared for import-linter in pyproject.toml: every module of ftcli
has its place (a module left out would be checked by nothing), and the contract holds."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def declared_layers() -> list[list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [[name.strip() for name in layer.replace("|", ":").split(":")] for layer in contract["layers"]]


def test_every_module_of_ftcli_is_on_a_layer():
    placed = {name for layer in declared_layers() for name in layer}
    package = ROOT / "ftcli"
    modules = {p.stem for p in package.glob("*.py") if p.stem not in ("__init__", "__main__")}
    modules |= {p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert modules - placed == set(), "add these to a layer in pyproject.toml [tool.importlinter]"
    assert placed - modules == set(), "these layers name no module"


def test_an_upward_import_breaks_the_contract(tmp_path):
    """A copy of the package with one upward import (a task importing the CLI) fails lint-imports."""
    import shutil

    copy = tmp_path / "ftcli"
    shutil.copytree(ROOT / "ftcli", copy, ignore=shutil.ignore_patterns("__pycache__"))
    errors = copy / "errors.py"
    errors.write_text(errors.read_text() + "\n\ndef _upward():\n    from ftcli.cli import app  # noqa: F401\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--config", str(tmp_path / "pyproject.toml")]
    broken = subprocess.run(lint, cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path)})
    assert broken.returncode == 1 and "ftcli.errors is not allowed to import ftcli.cli" in broken.stdout, broken.stdout
    kept = subprocess.run(lint, cwd=ROOT, capture_output=True, text=True)
    assert kept.returncode == 0 and "KEPT" in kept.stdout, kept.stdout
