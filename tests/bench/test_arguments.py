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


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["builtin_data.py", "--json", "{file}/x.json"], "builtin_data.py: error: argument --json: {file}/x.json: "
         "{file} is a file, not a folder"),
        (["run.py", "--smoke", "--json", "{tmp}"], "run.py: error: argument --json: {tmp}: not a file to write"),
        (["energy_fit.py", "{tmp}/no_run"], "error: checkpoint '{tmp}/no_run' does not exist"),
        (["peers.py", "--json", "{file}/x.json"], "peers.py: error: argument --json"),
        (["amass_figure.py", "run", "{tmp}"], "amass_figure.py: error: argument out: {tmp}: not a file to write"),
        (["amass_figure.py", "run", "{tmp}/f.txt"], "amass_figure.py: error: argument out: {tmp}/f.txt: name it .png"),
        (["mid_block.py", "--base-channels", "7"], "mid_block.py: error: argument --base-channels: 7: must be even"),
        (["sampler_seeds.py", "run", "--num-samples", "1"], "error: argument --num-samples: 1: at least 32"),
        (["completion_methods.py", "run", "--guided-check", "abc"], "error: argument --guided-check: abc: comma"),
        (["completion_methods.py", "run", "--guided-check=5"], "error: argument --guided-check: 5: comma-separated "
         "fractions in (0, 1]"),
        (["completion_methods.py", "run", "--guided-check=nan"], "error: argument --guided-check: nan: comma"),
        (["peer_pipelines.py", "--seeds", "-1"], "error: argument --seeds: -1: must be a whole number >= 0"),
        (["amass_tree.py", "--files", "4", "--frames", "24", "--json", "{tmp}/a.json"],
         "is held out for validation"),  # the child's own line, which was captured and lost
    ],
)  # fmt: skip
def test_a_script_says_a_json_it_cannot_write_or_its_own_error_in_one_line_from_any_folder(
    command: list[str], said: str, tmp_path
) -> None:
    """Walk E: an unwritable --json ended each benchmark in a traceback after its minutes of work; a missing run
    or a failed child command was a traceback too; `python bench/peers.py` could not import `bench` at all."""
    (tmp_path / "a_file").write_text("x")
    fill = {"file": str(tmp_path / "a_file"), "tmp": str(tmp_path)}
    argv = [part.format(**fill) for part in command[1:]]
    result = subprocess.run([sys.executable, str(ROOT / "bench" / command[0]), *argv], cwd=tmp_path,
                            capture_output=True, text=True, timeout=240)  # fmt: skip
    assert result.returncode == 2 if "error: argument" in said or "checkpoint" in said else result.returncode != 0
    assert said.format(**fill) in result.stderr and "Traceback" not in result.stderr, result.stderr
