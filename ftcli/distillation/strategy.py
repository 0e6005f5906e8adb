"""Strategy `distill` (`ftcli distill`, not a `finetune --strategy`): full fine-tuning of a student
that also learns from a frozen teacher (the rest of ftcli.distillation has the losses and the details).

Every student weight trains, as with `full` (its freezing options and learning rates apply); the
training module wraps the student with the teacher and, for TinyBERT, a learned projection of the
student's hidden states. Only the student is saved, as a normal checkpoint: plain transformers,
`ftcli evaluate` and `ftcli predict` load it like any `full` run.
"""

from __future__ import annotations

from ftcli.config import RunConfig
from ftcli.distillation.command import MODALITIES, TASK_KINDS, check_distillable
from ftcli.distillation.transfer import check_transfer, with_transfer_set
from ftcli.errors import UserError
from ftcli.strategies.full import FullStrategy
from ftcli.tasks.base import Task


class DistillStrategy(FullStrategy):
    name = "distill"
    output_kinds = TASK_KINDS
    modalities = MODALITIES
    transfer_set = None
    """The transfer set's rows and columns as `check` read them (None without --transfer)."""

    def check_task(self, task: Task | str) -> None:
        # What `finetune --strategy distill` calls first: distillation needs a teacher, so its own command.
        raise UserError("distill is a command of its own: ftcli distill --teacher RUN (--student M | "
                        "--init-from-teacher every-other-layer) --task TASK --train DATA")

    def check(self, task: Task, config: RunConfig, model_config) -> None:
        from ftcli.distillation.teacher import resolve_teacher

        if config.distill.teacher is None:
            raise UserError("strategy distill runs under `ftcli distill --teacher RUN_OR_MODEL ...`, which names "
                            "the teacher")
        check_distillable(task)
        if config.full.lm_loss_weight > 0:
            raise UserError("full.lm_loss_weight (GPT-1's auxiliary LM loss) cannot be combined with distillation; "
                            "set it to 0")
        resolve_teacher(config.distill.teacher)
        self.transfer_set = check_transfer(config, task)  # read once: training_data uses these rows

    def build(self, checkpoint, task, labels, config):
        from ftcli.distillation.teacher import build_distillation

        student = super().build(checkpoint, task, labels, config)
        return build_distillation(student, checkpoint, task, labels, config)

    def training_data(self, model, train_features, eval_features, task, processor, config, accelerator):
        data = super().training_data(model, train_features, eval_features, task, processor, config, accelerator)
        if self.transfer_set is not None:  # read by `check`, which the runner calls first
            data.train = with_transfer_set(model.teacher, train_features, self.transfer_set, task, processor, config,
                                           accelerator)
        return data
