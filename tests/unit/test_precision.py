"""train.mixed_precision=auto: bf16 only where the hardware runs it fast."""

import pytest
import torch

from ftcli.errors import UserError
from ftcli.precision import fast_bf16, resolve_mixed_precision


def test_explicit_choices_pass_through():
    for choice in ("no", "bf16", "fp16"):
        assert resolve_mixed_precision(choice) == (choice, "as asked")


@pytest.mark.parametrize("amx, avx512_bf16, expected", [(True, False, "bf16"), (False, True, "bf16"),
                                                        (False, False, "no")])
def test_auto_follows_the_cpu(monkeypatch, amx, avx512_bf16, expected):
    monkeypatch.delenv("FTCLI_AUTO_PRECISION", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    choice, reason = resolve_mixed_precision("auto")
    assert choice == expected
    assert ("AMX" in reason) if amx else ("AVX-512 BF16" in reason)


def test_auto_follows_a_cuda_device(monkeypatch):
    monkeypatch.delenv("FTCLI_AUTO_PRECISION", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "GPU X")
    for supported, expected in ((True, "bf16"), (False, "no")):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, s=supported: s)
        assert resolve_mixed_precision("auto")[0] == expected
        assert fast_bf16()[1].startswith("GPU X")


def test_the_environment_pins_auto(monkeypatch):
    monkeypatch.setenv("FTCLI_AUTO_PRECISION", "bf16")
    assert resolve_mixed_precision("auto") == ("bf16", "FTCLI_AUTO_PRECISION is set")
    monkeypatch.setenv("FTCLI_AUTO_PRECISION", "fp8")
    with pytest.raises(UserError, match="FTCLI_AUTO_PRECISION"):
        resolve_mixed_precision("auto")
