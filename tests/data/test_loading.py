"""Loading what users bring: AMASS files and trees, plain arrays, the split, and every bad input.

All files are real ones written into tmp_path the way AMASS distributes them (tests/data/amass_files.py):
float64 `poses`, `gender` as a str or bytes scalar, extra keys, 120 fps. The `unet1d data check` command
that reports on them is tested in tests/cli/test_data.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.data.amass_files import BAD_INPUTS, SMALLER_THAN_A_BATCH, tiny, write_amass
from unet1d.config import DataConfig
from unet1d.data import NormStats, load_pose_data
from unet1d.data.formats import subsample_indices
from unet1d.errors import UserError


def cfg(path: Path | str, **fields) -> DataConfig:
    return DataConfig(data=str(path), **{"heading": "keep", **fields})  # poses as recorded


# --- AMASS mapping and subsampling ------------------------------------------------------------


def test_smplh_156_maps_to_smpl72_with_zero_hands_and_subsamples_120_to_30(tmp_path):
    source = write_amass(tmp_path / "seq_poses.npz", frames=1001, gender=np.array(b"female"))
    splits = load_pose_data(cfg(tmp_path / "seq_poses.npz", val_fraction=0.0), 72, seed=0)
    assert splits.train.dtype == np.float32 and splits.train.shape == (251, 72)  # ceil(1001 / 4)
    kept = np.arange(0, 1001, 4)
    np.testing.assert_array_equal(splits.train[:, 3], kept)  # every 4th frame, from the first
    np.testing.assert_allclose(splits.train[:, :66], source[kept, :66], rtol=1e-6, atol=1e-7)
    assert (splits.train[:, 66:] == 0).all()  # SMPL's two hand joints: not in SMPL-H, zero-filled
    entry = splits.report.files[0]
    assert (entry.width_in, entry.frames_in, entry.frames_kept, entry.source_fps, entry.fps) == (
        156,
        1001,
        251,
        120,
        30,
    )


def test_smplh_156_to_body63_is_columns_3_to_66(tmp_path):
    source = write_amass(tmp_path / "a.npz", frames=400, gender=np.array("male"))
    splits = load_pose_data(cfg(tmp_path / "a.npz", pose_format="body63", val_fraction=0.0), 63, seed=0)
    np.testing.assert_allclose(splits.train, source[::4, 3:66], rtol=1e-6, atol=1e-7)
    assert splits.report.joint_names[0] == "left_hip" and len(splits.report.joint_names) == 21


def test_smpl_72_kept_whole_or_cut_to_body63(tmp_path):
    source = write_amass(tmp_path / "smpl.npz", frames=240, width=72, fps=60.0)
    smpl = load_pose_data(cfg(tmp_path / "smpl.npz", val_fraction=0.0), 72, seed=0).train
    np.testing.assert_allclose(smpl, source[::2], rtol=1e-6, atol=1e-7)  # 60 -> 30: every 2nd frame
    body = load_pose_data(cfg(tmp_path / "smpl.npz", pose_format="body63", val_fraction=0.0), 63, seed=0).train
    np.testing.assert_allclose(body, source[::2, 3:66], rtol=1e-6, atol=1e-7)


def test_smplx_165_uses_root_and_body(tmp_path):
    source = write_amass(tmp_path / "x.npz", frames=90, width=165, fps=30.0)
    splits = load_pose_data(cfg(tmp_path / "x.npz", val_fraction=0.0), 72, seed=0)
    np.testing.assert_allclose(splits.train[:, :66], source[:, :66], rtol=1e-6, atol=1e-7)
    assert (splits.train[:, 66:] == 0).all() and len(splits.train) == 90  # 30 fps: nothing dropped


def test_extra_amass_keys_and_string_gender_are_ignored(tmp_path):
    labels = np.array(["C7", "CLAV", "LFHD"])  # a plain unicode array: loads without pickle
    write_amass(tmp_path / "m.npz", frames=120, marker_data=np.zeros((120, 3, 3)), marker_labels=labels)
    write_amass(tmp_path / "b.npz", frames=120, gender=np.array(b"neutral"))
    splits = load_pose_data(cfg(tmp_path, val_fraction=0.0), 72, seed=0)
    assert splits.train.shape == (60, 72)  # 2 files x 30 frames


@pytest.mark.parametrize(
    ("frames", "source_fps", "expected"),
    [
        (1001, 120.0, np.arange(0, 1001, 4)),
        (10, 60.0, np.arange(0, 10, 2)),
        (10, 59.94, np.arange(0, 10, 2)),  # within 2 % of an integer ratio
        (10, 30.0, np.arange(10)),
        (10, 24.0, np.arange(10)),  # never upsampled
        (10, 100.0, np.array([0, 3, 7])),  # nearest frames to t = 0, 1/30, 2/30 s
        (10, 1e300, np.array([0])),  # a ratio beyond the frames keeps the first (and must not overflow)
    ],
)
def test_subsample_indices(frames, source_fps, expected):
    np.testing.assert_array_equal(subsample_indices(frames, source_fps, 30.0), expected)


def test_non_integer_ratio_keeps_the_target_rate(tmp_path):
    picks = subsample_indices(1000, 100.0, 30.0)
    assert len(picks) == 300 and set(np.diff(picks)) <= {3, 4}
    np.testing.assert_allclose(picks / 100.0, np.arange(300) / 30.0, atol=0.5 / 100)


def test_target_fps_option_and_missing_framerate(tmp_path):
    write_amass(tmp_path / "a.npz", frames=120, fps=120.0)
    assert len(load_pose_data(cfg(tmp_path / "a.npz", target_fps=60, val_fraction=0), 72, seed=0).train) == 60
    write_amass(tmp_path / "b.npz", frames=120, fps=None)
    splits = load_pose_data(cfg(tmp_path / "b.npz", val_fraction=0), 72, seed=0)
    assert len(splits.train) == 120
    assert any("no mocap_framerate" in note for note in splits.report.notes)


# --- plain arrays ------------------------------------------------------------------------------


def test_plain_npy_and_single_array_npz(tmp_path):
    poses = np.random.default_rng(0).normal(size=(50, 72)).astype(np.float32)
    np.save(tmp_path / "p.npy", poses)
    np.savez(tmp_path / "p.npz", whatever=poses.astype(np.float64))
    for name in ("p.npy", "p.npz"):
        splits = load_pose_data(cfg(tmp_path / name, val_fraction=0.0), 72, seed=0)
        np.testing.assert_allclose(splits.train, poses, rtol=1e-6)
        assert splits.report.files[0].kind == "array" and splits.report.files[0].fps is None
    np.savez(tmp_path / "lone.npz", poses=poses)  # a lone `poses`: a plain array, not an AMASS take (z-up)
    assert load_pose_data(cfg(tmp_path / "lone.npz", val_fraction=0.0), 72, seed=0).report.files[0].kind == "array"
    np.save(tmp_path / "joints.npy", poses.reshape(50, 24, 3))  # (N, 24, 3) is flattened
    np.testing.assert_array_equal(load_pose_data(cfg(tmp_path / "joints.npy", val_fraction=0), 72, seed=0).train, poses)
    np.savez(tmp_path / "said.npz", poses=poses.reshape(50, 24, 3), up_axis=np.array("y"))  # not 50 x 24 hypotheses
    said = load_pose_data(cfg(tmp_path / "said.npz", val_fraction=0), 72, seed=0)  # mutation walk: read as width 3
    np.testing.assert_array_equal(said.train, poses)
    np.save(tmp_path / "body.npy", poses[:, 3:66])
    body = load_pose_data(cfg(tmp_path / "body.npy", pose_format="body63", val_fraction=0), 63, seed=0)
    np.testing.assert_array_equal(body.train, poses[:, 3:66])


def test_single_sequence_holds_out_its_tail(tmp_path):
    np.save(tmp_path / "p.npy", np.arange(100 * 72, dtype=np.float32).reshape(100, 72))
    splits = load_pose_data(cfg(tmp_path / "p.npy", val_fraction=0.2), 72, seed=0)
    assert len(splits.train) == 80 and len(splits.val) == 20
    assert splits.val[0, 0] == 80 * 72  # contiguous: val starts where train ends
    assert any("only one sequence" in note for note in splits.report.notes)


# --- the split ---------------------------------------------------------------------------------


def make_tree(root: Path, files: int = 10) -> dict[float, int]:
    """``files`` AMASS files in nested folders; returns tag -> frames kept at 30 fps."""
    kept = {}
    for i in range(files):
        frames = 120 + 40 * i
        write_amass(root / f"DS{i % 3}" / f"subject{i % 4}" / f"seq{i}_poses.npz", frames=frames, tag=float(i))
        kept[float(i)] = len(range(0, frames, 4))
    return kept


def test_split_keeps_files_whole_and_is_deterministic(tmp_path):
    kept = make_tree(tmp_path)
    splits = load_pose_data(cfg(tmp_path, val_fraction=0.2), 72, seed=0)
    train_tags, val_tags = set(splits.train[:, 4]), set(splits.val[:, 4])
    assert len(val_tags) == 2 and len(train_tags) == 8 and not train_tags & val_tags
    for tag, count in kept.items():  # every frame of a file is on one side
        side = splits.val if tag in val_tags else splits.train
        assert (side[:, 4] == tag).sum() == count
    assert splits.report.val_sequences == 2 and splits.report.train_sequences == 8
    again = load_pose_data(cfg(tmp_path, val_fraction=0.2), 72, seed=123)  # the run seed does not move it
    np.testing.assert_array_equal(again.train, splits.train)
    np.testing.assert_array_equal(again.val, splits.val)
    assert sorted(e.name for e in splits.report.files if e.split == "val") == sorted(
        e.name for e in again.report.files if e.split == "val"
    )


def test_split_fraction_rounds_but_keeps_one_per_side(tmp_path):
    make_tree(tmp_path, files=3)
    assert load_pose_data(cfg(tmp_path, val_fraction=0.01), 72, seed=0).report.val_sequences == 1
    assert load_pose_data(cfg(tmp_path, val_fraction=0.9), 72, seed=0).report.train_sequences == 1
    none = load_pose_data(cfg(tmp_path, val_fraction=0.0), 72, seed=0)
    assert none.val.shape == (0, 72) and none.report.val_sequences == 0


def test_builtin_split_keeps_clips_whole_and_labels_follow():
    splits = load_pose_data(DataConfig(builtin_samples=3000), 72, seed=0)
    assert splits.train.shape == (2700, 72) and splits.val.shape == (300, 72)  # 100 clips: 90 / 10
    assert splits.train_labels.shape == (2700,) and splits.val_labels.shape == (300,)
    assert splits.family_names[0] == "standing"
    assert sum(splits.report.family_counts.values()) == 3000
    body = load_pose_data(DataConfig(builtin_samples=3000, pose_format="body63"), 63, seed=0)
    np.testing.assert_array_equal(body.train, splits.train[:, 3:66])


# --- normalisation of the training split -------------------------------------------------------


def test_training_split_normalises_to_zero_mean_unit_std(tmp_path):
    make_tree(tmp_path)
    splits = load_pose_data(cfg(tmp_path), 72, seed=0)
    normed = splits.stats.normalize(splits.train)
    moving = splits.train.std(axis=0) > 1e-6
    np.testing.assert_allclose(normed.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(normed.std(axis=0)[moving], 1.0, atol=1e-3)
    assert (normed[:, ~moving] == 0).all()  # zero-filled hands stay at 0, no division by zero
    np.testing.assert_allclose(splits.stats.denormalize(normed), splits.train, atol=1e-4)
    off = load_pose_data(cfg(tmp_path, normalize=False), 72, seed=0).stats
    assert isinstance(off, NormStats) and (off.mean == 0).all() and (off.std == 1).all()


# --- bad input: a UserError naming the file (the CLI's exit code 2 is tested in tests/cli/test_data.py) ----


def test_data_smaller_than_a_batch_is_refused_by_training(tmp_path):
    with pytest.raises(UserError, match=SMALLER_THAN_A_BATCH):  # what `train` checks before it starts
        load_pose_data(cfg(tiny(tmp_path)), 72, seed=0, batch_size=16)


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_raises_a_user_error_naming_the_file(case, tmp_path):
    make, pattern = BAD_INPUTS[case]
    with pytest.raises(UserError, match=pattern):
        load_pose_data(cfg(make(tmp_path)), 72, seed=0, batch_size=16)


def test_a_named_shape_file_is_an_error_but_in_a_folder_it_is_skipped(tmp_path):
    write_amass(tmp_path / "S1" / "walk_poses.npz")
    np.savez(tmp_path / "S1" / "shape.npz", betas=np.zeros(16), gender=np.array("male"))
    with pytest.raises(UserError, match=r"shape\.npz: no pose data: no `poses` array"):
        load_pose_data(cfg(tmp_path / "S1" / "shape.npz"), 72, seed=0)
    splits = load_pose_data(cfg(tmp_path, val_fraction=0), 72, seed=0)
    assert [s.name for s in splits.report.skipped] == ["S1/shape.npz"] and len(splits.train) == 120


def test_zero_frame_files_are_reported_as_skipped(tmp_path):
    write_amass(tmp_path / "a_poses.npz")
    write_amass(tmp_path / "empty_poses.npz", poses=np.zeros((0, 156)))
    splits = load_pose_data(cfg(tmp_path, val_fraction=0), 72, seed=0)
    assert [(s.name, s.reason) for s in splits.report.skipped] == [("empty_poses.npz", "0 frames")]
    assert any("0 frames: empty_poses.npz" in line for line in splits.report.lines())


def test_degrees_are_flagged(tmp_path):
    np.save(tmp_path / "deg.npy", np.full((40, 72), 90.0))
    splits = load_pose_data(cfg(tmp_path / "deg.npy"), 72, seed=0)
    assert any("degrees" in note for note in splits.report.notes)
    assert splits.report.outside_limits == 1.0


def test_linked_dataset_folders_are_followed_and_broken_links_reported(tmp_path):
    write_amass(tmp_path / "elsewhere" / "CMU" / "a_poses.npz", frames=120)
    root = tmp_path / "amass"
    root.mkdir()
    (root / "CMU").symlink_to(tmp_path / "elsewhere" / "CMU", target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)  # a cycle must not hang the walk
    (root / "gone_poses.npz").symlink_to(tmp_path / "missing.npz")
    splits = load_pose_data(cfg(root, val_fraction=0), 72, seed=0)
    assert [f.name for f in splits.report.files] == ["CMU/a_poses.npz"] and len(splits.train) == 30
    assert [(s.name, s.reason) for s in splits.report.skipped] == [
        ("gone_poses.npz", "broken or looping link, or not a regular file"),
        ("loop", "a link back up the tree: not followed"),
    ]


def test_a_folder_or_file_under_two_names_is_read_once_under_its_real_one(tmp_path):
    # a held-out dataset reached first through a link named like a training one went to training
    write_amass(tmp_path / "HumanEva" / "s1" / "walk_poses.npz", frames=120)
    write_amass(tmp_path / "CMU" / "01" / "run_poses.npz", frames=120, tag=1.0)
    (tmp_path / "A_link").symlink_to(tmp_path / "HumanEva", target_is_directory=True)  # sorts first
    (tmp_path / "CMU" / "01" / "again_poses.npz").symlink_to(tmp_path / "CMU" / "01" / "run_poses.npz")
    splits = load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)
    assert sorted(f.name for f in splits.report.files) == ["CMU/01/run_poses.npz", "HumanEva/s1/walk_poses.npz"]
    assert sorted((s.name, s.reason) for s in splits.report.skipped) == [
        ("A_link", "the same folder as HumanEva: each file read once"),
        ("CMU/01/again_poses.npz", "the same file as CMU/01/run_poses.npz, read under that name"),
    ]
    assert len(splits.train) == 30 and len(splits.val) == 30  # HumanEva held out, each take once


def test_a_dataset_linked_in_under_its_own_name_is_split_by_that_name_not_by_its_deeper_real_folder(tmp_path):
    # walk E: HumanEva (held out) and Transitions_mocap (never loaded) kept in store/ and linked in by name
    # were read under store/..., so trained on
    write_amass(tmp_path / "store" / "h1" / "s1" / "walk_poses.npz", frames=120)
    write_amass(tmp_path / "store" / "t1" / "mix_poses.npz", frames=120, tag=2.0)
    write_amass(tmp_path / "CMU" / "01" / "run_poses.npz", frames=120, tag=1.0)
    (tmp_path / "HumanEva").symlink_to(tmp_path / "store" / "h1", target_is_directory=True)
    (tmp_path / "Transitions_mocap").symlink_to(tmp_path / "store" / "t1", target_is_directory=True)
    splits = load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)
    assert sorted((f.name, f.split) for f in splits.report.files) == [
        ("CMU/01/run_poses.npz", "train"),
        ("HumanEva/s1/walk_poses.npz", "val"),
        ("Transitions_mocap/mix_poses.npz", "test"),
    ]
    assert sorted((s.name, s.reason) for s in splits.report.skipped) == [
        ("store/h1", "the same folder as HumanEva: each file read once"),
        ("store/t1", "the same folder as Transitions_mocap: each file read once"),
    ]
    assert len(splits.train) == 30 and len(splits.val) == 30  # HumanEva held out, Transitions_mocap the test set


def test_a_held_out_dataset_kept_outside_and_linked_in_under_another_name_is_refused_not_trained(tmp_path):
    """Left alone last stop: `B -> ../store/SSM_synced` trained (the split reads names, and B is none); a take
    linked in alone from a held-out dataset outside did too. Under its own name it is held out, as before."""
    write_amass(tmp_path / "store" / "SSM_synced" / "s1" / "walk_poses.npz", frames=120)
    write_amass(tmp_path / "store" / "HumanEva" / "s1" / "jog_poses.npz", frames=120, tag=2.0)
    tree = tmp_path / "tree"
    write_amass(tree / "CMU" / "01" / "run_poses.npz", frames=120, tag=1.0)
    write_amass(tree / "HumanEva" / "s2" / "kick_poses.npz", frames=120, tag=3.0)
    (tree / "B").symlink_to(tmp_path / "store" / "SSM_synced", target_is_directory=True)
    with pytest.raises(UserError, match=r"tree/B: a link to .*store/SSM_synced, in SSM_synced, which AMASS's split "
                       r"holds out \(test\).*link it in under its own name \(SSM_synced\)"):  # fmt: skip
        load_pose_data(cfg(tree, split="amass"), 72, seed=0)
    assert len(load_pose_data(cfg(tree), 72, seed=0).report.files) == 3  # a random split reads no names
    (tree / "B").rename(tree / "SSM_synced")
    splits = load_pose_data(cfg(tree, split="amass"), 72, seed=0)
    assert ("SSM_synced/s1/walk_poses.npz", "test") in [(f.name, f.split) for f in splits.report.files]
    (tree / "CMU" / "01" / "LICENSE.txt").symlink_to(tmp_path / "store" / "HumanEva" / "s1" / "jog_poses.npz")
    load_pose_data(cfg(tree, split="amass"), 72, seed=0)  # no take: a file of no pose suffix (verification walk)
    (tree / "CMU" / "01" / "jog_poses.npz").symlink_to(tmp_path / "store" / "HumanEva" / "s1" / "jog_poses.npz")
    with pytest.raises(UserError, match=r"CMU/01/jog_poses\.npz: a link to .*, in HumanEva, .* \(val\)"):
        load_pose_data(cfg(tree, split="amass"), 72, seed=0)


def test_folders_above_a_linked_store_are_no_dataset_of_its_takes(tmp_path):
    """Verification walks: a store under a folder named like a held-out dataset (`/x/HumanEva/store/ACCAD`,
    `/x/sfu/KIT`, an annex's objects under a lab's `sfu/`) had its training datasets refused as held out; and a take
    linked from deep inside HumanEva, or from a store whose `HumanEva` is itself a link, trained."""
    store = tmp_path / "HumanEva" / "store"
    write_amass(store / "ACCAD" / "s1" / "walk_poses.npz", frames=120)
    write_amass(tmp_path / "sfu" / "KIT" / "s1" / "jump_poses.npz", frames=120, tag=4.0)
    write_amass(tmp_path / "sfu" / ".git" / "annex" / "objects" / "ab" / "SHA1-ab.npz", frames=120, tag=1.0)
    tree = tmp_path / "tree"
    write_amass(tree / "HumanEva" / "s2" / "kick_poses.npz", frames=120, tag=3.0)
    (tree / "ACCAD").symlink_to(store / "ACCAD", target_is_directory=True)
    (tree / "KIT").symlink_to(tmp_path / "sfu" / "KIT", target_is_directory=True)
    (tree / "CMU" / "01").mkdir(parents=True)
    (tree / "CMU" / "01" / "run_poses.npz").symlink_to(
        tmp_path / "sfu" / ".git" / "annex" / "objects" / "ab" / "SHA1-ab.npz"
    )
    splits = load_pose_data(cfg(tree, split="amass"), 72, seed=0)
    assert sorted((f.name, f.split) for f in splits.report.files) == [
        ("ACCAD/s1/walk_poses.npz", "train"), ("CMU/01/run_poses.npz", "train"), ("HumanEva/s2/kick_poses.npz", "val"),
        ("KIT/s1/jump_poses.npz", "train"),
    ]  # fmt: skip
    write_amass(tmp_path / "out" / "HumanEva" / "s1" / "sub" / "deep_poses.npz", frames=120, tag=5.0)
    (tree / "X").mkdir()
    (tree / "X" / "deep_poses.npz").symlink_to(tmp_path / "out" / "HumanEva" / "s1" / "sub" / "deep_poses.npz")
    with pytest.raises(UserError, match=r"X/deep_poses\.npz: a link to .*, in HumanEva, .* \(val\)"):
        load_pose_data(cfg(tree, split="amass"), 72, seed=0)
    (tree / "X" / "deep_poses.npz").unlink()
    (tmp_path / "out" / "HumanEva").rename(tmp_path / "out" / "abc123")  # an object store naming it by a link
    (tmp_path / "out" / "HumanEva").symlink_to(tmp_path / "out" / "abc123", target_is_directory=True)
    (tree / "X" / "B").symlink_to(tmp_path / "out" / "HumanEva", target_is_directory=True)
    with pytest.raises(UserError, match=r"X/B: a link to .*abc123, in HumanEva, "):
        load_pose_data(cfg(tree, split="amass"), 72, seed=0)


def test_a_git_annex_tree_reads_its_links_and_leaves_hidden_folders_and_the_cache_unread(tmp_path):
    objects = tmp_path / ".git" / "annex" / "objects"
    root = tmp_path
    for index, take in enumerate(("CMU/01/run_poses.npz", "CMU/02/walk_poses.npz")):
        stored = objects / f"k{index}" / f"k{index}.npz"
        write_amass(stored, frames=120, tag=float(index))
        (root / take).parent.mkdir(parents=True, exist_ok=True)
        (root / take).symlink_to(stored)
    (root / "cache" / "poses").mkdir(parents=True)
    np.save(root / "cache" / "poses" / "left.npy", np.zeros((40, 72), np.float32))  # no take: the cache's own
    splits = load_pose_data(cfg(root, val_fraction=0, cache_dir=str(root / "cache")), 72, seed=0)
    assert sorted(f.name for f in splits.report.files) == ["CMU/01/run_poses.npz", "CMU/02/walk_poses.npz"]
    assert sorted((s.name, s.reason) for s in splits.report.skipped) == [
        (".git", "hidden folder: not read"),
        ("cache/poses", "the pose cache (--cache_dir) inside the data: not read"),
    ]


def test_a_folder_that_cannot_be_listed_is_an_error_naming_it_not_a_silent_gap(tmp_path, monkeypatch):
    write_amass(tmp_path / "ACCAD" / "a_poses.npz", frames=120)
    write_amass(tmp_path / "KIT" / "b_poses.npz", frames=120, tag=1.0)
    listing = os.scandir

    def scandir(path):
        if Path(path).name == "KIT":  # chmod 000 (root reads through it, so the refusal is made here)
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(UserError, match=r"KIT: cannot read this folder \(Permission denied\)"):
        load_pose_data(cfg(tmp_path, val_fraction=0), 72, seed=0)


def test_a_betas_only_npz_in_a_folder_is_skipped_with_a_reason(tmp_path):
    write_amass(tmp_path / "S1" / "walk_poses.npz")
    np.savez(tmp_path / "S1" / "betas.npz", betas=np.zeros((1, 16)))  # one 2-D array, like a pose array would be
    splits = load_pose_data(cfg(tmp_path, val_fraction=0), 72, seed=0)
    assert [(s.name, s.reason) for s in splits.report.skipped] == [
        ("S1/betas.npz", "no `poses` array, only `betas` (body shape or metadata, not poses)")
    ]
    assert len(splits.train) == 120
    with pytest.raises(UserError, match=r"betas\.npz: no pose data: no `poses` array, only `betas`"):
        load_pose_data(cfg(tmp_path / "S1" / "betas.npz"), 72, seed=0)


def test_a_file_name_that_is_not_utf8_is_read_and_cached(tmp_path, monkeypatch):
    import os

    from unet1d.data import cache

    monkeypatch.setattr(cache, "CACHE_MIN_FILES", 2)  # the cache's key and the split hash every name
    tree = tmp_path / "tree"
    write_amass(tree / "a_poses.npz", frames=40)
    write_amass(tree / "b_poses.npz", frames=40, tag=1.0)
    os.rename(tree / "b_poses.npz", os.fsencode(tree) + b"/b\xff_poses.npz")  # Latin-1 bytes from an old archive
    config = cfg(tree, val_fraction=0.5, cache_dir=str(tmp_path / "cache"))
    first, again = (load_pose_data(config, 72, seed=0) for _ in range(2))
    assert len(first.train) + len(first.val) == 20 and np.array_equal(first.train, again.train)
    assert (tmp_path / "cache").is_dir()


def test_a_pipe_given_as_data_is_refused_not_read(tmp_path):
    import os
    import subprocess
    import sys

    os.mkfifo(tmp_path / "poses.npy")  # opening it to read would wait for a writer forever
    checked = subprocess.run([sys.executable, "-m", "unet1d.cli", "data", "check", str(tmp_path / "poses.npy")],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert checked.returncode == 2 and "poses.npy: not a regular file" in checked.stderr


def test_a_folder_mixing_amass_takes_and_plain_arrays_needs_its_up_axis_said(tmp_path):
    """auto took the whole folder as z-up for one AMASS take, turning every y-up array (walk E)."""
    write_amass(tmp_path / "CMU" / "run_poses.npz", frames=120)
    (tmp_path / "mine").mkdir()
    np.save(tmp_path / "mine" / "walk.npy", np.random.default_rng(0).normal(0, 0.2, (40, 72)).astype(np.float32))
    with pytest.raises(UserError, match=r"mixes 1 z-up file \(AMASS takes\) with 1 plain pose array .* mine/walk\.npy"):
        load_pose_data(cfg(tmp_path, val_fraction=0), 72, seed=0)
    assert load_pose_data(cfg(tmp_path, val_fraction=0, up_axis="z"), 72, seed=0).stats.up_axis == "z"


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("a link named otherwise, shallower than the held-out folder", "archive/HumanEva/s1/walk_poses.npz"),
        ("the held-out name a link beside the real folder", "HumanEva/s1/walk_poses.npz"),
    ],
)
def test_a_folder_with_several_names_is_read_under_the_one_amass_holds_out(tmp_path, layout, expected):
    """Verification walk: breadth first alone read archive/HumanEva as `current` (a shallower link), so HumanEva
    trained; at one depth the real `h1` beat its link `HumanEva`."""
    write_amass(tmp_path / "CMU" / "01" / "run_poses.npz", frames=120, tag=1.0)
    if layout.startswith("a link named otherwise"):
        write_amass(tmp_path / "archive" / "HumanEva" / "s1" / "walk_poses.npz", frames=120)
        (tmp_path / "current").symlink_to(tmp_path / "archive" / "HumanEva", target_is_directory=True)
    else:
        write_amass(tmp_path / "h1" / "s1" / "walk_poses.npz", frames=120)
        (tmp_path / "HumanEva").symlink_to(tmp_path / "h1", target_is_directory=True)
    splits = load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)
    assert sorted((f.name, f.split) for f in splits.report.files) == [("CMU/01/run_poses.npz", "train"),
                                                                        (expected, "val")]  # fmt: skip
    assert len(splits.train) == 30 and len(splits.val) == 30


def test_a_folder_amass_would_hold_out_twice_apart_is_refused_naming_both(tmp_path):
    write_amass(tmp_path / "HumanEva" / "s1" / "walk_poses.npz", frames=120)
    write_amass(tmp_path / "CMU" / "01" / "run_poses.npz", frames=120, tag=1.0)
    (tmp_path / "Transitions_mocap").symlink_to(tmp_path / "HumanEva", target_is_directory=True)
    with pytest.raises(
        UserError, match=r"reached as HumanEva/s1/walk_poses.npz \(val\) and Transitions_mocap/.* \(test\)"
    ):
        load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)


def test_lost_and_found_and_a_cache_at_the_data_root_are_listed_not_read(tmp_path, monkeypatch):
    """A data volume's root holds lost+found, readable by root alone: every command failed for other users."""
    write_amass(tmp_path / "CMU" / "01" / "run_poses.npz", frames=120)
    (tmp_path / "lost+found").mkdir()
    listing = os.scandir

    def scandir(path):
        if Path(path).name == "lost+found":
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(os, "scandir", scandir)
    splits = load_pose_data(cfg(tmp_path, val_fraction=0, cache_dir=str(tmp_path)), 72, seed=0)
    assert [f.name for f in splits.report.files] == ["CMU/01/run_poses.npz"]
    assert ("lost+found", "the filesystem's lost+found: not read") in [
        (s.name, s.reason) for s in splits.report.skipped
    ]


def test_two_frame_rate_keys_holding_one_rate_in_two_precisions_agree(tmp_path):
    """59.94 as float64 beside float32 was refused as 'disagree' (verification walk)."""
    write_amass(tmp_path / "both_poses.npz", frames=120, fps=59.94, mocap_frame_rate=np.array(59.94, np.float32))
    splits = load_pose_data(cfg(tmp_path / "both_poses.npz", val_fraction=0), 72, seed=0)
    assert splits.report.files[0].source_fps == pytest.approx(59.94)


def test_a_held_out_name_wins_through_nested_links_and_only_for_amass_split(tmp_path):
    """Verification walk: `best -> archive/HumanEva/s1` met before `current -> archive/HumanEva` read the take as
    best/... (train); and a hash split or --val_files saw the renamed folders (h1/* held out nothing)."""
    write_amass(tmp_path / "CMU" / "01" / "run_poses.npz", frames=120, tag=1.0)
    write_amass(tmp_path / "archive" / "HumanEva" / "s1" / "walk_poses.npz", frames=120)
    (tmp_path / "current").symlink_to(tmp_path / "archive" / "HumanEva", target_is_directory=True)
    (tmp_path / "best").symlink_to(tmp_path / "archive" / "HumanEva" / "s1", target_is_directory=True)
    splits = load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)
    assert ("archive/HumanEva/s1/walk_poses.npz", "val") in [(f.name, f.split) for f in splits.report.files]
    by_glob = load_pose_data(cfg(tmp_path, val_files="best/*"), 72, seed=0)  # names as met, breadth first
    assert [(f.name, f.split) for f in by_glob.report.files if f.split == "val"] == [("best/walk_poses.npz", "val")]


def test_a_file_kept_once_for_two_held_out_datasets_loads_and_lost_and_found_below_the_root_is_left(tmp_path):
    """git-annex keeps one LICENSE for HumanEva and Transitions: refused as 'two held-out names' (verification)."""
    store = tmp_path / ".git" / "annex"
    store.mkdir(parents=True)
    (store / "license").write_text("AMASS license")
    for dataset, tag in (("HumanEva", 0.0), ("Transitions", 1.0), ("CMU", 2.0)):
        write_amass(tmp_path / dataset / "s1" / "walk_poses.npz", frames=120, tag=tag)
        (tmp_path / dataset / "s1" / "LICENSE.txt").symlink_to(store / "license")
    (tmp_path / "CMU" / "lost+found").mkdir()  # a disk linked in, its volume's lost+found with it
    splits = load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)
    assert sorted(f.split for f in splits.report.files) == ["test", "train", "val"]
    assert ("CMU/lost+found", "the filesystem's lost+found: not read") in [
        (s.name, s.reason) for s in splits.report.skipped
    ]


def _takes(tmp_path, *datasets):
    for i, dataset in enumerate(datasets):
        write_amass(tmp_path / dataset / "s1" / "walk_poses.npz", frames=120, tag=float(i))


def test_a_hard_link_is_one_take_and_looping_or_suffixless_links_neither_stop_nor_hide_a_take(tmp_path):
    """Third verification walk: a hard link read a HumanEva take twice (as train and val); a self-link stopped
    the command; a take linked under a name without .npz was read under that name, i.e. not at all."""
    _takes(tmp_path, "CMU", "HumanEva")
    os.link(tmp_path / "HumanEva" / "s1" / "walk_poses.npz", tmp_path / "CMU" / "s1" / "copy.npz")
    (tmp_path / "CMU" / "me").symlink_to("me")
    (tmp_path / "aaa").symlink_to(tmp_path / "CMU" / "s1" / "walk_poses.npz")  # met first, no suffix
    splits = load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)
    assert sorted((f.name, f.split) for f in splits.report.files) == [
        ("CMU/s1/walk_poses.npz", "train"), ("HumanEva/s1/walk_poses.npz", "val"),
    ]  # fmt: skip
    assert ("CMU/me", "broken or looping link, or not a regular file") in [
        (s.name, s.reason) for s in splits.report.skipped
    ]


def test_a_take_reachable_as_val_and_as_test_through_a_folder_above_it_is_refused(tmp_path):
    """A disk holding Transitions linked into HumanEva read the test takes as val, without a word (verification)."""
    _takes(tmp_path, "CMU", "disk/Transitions", "SFU")
    (tmp_path / "HumanEva").mkdir()
    (tmp_path / "HumanEva" / "disk").symlink_to(tmp_path / "disk", target_is_directory=True)
    with pytest.raises(UserError, match=r"one take is reached as .*\(test\) and .*\(val\)|\(val\) and .*\(test\)"):
        load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)


def test_a_link_back_up_from_inside_a_held_out_dataset_holds_nothing_else_out(tmp_path):
    """A link from HumanEva/s1 to the folder holding every dataset made CMU and Transitions val (verification)."""
    _takes(tmp_path, "amass/CMU", "amass/HumanEva", "amass/Transitions")
    (tmp_path / "amass" / "HumanEva" / "s1" / "up").symlink_to(tmp_path / "amass", target_is_directory=True)
    splits = load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)
    assert sorted((f.name, f.split) for f in splits.report.files) == [
        ("amass/CMU/s1/walk_poses.npz", "train"),
        ("amass/HumanEva/s1/walk_poses.npz", "val"),
        ("amass/Transitions/s1/walk_poses.npz", "test"),
    ]


def test_a_take_linked_from_many_names_or_under_a_suffixless_name_is_still_held_out(tmp_path):
    """Fourth verification walk: past 64 names the search stopped (a HumanEva take read as train), and a link
    without .npz inside HumanEva was not counted; a shape.npz kept once for val and test refused the tree."""
    _takes(tmp_path, "CMU", "SFU")
    write_amass(tmp_path / "pool" / "s1" / "walk_poses.npz", frames=120, tag=5.0)
    (tmp_path / "CMU" / "Z").mkdir()
    (tmp_path / "CMU" / "Z" / "s1").symlink_to(tmp_path / "pool" / "s1", target_is_directory=True)
    (tmp_path / "HumanEva").mkdir()
    (tmp_path / "HumanEva" / "Z").symlink_to(tmp_path / "CMU" / "Z", target_is_directory=True)
    (tmp_path / "BMLrub").mkdir()
    for i in range(70):
        (tmp_path / "BMLrub" / f"l{i}").symlink_to(tmp_path / "pool" / "s1", target_is_directory=True)
    splits = load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)
    assert ("HumanEva/Z/s1/walk_poses.npz", "val") in [(f.name, f.split) for f in splits.report.files]

    shape = tmp_path / "SFU" / "s1" / "shape.npz"
    np.savez(shape, betas=np.zeros(16), gender=np.array("male"))
    (tmp_path / "Transitions" / "s1").mkdir(parents=True)
    os.link(shape, tmp_path / "Transitions" / "s1" / "shape.npz")  # one inode, val and test: no take, no conflict
    load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)

    (tmp_path / "pool" / "s2").mkdir()
    write_amass(tmp_path / "pool" / "s2" / "run_poses.npz", frames=120, tag=6.0)
    (tmp_path / "SFU" / "s1" / "run").symlink_to(tmp_path / "pool" / "s2" / "run_poses.npz")
    with pytest.raises(UserError, match=r"reached as SFU/s1/run \(val\) only under a name without \.npz/\.npy"):
        load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)


def _split_of(root, **fields):
    return {f.name: f.split for f in load_pose_data(cfg(root, split="amass", **fields), 72, seed=0).report.files}


def test_a_link_back_up_names_nothing_and_a_loop_of_links_holds_more_out_never_less(tmp_path):
    """Verification walks: a root link inside HumanEva made every dataset after it val; listing routes that never
    pass a folder twice was exponential (minutes, or refused realistic trees, or a RecursionError), and results
    kept across routes let loops in. Now a link up is not followed and parts spread as plain reachability: a
    loop of links can hold a train take out (safe), never let a held-out one train."""
    _takes(tmp_path / "a", "CMU", "HumanEva", "KIT")
    (tmp_path / "a" / "HumanEva" / "s1" / "root").symlink_to(tmp_path / "a", target_is_directory=True)
    assert _split_of(tmp_path / "a") == {"CMU/s1/walk_poses.npz": "train", "HumanEva/s1/walk_poses.npz": "val",
                                         "KIT/s1/walk_poses.npz": "train"}  # fmt: skip
    write_amass(tmp_path / "b" / "CMU" / "s1" / "a_poses.npz", frames=120)
    write_amass(tmp_path / "b" / "CMU" / "s2" / "b_poses.npz", frames=120, tag=1.0)
    write_amass(tmp_path / "b" / "CMU" / "s3" / "c_poses.npz", frames=120, tag=2.0)
    (tmp_path / "b" / "CMU" / "s2" / "HumanEva").symlink_to(tmp_path / "b" / "CMU" / "s1", target_is_directory=True)
    (tmp_path / "b" / "CMU" / "s1" / "back").symlink_to(tmp_path / "b" / "CMU" / "s2", target_is_directory=True)
    split = _split_of(tmp_path / "b")
    assert split["CMU/s2/HumanEva/a_poses.npz"] == "val" and split["CMU/s3/c_poses.npz"] == "train"
    assert split["CMU/s2/HumanEva/back/b_poses.npz"] == "val"  # reached through the loop: held out, not trained


def test_links_on_links_are_worked_out_at_once(tmp_path):
    for i in range(300):  # every subject linked twice more, a link up in each, and a chain of sibling links
        for dataset in ("CMU", "HumanEva"):
            subject = tmp_path / dataset / f"s{i}"
            write_amass(subject / "t_poses.npz", frames=4, tag=float(i))
            (subject / "up").symlink_to(tmp_path, target_is_directory=True)
            if i:
                (subject / "prev").symlink_to(tmp_path / dataset / f"s{i - 1}", target_is_directory=True)
            for link in ("by_a", "by_b"):
                (tmp_path / link).mkdir(exist_ok=True)
                (tmp_path / link / f"{dataset}{i}").symlink_to(subject, target_is_directory=True)
    files, _, conflicts = files_walk(tmp_path)
    assert len(files) == 600 and not conflicts
    names = [f.relative_to(tmp_path).as_posix() for f in files]
    assert sum(name.startswith("HumanEva/") for name in names) == 300  # each HumanEva take under its own name
    chain = tmp_path / "chain" / "CMU"
    for level in range(10):  # four names a level: 4^10 routes to the bottom, one fixpoint
        (chain / f"L{level}").mkdir(parents=True)
        for alias in range(3):
            (chain / f"alias{alias}").symlink_to(chain / f"L{level}", target_is_directory=True)
        chain = chain / f"L{level}"
    write_amass(chain / "t_poses.npz", frames=4)
    assert len(files_walk(tmp_path / "chain")[0]) == 1


def files_walk(root):
    from unet1d.data.files import _walk

    return _walk(root, amass_split=True)


def test_held_out_routes_too_long_to_open_are_refused_and_long_chains_are_worked_out_at_once(tmp_path):
    """Seventh verification walk: a chain of 150 sibling links reached from HumanEva was an ELOOP traceback (the
    take read under a path of 150 links); 6,000 took 114 s (the fixpoint moved a part one link a pass)."""
    for i in range(60):
        write_amass(tmp_path / "CMU" / f"s{i}" / f"t{i}_poses.npz", frames=4, tag=float(i))
        if i:
            (tmp_path / "CMU" / f"s{i}" / "prev").symlink_to(tmp_path / "CMU" / f"s{i - 1}", target_is_directory=True)
    write_amass(tmp_path / "HumanEva" / "h" / "h_poses.npz", frames=4)
    (tmp_path / "HumanEva" / "h" / "into").symlink_to(tmp_path / "CMU" / "s59", target_is_directory=True)
    with pytest.raises(UserError, match="a path the system cannot open; link it in by a shorter way"):
        load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0)
    (tmp_path / "HumanEva" / "h" / "into").unlink()
    chain = tmp_path / "long"
    for i in range(3000):  # no held-out entry: every take trains, in one pass of the worklist
        (chain / f"s{i}").mkdir(parents=True)
        if i:
            (chain / f"s{i}" / "prev").symlink_to(chain / f"s{i - 1}", target_is_directory=True)
    write_amass(chain / "s0" / "t_poses.npz", frames=4)
    files, _, conflicts = files_walk(tmp_path / "long")
    assert [f.name for f in files] == ["t_poses.npz"] and not conflicts


def test_val_files_with_the_amass_split_validates_on_the_glob_and_keeps_the_test_datasets_out(tmp_path):
    """walk K: `--split amass --val_files 'HumanEva/*'` trained on SSM_synced, Transitions_mocap and SFU."""
    write_amass(tmp_path / "HumanEva" / "s1" / "walk_poses.npz", frames=120)
    write_amass(tmp_path / "SFU" / "s1" / "jump_poses.npz", frames=120, tag=3.0)
    write_amass(tmp_path / "SSM_synced" / "s1" / "mix_poses.npz", frames=120, tag=2.0)
    write_amass(tmp_path / "CMU" / "01" / "run_poses.npz", frames=120, tag=1.0)
    splits = load_pose_data(cfg(tmp_path, split="amass", val_files="HumanEva/*"), 72, seed=0)
    assert sorted((f.name, f.split) for f in splits.report.files) == [
        ("CMU/01/run_poses.npz", "train"),
        ("HumanEva/s1/walk_poses.npz", "val"),
        ("SFU/s1/jump_poses.npz", "train"),  # a val dataset of the split: the glob chooses validation instead
        ("SSM_synced/s1/mix_poses.npz", "test"),
    ]
    assert sorted(set(splits.train[:, 4].round(3))) == [1.0, 3.0] and set(splits.val[:, 4].round(3)) == {0.0}
    for glob in ("SSM_synced/*", "*/s1/*"):  # a glob reaching a test dataset: test data would pick the checkpoint
        with pytest.raises(UserError, match=r"holds out 1 file of AMASS's test datasets for validation \(e\.g\. SSM"):
            load_pose_data(cfg(tmp_path, split="amass", val_files=glob), 72, seed=0)


def test_a_relative_data_path_that_is_not_here_says_where_it_was_looked_for(tmp_path, monkeypatch):
    """walk K: a run trained with `--data amass` evaluated from another folder said only "does not exist (use
    'builtin' ...)"; the run's config keeps the path as given."""
    from unet1d.data.files import require_pose_path

    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as missing:
        require_pose_path(Path("amass"))
    assert str(missing.value) == (
        f"data path 'amass' does not exist (relative to {tmp_path}; --data PATH says where it is; 'builtin' for the "
        "built-in poses)"
    )
    with pytest.raises(UserError, match=r"^data path '/no/such\.npz' does not exist$"):
        require_pose_path(Path("/no/such.npz"))


def test_a_folder_reached_only_through_more_links_than_the_system_follows_is_refused_not_dropped(tmp_path):
    """F14: 45 links in a row, each to a folder outside the tree: the path to the last one is ELOOP though it
    exists. Skipped as a 'looping link', its held-out take would vanish from the data unseen."""
    outside = tmp_path / "outside"
    for i in range(45):
        (outside / f"d{i}").mkdir(parents=True)
    for i in range(44):
        (outside / f"d{i}" / "n").symlink_to(outside / f"d{i + 1}", target_is_directory=True)
    write_amass(outside / "d44" / "far_poses.npz", frames=120)
    root = tmp_path / "data"
    write_amass(root / "CMU" / "s1" / "walk_poses.npz", frames=120, tag=1.0)
    (root / "HumanEva").mkdir()
    (root / "HumanEva" / "start").symlink_to(outside / "d0", target_is_directory=True)
    with pytest.raises(UserError, match="reached through more links than the system follows"):
        load_pose_data(cfg(root, split="amass"), 72, seed=0)


def test_within_a_held_out_part_a_name_with_npz_is_preferred_to_a_shallower_one_without(tmp_path):
    """F20: HumanEva/aaa (no suffix, met first, breadth first) and HumanEva/s1/walk_poses.npz name one take, both
    val: it is read as the .npz, not refused as reachable 'only under a name without .npz'."""
    write_amass(tmp_path / "CMU" / "s1" / "run_poses.npz", frames=120, tag=1.0)
    write_amass(tmp_path / "HumanEva" / "s1" / "walk_poses.npz", frames=120)
    (tmp_path / "HumanEva" / "aaa").symlink_to(tmp_path / "HumanEva" / "s1" / "walk_poses.npz")
    files = load_pose_data(cfg(tmp_path, split="amass"), 72, seed=0).report.files
    assert ("HumanEva/s1/walk_poses.npz", "val") in [(f.name, f.split) for f in files]


def test_a_baselines_cache_at_the_data_root_is_listed_as_the_cache_not_read(tmp_path):
    """F04: every part of a cache_dir is the cache's, the baselines' JSON entries too."""
    write_amass(tmp_path / "CMU" / "01" / "run_poses.npz", frames=120)
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "k.json").write_text("{}")
    splits = load_pose_data(cfg(tmp_path, val_fraction=0, cache_dir=str(tmp_path)), 72, seed=0)
    assert ("baselines", "the pose cache (--cache_dir) inside the data: not read") in [
        (s.name, s.reason) for s in splits.report.skipped
    ]


def test_a_take_at_exactly_one_frame_per_second_is_read(tmp_path):
    """F21: the allowed range is 1-10,000 fps, both ends included."""
    from unet1d.data.files import read_pose_file

    path = tmp_path / "slow_poses.npz"
    write_amass(path, frames=10, fps=1.0)
    assert read_pose_file(path, path.name, "smpl72", 1.0).source_fps == 1.0
