"""The AMASS split, --val_files, and the file-data cache."""

from __future__ import annotations

import os

import numpy as np
import pytest

from unet1d.config import DataConfig
from unet1d.data.split import amass_parts, glob_parts
from unet1d.data.synthetic_amass import write_amass_tree
from unet1d.errors import UserError


def test_amass_parts_follow_the_standard_split_under_any_root() -> None:
    names = [
        "CMU/01/01_01_poses.npz",
        "HumanEva/S1/Walk_poses.npz",
        "AMASS/MPI_HDM05/bk/x.npz",
        "HDM05/bk/y.npz",
        "sfu/0005/z.npz",
        "MPI_mosh/00008/a.npz",
        "Transitions_mocap/m/b.npz",
        "SSM/s/c.npz",
        "ACCAD/Female1/HumanEva_like.npz",  # a file name is not a dataset folder
    ]
    assert amass_parts(names).tolist() == ["train", "val", "val", "val", "val", "val", "test", "test", "train"]


def test_glob_parts_match_relative_paths() -> None:
    assert glob_parts(["a/s1/x.npz", "a/s2/x.npz", "b/s1/y.npz"], "*/s1/*").tolist() == ["val", "train", "val"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("amass")
    write_amass_tree(root, 21, clips_per_file=1, seed=2)  # 3 files in each of the 7 datasets
    return root


def _load(root, **fields):
    from unet1d.data import load_pose_data

    return load_pose_data(DataConfig(data=str(root), cache=False, **fields), 72, seed=0)


def test_split_amass_holds_out_val_sets_and_never_loads_test_sets(tree) -> None:
    splits = _load(tree, split="amass")
    report = splits.report
    by_split = {f.name.split("/")[0]: f.split for f in report.files}
    assert by_split == {"ACCAD": "train", "BMLmovi": "train", "CMU": "train", "KIT": "train", "HumanEva": "val",
                        "SFU": "val", "SSM_synced": "test"}  # fmt: skip
    assert (report.train_sequences, report.val_sequences, report.test_sequences) == (12, 6, 3)
    assert len(splits.train) == 12 * 30 and len(splits.val) == 6 * 30
    assert "test 3 sequences / 90 poses (not loaded)" in "\n".join(report.lines())
    assert splits.train_groups.tolist() == np.repeat(np.arange(12), 30).tolist()


def test_val_files_glob_chooses_the_held_out_files(tree) -> None:
    splits = _load(tree, val_files="CMU/*")
    assert [f.name for f in splits.report.files if f.split == "val"] == sorted(
        f.name for f in splits.report.files if f.name.startswith("CMU/")
    )
    assert len(splits.val) == 3 * 30


def test_a_val_files_glob_matching_nothing_is_a_user_error(tree) -> None:
    with pytest.raises(UserError, match=r"data.val_files='nope/\*': no file .* is held out"):
        _load(tree, val_files="nope/*")
    with pytest.raises(UserError, match="nothing is left to train on"):
        _load(tree, val_files="*")


def test_split_amass_without_amass_folders_is_a_user_error(tmp_path) -> None:
    write_amass_tree(tmp_path, 4, clips_per_file=1, datasets=("CMU", "ACCAD"))
    with pytest.raises(UserError, match="HumanEva, MPI_HDM05"):
        _load(tmp_path, split="amass")


def test_the_cache_gives_the_same_poses_and_notices_a_touched_file(tmp_path, monkeypatch) -> None:
    from unet1d.data import cache, load_pose_data

    monkeypatch.setattr(cache, "CACHE_MIN_FILES", 5)
    root, store = tmp_path / "tree", tmp_path / "cache"
    files = write_amass_tree(root, 12, clips_per_file=1, seed=4)
    config = DataConfig(data=str(root), cache_dir=str(store), split="amass")
    plain = load_pose_data(config.model_copy(update={"cache": False}), 72, seed=0)
    first = load_pose_data(config, 72, seed=0)
    entries = list((store / "poses").iterdir())
    assert len(entries) == 1 and (entries[0] / "index.json").is_file()
    second = load_pose_data(config, 72, seed=0)
    for loaded in (first, second):
        assert np.array_equal(loaded.train, plain.train) and np.array_equal(loaded.val, plain.val)
        assert loaded.report.lines() == plain.report.lines()
    assert isinstance(second.report.files[0].frames_kept, int)
    # a changed file (new content, new mtime) is read again
    data = dict(np.load(files[0], allow_pickle=False))
    data["poses"] = data["poses"] * 0.5
    np.savez(files[0], **data)
    os.utime(files[0], ns=(1, 1))
    third = load_pose_data(config, 72, seed=0)
    assert len(list((store / "poses").iterdir())) == 2
    assert not np.array_equal(third.train, plain.train)
    # and another frame rate is another entry
    load_pose_data(config.model_copy(update={"target_fps": 60.0}), 72, seed=0)
    assert len(list((store / "poses").iterdir())) == 3


def test_the_progress_bar_passes_every_file_through(monkeypatch) -> None:
    from unet1d.data import progress

    monkeypatch.setattr(progress, "_wanted", lambda count: True)  # as on a terminal
    assert list(progress.file_progress(list(range(300)), "reading")) == list(range(300))


def test_only_the_first_process_on_a_terminal_shows_progress(monkeypatch) -> None:
    import sys

    from unet1d.data import progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    assert progress._wanted(300) and not progress._wanted(10)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert not progress._wanted(300)
