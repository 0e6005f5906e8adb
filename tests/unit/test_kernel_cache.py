"""oneDNN's kernel cache is bounded before the first forward pass (CPU memory grew with the steps of padding-free
training, one cached kernel per batch shape), unless the user chose a size."""

import os
import subprocess
import sys

from ftcli.memory import KERNEL_CACHE_ENTRIES, limit_kernel_cache

VARIABLE = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"


def test_the_bound_is_set_and_a_users_own_size_wins(monkeypatch):
    monkeypatch.delenv(VARIABLE, raising=False)
    limit_kernel_cache()
    assert os.environ[VARIABLE] == str(KERNEL_CACHE_ENTRIES)
    monkeypatch.setenv(VARIABLE, "5")
    limit_kernel_cache()
    assert os.environ[VARIABLE] == "5"


def test_the_command_line_sets_it_before_torch_loads():
    code = ("import os, sys; from ftcli.cli.app import main; sys.argv = ['ftcli', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(os.environ.get('ONEDNN_PRIMITIVE_CACHE_CAPACITY'), 'torch' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split()[-2:] == [str(KERNEL_CACHE_ENTRIES), "False"]
