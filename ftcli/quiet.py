"""Quiet third-party libraries before any work: their chatter (loading reports, tokenizer warnings,
progress bars) would bury ftcli's own output. Used by the console script and by the worker processes
that `ftcli compare` starts; imports no other ftcli module."""

from __future__ import annotations

import logging
import os
import warnings


def quiet_libraries() -> None:
    """Library chatter (loading reports, tokenizer warnings) would bury ftcli's own output."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Deprecation notices between libraries (peft calling transformers) are not the user's to fix.
    warnings.filterwarnings("ignore", category=FutureWarning)
    import torch
    import transformers

    if not torch.cuda.is_available():  # DeepSpeed, which accelerate imports when it is installed, would warn
        os.environ.setdefault("DS_ACCELERATOR", "cpu")

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()
    # accelerate warns on every checkpoint of a model with tied weights ("Removed shared tensor ...");
    # the tie is restored on load, as the message itself says.
    logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)
