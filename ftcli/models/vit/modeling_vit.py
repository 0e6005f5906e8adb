"""A compact Vision Transformer (Dosovitskiy et al., 2020), weight-compatible with `transformers.models.vit`.

Module and parameter names mirror transformers 5.x exactly (`layers.N.attention.q_proj`, `layers.N.mlp.fc1`, ...),
so a transformers ViT's state_dict loads as is. On disk, checkpoints keep the older names
(`encoder.layer.N.attention.attention.query`, ...): transformers renames them when it loads and back when it saves,
and the registration below has it do the same for these classes, so Hub checkpoints load and what we save loads in
plain transformers (`model_type="vit"`, identical class names in `architectures`). Attention goes straight through
`F.scaled_dot_product_attention`; there is no masked-image-modeling (mask token, SimMIM decoder) and no
attention-probability output.
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.conversion_mapping import get_checkpoint_conversion_mapping, register_checkpoint_conversion_mapping
from transformers.modeling_outputs import BaseModelOutputWithPooling, ImageClassifierOutput
from transformers.utils import ModelOutput

from ftcli.models.attention import attend, first_positions, keep_rows, positions_to_keep
from ftcli.models.heads import sequence_classification_loss
from ftcli.models.outputs import SdpaOutputs

from .configuration_vit import ViTConfig

# transformers applies its "ViTModel" key renaming (old checkpoint names <-> module names) only to its own classes
# or to class names registered by the user; registering the same list again lets it apply to ours too.
register_checkpoint_conversion_mapping("ViTModel", get_checkpoint_conversion_mapping("ViTModel"), overwrite=True)


def _pair(size) -> tuple[int, int]:
    return tuple(size) if isinstance(size, (list, tuple)) else (size, size)


class ViTPatchEmbeddings(nn.Module):
    """(batch, channels, height, width) -> (batch, num_patches, hidden): one strided convolution, one patch a step."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.image_size, self.patch_size = _pair(config.image_size), _pair(config.patch_size)
        self.num_patches = (self.image_size[0] // self.patch_size[0]) * (self.image_size[1] // self.patch_size[1])
        self.num_channels = config.num_channels
        self.projection = nn.Conv2d(
            config.num_channels, config.hidden_size, kernel_size=self.patch_size, stride=self.patch_size
        )

    def forward(self, pixel_values):
        if pixel_values.shape[1] != self.num_channels:
            raise ValueError(
                f"pixel_values has {pixel_values.shape[1]} channels; the model expects {self.num_channels}"
            )
        return self.projection(pixel_values).flatten(2).transpose(1, 2)


class ViTEmbeddings(nn.Module):
    """[CLS] token + patch embeddings, plus learned position embeddings, then dropout."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.cls_token = nn.Parameter(torch.randn(1, 1, config.hidden_size))
        self.patch_embeddings = ViTPatchEmbeddings(config)
        num_positions = self.patch_embeddings.num_patches + 1
        self.position_embeddings = nn.Parameter(torch.randn(1, num_positions, config.hidden_size))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.patch_size = self.patch_embeddings.patch_size
        self.image_size = self.patch_embeddings.image_size

    def interpolate_pos_encoding(self, embeddings, height: int, width: int):
        """The pre-training grid of patch position embeddings resized (bicubic) to this image's grid, as
        transformers does, so the model runs on other image sizes than it was trained at."""
        num_patches, num_positions = embeddings.shape[1] - 1, self.position_embeddings.shape[1] - 1
        if num_patches == num_positions and height == width:
            return self.position_embeddings
        class_pos_embed, patch_pos_embed = self.position_embeddings[:, :1], self.position_embeddings[:, 1:]
        dim = embeddings.shape[-1]
        side = int(num_positions**0.5)  # the pre-training grid is square
        patch_pos_embed = patch_pos_embed.reshape(1, side, side, dim).permute(0, 3, 1, 2)
        patch_pos_embed = F.interpolate(
            patch_pos_embed,
            size=(height // self.patch_size[0], width // self.patch_size[1]),
            mode="bicubic",
            align_corners=False,
        )
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).reshape(1, -1, dim)
        return torch.cat((class_pos_embed, patch_pos_embed), dim=1)

    def forward(self, pixel_values, interpolate_pos_encoding: bool = False):
        batch_size, _, height, width = pixel_values.shape
        embeddings = self.patch_embeddings(pixel_values)
        embeddings = torch.cat((self.cls_token.expand(batch_size, -1, -1), embeddings), dim=1)
        if interpolate_pos_encoding:
            embeddings = embeddings + self.interpolate_pos_encoding(embeddings, height, width)
        else:
            if (height, width) != self.image_size:
                raise ValueError(
                    f"Input image size ({height}*{width}) doesn't match model ({self.image_size[0]}*"
                    f"{self.image_size[1]}); pass interpolate_pos_encoding=True to run at another size"
                )
            embeddings = embeddings + self.position_embeddings
        return self.dropout(embeddings)


class ViTAttention(nn.Module):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        inner = self.num_heads * self.head_dim
        self.q_proj = nn.Linear(config.hidden_size, inner, bias=config.qkv_bias)
        self.k_proj = nn.Linear(config.hidden_size, inner, bias=config.qkv_bias)
        self.v_proj = nn.Linear(config.hidden_size, inner, bias=config.qkv_bias)
        self.o_proj = nn.Linear(inner, config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(self, hidden_states, attention_mask=None, key_value_states=None):
        dropout_p = self.dropout_p if self.training else 0.0
        return self.o_proj(attend(self.q_proj, self.k_proj, self.v_proj, hidden_states, self.num_heads,
                                  attention_mask, dropout_p, key_value_states))


class ViTMLP(nn.Module):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation_fn = ACT2FN[config.hidden_act]
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states):
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class ViTLayer(nn.Module):
    """Pre-norm block: x + attention(LN(x)), then x + mlp(LN(x))."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.attention = ViTAttention(config)
        self.layernorm_before = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layernorm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = ViTMLP(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states, attention_mask=None, positions_to_keep=None):
        # With positions_to_keep, only those rows' queries go on (see ftcli.models.attention).
        normed = self.layernorm_before(hidden_states)
        attention_output = self.attention(keep_rows(normed, positions_to_keep), attention_mask, normed)
        hidden_states = keep_rows(hidden_states, positions_to_keep) + self.dropout(attention_output)
        return hidden_states + self.dropout(self.mlp(self.layernorm_after(hidden_states)))


class ViTPooler(nn.Module):
    """activation(dense(hidden state of the [CLS] token))."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.pooler_output_size)
        self.activation = ACT2FN[config.pooler_act]

    def forward(self, hidden_states):
        return self.activation(self.dense(hidden_states[:, 0]))


class ViTPreTrainedModel(SdpaOutputs, PreTrainedModel):
    config: ViTConfig
    config_class = ViTConfig
    base_model_prefix = "vit"
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    _no_split_modules = ["ViTEmbeddings", "ViTLayer"]
    _supports_sdpa = True

    @torch.no_grad()
    def _init_weights(self, module):
        # The base class covers Linear/Conv2d (normal(0, initializer_range), zero bias) and LayerNorm; the two bare
        # parameters get a truncated normal as in transformers. These functions skip tensors loaded from a checkpoint.
        super()._init_weights(module)
        if isinstance(module, ViTEmbeddings):
            init.trunc_normal_(module.position_embeddings, mean=0.0, std=self.config.initializer_range)
            init.trunc_normal_(module.cls_token, mean=0.0, std=self.config.initializer_range)



class ViTModel(ViTPreTrainedModel):
    def __init__(self, config: ViTConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = ViTEmbeddings(config)
        # No `encoder` module: transformers 5 keeps the layer list on the model itself (`layers.N.`).
        self.layers = nn.ModuleList([ViTLayer(config) for _ in range(config.num_hidden_layers)])
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.pooler = ViTPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.patch_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.patch_embeddings = value

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        positions_to_keep: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...] | BaseModelOutputWithPooling:
        """`positions_to_keep` (batch,): the last layer runs at those positions only and `last_hidden_state` is
        (batch, 1, hidden) (see ftcli.models.attention)."""
        if pixel_values is None:
            raise ValueError("You have to specify pixel_values")
        self._check_supported(output_attentions)
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states

        # The image processor gives float32; follow the weights (e.g. a bfloat16 model).
        pixel_values = pixel_values.to(self.embeddings.patch_embeddings.projection.weight.dtype)
        hidden_states = self.embeddings(pixel_values, interpolate_pos_encoding=bool(interpolate_pos_encoding))
        if attention_mask is not None:
            if attention_mask.dim() != 2:
                raise ValueError(f"attention_mask must be (batch, seq_len), got shape {tuple(attention_mask.shape)}")
            # (batch, 1 + num_patches), 1 = attend / 0 = ignore -> boolean (batch, 1, 1, seq), as in BERT.
            attention_mask = attention_mask[:, None, None, :].bool()

        # Like transformers: the embeddings output first, then the output of every layer (before the final norm).
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        for i, layer in enumerate(self.layers):
            last = i == len(self.layers) - 1
            hidden_states = layer(hidden_states, attention_mask, positions_to_keep if last else None)
            if output_hidden_states:
                all_hidden_states += (hidden_states,)

        sequence_output = self.layernorm(hidden_states)
        pooled_output = self.pooler(sequence_output) if self.pooler is not None else None
        output = BaseModelOutputWithPooling(
            last_hidden_state=sequence_output, pooler_output=pooled_output, hidden_states=all_hidden_states
        )
        return self._finish(output, return_dict)


class ViTForImageClassification(ViTPreTrainedModel):
    """A linear classifier on the final hidden state of the [CLS] token (the pooler is not used)."""

    def __init__(self, config: ViTConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.vit = ViTModel(config, add_pooling_layer=False)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> tuple[torch.Tensor, ...] | ImageClassifierOutput:
        outputs = self.vit(
            pixel_values,
            interpolate_pos_encoding=interpolate_pos_encoding,
            attention_mask=attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            # The classifier reads [CLS] only.
            positions_to_keep=positions_to_keep(first_positions(pixel_values), output_hidden_states, self.config),
        )
        logits = self.classifier(outputs.last_hidden_state[:, 0])

        loss = sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        output = ImageClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return self._finish(output, return_dict)


__all__ = ["ViTForImageClassification", "ViTModel", "ViTPreTrainedModel"]
