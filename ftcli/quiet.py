"""Quiet third-party libraries before any work: their chatter (loading reports, tokenizer warnings,
progress bars) would bury ftcli's own output. Used by the console script and by the worker processes
that `ftcli compare` starts; imports no other ftcli module.

Everything here is an environment variable or a logger setting, so nothing heavy is imported: `ftcli
--help` and the mistakes the command line can see answer before torch or transformers load. A user's own
setting of these variables wins (setdefault)."""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings

QUIET_ENVIRONMENT = {
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",  # loading reports and advice
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # transformers' loading bars follow huggingface_hub's switch
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",  # map / filter bars
}


def quiet_libraries() -> None:
    """Library chatter (loading reports, tokenizer warnings) would bury ftcli's own output."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    # Deprecation notices between libraries (peft calling transformers) are not the user's to fix.
    warnings.filterwarnings("ignore", category=FutureWarning)
    # accelerate warns on every checkpoint of a model with tied weights ("Removed shared tensor ...");
    # the tie is restored on load, as the message itself says.
    logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)
    if "DS_ACCELERATOR" not in os.environ and importlib.util.find_spec("deepspeed") is not None:
        # DeepSpeed, which accelerate imports when it is installed, warns on a machine without CUDA.
        import torch

        if not torch.cuda.is_available():
            os.environ["DS_ACCELERATOR"] = "cpu"
    _quiet_loaded_libraries()


def _quiet_loaded_libraries() -> None:
    """Libraries imported before this ran (a test session, an embedding program) read the variables above at
    import time already: set them through their own switches."""
    import sys

    if "transformers" in sys.modules:
        transformers = sys.modules["transformers"]
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    if "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()
