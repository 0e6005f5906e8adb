"""`ftcli pretrain OBJECTIVE`: learn from unlabelled text and write a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ftcli.cli.output import print_metrics
from ftcli.cli.options import (DATA, MODEL, TRAINING, ColumnOpt, EpochsOpt, LimitTestOpt, LimitTrainOpt, LrOpt,
                               MaxLengthOpt, MixedPrecisionOpt, OldEvalOpt, OldLimitEvalOpt, OverwriteOpt,
                               ReportToOpt, ResumeOpt, SeedOpt, TrainBatchSizeOpt, column_sets, output_dir_option,
                               run_file, test_options)

RunDirOpt = output_dir_option("Run directory. Default: runs/<objective>-pretrain-<model>-<time>.")
SizeOpt = Annotated[Optional[int], typer.Option(help="With --config: overrides the architecture's default.", rich_help_panel=MODEL)]


def pretrain(
    objective: Annotated[str, typer.Argument(help="mlm, mlm+nsp, sop, rtd (ELECTRA) or clm; or a config file (run.yaml) that holds the objective (as `task:`) and the rest of the run.")],
    train: Annotated[Optional[str], typer.Option("--train", help="Text: a .txt file (documents separated by blank lines), a folder of them, a file with a text column, or an alias (english-text, hamlet...). Default: the recipe's.", rich_help_panel=DATA)] = None,
    test: Annotated[Optional[str], typer.Option("--test", help="Held-out text, scored once at the end. Default: the alias's test split or a seeded held-out fraction.", rich_help_panel=DATA)] = None,
    column: ColumnOpt = None,
    limit_train: LimitTrainOpt = None,
    limit_test: LimitTestOpt = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Checkpoint to continue from (alias, directory, Hub id).", rich_help_panel=MODEL)] = None,
    config: Annotated[Optional[str], typer.Option("--config", help="A fresh model instead: an architecture (bert, albert, electra, distilbert, gpt2) or a JSON of config keys; needs --tokenizer.", rich_help_panel=MODEL)] = None,
    tokenizer: Annotated[Optional[str], typer.Option("--tokenizer", help="With --config: the tokenizer directory (e.g. from `ftcli tokenizer train`).", rich_help_panel=MODEL)] = None,
    hidden_size: SizeOpt = None,
    layers: SizeOpt = None,
    heads: SizeOpt = None,
    intermediate_size: SizeOpt = None,
    embedding_size: SizeOpt = None,
    max_length: MaxLengthOpt = None,
    recipe: Annotated[Optional[Path], typer.Option("--recipe", help="Recipe YAML to start from. Default: the objective's (`ftcli recipes ls`).", rich_help_panel=TRAINING)] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a config key: --set pretrain.mlm_probability=0.2 (repeatable).", rich_help_panel=TRAINING)] = None,
    whole_word_mask: Annotated[Optional[bool], typer.Option("--whole-word-mask/--no-whole-word-mask", help="Mask every sub-token of a chosen word.", rich_help_panel=TRAINING)] = None,
    epochs: EpochsOpt = None,
    lr: LrOpt = None,
    batch_size: TrainBatchSizeOpt = None,
    seed: SeedOpt = None,
    mixed_precision: MixedPrecisionOpt = None,
    output_dir: RunDirOpt = None,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    report_to: ReportToOpt = None,
    eval: OldEvalOpt = None,
    limit_eval: OldLimitEvalOpt = None,
) -> None:
    """Pre-train MODEL (or a fresh --config model) on unlabelled TEXT with OBJECTIVE; prints the
    held-out metrics and writes a run directory whose model/ loads in plain transformers and feeds
    `ftcli finetune --model RUN/model`.

    Objectives: mlm (BERT's 15% masking, 80/10/10), mlm+nsp (plus next-sentence prediction),
    sop (ALBERT's sentence order), rtd (ELECTRA: generator + discriminator, the discriminator
    saved), clm (next-token prediction on packed blocks)."""
    from ftcli.errors import UserError
    from ftcli.objectives import check_objective_name
    from ftcli.preflight import check_paths

    test, limit_test = test_options(test, eval, limit_test, limit_eval)
    objective, _, recipe = run_file(objective, None, recipe, "pretrain")
    check_objective_name(objective)  # mistakes on the command line fail before torch is imported
    check_paths({"--train": train, "--test": test, "--model": model, "--tokenizer": tokenizer})
    if (model is None) == (config is None) and not resume:
        raise UserError("give either --model (a checkpoint to continue from) or --config (a fresh architecture)")
    sizes = dict(hidden_size=hidden_size, layers=layers, heads=heads, intermediate_size=intermediate_size,
                 embedding_size=embedding_size)
    if config is None and any(v is not None for v in sizes.values()):
        raise UserError("size flags (--hidden-size, --layers...) describe a fresh model: use them with --config")
    from ftcli.config import build_config, load_recipe
    from ftcli.progress import console
    from ftcli.recipe_store import recipe_path
    from ftcli.runner import run

    run_config = build_config(
        recipe=load_recipe(recipe or recipe_path(f"{objective}/pretrain")),
        sets=[*(set_ or []), *column_sets(column)],
        flags={
            "task": objective, "strategy": "pretrain", "model.name": model, "data.train": train, "data.eval": test,
            "pretrain.whole_word_mask": whole_word_mask, "train.epochs": epochs, "optim.lr": lr,
            "train.batch_size": batch_size, "model.max_length": max_length, "train.seed": seed,
            "data.limit_train": limit_train, "data.limit_eval": limit_test,
            "output_dir": str(output_dir) if output_dir else None, "train.mixed_precision": mixed_precision, "train.report_to": report_to,
        },
    )
    if config is not None and not resume:
        run_config.model.name = fresh_model(config, tokenizer, sizes, run_config)
    result = run(run_config, overwrite=overwrite, resume=resume)
    print_metrics(result.metrics, title=f"{objective}: held-out metrics (epoch {result.metrics['kept_epoch']})")
    console.print(f"Run saved to [bold]{result.path}[/]; fine-tune it with "
                  f"ftcli finetune TASK --model {result.path / 'model'}")


def fresh_model(config: str, tokenizer: str | None, sizes: dict, run_config) -> str:
    """`--config ARCH`: write a randomly initialised model with the tokenizer's vocabulary; its folder."""
    from ftcli import assets
    from ftcli.errors import UserError
    from ftcli.models.fresh import read_spec, write_fresh

    if tokenizer is None:
        raise UserError("--config builds a fresh model and needs --tokenizer DIR (e.g. from `ftcli tokenizer train`)")
    spec = read_spec(config, sizes)
    return str(write_fresh(spec, assets.resolve_tokenizer(tokenizer), seed=run_config.train.seed,
                           max_positions=max(512, run_config.model.max_length)))
