"""The built-in poses' cache: read back to the last bit, keyed on everything the poses depend on, and a damaged or
unwritable cache never costs more than generating the poses again."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from unet1d.data import builtin_cache
from unet1d.data.builtin import generate_builtin_poses
from unet1d.data.builtin_cache import builtin_key, cached_builtin_poses, generator_fingerprint

COUNT, SEED = 700, 4


def same(a, b) -> bool:
    return (
        np.array_equal(a.poses, b.poses) and a.poses.dtype == b.poses.dtype and np.array_equal(a.labels, b.labels)
        and np.array_equal(a.sequence_ids, b.sequence_ids) and a.family_names == b.family_names
    )  # fmt: skip


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "builtin").glob("*.npz"))


def test_a_stored_set_reads_back_bit_for_bit_without_generating(tmp_path: Path, monkeypatch) -> None:
    generated = generate_builtin_poses(COUNT, SEED)
    frames = np.array([3, 64, COUNT - 1])
    assert same(cached_builtin_poses(COUNT, SEED, tmp_path), generated)
    assert same(cached_builtin_poses(COUNT, SEED, tmp_path, frames), generate_builtin_poses(COUNT, SEED, frames))
    assert len(entries(tmp_path)) == 2  # the whole set and the frames are entries of their own
    umask = os.umask(0o022)
    os.umask(umask)
    assert {entry.stat().st_mode & 0o777 for entry in entries(tmp_path)} == {0o666 & ~umask}  # others may read it
    assert [path.name for path in (tmp_path / "builtin").iterdir() if path.name.startswith(".")] == []  # no staging

    def refuse(*args, **kwargs):
        raise AssertionError("generated again although an entry was there")

    monkeypatch.setattr(builtin_cache, "generate_builtin_poses", refuse)
    assert same(cached_builtin_poses(COUNT, SEED, tmp_path), generated)
    read_frames = cached_builtin_poses(COUNT, SEED, tmp_path, frames)
    assert np.array_equal(read_frames.poses, generated.poses[frames])


def test_no_cache_folder_generates_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert same(cached_builtin_poses(COUNT, SEED, None), generate_builtin_poses(COUNT, SEED))
    assert list(tmp_path.iterdir()) == []


def test_the_key_follows_size_seed_frames_and_the_generators_code(tmp_path: Path, monkeypatch) -> None:
    keys = {
        builtin_key(COUNT, SEED, None), builtin_key(COUNT + 1, SEED, None), builtin_key(COUNT, SEED + 1, None),
        builtin_key(COUNT, SEED, np.array([1, 2])), builtin_key(COUNT, SEED, np.array([1, 3])),
    }  # fmt: skip
    assert len(keys) == 5
    package = tmp_path / "unet1d"
    for name in builtin_cache.GENERATOR_SOURCES:
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(builtin_cache.PACKAGE_ROOT / name, package / name)
    monkeypatch.setattr(builtin_cache, "PACKAGE_ROOT", package)
    generator_fingerprint.cache_clear()
    before = builtin_key(COUNT, SEED, None)
    with (package / "body" / "skeleton.py").open("a") as source:
        source.write("\n# a joint limit changed\n")
    generator_fingerprint.cache_clear()
    assert builtin_key(COUNT, SEED, None) != before
    generator_fingerprint.cache_clear()


@pytest.mark.parametrize(
    "damage",
    [
        "cut short",
        "a byte flipped in the poses",
        "not a zip at all",
        "another set under this key",
        "a folder in its place",
        "NaN poses, stored whole",  # each check passed: a traceback from the normalisation statistics
        "labels beyond the families, stored whole",  # a traceback counting families (walk E)
        "labels as floats, stored whole",
        "poses beyond any angle, stored whole",  # 1e6 rad was served; a file holding it is refused (verification)
    ],
)
def test_a_damaged_entry_is_named_in_one_line_and_written_again(tmp_path: Path, capsys, damage: str) -> None:
    generated = generate_builtin_poses(COUNT, SEED)
    cached_builtin_poses(COUNT, SEED, tmp_path)
    (entry,) = entries(tmp_path)
    data = bytearray(entry.read_bytes())
    if damage == "cut short":
        data = data[: len(data) // 2]
    elif damage == "a byte flipped in the poses":
        data[len(data) // 3] ^= 0xFF  # inside the poses array, the entry's largest member
    elif damage == "not a zip at all":
        data = bytearray(b"not an npz")
    elif damage == "another set under this key":  # a whole, valid entry of another seed, copied over this one's name
        other = cached_builtin_poses(COUNT, SEED + 1, tmp_path / "other")
        assert other.poses.shape == generated.poses.shape and not np.array_equal(other.poses, generated.poses)
        data = bytearray(entries(tmp_path / "other")[0].read_bytes())
    elif damage.endswith("stored whole"):
        with np.load(entry) as stored:
            arrays = {name: stored[name] for name in stored.files}
        if damage.startswith("NaN"):
            arrays["poses"][5, 7] = np.nan
        elif damage.startswith("poses beyond"):
            arrays["poses"][3, 4] = 1e6
        elif damage.startswith("labels beyond"):
            arrays["labels"][:] = 99
        else:
            arrays["labels"] = arrays["labels"].astype(np.float64)
        np.savez(out := io.BytesIO(), **arrays)
        data = bytearray(out.getvalue())
    if damage == "a folder in its place":  # the rename that stores the entry again cannot replace a folder
        entry.unlink()
        (entry / "stray").mkdir(parents=True)
    else:
        entry.write_bytes(bytes(data))
    capsys.readouterr()
    assert same(cached_builtin_poses(COUNT, SEED, tmp_path), generated)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(entry) in lines[0] and "damaged" in lines[0], lines
    assert same(cached_builtin_poses(COUNT, SEED, tmp_path), generated)
    assert capsys.readouterr().err == ""  # written again whole: read back without a word


def test_a_cache_that_cannot_be_written_warns_once_and_the_poses_are_generated(tmp_path: Path, capsys) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache's folder would go")  # the user's own file: never removed
    assert same(cached_builtin_poses(COUNT, SEED, blocked), generate_builtin_poses(COUNT, SEED))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "cannot store the built-in poses" in lines[0], lines
    assert blocked.read_text() == "a file where the cache's folder would go"


def test_a_file_where_the_entries_folder_goes_is_replaced_in_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "builtin").write_text("x")  # before: every run warned it could not store, three times, for ever
    generated = generate_builtin_poses(COUNT, SEED)
    assert same(cached_builtin_poses(COUNT, SEED, tmp_path), generated)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "is a file, not a folder (damaged); storing the cache anew" in lines[0]
    assert same(cached_builtin_poses(COUNT, SEED, tmp_path), generated) and capsys.readouterr().err == ""


def test_an_entry_this_user_cannot_read_is_generated_around_not_called_damaged(tmp_path: Path, capsys, monkeypatch):
    cached_builtin_poses(COUNT, SEED, tmp_path)
    (entry,) = entries(tmp_path)
    stored = entry.read_bytes()
    capsys.readouterr()

    def refused(entry: Path, key: str, rows: int):
        raise PermissionError(13, "Permission denied", str(entry))

    monkeypatch.setattr(builtin_cache, "_read", refused)
    assert same(cached_builtin_poses(COUNT, SEED, tmp_path), generate_builtin_poses(COUNT, SEED))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "cannot read built-in pose cache entry" in lines[0] and "damaged" not in lines[0]
    assert entry.read_bytes() == stored  # left as it was


@pytest.mark.parametrize("damage", ["family names reordered", "a label one past the last family"])
def test_a_builtin_entry_with_wrong_families_stored_whole_is_damage(tmp_path, capsys, damage):
    """B03, B05: labels index FAMILY_NAMES; reordered names or label == len(FAMILY_NAMES) mislabel or crash."""
    from unet1d.data.builtin import FAMILY_NAMES, generate_builtin_poses
    from unet1d.data.builtin_cache import cached_builtin_poses

    cached_builtin_poses(700, 4, tmp_path)
    (entry,) = sorted((tmp_path / "builtin").glob("*.npz"))
    with np.load(entry) as stored:
        arrays = {name: stored[name] for name in stored.files}
    if damage.startswith("family"):
        arrays["family_names"] = np.array(list(reversed(FAMILY_NAMES)))
    else:
        arrays["labels"][0] = len(FAMILY_NAMES)
    np.savez(out := io.BytesIO(), **arrays)
    entry.write_bytes(out.getvalue())
    capsys.readouterr()
    read = cached_builtin_poses(700, 4, tmp_path)
    assert "damaged" in capsys.readouterr().err
    generated = generate_builtin_poses(700, 4)
    assert read.family_names == generated.family_names and np.array_equal(read.labels, generated.labels)
