"""``keep_freed_memory``: a big buffer allocated again after free stops costing fresh page faults (glibc)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHURN = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from unet1d.allocator import keep_freed_memory
    assert keep_freed_memory()
for _ in range(3):
    np.ones(5_000_000)  # 40 MB: above the 32 MiB that glibc's own threshold can grow to
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    np.ones(5_000_000)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def minor_faults(mode: str) -> int:
    # The environment users run in: with OMP_NUM_THREADS=1 (which the test session sets for its workers) NumPy
    # starts no BLAS threads, and glibc's default already re-faulted 10x fewer pages (1,140 against 11,360).
    env = {name: value for name, value in os.environ.items() if name != "OMP_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True, env=env)
    return int(done.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_is_reused_without_page_faults() -> None:
    default, kept = minor_faults("default"), minor_faults("keep")
    assert default > 5000, default  # fresh pages for every 40 MB buffer (fewer than 9,800 each with huge pages)
    assert kept < default / 20, (kept, default)
