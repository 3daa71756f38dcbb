"""Loading what users bring: AMASS files and trees, plain arrays, the split, and every bad input.

All files are real ones written into tmp_path the way AMASS distributes them: float64 `poses`,
`gender` as a str or bytes scalar, extra keys, 120 fps.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from unet1d.cli import main
from unet1d.config import DataConfig
from unet1d.data import NormStats, load_pose_data
from unet1d.data.formats import subsample_indices
from unet1d.errors import UserError


def amass_poses(frames: int, width: int, tag: float = 0.0, seed: int = 0) -> np.ndarray:
    """float64 poses whose column 3 (the left hip's x, kept by every mapping) is the frame index,
    and column 4 a per-file ``tag``, so tests can see which frames went where."""
    rng = np.random.default_rng(seed)
    poses = rng.normal(0.0, 0.3, (frames, width))
    poses[:, 3] = np.arange(frames)
    poses[:, 4] = tag
    return poses


def write_amass(path: Path, frames: int = 480, width: int = 156, fps: float | None = 120.0, **extra) -> np.ndarray:
    """An AMASS-style .npz; returns the `poses` written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    poses = extra.pop("poses", None)
    poses = amass_poses(frames, width, tag=extra.pop("tag", 0.0)) if poses is None else poses
    arrays = {
        "poses": poses,
        "trans": np.zeros((len(poses), 3)),
        "betas": np.zeros(16),
        "gender": extra.pop("gender", np.array("male")),
        "dmpls": np.zeros((len(poses), 8)),
        **extra,
    }
    if fps is not None:
        arrays["mocap_framerate"] = np.array(fps)
    np.savez(path, **arrays)
    return poses


def cfg(path: Path | str, **fields) -> DataConfig:
    return DataConfig(data=str(path), **{"heading": "keep", **fields})  # poses as recorded


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


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
    np.save(tmp_path / "joints.npy", poses.reshape(50, 24, 3))  # (N, 24, 3) is flattened
    np.testing.assert_array_equal(load_pose_data(cfg(tmp_path / "joints.npy", val_fraction=0), 72, seed=0).train, poses)
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


# --- `unet1d data check` -----------------------------------------------------------------------


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


# --- bad input: exit code 2 and a message naming the file ----------------------------------------


def corrupt_npz(tmp_path: Path) -> Path:
    good = tmp_path / "good.npz"
    write_amass(good, frames=200)
    bad = tmp_path / "cut.npz"
    bad.write_bytes(good.read_bytes()[:700])  # truncated mid-archive
    return bad


def garbage_npz(tmp_path: Path) -> Path:
    bad = tmp_path / "noise.npz"
    bad.write_bytes(np.random.default_rng(0).bytes(2000))
    return bad


def damaged_member_npz(tmp_path: Path) -> Path:
    good = tmp_path / "zipped.npz"
    np.savez_compressed(good, poses=amass_poses(500, 156), mocap_framerate=np.array(120.0))
    data = bytearray(good.read_bytes())
    data[200:260] = b"\x00" * 60  # inside the compressed `poses`: the zip directory is intact
    good.write_bytes(bytes(data))
    return good


def nan_file(tmp_path: Path) -> Path:
    poses = amass_poses(300, 156)
    poses[10, 5] = np.nan
    poses[11, 6:8] = np.inf
    write_amass(tmp_path / "DS" / "ok_poses.npz")
    write_amass(tmp_path / "DS" / "nan_poses.npz", poses=poses)
    return tmp_path


def wrong_width(tmp_path: Path) -> Path:
    write_amass(tmp_path / "w_poses.npz", width=70)
    return tmp_path / "w_poses.npz"


def strings_npy(tmp_path: Path) -> Path:
    np.save(tmp_path / "names.npy", np.array([["a"] * 72] * 4))
    return tmp_path / "names.npy"


def object_npy(tmp_path: Path) -> Path:
    np.save(tmp_path / "objects.npy", np.array([{"pose": 1}, None], dtype=object), allow_pickle=True)
    return tmp_path / "objects.npy"


def pickle_file(tmp_path: Path) -> Path:
    import pickle

    (tmp_path / "poses.npy").write_bytes(pickle.dumps(np.zeros((4, 72))))
    return tmp_path / "poses.npy"


def empty_dir(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def no_pose_files(tmp_path: Path) -> Path:
    root = tmp_path / "amass"
    (root / "S1").mkdir(parents=True)
    (root / "README.md").write_text("hi")
    np.savez(root / "S1" / "shape.npz", betas=np.zeros(16), gender=np.array("female"))
    return root


def tiny(tmp_path: Path) -> Path:
    write_amass(tmp_path / "short_poses.npz", frames=40)  # 10 frames at 30 fps
    return tmp_path / "short_poses.npz"


def empty_file(tmp_path: Path) -> Path:
    (tmp_path / "zero.npz").write_bytes(b"")
    return tmp_path / "zero.npz"


def bad_framerate(tmp_path: Path) -> Path:
    write_amass(tmp_path / "fps_poses.npz", fps=0.0)
    return tmp_path / "fps_poses.npz"


def body_into_smpl72(tmp_path: Path) -> Path:
    np.save(tmp_path / "body.npy", np.zeros((50, 63)))
    return tmp_path / "body.npy"


def one_dimensional(tmp_path: Path) -> Path:
    np.save(tmp_path / "flat.npy", np.zeros(72))
    return tmp_path / "flat.npy"


def text_file(tmp_path: Path) -> Path:
    (tmp_path / "poses.csv").write_text("1,2,3")
    return tmp_path / "poses.csv"


BAD_INPUTS = {
    "missing path": (lambda tmp: tmp / "nowhere", r"data path '.*nowhere' does not exist"),
    "empty directory": (empty_dir, r"empty: directory is empty"),
    "no pose files": (
        no_pose_files,
        r"amass: no pose files found \(2 files skipped: 1 not a \.npz/\.npy file; "
        r"1 no `poses` array and more than one array \(keys: betas, gender\)\)",
    ),
    "NaN and Inf": (
        nan_file,
        r"DS/nan_poses\.npz: `poses` has 3 non-finite values \(1 NaN, 2 Inf\) in 2 of 300 frames \(first at frame 10\)",
    ),
    "wrong width": (wrong_width, r"w_poses\.npz: `poses` has 70 columns \(shape \(480, 70\)\); expected one of 156"),
    "non-numeric": (strings_npy, r"names\.npy: `array` holds <U1 values, not numbers \(non-numeric array\)"),
    "object array": (object_npy, r"objects\.npy: `array` is stored as pickled Python objects; not loaded"),
    "pickle": (pickle_file, r"poses\.npy: a Python pickle, not a NumPy \.npy/\.npz file; unet1d does not load"),
    "truncated npz": (corrupt_npz, r"cut\.npz: corrupt or truncated \.npz file"),
    "garbage npz": (garbage_npz, r"noise\.npz: not a valid \.npz file \(corrupt, or a different format\)"),
    "damaged member": (damaged_member_npz, r"zipped\.npz: corrupt or truncated \.npz file: cannot read `poses`"),
    "empty file": (empty_file, r"zero\.npz: empty file \(0 bytes\)"),
    "bad framerate": (bad_framerate, r"fps_poses\.npz: `mocap_framerate` is 0\.0; a frame rate must be a positive"),
    "body63 into smpl72": (body_into_smpl72, r"body\.npy: `array` poses have 63 columns .* use --pose_format body63"),
    "1-D array": (one_dimensional, r"flat\.npy: `array` has shape \(72,\); expected \(frames, width\)"),
    "unsupported type": (text_file, r"poses\.csv: unsupported file type '\.csv'"),
}
SMALLER_THAN_A_BATCH = (
    r"short_poses\.npz: 9 training poses \(after subsampling and holding out 1 for validation\) "
    r"are fewer than one batch of 16"
)


def test_data_smaller_than_a_batch_is_reported_with_a_warning_and_refused_by_training(tmp_path, capsys):
    path = tiny(tmp_path)
    code, out, err = run_cli(["data", "check", str(path), "--batch-size", "16"], capsys)
    assert code == 0 and "short_poses.npz" in out and "ok:" not in out  # what was found is shown
    assert err.startswith("warning: ") and re.search(SMALLER_THAN_A_BATCH, err), err
    with pytest.raises(UserError, match=SMALLER_THAN_A_BATCH):  # what `train` checks before it starts
        load_pose_data(cfg(path), 72, seed=0, batch_size=16)


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_2_naming_the_file(case, tmp_path, capsys):
    make, pattern = BAD_INPUTS[case]
    path = make(tmp_path)
    code, _, err = run_cli(["data", "check", str(path), "--batch-size", "16"], capsys)
    assert code == 2
    assert err.startswith("error: ") and "Traceback" not in err
    assert re.search(pattern, err), err
    with pytest.raises(UserError, match=pattern):  # the library raises the same for training
        load_pose_data(cfg(path), 72, seed=0, batch_size=16)


def test_bad_option_values_exit_2(tmp_path, capsys):
    code, _, err = run_cli(["data", "check", "builtin", "--val-fraction", "1.5"], capsys)
    assert code == 2 and "--val-fraction=1.5" in err
    code, _, err = run_cli(["data", "check", "builtin", "--pose-format", "smplx"], capsys)
    assert code == 2 and "'smpl72' or 'body63'" in err


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
        ("gone_poses.npz", "broken link or not a regular file")
    ]


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
