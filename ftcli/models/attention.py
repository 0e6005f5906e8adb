"""Multi-head attention through `F.scaled_dot_product_attention`, shared by the encoders; padding-free packing;
and the last-layer shortcut for heads that read one position per row.

Packing. A padded batch (rows, seq) wastes the linear layers (about 90% of the FLOPs) on its padding. When the
attention mask has padding, `run_encoder` packs the real tokens of every row into one (tokens, hidden) tensor
(rows concatenated, each keeping its own position ids) and the layers run on that. Attention is kept inside each
row: through varlen flash attention where the device has it (CUDA, half precision, no attention dropout), else
by scattering queries, keys and values back into their rows for one SDPA call with the key-padding mask; which
costs (rows x longest row) in attention only, far less than a block-diagonal mask over the whole packed batch.
The outputs are unpacked to (rows, seq, hidden) at the end, so heads, losses and callers see padded tensors,
bit for bit those of the padded computation up to float rounding.

Last layer. A sequence-level head reads one position per row: [CLS] for BERT, ALBERT, ELECTRA, DistilBERT and
ViT, the last real token for GPT-2. The last layer is then needed at that position only: its keys and values
still come from every position, but its query, attention output and feed-forward run on one token per row,
which removes about five sixths of that layer's work with identical logits and losses. It is the
sequence-level counterpart of transformers' `logits_to_keep`. A head passes `positions_to_keep` (one index per
row) down to the last layer, unless the caller asked for every layer's hidden states, which must stay full.
A masked-LM head with sparse prediction keeps the masked positions of each row, (rows, k): the same shortcut
at the 15% of the tokens the loss reads.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

try:  # torch >= 2.10
    from torch.nn.attention.varlen import varlen_attn
except ImportError:
    varlen_attn = None


class Packing:
    """The real tokens of a padded (rows, seq) batch, concatenated row after row; passed down the layers in
    place of the attention mask."""

    def __init__(self, attention_mask: torch.Tensor, multiple: int = 1):
        self.rows, self.seq_len = attention_mask.shape
        real = attention_mask.reshape(-1).bool()
        self.indices = real.nonzero().squeeze(1)
        """Flat (rows * seq) positions of the real tokens, row after row."""
        self.tokens = self.indices.numel()
        self.extra = -self.tokens % multiple
        """Zero rows after the real tokens that make the packed length a multiple of `multiple` (see
        `token_multiple`); they belong to no row, so nothing reads what the layers make of them."""
        self.rank = real.cumsum(0) - 1
        """Flat padded position -> index in the packed tensor (for real tokens)."""
        self.key_mask = attention_mask.bool()[:, None, None, :]
        lengths = attention_mask.sum(1)
        self.lengths = lengths
        self.cu_seqlens = F.pad(lengths.cumsum(0), (1, 0)).to(torch.int32)

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """(rows, seq, ...) -> (tokens, ...)."""
        packed = x.reshape(self.rows * self.seq_len, *x.shape[2:]).index_select(0, self.indices)
        return F.pad(packed, (0, 0) * (packed.dim() - 1) + (0, self.extra)) if self.extra else packed

    def unpack(self, x: torch.Tensor) -> torch.Tensor:
        """(tokens, ...) -> (rows, seq, ...), zeros at the padding."""
        x = x[:self.tokens] if self.extra else x
        out = x.new_zeros(self.rows * self.seq_len, *x.shape[1:]).index_copy(0, self.indices, x)
        return out.view(self.rows, self.seq_len, *x.shape[1:])

    def packed_positions(self, positions: torch.Tensor) -> torch.Tensor:
        """Kept positions in padded coordinates, (rows,) or (rows, k) -> their indices in the packed tensor."""
        rows = torch.arange(self.rows, device=positions.device)
        rows = rows[:, None] if positions.dim() == 2 else rows
        return self.rank[rows * self.seq_len + positions.to(self.rank.device)]

    def attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_heads: int,
                  dropout_p: float) -> torch.Tensor:
        """Queries (tokens, width), or (rows, 1, width) for the last layer's kept positions; keys and values
        (tokens, width). Returns the attention output in the queries' layout."""
        kept = q.dim() == 3
        if not kept and _varlen_usable(q, dropout_p):
            max_len = int(self.lengths.max())
            try:
                out = varlen_attn(*(x.view(x.size(0), num_heads, -1) for x in (q, k, v)),
                                  self.cu_seqlens, self.cu_seqlens, max_len, max_len)
                return out.reshape(q.size(0), -1)
            except (RuntimeError, NotImplementedError):  # no flash kernel for this GPU or head size
                _VARLEN_FAILED.add(q.device.index)

        def split_heads(x):  # (rows, seq, heads * head_dim) -> (rows, heads, seq, head_dim)
            return x.view(self.rows, x.size(1), num_heads, -1).transpose(1, 2)

        queries = q if kept else self.unpack(q)
        out = F.scaled_dot_product_attention(split_heads(queries), split_heads(self.unpack(k)),
                                             split_heads(self.unpack(v)), attn_mask=self.key_mask, dropout_p=dropout_p)
        out = out.transpose(1, 2).reshape(self.rows, queries.size(1), -1)
        return out if kept else self.pack(out)


CPU_BF16_TOKEN_MULTIPLE = 64
"""On the CPU in bf16, oneDNN compiles a kernel for each matrix shape it meets, and a packed batch has a new
number of tokens at almost every step: compiling took longer than the product. Rounded up to a multiple of 64
(at most 63 zero rows, a few percent of a batch), the shapes repeat and the compiled kernels are reused (a
bf16 384x1536 layer, forward and backward: 7.6 ms a step at varying lengths, 5.8 ms rounded, 5.3 ms at one
fixed length). float32 products do not compile per shape, so there the packed length stays exact."""


def token_multiple(hidden_states: torch.Tensor) -> int:
    """What the packed length is rounded up to: CPU_BF16_TOKEN_MULTIPLE for bf16 on the CPU, else 1."""
    bf16 = hidden_states.dtype == torch.bfloat16 or (
        torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
    return CPU_BF16_TOKEN_MULTIPLE if hidden_states.device.type == "cpu" and bf16 else 1


_VARLEN_FAILED: set = set()
"""CUDA devices where varlen attention raised once: the per-row SDPA path serves them from then on."""


def _varlen_usable(q: torch.Tensor, dropout_p: float) -> bool:
    # Flash varlen attention: CUDA only, half precision only, and without dropout.
    return (q.is_cuda and dropout_p == 0.0 and q.dtype in (torch.float16, torch.bfloat16)
            and q.device.index not in _VARLEN_FAILED and varlen_attn is not None
            and torch.cuda.get_device_capability(q.device)[0] >= 8)


def run_encoder(encoder: nn.Module, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None,
                output_hidden_states: bool, positions_to_keep: torch.Tensor | None, pack: bool = True):
    """`encoder(hidden_states, mask, output_hidden_states, positions_to_keep)` on a (rows, seq, hidden) batch,
    packed when the mask has padding (and `pack`); returns (sequence output, all hidden states) unpacked."""
    if attention_mask is not None and attention_mask.dim() != 2:
        raise ValueError(f"attention_mask must be (batch, seq_len), got shape {tuple(attention_mask.shape)}")
    if attention_mask is None or not pack or bool(attention_mask.all()):
        # (batch, seq) 1 = token / 0 = padding -> boolean (batch, 1, 1, seq), broadcast over heads and queries.
        # A boolean mask has no dtype to get wrong under autocast, unlike an additive float one.
        mask = None if attention_mask is None else attention_mask[:, None, None, :].bool()
        return encoder(hidden_states, mask, output_hidden_states, positions_to_keep)
    packing = Packing(attention_mask, token_multiple(hidden_states))
    kept = None if positions_to_keep is None else packing.packed_positions(positions_to_keep)
    sequence_output, all_hidden_states = encoder(packing.pack(hidden_states), packing, output_hidden_states, kept)
    if kept is None:
        sequence_output = packing.unpack(sequence_output)
    if all_hidden_states is not None:
        all_hidden_states = tuple(packing.unpack(h) for h in all_hidden_states)
    return sequence_output, all_hidden_states


def attend(
    query: nn.Module,
    key: nn.Module,
    value: nn.Module,
    hidden_states: torch.Tensor,
    num_heads: int,
    attention_mask: torch.Tensor | Packing | None = None,
    dropout_p: float = 0.0,
    key_value_states: torch.Tensor | None = None,
) -> torch.Tensor:
    """Queries from `hidden_states`, keys and values from `key_value_states` (default: the same states);
    returns (batch, queries, num_heads * head_dim), the heads merged back (packed: in the queries' layout)."""
    key_value_states = hidden_states if key_value_states is None else key_value_states
    if isinstance(attention_mask, Packing):
        return attention_mask.attention(query(hidden_states), key(key_value_states), value(key_value_states),
                                        num_heads, dropout_p)
    batch_size, q_len, _ = hidden_states.shape

    def split_heads(x):  # (batch, seq, heads * head_dim) -> (batch, heads, seq, head_dim)
        return x.view(batch_size, x.size(1), num_heads, -1).transpose(1, 2)

    out = F.scaled_dot_product_attention(
        split_heads(query(hidden_states)), split_heads(key(key_value_states)), split_heads(value(key_value_states)),
        attn_mask=attention_mask, dropout_p=dropout_p,
    )
    return out.transpose(1, 2).reshape(batch_size, q_len, -1)


def keep_rows(hidden_states: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
    """(batch, seq, ...) -> (batch, k, ...): each row's states at its kept positions, (batch,) for one per row
    (k = 1) or (batch, k) (all of them when None). Packed (tokens, ...) states take positions in the packed tensor."""
    if positions is None:
        return hidden_states
    columns = positions.to(hidden_states.device).reshape(positions.size(0), -1)
    if hidden_states.dim() == 2:
        return hidden_states[columns]
    rows = torch.arange(hidden_states.size(0), device=hidden_states.device)[:, None]
    return hidden_states[rows, columns]


def positions_to_keep(positions: torch.Tensor, output_hidden_states: bool | None, config) -> torch.Tensor | None:
    """The head's pooled positions, or None when every layer's full hidden states were asked for."""
    wants_all = config.output_hidden_states if output_hidden_states is None else output_hidden_states
    return None if wants_all else positions


def first_positions(*inputs: torch.Tensor | None) -> torch.Tensor:
    """Position 0 ([CLS]) for every row of the first input given (input_ids, inputs_embeds, pixel_values)."""
    reference = next(x for x in inputs if x is not None)
    return torch.zeros(reference.size(0), dtype=torch.long, device=reference.device)
