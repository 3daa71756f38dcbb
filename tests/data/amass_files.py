"""AMASS-style files written the way AMASS distributes them, and the bad inputs users bring, for the
loading tests (tests/data) and the `unet1d data check` tests (tests/cli)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


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


# --- bad input: each maker writes one, with the message (a regex) that names what is wrong --------


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


def long_header_npy(tmp_path: Path) -> Path:
    """A header past numpy's safe length (its refusal names allow_pickle too: it read as "pickled objects")."""
    np.save(tmp_path / "long.npy", np.zeros(3, np.dtype([(f"f{i}", "<f4") for i in range(1200)])))
    return tmp_path / "long.npy"


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


def absurd_framerate(tmp_path: Path) -> Path:
    write_amass(tmp_path / "fast_poses.npz", fps=1e9)  # kept one frame in 240, without a word
    return tmp_path / "fast_poses.npz"


def two_framerates(tmp_path: Path) -> Path:
    write_amass(tmp_path / "both_poses.npz", fps=120.0, mocap_frame_rate=np.array(60.0))  # 120 was taken silently
    return tmp_path / "both_poses.npz"


def body_into_smpl72(tmp_path: Path) -> Path:
    np.save(tmp_path / "body.npy", np.zeros((50, 63)))
    return tmp_path / "body.npy"


def one_dimensional(tmp_path: Path) -> Path:
    np.save(tmp_path / "flat.npy", np.zeros(72))
    return tmp_path / "flat.npy"


def text_file(tmp_path: Path) -> Path:
    (tmp_path / "poses.csv").write_text("1,2,3")
    return tmp_path / "poses.csv"


def huge_values(tmp_path: Path) -> Path:
    """Finite in float64, inf once read as float32: the statistics would overflow."""
    poses = amass_poses(50, 72)
    poses[7, 9] = 1e39
    np.save(tmp_path / "huge.npy", poses)
    return tmp_path / "huge.npy"


def foreign_zip(tmp_path: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(tmp_path / "notes.npz", "w") as archive:
        archive.writestr("notes.txt", "not an array")
    return tmp_path / "notes.npz"


def promised_npy(tmp_path: Path) -> Path:
    """A .npy whose header promises 52 TiB: a large download cut short."""
    with open(tmp_path / "cut.npy", "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False, "shape": (10**11, 72)})
        handle.write(b"\0" * 4096)
    return tmp_path / "cut.npy"


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
        r"DS/nan_poses\.npz: `poses` has 3 values that are not finite or beyond \+-10000 radians \(1 NaN\) in 2 of "
        r"300 frames \(first at frame 10: nan\)",
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
    "absurd framerate": (absurd_framerate, r"fast_poses\.npz: `mocap_framerate` is 1e\+09 frames per second; allowed"),
    "two framerates": (two_framerates, r"both_poses\.npz: `mocap_framerate` 120 and `mocap_frame_rate` 60 disagree"),
    "body63 into smpl72": (body_into_smpl72, r"body\.npy: `array` has 63 columns .* use --pose_format body63"),
    "1-D array": (one_dimensional, r"flat\.npy: `array` has shape \(72,\); expected \(frames, width\)"),
    "unsupported type": (text_file, r"poses\.csv: unsupported file type '\.csv'"),
    "huge values": (huge_values, r"huge\.npy: `array` has 1 values that are not finite or beyond .*frame 7: 1e\+39"),
    "foreign zip": (foreign_zip, r"notes\.npz: `notes\.txt` is not a NumPy array"),
    "promised npy": (promised_npy, r"cut\.npy: corrupt or truncated \.npy file \(.*MemoryError"),
    "long header": (long_header_npy, r"long\.npy: its \.npy header is longer than numpy reads without trusting"),
}
SMALLER_THAN_A_BATCH = (
    r"short_poses\.npz: 9 training poses \(after subsampling and holding out 1 for validation\) "
    r"are fewer than one batch of 16"
)
