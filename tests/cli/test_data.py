"""`unet1d data check`: what it reports on a user's data, and exit code 2 with one message for bad input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.data.amass_files import BAD_INPUTS, SMALLER_THAN_A_BATCH, tiny, write_amass
from unet1d.cli import main


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def test_data_check_reports_counts_for_an_amass_tree(tmp_path, capsys):
    write_amass(tmp_path / "CMU" / "01" / "01_01_poses.npz", frames=400, gender=np.array("male"))  # -> 100
    write_amass(tmp_path / "CMU" / "01" / "01_02_poses.npz", frames=241, gender=np.array(b"male"))  # -> 61
    np.savez(tmp_path / "CMU" / "01" / "shape.npz", betas=np.zeros(16), gender=np.array("male"))
    write_amass(tmp_path / "KIT" / "3" / "walk_poses.npz", frames=300, width=72, fps=100.0)  # -> 90
    write_amass(tmp_path / "BMLrub" / "s1" / "run_poses.npz", frames=100, fps=60.0)  # -> 50
    (tmp_path / "README.txt").write_text("AMASS")
    (tmp_path / "CMU" / ".DS_Store").write_bytes(b"\x00\x01")
    code, out, err = run_cli(["data", "check", str(tmp_path), "--val-fraction", "0.25", "--batch-size", "8"], capsys)
    assert code == 0, err
    assert "4 pose files in 3 top-level folders, 3 skipped" in out
    assert "frames: 1041 in the files -> 301 after subsampling" in out
    assert re.search(r"train 3 sequences / (\d+) poses, val 1 sequence / (\d+) poses", out)
    train, val = map(int, re.search(r"train 3 sequences / (\d+) poses, val 1 sequence / (\d+) poses", out).groups())
    assert train + val == 301 and val in (100, 61, 90, 50)
    assert re.search(r"CMU/01/01_01_poses\.npz\s+amass\s+156 SMPL-H\s+120 -> 30 fps\s+400 ->\s+100 frames", out)
    assert re.search(r"KIT/3/walk_poses\.npz\s+amass\s+72 SMPL\s+100 -> 30 fps\s+300 ->\s+90 frames", out)
    assert "1 x no `poses` array and more than one array (keys: betas, gender): CMU/01/shape.npz" in out
    assert "1 x not a .npz/.npy file: README.txt" in out and "1 x hidden file: CMU/.DS_Store" in out
    assert "CMU: 2 files" in out and "left_shoulder" in out
    assert "ok: " in out


def test_data_check_builtin_and_body63(capsys):
    code, out, _ = run_cli(["data", "check", "builtin", "--builtin-samples", "600", "--pose-format", "body63"], capsys)
    assert code == 0
    assert "families: standing 90 (15%), walking 120 (20%)" in out and "(63 numbers per pose)" in out
    assert "train 18 clips / 540 poses, val 2 clips / 60 poses" in out and "pelvis" not in out


def test_data_check_shows_the_built_in_poses_training_gets(capsys, monkeypatch):
    # training draws the built-in poses with data.data_seed, whatever train.seed a sweep gives each run
    args = ["data", "check", "builtin", "--builtin-samples", "600"]
    default = run_cli(args, capsys)[1]
    monkeypatch.setenv("UNET1D_SEED", "5")
    assert run_cli(args, capsys)[1] == default
    monkeypatch.setenv("UNET1D_DATA_SEED", "5")
    other = run_cli(args, capsys)[1]
    assert other != default and run_cli([*args, "--data-seed", "5"], capsys)[1] == other


def test_data_smaller_than_a_batch_is_reported_with_a_warning(tmp_path, capsys):
    path = tiny(tmp_path)
    code, out, err = run_cli(["data", "check", str(path), "--batch-size", "16"], capsys)
    assert code == 0 and "short_poses.npz" in out and "ok:" not in out  # what was found is shown
    assert err.startswith("warning: ") and re.search(SMALLER_THAN_A_BATCH, err), err


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_2_naming_the_file(case, tmp_path, capsys):
    make, pattern = BAD_INPUTS[case]
    code, _, err = run_cli(["data", "check", str(make(tmp_path)), "--batch-size", "16"], capsys)
    assert code == 2
    assert err.startswith("error: ") and "Traceback" not in err
    assert re.search(pattern, err), err


def test_fields_of_other_sections_are_named_not_taken(capsys):
    code, _, err = run_cli(["data", "check", "builtin", "--lr", "0.1", "--mid", "conv"], capsys)
    assert code == 2 and err.startswith("error: --lr, --mid: not a data field"), err


def test_bad_option_values_exit_2(tmp_path, capsys):
    code, _, err = run_cli(["data", "check", "builtin", "--val-fraction", "1.5"], capsys)
    assert code == 2 and "data.val_fraction='1.5' (from --val-fraction): Input should be less than 1" in err
    code, _, err = run_cli(["data", "check", "builtin", "--pose-format", "smplx"], capsys)
    assert code == 2 and "'smpl72' or 'body63'" in err


def test_data_check_reads_through_the_cache_it_is_told_to_use(tmp_path, capsys, monkeypatch):
    from unet1d.data import cache

    monkeypatch.setattr(cache, "CACHE_MIN_FILES", 2)
    for index in range(3):
        write_amass(tmp_path / "tree" / f"t{index}_poses.npz", frames=120, tag=float(index))
    tree, store = str(tmp_path / "tree"), tmp_path / "store"
    assert (
        run_cli(["data", "check", tree, "--batch-size", "8", "--cache", "false", "--cache-dir", str(store)], capsys)[0]
        == 0  # spelt as `unet1d train` and the README spell it (it took --no-cache alone)
    )
    assert not store.exists()
    code, out, _ = run_cli(["data", "check", tree, "--batch-size", "8", "--cache_dir", str(store)], capsys)
    assert code == 0 and "ok: " in out and len(list((store / "poses").iterdir())) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--builtin-samples", "600", "--batch-size", "8"],  # no PATH: the config's data (the built-in poses)
        ["--builtin-samples", "600", "--batch-size", "8", "builtin"],  # PATH after the fields
        ["--builtin_samples=600", "builtin", "--batch-size=8"],
        ["--data", "builtin", "--builtin-samples", "600", "--batch-size", "8"],
    ],
)
def test_data_check_takes_its_fields_before_or_after_the_path_or_without_one(args, capsys):
    """Click took the value of a field given before PATH (``5`` of ``--data_seed 5``) for PATH."""
    code, out, err = run_cli(["data", "check", *args], capsys)
    assert code == 0, err
    assert "ok: 540 training and 60 validation poses of 72 numbers; a batch of 8 fits 67 times" in out


def test_data_check_names_a_second_path(capsys):
    code, _, err = run_cli(["data", "check", "builtin", "--builtin-samples", "600", "elsewhere"], capsys)
    assert code == 2 and "unexpected argument 'elsewhere'" in err


def test_a_file_name_that_is_not_utf8_prints_escaped_where_the_streams_encode_strictly(tmp_path):
    """PYTHONIOENCODING=utf-8 (images, CI) made printing a non-UTF-8 name a UnicodeEncodeError traceback."""
    folder = os.fsdecode(bytes(tmp_path) + b"/bad\xffname")
    write_amass(Path(folder) / "walk_poses.npz", frames=120)
    write_amass(tmp_path / "good" / "run_poses.npz", frames=120, tag=1.0)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    command = [
        sys.executable,
        "-m",
        "unet1d.cli",
        "data",
        "check",
        str(tmp_path),
        "--batch_size",
        "1",
        "--cache",
        "false",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, errors="replace", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "bad\\udcffname/walk_poses.npz" in done.stdout and "Traceback" not in done.stderr


def test_data_check_refuses_the_data_given_twice(capsys):
    code, _, err = run_cli(["data", "check", "builtin", "--data", "elsewhere"], capsys)
    assert code == 2 and "give the data once, as PATH or as --data" in err


def test_data_check_refuses_path_and_data_given_with_an_equals_sign(capsys):
    """D02: --data=VALUE is --data too."""
    from unet1d.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["data", "check", "builtin", "--data=builtin"])
    assert exited.value.code == 2 and "give the data once, as PATH or as --data" in capsys.readouterr().err
