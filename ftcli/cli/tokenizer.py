"""`ftcli tokenizer train ALGORITHM` and `ftcli tokenizer show TEXT`: train a tokenizer on text,
and see how a tokenizer splits a sentence."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ftcli.cli.options import DATA, MODEL, OUTPUT, TRAINING, ColumnOpt, OldOutOpt, output_dir_option, renamed, required

TokenizerDirOpt = output_dir_option("Folder to write the tokenizer to (AutoTokenizer.from_pretrained(DIR) loads it). Required.")
tokenizer_app = typer.Typer(help="Train a tokenizer (BPE, WordPiece, Unigram) on text, or see how one splits text.",
                            no_args_is_help=True)


@tokenizer_app.command("train")
def train(
    algorithm: Annotated[str, typer.Argument(metavar="ALGORITHM", help="bpe (byte-level, as GPT-2), wordpiece (as BERT) or unigram (SentencePiece-style, as ALBERT).")],
    train_data: Annotated[str, typer.Option("--train", help="Text: a .txt file (documents separated by blank lines), a folder of them, a file with a text column, or an alias (english-text, headlines...; its train split).", rich_help_panel=DATA)],
    column: ColumnOpt = None,
    limit_train: Annotated[Optional[int], typer.Option("--limit-train", help="Use only N (seeded-shuffled) documents.", rich_help_panel=DATA)] = None,
    vocab_size: Annotated[int, typer.Option("--vocab-size", help="Vocabulary entries, special tokens included.", rich_help_panel=TRAINING)] = ...,
    lowercase: Annotated[Optional[bool], typer.Option("--lowercase/--no-lowercase", help="Lower-case the text first. Default: on for wordpiece and unigram (BERT, ALBERT), off for bpe (GPT-2).", rich_help_panel=TRAINING)] = None,
    min_frequency: Annotated[int, typer.Option("--min-frequency", help="BPE and WordPiece: merge only pairs seen at least this often.", rich_help_panel=TRAINING)] = 2,
    model_max_length: Annotated[int, typer.Option("--model-max-length", help="Longest input the tokenizer will say its model takes (tokenizer_config.json).", rich_help_panel=TRAINING)] = 512,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the --limit-train shuffle.", rich_help_panel=TRAINING)] = 42,
    output_dir: TokenizerDirOpt = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the tokenizer an earlier `ftcli tokenizer train` wrote to --output-dir (never another folder).", rich_help_panel=OUTPUT)] = False,
    out: OldOutOpt = None,
) -> None:
    """Train a BPE, WordPiece or Unigram tokenizer on TEXT with the `tokenizers` library and save it
    to DIR; print the vocabulary size and how it splits a sentence of the text.

    An earlier `ftcli tokenizer train` output in DIR is replaced only with --overwrite; any other
    non-empty folder is refused. The folder is written all at once, so an interrupted run leaves nothing behind."""
    from rich.markup import escape

    from ftcli import tokenizer_training as training
    from ftcli.cli.options import parse_columns
    from ftcli.errors import UserError
    from ftcli.progress import console

    out = required(renamed(output_dir, out, "--out", "--output-dir"), "--output-dir")
    algorithm = training.check_algorithm(algorithm)
    if not 1 <= vocab_size <= training.MAX_VOCAB_SIZE:
        raise UserError(f"--vocab-size must be between 1 and {training.MAX_VOCAB_SIZE:,}, got {vocab_size:,}")
    training.check_output(out, overwrite)  # before reading and training, which take a while
    text_column = parse_columns(column).get("text", "text")
    texts = training.corpus_texts(train_data, text_column, limit=limit_train, seed=seed)
    trained = training.train(algorithm, texts, vocab_size, lowercase=lowercase, min_frequency=min_frequency,
                             model_max_length=model_max_length)
    training.save(trained, out, overwrite, {"train": train_data, "column": text_column, "limit_train": limit_train,
                                            "min_frequency": min_frequency, "seed": seed})
    console.print(f"Trained a {algorithm} tokenizer on {len(texts):,} documents "
                  f"({trained.characters / 1e6:.2f}M characters) of [bold]{escape(train_data)}[/]")
    note = "" if trained.vocab_size == vocab_size else f" ({vocab_size:,} asked; the text gave no more)"
    if trained.vocab_size > vocab_size:
        note = f" ({vocab_size:,} asked; the alphabet needs more)"
    specials = ", ".join(trained.tokenizer.all_special_tokens)
    console.print(f"Vocabulary: {trained.vocab_size:,} entries{note}; special tokens {specials}; "
                  f"lowercase {'on' if trained.lowercase else 'off'}")
    console.print(f"Saved to [bold]{escape(str(out))}[/]")
    sentence = training.example_sentence(texts)
    if sentence:
        pieces = trained.tokenizer.tokenize(sentence)
        console.print(f"Example ({len(pieces)} tokens): " + " ".join(pieces), markup=False, highlight=False)


@tokenizer_app.command("show")
def show(
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The text to split (quote it).")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Whose tokenizer: a catalogue alias, checkpoint directory or Hub id. Default: minilm.", rich_help_panel=MODEL)] = None,
    tokenizer_dir: Annotated[Optional[str], typer.Option("--tokenizer", help="A tokenizer folder instead (e.g. from `ftcli tokenizer train`).", rich_help_panel=MODEL)] = None,
) -> None:
    """Show TEXT split into words (at whitespace and punctuation), into characters and into the
    tokenizer's sub-words, side by side with their lengths and the number of unknown tokens."""
    from rich.markup import escape
    from rich.table import Table

    from ftcli import assets
    from ftcli import tokenizer_training as training
    from ftcli.errors import UserError
    from ftcli.models.loading import load_tokenizer

    if model is not None and tokenizer_dir is not None:
        raise UserError("give --model or --tokenizer, not both")
    if not text.strip():
        raise UserError("TEXT is empty; give a sentence to split")
    if tokenizer_dir is not None:
        folder = Path(tokenizer_dir).expanduser()
        if not folder.is_dir():
            raise UserError(f"--tokenizer {tokenizer_dir}: no such folder")
        if not any((folder / name).is_file() for name in assets.TOKENIZER_FILES):
            raise UserError(f"--tokenizer {tokenizer_dir} has no tokenizer files ({', '.join(assets.TOKENIZER_FILES)}); "
                            "give a folder written by tokenizer.save_pretrained or `ftcli tokenizer train`")
        source = tokenizer_dir
    else:
        source = assets.resolve_tokenizer(model or "minilm")  # a folder needs no config.json here
    tokenizer = load_tokenizer(source)
    splits = training.compare_splits(tokenizer, text)
    table = Table(title=f"Tokenizer of {escape(tokenizer_dir or model or 'minilm')}", header_style="bold",
                  show_lines=True)
    table.add_column("split")
    table.add_column("length", justify="right")
    table.add_column("unknown", justify="right")
    table.add_column("pieces", overflow="fold")
    table.add_row("words", str(len(splits.words)), "", escape(" ".join(splits.words)))
    table.add_row("characters", str(len(splits.characters)), "", escape(" ".join(splits.characters)))
    table.add_row("sub-words", str(len(splits.subwords)), str(splits.unknown), escape(" ".join(splits.subwords)))
    from ftcli.cli.output import result_console

    out = result_console()  # the result: stdout, so it pipes
    out.print(table)
    per_word = len(splits.subwords) / max(1, len(splits.words))
    unknown = f"; unknown: {', '.join(splits.unknown_words)}" if splits.unknown_words else ""
    out.print(f"{len(splits.subwords)} sub-words for {len(splits.words)} words ({per_word:.2f} per word), "
                  f"{splits.unknown} unknown{unknown}", markup=False, highlight=False)
