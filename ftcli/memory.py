"""Peak memory of the training process, for metrics.json and the strategy benchmark; the bound on oneDNN's kernel
cache that keeps it from growing with the steps. Imports torch only when measuring (the command line sets the
bound before torch loads)."""

from __future__ import annotations

import os
import resource
import sys

KERNEL_CACHE_ENTRIES = 64
"""oneDNN's primitive cache size (its default: 1,024). oneDNN, which runs torch's CPU matrix products (every one
in bf16), keeps a compiled kernel for each input shape it met, with its buffers. Padding-free batches have a
new number of tokens at almost every step, so the default cache filled with kernels used once: resident
memory grew with the steps, by 0.8 GB over 188 steps of rt-sentiment in bf16 (2.53 GB peak, against 1.85 GB
with 64 entries, at the same speed). 64 still holds every kernel of a fixed-shape step (pre-training blocks)."""


def limit_kernel_cache() -> None:
    """Bound oneDNN's primitive cache (`ONEDNN_PRIMITIVE_CACHE_CAPACITY`, unless the user set it). oneDNN reads
    it when it builds its first kernel: call this before the first forward pass."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(KERNEL_CACHE_ENTRIES))


def reset_peak_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_memory_mb(device) -> float:
    """CUDA: the peak of allocated GPU memory. CPU: the process's peak resident set size
    (everything the process ever held, including the Python runtime and the data)."""
    if device.type == "cuda":
        import torch

        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux
