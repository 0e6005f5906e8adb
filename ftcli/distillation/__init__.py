"""Knowledge distillation (`ftcli distill`): a smaller student learns a task from a fine-tuned teacher.

Two methods, both on top of the student's own (hard-label) task loss:

- `soft-targets` (DistilBERT, Sanh et al. 2019):
      loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * hard
             [+ cosine_weight * (1 - cos(student_last_hidden, teacher_last_hidden))]
  The T^2 factor keeps the soft term's gradients at the same scale whatever the temperature
  (Hinton et al. 2015). Token tasks (NER) take the KL per labelled token (labels != -100). The
  cosine term needs equal hidden sizes (with `tinybert`, it is taken after the projection).
- `tinybert` (Jiao et al. 2020), trained jointly rather than in TinyBERT's two stages: the
  soft-target loss above plus hidden_weight x (hidden + attention), where
      hidden    = sum over student hidden states i = 0..M (0 = embeddings) of
                  MSE(W h_s[i], h_t[g(i)]),  g(i) = i * N // M  (N teacher, M student layers)
      attention = sum over student layers m = 1..M of MSE(A_s[m], A_t[g(m)])
  W is one learned linear projection shared by all layers (TinyBERT's), present only when the
  widths differ; it trains with the student and is not part of the saved model. Padding is left
  out of both means. A are attention probabilities softmax(Q K^T / sqrt(d)) over the real
  (unmasked) keys, at the real query positions. ftcli's models run attention through SDPA, which
  returns no probabilities, so they are recomputed from the query and key projections' outputs,
  caught with forward hooks: this works for encoders with separate query/key projections (BERT,
  MiniLM, ELECTRA, ALBERT, DistilBERT, RoBERTa...) and is refused for the others (GPT-2's fused
  c_attn, encoder-decoders). When the two models have different head counts, the head-averaged
  maps are compared.

The teacher runs frozen, in eval mode and without gradients, on the student's device; it is not
a submodule of the training module, so it is neither trained, counted, nor checkpointed.

Modules: `losses` (pure tensor functions), `attention` (model shape, attention maps from hooks),
`module` (FrozenTeacher and the Distillation training module), `teacher` (finding, loading and
checking the teacher; `build_distillation`), `student` (every-other-layer students), `command`
(`check_distillable`, the command's option checks and `distill`), `report` (the teacher's scores
and both models' speed after the run), `strategy` (DistillStrategy, the runner's `distill`).
"""

from ftcli.distillation.losses import (
    attention_mse,
    attention_probabilities,
    cosine_loss,
    hidden_mse,
    layer_mapping,
    soft_target_loss,
)
from ftcli.distillation.attention import (
    AttentionRecorder,
    attention_projections,
    check_attention_support,
    head_count,
    hidden_width,
    layer_count,
)
from ftcli.distillation.module import Distillation, FrozenTeacher
from ftcli.distillation.teacher import (
    TeacherRef,
    build_distillation,
    check_same_tokenizer,
    load_teacher,
    reorder_outputs,
    resolve_teacher,
    teacher_task,
)
from ftcli.distillation.student import every_other_layer, student_from_teacher
from ftcli.distillation.report import add_teacher_report, compare_speed
from ftcli.distillation.command import (
    METHOD_ALIASES,
    METHODS,
    TASK_KINDS,
    check_command,
    check_distillable,
    distill,
)

__all__ = [
    "METHODS", "METHOD_ALIASES", "TASK_KINDS", "Distillation", "FrozenTeacher", "TeacherRef", "AttentionRecorder",
    "soft_target_loss", "cosine_loss", "hidden_mse", "attention_mse", "attention_probabilities", "layer_mapping",
    "attention_projections", "check_attention_support", "layer_count", "hidden_width", "head_count",
    "every_other_layer", "student_from_teacher", "resolve_teacher", "teacher_task", "load_teacher",
    "reorder_outputs", "check_same_tokenizer", "build_distillation", "check_distillable", "check_command",
    "distill", "add_teacher_report", "compare_speed",
]
