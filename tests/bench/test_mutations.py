"""The mutation check's own premise: each snippet it mutates occurs once in today's source, and each test meant to
catch it exists. A drifted snippet made `python bench/mutations.py` stop at its first mutation, unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.mutations import MUTATIONS, ROOT


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_every_mutation_applies_once_and_names_tests_that_exist(mutation) -> None:
    assert (ROOT / mutation.path).read_text().count(mutation.old) == 1, mutation.path
    for test in mutation.tests:
        path, _, name = test.partition("::")
        assert (ROOT / path).is_file(), test
        assert not name or f"def {name}(" in (ROOT / path).read_text(), test


def test_an_unknown_mutation_is_refused() -> None:
    result = subprocess.run([sys.executable, str(Path(ROOT) / "bench/mutations.py"), "nosuchid"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and "unknown mutation nosuchid; allowed: ema," in result.stderr, result.stderr
