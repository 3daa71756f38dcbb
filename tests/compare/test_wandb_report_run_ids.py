"""The W&B run ids `compare --wandb-report` picks: read by tracking's own reader of the file its writer
keeps (``<run>/wandb_run_id``); a damaged file is named in one warning and its run not picked."""

from __future__ import annotations

import re

import pytest

from unet1d.compare.wandb_report import run_ids
from unet1d.errors import UserError
from unet1d.store.rundir import read_run_id, record_run_id

DAMAGED = {
    "empty": b"",
    "blank lines": b"\n \n",
    "not text": b"\xff\xfe\x00a",
    "two lines": b"abcd1234\nefgh5678\n",
    "a reserved character": b"abcd/1234\n",
}


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


def test_the_reader_returns_what_the_writer_kept(tmp_path) -> None:
    assert read_run_id(tmp_path) is None  # no file: none kept, not damage
    record_run_id(tmp_path, "q7x2k9m1")
    assert read_run_id(tmp_path) == "q7x2k9m1"
    (tmp_path / "wandb_run_id").write_text("  sweep-run_01\n")  # a hand-edited file, extra space: still the id
    assert read_run_id(tmp_path) == "sweep-run_01"


@pytest.mark.parametrize("damage", DAMAGED)
def test_the_reader_names_a_damaged_file(tmp_path, damage) -> None:
    (tmp_path / "wandb_run_id").write_bytes(DAMAGED[damage])
    with pytest.raises(UserError, match="^" + re.escape(f"{tmp_path / 'wandb_run_id'}: damaged W&B run id (")):
        read_run_id(tmp_path)


def test_compare_picks_whole_ids_and_names_each_damaged_file_once(tmp_path, capsys) -> None:
    whole = [tmp_path / "a", tmp_path / "b"]
    for run, run_id in zip(whole, ("aaaa1111", "bbbb2222"), strict=True):
        run.mkdir()
        record_run_id(run, run_id)
    (tmp_path / "none").mkdir()  # W&B disabled: no file, no warning
    damaged = []
    for name, content in DAMAGED.items():
        run = tmp_path / name.replace(" ", "-")
        run.mkdir()
        (run / "wandb_run_id").write_bytes(content)
        damaged.append(run)

    picked = run_ids([whole[0], tmp_path / "none", *damaged, whole[1]])

    assert picked == ["aaaa1111", "bbbb2222"]
    lines = warnings(capsys.readouterr().err)
    assert len(lines) == len(damaged), lines
    for run, line in zip(damaged, lines, strict=True):
        assert line.startswith(f"warning: {run / 'wandb_run_id'}: damaged W&B run id ("), line
        assert line.endswith("the run is not picked for the W&B report"), line
