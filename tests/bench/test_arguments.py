"""The benchmarks' shared argument types: a bad count is refused by argparse in one line, exit 2, before any work.
(`--budget-s -5` used to run lucidrains' trainer to its 100,000 steps; `--repeats 0` ended in a StatisticsError.)"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from bench.arguments import non_negative_int, positive_float, positive_int
from bench.mutations import ROOT


def test_each_type_takes_its_range_and_names_what_it_refuses() -> None:
    assert positive_int("3") == 3 and non_negative_int("0") == 0 and positive_float("0.5") == 0.5
    for parse, text, message in ((positive_int, "0", "0: must be a whole number > 0"),
                                 (non_negative_int, "-1", "-1: must be a whole number >= 0"),
                                 (positive_float, "-5", "-5: must be a finite number > 0"),
                                 (positive_float, "inf", "inf: must be a finite number > 0")):  # fmt: skip
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            parse(text)


@pytest.mark.parametrize(
    "command",
    [
        ["peer_pipelines.py", "--smoke", "--budget-s", "-5"],
        ["builtin_data.py", "--repeats", "0"],
        ["amass_figure.py", "run", "out.png", "--count", "0"],
    ],
)
def test_a_script_refuses_a_bad_count_before_any_work(command: list[str], tmp_path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / command[0]), *command[1:]], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith(command[0]), result.stderr
    assert "must be" in result.stderr and "Traceback" not in result.stderr
