"""Checkpoint directory (or Hub id) -> model: our own class for the architectures ftcli
implements, transformers' Auto class for everything else.

Weights are only ever read from safetensors files, and code shipped with a checkpoint only runs
when the user asks for it (`model.trust_remote_code`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import transformers
from transformers import AutoConfig, AutoTokenizer

from ftcli.errors import UserError
from ftcli.models.registry import architectures



def read_config(checkpoint: str, trust_remote_code: bool = False):
    try:
        return AutoConfig.from_pretrained(checkpoint, trust_remote_code=trust_remote_code)
    except OSError as err:
        if "couldn't connect" in str(err).lower() or "offline" in str(err).lower():
            from ftcli.preflight import offline_model_message

            raise UserError(offline_model_message(checkpoint)) from None
        raise UserError(f"could not load a model config from '{checkpoint}': {_short(err)}") from None
    except ValueError as err:
        raise UserError(f"'{checkpoint}' is not a checkpoint ftcli can load: {_short(err)}") from None


def check_weights_file(checkpoint: str | Path) -> None:
    """Refuse a checkpoint folder whose .safetensors files are truncated or corrupt, before any
    loading starts. Only the headers are read: `safe_open` parses each header and checks that the
    file is exactly as long as the tensors' data offsets say ("file not fully covered")."""
    from safetensors import SafetensorError, safe_open

    folder = Path(checkpoint).expanduser()
    if not folder.is_dir():
        return  # a Hub id: transformers downloads and checks it
    for weights in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(weights), framework="pt"):
                pass
        except (SafetensorError, OSError) as err:
            raise UserError(f"{weights} is truncated or corrupt ({_short(err)}); copy or save the "
                            "checkpoint again") from None


def check_tokenizer_matches(tokenizer, model_config, checkpoint: str) -> None:
    """A tokenizer with more tokens than the model has embedding rows would index past them (an
    IndexError mid-training, or silently wrong rows on some devices): refuse it up front."""
    if not hasattr(tokenizer, "convert_tokens_to_ids"):
        return  # an image processor
    text_config = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    vocab_size = getattr(text_config, "vocab_size", None)
    if isinstance(vocab_size, int) and len(tokenizer) > vocab_size:
        raise UserError(f"the tokenizer of {checkpoint} has {len(tokenizer):,} tokens but the model has only "
                        f"{vocab_size:,} embeddings (config vocab_size); use the tokenizer saved with this model")


def align_tokenizer_inputs(tokenizer, model) -> None:
    """Let the tokenizer emit only the inputs the model's forward takes (a BART classifier saved with a
    BERT-style tokenizer would get `token_type_ids` it has no parameter for), as the Trainer drops them."""
    import inspect

    names = getattr(tokenizer, "model_input_names", None)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft wraps it in (**kwargs)
    parameters = inspect.signature(base.forward).parameters
    if not names or any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        return
    kept = [name for name in names if name in parameters]
    if kept and kept != list(names):
        tokenizer.model_input_names = kept


def model_class(model_type: str, auto_class_name: str):
    """(class, config class): ours when an architecture package declares `model_type` with that
    Auto class (`ftcli.models.registry`), else transformers' Auto class and None. Our class names
    equal transformers', so saved checkpoints (config.json "architectures") load there too."""
    architecture = architectures().get(model_type)
    if architecture is not None and auto_class_name in architecture.auto_classes:
        return architecture.auto_classes[auto_class_name], architecture.config_class
    return getattr(transformers, auto_class_name), None


def load_model(checkpoint: str, auto_class: str | Callable[[Any], str], trust_remote_code: bool = False,
               **config_overrides):
    """Load weights for the head named by `auto_class` (an Auto class name, or a function of the
    checkpoint's config returning one); new heads are freshly initialised, and a task head whose shape
    does not fit (another label count) is replaced by a new one (`model.ftcli_replaced_head`). Weights
    that do not fit their config.json outside the head are refused (`check_weights_fit`)."""
    config = read_config(checkpoint, trust_remote_code)
    check_weights_file(checkpoint)
    auto_class_name = auto_class(config) if callable(auto_class) else auto_class
    cls, our_config_cls = model_class(config.model_type, auto_class_name)
    try:
        if our_config_cls is not None:
            config = our_config_cls.from_pretrained(checkpoint, **config_overrides)
            for key, value in config_overrides.items():  # from_pretrained drops keys its config lacks (ftcli_*)
                if not hasattr(config, key):
                    setattr(config, key, value)
            model, info = cls.from_pretrained(checkpoint, config=config, use_safetensors=True,
                                              output_loading_info=True, ignore_mismatched_sizes=True)
        else:
            for key, value in config_overrides.items():
                setattr(config, key, value)
            model, info = cls.from_pretrained(checkpoint, config=config, use_safetensors=True,
                                              trust_remote_code=trust_remote_code, output_loading_info=True,
                                              ignore_mismatched_sizes=True)
        check_weights_fit(model, info, checkpoint)
        # Weights the checkpoint did not have (a new task head): callers may warn about them.
        model.ftcli_new_weights = sorted(info.get("missing_keys", []))
        model.ftcli_replaced_head = {key: (tuple(theirs), tuple(ours))
                                     for key, theirs, ours in info.get("mismatched_keys", [])}
        return model
    except OSError as err:
        if Path(checkpoint).is_dir() and not any(Path(checkpoint).glob("*.safetensors")):
            raise UserError(
                f"{checkpoint} has no .safetensors weights; ftcli does not unpickle .bin checkpoints "
                "(convert it with safetensors first)"
            ) from None
        raise UserError(f"could not load weights from '{checkpoint}': {_short(err)}") from None


def body_keys(model) -> set[str]:
    """State-dict keys of the pretrained body: under `base_model_prefix` when the model wraps its base
    model with a task head, else all of them (the model is the body)."""
    keys = set(model.state_dict())
    prefix = getattr(model, "base_model_prefix", "")
    if prefix and getattr(model, prefix, None) is not None and getattr(model, prefix) is not model:
        return {key for key in keys if key.startswith(f"{prefix}.")}
    return keys


def head_weights_not_loaded(model) -> list[str]:
    """Task-head weights that start random (not in the checkpoint, or replaced for another shape)."""
    body = body_keys(model)
    fresh = [*getattr(model, "ftcli_new_weights", []), *getattr(model, "ftcli_replaced_head", {})]
    return sorted(key for key in fresh if key not in body)


def check_weights_fit(model, info: dict, checkpoint: str) -> None:
    """Refuse weights that belong to another model than their config.json says: a body tensor of
    another shape (a config of hidden 64 over weights of hidden 32), or no body tensor loaded at all
    (GPT-2's weights under a BERT config). Body tensors that are merely missing are reported."""
    from ftcli.progress import warn

    body = body_keys(model)
    for key, theirs, ours in sorted(info.get("mismatched_keys", []), key=lambda item: item[0]):
        if key in body:
            raise UserError(f"the weights in {checkpoint} do not fit its config.json: {key} is {tuple(theirs)} in the "
                            f"weights but {tuple(ours)} by the config; save the config that belongs to these weights")
    missing = set(info.get("missing_keys", [])) & body
    if body and missing == body:
        unexpected = sorted(info.get("unexpected_keys", []))
        holds = f"it holds {unexpected[0]}" if unexpected else "it holds none of them"
        raise UserError(f"none of the weights in {checkpoint} fit its config.json ({model.config.model_type} expects "
                        f"{sorted(body)[0]}, ...; {holds}): the config and the weights belong to different models")
    if missing:
        warn(f"{len(missing)} weights of the {model.config.model_type} body are not in "
             f"{checkpoint} and start random (e.g. {sorted(missing)[0]})")


def is_masked_lm_encoder(model_config) -> bool:
    """A bidirectional encoder (BERT family): its architecture has a masked-LM head and it is not
    an encoder-decoder (BART and T5 are in transformers' masked-LM table too)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    return (model_config.model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES
            and not getattr(model_config, "is_encoder_decoder", False))


def load_tokenizer(checkpoint: str, trust_remote_code: bool = False):
    try:
        tokenizer = AutoTokenizer.from_pretrained(checkpoint, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as err:
        raise UserError(f"could not load a tokenizer from '{checkpoint}': {_short(err)}") from None
    except Exception as err:  # damaged tokenizer files fail deep in tokenizers (KeyError, ...)
        raise UserError(f"could not load a tokenizer from '{checkpoint}' ({type(err).__name__}: {_short(err)}); "
                        "its tokenizer files look damaged") from None
    folder = Path(checkpoint).expanduser()
    if folder.is_dir():
        # Without its files transformers builds the class's tokenizer with only the special
        # tokens (every word [UNK]), and training would go ahead on nothing.
        files = getattr(tokenizer, "vocab_files_names", {}).values()
        names = {"tokenizer.json", *(name for name in files if isinstance(name, str))}
        if not any((folder / name).is_file() for name in names):
            raise UserError(f"model directory {folder} has no tokenizer (none of {', '.join(sorted(names))}); "
                            "save the tokenizer beside the weights (tokenizer.save_pretrained(DIR))")
    ensure_pad_token(tokenizer)
    return tokenizer


def ensure_pad_token(tokenizer) -> None:
    """Decoder-only tokenizers often have no pad token; pad with EOS (padding is masked anyway,
    and sequence classification reads the last non-pad token via `config.pad_token_id`)."""
    if getattr(tokenizer, "pad_token_id", None) is None and getattr(tokenizer, "eos_token", None) is not None:
        tokenizer.pad_token = tokenizer.eos_token


def _short(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
