"""Train a tokenizer on text with the `tokenizers` library, and compare how tokenizers split text.

Three algorithms, each set up the way the model family it comes from does it:

- `bpe`: byte-level BPE as GPT-2 (ByteLevel pre-tokenizer and decoder, no unknown tokens; the
  one special token `<|endoftext|>` is bos, eos, unk and pad);
- `wordpiece`: BERT (BertNormalizer, lower-casing by default, BertPreTokenizer, `##` continuation
  pieces, [PAD] [UNK] [CLS] [SEP] [MASK], `[CLS] A [SEP] B [SEP]` with token_type_ids 0/1);
- `unigram`: SentencePiece-style unigram LM as ALBERT (Metaspace `▁` for spaces, NFKC,
  lower-casing by default, <pad> <unk> [CLS] [SEP] [MASK], the same pair template as BERT).

The result is saved with `PreTrainedTokenizerFast.save_pretrained`, so
`AutoTokenizer.from_pretrained(DIR)` loads it (a fast tokenizer) without ftcli.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ftcli.errors import UserError

ALGORITHMS = ("bpe", "wordpiece", "unigram")
MARKER = "ftcli_tokenizer.json"
MAX_VOCAB_SIZE = 2**20  # four times the largest vocabularies in use (about 256k entries)
"""Written beside the tokenizer files: how it was trained; marks a folder ftcli may replace."""
BATCH = 1000

GPT2_SPECIAL = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                "pad_token": "<|endoftext|>"}
BERT_SPECIAL = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
                "mask_token": "[MASK]"}
ALBERT_SPECIAL = {"pad_token": "<pad>", "unk_token": "<unk>", "cls_token": "[CLS]", "sep_token": "[SEP]",
                  "mask_token": "[MASK]"}
DEFAULT_LOWERCASE = {"bpe": False, "wordpiece": True, "unigram": True}


@dataclass
class TrainedTokenizer:
    tokenizer: object
    """The `transformers.PreTrainedTokenizerFast`."""
    algorithm: str
    vocab_size: int
    requested_vocab_size: int
    documents: int
    characters: int
    lowercase: bool


def check_algorithm(algorithm: str) -> str:
    name = algorithm.lower()
    if name not in ALGORITHMS:
        raise UserError(f"unknown tokenizer algorithm '{algorithm}'; choose one of {', '.join(ALGORITHMS)}")
    return name


# -- the text --------------------------------------------------------------------------------


def corpus_texts(spec: str, column: str = "text", limit: int | None = None, seed: int = 42) -> list[str]:
    """The non-empty texts of `spec`'s `column`: a .txt file (one document per blank-line separated
    block), a folder of them, a csv/jsonl/... file, or a catalogue alias (its train split only).
    `limit` keeps N seeded-shuffled rows."""
    from ftcli.data.sources import load_train_split

    if limit is not None and limit < 1:
        raise UserError(f"--limit-train must be at least 1, got {limit}")
    dataset = load_train_split(spec)
    if column not in dataset.column_names:
        hint = "" if column != "text" else "; map another one with --column text=NAME"
        raise UserError(f"{spec} has no '{column}' column (columns: {', '.join(dataset.column_names)}){hint}")
    if limit is not None:
        dataset = dataset.shuffle(seed=seed).select(range(min(limit, dataset.num_rows)))
    values = list(dataset[column])
    bad = next((i for i, value in enumerate(values) if value is not None and not isinstance(value, str)), None)
    if bad is not None:
        raise UserError(f"{spec}: row {bad + 1} of the '{column}' column is a {type(values[bad]).__name__}, not text")
    texts = [value for value in values if value and value.strip()]
    if not texts:
        raise UserError(f"{spec} holds no text (its '{column}' column is empty)")
    return texts


def _batches(texts: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(texts), BATCH):
        yield texts[start:start + BATCH]


# -- the pipelines ---------------------------------------------------------------------------


def build_pipeline(algorithm: str, lowercase: bool):
    """An untrained `tokenizers.Tokenizer` (normalizer, pre-tokenizer, model, decoder) and the
    special tokens of `algorithm`, as PreTrainedTokenizerFast keyword arguments."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    if algorithm == "bpe":
        tokenizer = Tokenizer(models.BPE())
        if lowercase:
            tokenizer.normalizer = normalizers.Lowercase()
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        return tokenizer, dict(GPT2_SPECIAL)
    if algorithm == "wordpiece":
        tokenizer = Tokenizer(models.WordPiece(unk_token=BERT_SPECIAL["unk_token"]))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece()
        return tokenizer, dict(BERT_SPECIAL)
    tokenizer = Tokenizer(models.Unigram())
    steps = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"'), normalizers.NFKC()]
    tokenizer.normalizer = normalizers.Sequence(steps + ([normalizers.Lowercase()] if lowercase else []))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    return tokenizer, dict(ALBERT_SPECIAL)


def special_tokens(specials: dict[str, str]) -> list[str]:
    """The distinct special tokens, in the order they get ids (pad first: id 0 for BERT/ALBERT)."""
    return list(dict.fromkeys(specials.values()))


def alphabet(tokenizer, algorithm: str, texts: list[str]) -> set[str]:
    """The symbols every vocabulary of `algorithm` must hold before it learns a merge: the 256
    bytes for byte-level BPE, else the distinct characters of the normalized text (plus `▁`)."""
    if algorithm == "bpe":
        from tokenizers import pre_tokenizers

        return set(pre_tokenizers.ByteLevel.alphabet())
    characters: set[str] = set()
    normalize = tokenizer.normalizer.normalize_str
    for text in texts:
        characters.update(normalize(text))
    characters = {c for c in characters if not c.isspace()}
    return characters | {"▁"} if algorithm == "unigram" else characters


def train(algorithm: str, texts: list[str], vocab_size: int, lowercase: bool | None = None,
          min_frequency: int = 2, model_max_length: int = 512, show_progress: bool | None = None) -> TrainedTokenizer:
    """Train `algorithm` on `texts` to at most `vocab_size` entries (special tokens included)."""
    from tokenizers import processors, trainers
    from transformers import PreTrainedTokenizerFast

    algorithm = check_algorithm(algorithm)
    if vocab_size < 1:
        raise UserError(f"--vocab-size must be positive, got {vocab_size}")
    if vocab_size > MAX_VOCAB_SIZE:  # the trainers reserve memory for the whole size up front (an abort, not an error)
        raise UserError(f"--vocab-size must be at most {MAX_VOCAB_SIZE:,}, got {vocab_size:,}")
    if min_frequency < 0:
        raise UserError(f"--min-frequency must be 0 or more, got {min_frequency}")
    if not texts:
        raise UserError("the training text holds no text")
    lowercase = DEFAULT_LOWERCASE[algorithm] if lowercase is None else lowercase
    tokenizer, specials = build_pipeline(algorithm, lowercase)
    tokens = special_tokens(specials)
    symbols = alphabet(tokenizer, algorithm, texts)
    needed = len(tokens) + len(symbols)
    if vocab_size < needed:
        what = "the 256 byte symbols" if algorithm == "bpe" else f"the {len(symbols)} distinct characters of the text"
        raise UserError(f"--vocab-size {vocab_size} is too small: the {len(tokens)} special "
                        f"token{'s' * (len(tokens) > 1)} and {what} need {needed}; give at least {needed}")
    progress = sys.stderr.isatty() if show_progress is None else show_progress
    if algorithm == "bpe":
        from tokenizers import pre_tokenizers

        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=tokens,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=progress)
    elif algorithm == "wordpiece":
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=tokens, show_progress=progress)
    else:
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=tokens,
                                          unk_token=specials["unk_token"], show_progress=progress)
    try:
        tokenizer.train_from_iterator(_batches(texts), trainer, length=len(texts))
    except Exception as err:  # the trainers raise plain Exceptions (e.g. unigram on too little text)
        raise UserError(f"training the {algorithm} tokenizer failed: {str(err).strip().splitlines()[0]}") from None
    if algorithm == "bpe":
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    else:
        cls, sep = specials["cls_token"], specials["sep_token"]
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, tokenizer.token_to_id(cls)), (sep, tokenizer.token_to_id(sep))],
        )
    # GPT-2 has no segments; BERT and ALBERT give each pair member its token_type_id.
    input_names = ["input_ids", "attention_mask"] if algorithm == "bpe" else ["input_ids", "token_type_ids",
                                                                               "attention_mask"]
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, model_max_length=model_max_length,
                                   model_input_names=input_names, **specials)
    return TrainedTokenizer(tokenizer=fast, algorithm=algorithm, vocab_size=tokenizer.get_vocab_size(),
                            requested_vocab_size=vocab_size, documents=len(texts),
                            characters=sum(len(t) for t in texts), lowercase=lowercase)


# -- writing ---------------------------------------------------------------------------------


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse a file, an earlier tokenizer output without --overwrite, and any other non-empty folder
    (ftcli replaces only what its manifest proves it wrote, unchanged)."""
    from ftcli.ownership import describe, unproven

    if out.exists() and not out.is_dir():
        raise UserError(f"--output-dir {out} is a file; give a folder")
    if out.is_dir() and any(out.iterdir()):
        foreign = unproven(out, MARKER)
        if foreign:
            raise UserError(f"--output-dir {out} is not empty and holds files `ftcli tokenizer train` did not write "
                            f"({describe(foreign)}); choose another folder")
        if not overwrite:
            raise UserError(f"--output-dir {out} already holds a tokenizer; add --overwrite to replace it")


def save(trained: TrainedTokenizer, out: Path, overwrite: bool, source: dict) -> None:
    """Write the tokenizer files and the marker into `out`, all at once (a staging folder renamed)."""
    from ftcli import __version__
    from ftcli.ownership import atomic_directory

    check_output(out, overwrite)
    details = {"algorithm": trained.algorithm, "vocab_size": trained.vocab_size,
               "requested_vocab_size": trained.requested_vocab_size, "lowercase": trained.lowercase,
               "documents": trained.documents, "characters": trained.characters, **source, "ftcli_version": __version__}
    with atomic_directory(out, marker=MARKER, details=details) as staging:
        trained.tokenizer.save_pretrained(str(staging))


# -- inspecting ------------------------------------------------------------------------------

_WORD = re.compile(r"\w+|[^\w\s]")


def word_split(text: str) -> list[str]:
    """Words as BERT's pre-tokenizer sees them: runs of letters/digits, each punctuation mark alone."""
    return _WORD.findall(text)


def character_split(text: str) -> list[str]:
    return [c for c in text if not c.isspace()]


@dataclass
class Splits:
    words: list[str]
    characters: list[str]
    subwords: list[str]
    unknown: int
    """Sub-word ids equal to the tokenizer's unknown-token id."""
    unknown_words: list[str]
    """The words that hold an unknown token."""


def compare_splits(tokenizer, text: str) -> Splits:
    words = word_split(text)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    unk = tokenizer.unk_token_id
    unknown_spans = [offsets[i] for i, token_id in enumerate(ids) if unk is not None and token_id == unk]
    unknown_words = list(dict.fromkeys(text[start:end] for start, end in unknown_spans if end > start))
    return Splits(words=words, characters=character_split(text),
                  subwords=tokenizer.convert_ids_to_tokens(ids), unknown=len(unknown_spans),
                  unknown_words=unknown_words)


def example_sentence(texts: list[str], max_chars: int = 80, min_words: int = 6) -> str:
    """The first sentence of the text with at least `min_words` words (else the first sentence),
    cut at a word boundary near `max_chars`."""
    from ftcli.data.text import split_sentences

    sentences = [s for t in texts[:100] for s in split_sentences(t)] or [""]
    sentence = next((s for s in sentences if len(s.split()) >= min_words), sentences[0])
    if len(sentence) <= max_chars:
        return sentence
    return sentence[:max_chars].rsplit(" ", 1)[0]
