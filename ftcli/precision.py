"""`train.mixed_precision: auto`: bf16 autocast where the hardware runs it fast, float32 elsewhere.

bf16 pays on a CUDA device that supports it and on CPUs with AMX or AVX-512 BF16 (a bf16 matrix
product about 7x float32 on an AMX Xeon); on an AVX2-only CPU bf16 is emulated and slower than
float32. `FTCLI_AUTO_PRECISION=no|bf16` pins what `auto` resolves to (the tests pin `no`, so
their numbers do not depend on the machine)."""

from __future__ import annotations

import os

import torch

from ftcli.errors import UserError


def cpu_bf16() -> str | None:
    """The CPU feature that computes bf16 natively (AMX, AVX-512 BF16), or None (bf16 emulated)."""
    if getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)():
        return "AMX"
    if getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)():
        return "AVX-512 BF16"
    return None


def fast_bf16() -> tuple[bool, str]:
    """Whether this machine runs bf16 faster than float32, and why."""
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        if torch.cuda.is_bf16_supported():
            return True, f"{name} runs bf16 natively"
        return False, f"{name} has no native bf16"
    feature = cpu_bf16()
    if feature is not None:
        return True, f"the CPU has {feature}"
    capability = torch.backends.cpu.get_cpu_capability()
    return False, f"the CPU ({capability}) has neither AMX nor AVX-512 BF16, so float32 is faster"


def resolve_mixed_precision(requested: str) -> tuple[str, str]:
    """(no|bf16|fp16, the reason): `auto` decided by the hardware, anything else as asked."""
    if requested != "auto":
        return requested, "as asked"
    pinned = os.environ.get("FTCLI_AUTO_PRECISION")
    if pinned:
        if pinned not in ("no", "bf16"):
            raise UserError(f"FTCLI_AUTO_PRECISION must be no or bf16, got {pinned!r}")
        return pinned, "FTCLI_AUTO_PRECISION is set"
    fast, reason = fast_bf16()
    return ("bf16" if fast else "no"), reason


def half_dtype(mixed_precision: str) -> torch.dtype | None:
    """The torch dtype of a resolved `mixed_precision` (bf16, fp16), or None for no (float32)."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mixed_precision)
