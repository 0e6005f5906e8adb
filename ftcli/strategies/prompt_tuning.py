"""Prompt tuning (Lester et al., 2021): a few trainable "virtual token" embeddings are prepended
to every input; the pretrained model stays frozen. The new task head trains too and is saved
with the prompt (`modules_to_save`).

peft prepends the virtual tokens to the embeddings and the attention mask, but leaves per-token
labels and QA start/end positions as they were, so they no longer line up with the outputs.
`VirtualTokenAlignment` shifts those targets past the virtual tokens on the way in and strips
the virtual positions from the logits on the way out: losses, metrics and QA spans only ever see
the real tokens.
"""

from __future__ import annotations

import torch.nn.functional as F
from peft import PromptTuningConfig, PromptTuningInit
from torch import nn

from ftcli.errors import UserError
from ftcli.models.wrappers import TrainingWrapper
from ftcli.strategies.adapters import AdapterStrategy, modules_to_save, peft_task_type
from ftcli.tasks.base import IGNORE
from ftcli.models.heads import span_loss


class PromptTuningStrategy(AdapterStrategy):
    name = "prompt-tuning"
    plain_transformers = ("model/ holds a soft prompt and the task head, not full weights: it needs peft "
                          "(README.md in the run shows how), or use `ftcli predict` / `ftcli evaluate` on the run")
    exports_onnx = False
    # Images have no token embeddings to prepend to.
    modalities = frozenset({"text"})

    def model_usage(self, auto_class: str, processor_class: str, base_model: str) -> str:
        return f"""`model/` holds a soft prompt and the task head (peft), not full weights: **it needs peft**
(a soft prompt is an input, so nothing merges it into the weights; plain `pipeline` cannot load it):

```python
from peft import PeftModel
from transformers import {auto_class}, {processor_class}

base = {auto_class}.from_pretrained("{base_model}", num_labels=...)  # the head's size: model/labels.json
model = PeftModel.from_pretrained(base, "model")
processor = {processor_class}.from_pretrained("model")
```
"""

    def peft_config(self, model, task, config, checkpoint):
        settings = config.peft
        if settings.num_virtual_tokens < 1:
            raise UserError(f"peft.num_virtual_tokens must be at least 1, got {settings.num_virtual_tokens}")
        text_init = settings.prompt_init == "text"
        if text_init and not (settings.prompt_init_text or "").strip():
            raise UserError("peft.prompt_init is text: give the text with --set peft.prompt_init_text=\"...\"")
        return PromptTuningConfig(
            task_type=peft_task_type(task),
            num_virtual_tokens=settings.num_virtual_tokens,
            prompt_tuning_init=PromptTuningInit.TEXT if text_init else PromptTuningInit.RANDOM,
            prompt_tuning_init_text=settings.prompt_init_text if text_init else None,
            tokenizer_name_or_path=checkpoint if text_init else None,
            # ALBERT and ELECTRA embed in fewer dimensions than their hidden size.
            token_dim=model.get_input_embeddings().embedding_dim,
            num_transformer_submodules=1,
            # peft looks these up by their usual names, which some configs spell otherwise
            # (DistilBERT: n_heads, n_layers); the config's attribute map resolves them.
            num_attention_heads=getattr(model.config, "num_attention_heads", None),
            num_layers=getattr(model.config, "num_hidden_layers", None),
            modules_to_save=modules_to_save(model, task),
        )

    def wrap(self, peft_model, task):
        return VirtualTokenAlignment(peft_model, task.output_kind, peft_model.peft_config["default"].num_virtual_tokens)


class VirtualTokenAlignment(TrainingWrapper):
    """Keeps targets and outputs on the real tokens of a prompt-tuned model (see the module doc).

    kind "token" (NER): labels get `n` ignored (-100) positions in front; logits lose their first n.
    kind "span" (QA): start/end logits lose their first n, and the loss is computed here on what is
        left, so the virtual positions do not even share the softmax.
    kind "lm" (causal LM): peft already pads the labels; the logits lose their first n.
    kind "sequence" and "seq2seq": nothing to align (one label; the decoder has no virtual tokens).
    """

    wrapped = "peft_model"  # the name a checkpoint's parameters carry

    def __init__(self, peft_model: nn.Module, kind: str, num_virtual_tokens: int):
        super().__init__()
        self.peft_model = peft_model
        self.kind = kind
        self.num_virtual_tokens = num_virtual_tokens
        self.config = peft_model.config

    def forward(self, **batch):
        n = self.num_virtual_tokens
        if self.kind == "token" and "labels" in batch:
            batch["labels"] = F.pad(batch["labels"], (n, 0), value=IGNORE)
        positions = [batch.pop(key, None) for key in ("start_positions", "end_positions")]
        out = self.peft_model(**batch)
        if self.kind in ("token", "lm"):
            out.logits = out.logits[:, n:]
        elif self.kind == "span":
            out.start_logits, out.end_logits = out.start_logits[:, n:], out.end_logits[:, n:]
            if positions[0] is not None and positions[1] is not None:
                out.loss = span_loss(out.start_logits, out.end_logits, *positions)
        return out

    @property
    def generation_config(self):
        return self.peft_model.generation_config

    def generate(self, **kwargs):
        return self.peft_model.generate(**kwargs)

    def get_input_embeddings(self):
        return self.peft_model.get_input_embeddings()

