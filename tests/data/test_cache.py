"""A damaged pose-cache entry is never served and never fatal: each damage a full disk, an interrupted
copy or a stray edit leaves is reported in one line naming the entry, and the poses read are the
tree's own (compared with a read that bypasses the cache)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from unet1d.data import cache
from unet1d.data.files import read_pose_path
from unet1d.data.synthetic_amass import write_amass_tree

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    write_amass_tree(root, 6, clips_per_file=1, seed=3)
    return root


@pytest.fixture(autouse=True)
def small_trees_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "CACHE_MIN_FILES", 5)


def _poses(result) -> list[tuple[str, np.ndarray]]:
    return [(s.name, np.asarray(s.poses)) for s in result.sequences]


def _same(a, b) -> bool:
    return [n for n, _ in _poses(a)] == [n for n, _ in _poses(b)] and all(
        np.array_equal(x, y) for (_, x), (_, y) in zip(_poses(a), _poses(b), strict=True)
    )


def _entry(store: Path) -> Path:
    (entry,) = [p for p in (store / "poses").iterdir() if not p.name.startswith(".")]
    return entry


def _rewrite_index(entry: Path, change: Callable[[dict], None], *, keep_checksum: bool = False) -> None:
    stored = json.loads((entry / "index.json").read_text())
    change(stored["index"])
    if not keep_checksum:
        stored["sha256"] = cache._index_digest(stored["index"])
    (entry / "index.json").write_text(json.dumps(stored))


def _cut(path: Path, size: int) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(size)


def _overwrite(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)


DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "index cut short": (lambda e: _cut(e / "index.json", 300), r"index\.json is not valid JSON, cut short\?"),
    "index empty": (lambda e: _cut(e / "index.json", 0), r"index\.json is not valid JSON"),
    "index missing": (lambda e: (e / "index.json").unlink(), r"index\.json is missing"),
    "index edited": (
        lambda e: _rewrite_index(e, lambda i: i.update(frames=i["frames"] - 1), keep_checksum=True),
        r"index\.json does not match its own checksum",
    ),
    "older format": (
        lambda e: _rewrite_index(e, lambda i: i.update(version=1)),
        rf"index\.json has format 1, not {cache.CACHE_VERSION}",
    ),
    "the format before arrays' up_axis": (  # mutation walk: a version-2 entry (no array kinds) was served as is
        lambda e: _rewrite_index(e, lambda i: i.update(version=2)),
        rf"index\.json has format 2, not {cache.CACHE_VERSION}",
    ),
    "another entry's index": (lambda e: _rewrite_index(e, lambda i: i.update(key="0" * 32)), r"belongs to entry"),
    "poses cut short": (
        lambda e: _cut(e / "poses.f32", 1000),
        r"poses\.f32 holds 1,000 bytes, its index says [\d,]+ bytes; cut short\?",
    ),
    "poses missing": (lambda e: (e / "poses.f32").unlink(), r"poses\.f32 is missing"),
    "poses overwritten": (
        lambda e: _overwrite(e / "poses.f32", 4096, b"\xff" * 64),
        r"poses\.f32 does not match the checksum in its index",
    ),
    "entry a file": (lambda e: (shutil.rmtree(e), e.write_bytes(b"x")), r"is damaged \(not a folder\)"),
    "a skipped entry of three, index checksum made anew": (  # each a traceback (verification walk)
        lambda e: _rewrite_index(e, lambda i: i.update(skipped=[["a", "b", "c"]])),
        r"lists skipped files that are no \[name, reason\] pairs",
    ),
    "a sequence named by a number, index checksum made anew": (
        lambda e: _rewrite_index(e, lambda i: i["sequences"][0].__setitem__(0, 7)),
        r"lists sequence .* of the wrong kinds",
    ),
    "a sequence of no frames, index checksum made anew": (  # accepted before: a take of 0 frames no reader stores
        lambda e: _rewrite_index(e, lambda i: i["sequences"].insert(0, [*i["sequences"][0][:6], 0, 0])),
        r"lists sequence .* out of place",
    ),
    "a take listed twice, index checksum made anew": (  # accepted before: the take read as two
        lambda e: _rewrite_index(e, _second_named_as_first),
        r"lists sequence '.*' twice",
    ),
    "a sequence of an unknown kind, index checksum made anew": (
        lambda e: _rewrite_index(e, lambda i: i["sequences"][0].__setitem__(1, "pickle")),
        r"lists sequence .* of the wrong kinds",
    ),
    "a value beyond any angle, checksums made anew": (
        lambda e: _value_with_checksums(e, 4096, 2e4),
        r"poses\.f32 holds NaN, infinite or values beyond",
    ),
    "another width, index checksum made anew": (
        lambda e: _rewrite_index(e, lambda i: i.update(width=36, poses_bytes=i["frames"] * 36 * 4)),
        r"says poses of 36 numbers, not this format's 72",
    ),
    "NaN, checksums made anew": (  # every check but finiteness passed: a traceback from the statistics (walk E)
        lambda e: _nan_with_checksums(e),
        r"poses\.f32 holds NaN, infinite or values beyond",
    ),
}


def _second_named_as_first(index: dict) -> None:
    index["sequences"][1][0] = index["sequences"][0][0]


def _nan_with_checksums(entry: Path) -> None:
    _value_with_checksums(entry, 4096, np.nan)


def _value_with_checksums(entry: Path, offset: int, value: float) -> None:
    _overwrite(entry / "poses.f32", offset, np.float32(value).tobytes())
    crc = zlib.crc32((entry / "poses.f32").read_bytes())
    _rewrite_index(entry, lambda index: index.update(poses_crc32=crc))


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_entry_is_reported_in_one_line_and_rebuilt(tree, tmp_path, capsys, damage) -> None:
    store = tmp_path / "cache"
    plain = read_pose_path(tree, "smpl72", 30.0)  # no cache
    first = read_pose_path(tree, "smpl72", 30.0, store)
    assert _same(first, plain) and capsys.readouterr().err == ""
    entry = _entry(store)
    del first  # its views map the file being damaged
    damage_entry, reason = DAMAGES[damage]
    damage_entry(entry)
    print(f"damaged {entry.name}: {damage}")

    again = read_pose_path(tree, "smpl72", 30.0, store)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"warning: pose cache entry {entry} is damaged (")
    assert re.search(reason, lines[0]), lines[0]
    assert f"reading {tree} again" in lines[0] and "Traceback" not in err
    assert _same(again, plain)
    # rebuilt whole: the next read is silent and reads the entry, not the tree
    assert _entry(store) == entry and not [p for p in (store / "poses").iterdir() if p.name.startswith(".")]
    third = read_pose_path(tree, "smpl72", 30.0, store)
    assert capsys.readouterr().err == "" and isinstance(third.sequences[0].poses, np.memmap)
    assert _same(third, plain)
    print(f"survived: the tree's {len(plain.sequences)} sequences, from a rebuilt entry")


def test_a_file_where_the_entries_folder_goes_is_set_aside_in_one_line(tree, tmp_path, capsys) -> None:
    store = tmp_path / "cache"
    store.mkdir()
    (store / "poses").write_bytes(b"not a folder")  # before: every run warned it could not store, for ever
    first = read_pose_path(tree, "smpl72", 30.0, store)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a file, not a folder (damaged); storing the cache anew" in err[0]
    assert isinstance(first.sequences[0].poses, np.memmap)  # stored, and read from the entry
    read_pose_path(tree, "smpl72", 30.0, store)
    assert capsys.readouterr().err == ""


def test_a_cache_that_cannot_be_written_costs_one_line(tree, tmp_path, capsys) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    read = read_pose_path(tree, "smpl72", 30.0, blocker)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: cannot store {tree} in the pose cache at {blocker}/poses/")
    assert err[0].endswith("reading it without the cache")
    assert _same(read, read_pose_path(tree, "smpl72", 30.0))


def test_a_write_that_fails_midway_leaves_no_entry_and_the_next_read_stores_one(tree, tmp_path, monkeypatch, capsys):
    """ENOSPC on the entry's last step (the index): no entry, no staging folder; the poses still come back."""
    store = tmp_path / "cache"
    real_fsync = os.fsync
    calls = []

    def full_disk(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the index, after the pose array went through
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(cache.os, "fsync", full_disk)
    read = read_pose_path(tree, "smpl72", 30.0, store)
    err = capsys.readouterr().err
    assert "No space left on device" in err and "reading it without the cache" in err
    assert list((store / "poses").iterdir()) == []
    plain = read_pose_path(tree, "smpl72", 30.0)
    assert _same(read, plain)
    monkeypatch.setattr(cache.os, "fsync", real_fsync)
    assert _same(read_pose_path(tree, "smpl72", 30.0, store), plain) and capsys.readouterr().err == ""
    assert _entry(store).is_dir()


def test_stale_staging_folders_are_removed_and_live_ones_kept(tree, tmp_path) -> None:
    poses = tmp_path / "cache" / "poses"
    stale, live = poses / ".abc-1.tmp", poses / ".abc-2.tmp"
    for folder in (stale, live):
        folder.mkdir(parents=True)
        (folder / "poses.f32").write_bytes(b"\0" * 16)
    old = time.time() - 2 * cache.STALE_STAGING_S
    os.utime(stale / "poses.f32", (old, old))
    os.utime(stale, (old, old))
    (poses / ".damaged-abc-9").mkdir()
    read_pose_path(tree, "smpl72", 30.0, tmp_path / "cache")
    left = sorted(p.name for p in poses.iterdir())
    assert left == sorted([live.name, _entry(tmp_path / "cache").name])


def test_an_entry_set_aside_while_being_read_is_read_again_quietly(tree, tmp_path, capsys, monkeypatch) -> None:
    """Another process moved the entry away between the check and the read: no warning, the poses still come."""
    store = tmp_path / "cache"
    read_pose_path(tree, "smpl72", 30.0, store)
    entry = _entry(store)
    real = cache._check_poses

    def vanish(path: Path, index: dict) -> None:
        monkeypatch.setattr(cache, "_check_poses", real)  # once
        cache.set_aside(entry)  # as a second process would
        real(path, index)

    monkeypatch.setattr(cache, "_check_poses", vanish)
    again = read_pose_path(tree, "smpl72", 30.0, store)
    assert capsys.readouterr().err == ""
    assert _same(again, read_pose_path(tree, "smpl72", 30.0))


def test_an_entry_this_user_cannot_read_is_left_in_place_not_called_damaged(tree, tmp_path, capsys, monkeypatch):
    """A shared cache: another user's entry (mode 0600) is no damage to set aside (walk E). Root reads through
    any mode, so the refusal is made where the entry is read."""
    store = tmp_path / "cache"
    plain = read_pose_path(tree, "smpl72", 30.0)
    read_pose_path(tree, "smpl72", 30.0, store)
    entry = _entry(store)
    capsys.readouterr()

    def refused(entry: Path, key: str) -> dict:
        raise PermissionError(13, "Permission denied", str(entry / "index.json"))

    monkeypatch.setattr(cache, "_checked_index", refused)
    again = read_pose_path(tree, "smpl72", 30.0, store)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"warning: cannot read pose cache entry {entry} (Permission denied); reading {tree} without the cache"
    ]
    assert _same(again, plain) and _entry(store) == entry  # read from the tree; the entry left where it was


def test_a_cache_folder_this_user_cannot_search_is_read_around_in_one_line(tree, tmp_path, capsys, monkeypatch):
    """A `poses/` folder (or cache_dir) without permissions was a PermissionError traceback (verification walk)."""
    store = tmp_path / "cache"
    plain = read_pose_path(tree, "smpl72", 30.0)
    read_pose_path(tree, "smpl72", 30.0, store)
    capsys.readouterr()
    looked = Path.is_dir

    def is_dir(path: Path) -> bool:
        if path.parent.name == "poses":
            raise PermissionError(13, "Permission denied", str(path))
        return looked(path)

    monkeypatch.setattr(Path, "is_dir", is_dir)
    again = read_pose_path(tree, "smpl72", 30.0, store)
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "cannot read pose cache entry" in line and "Permission denied" in line and _same(again, plain)


def test_a_cache_dir_this_user_cannot_search_is_read_around_in_one_line(tree, tmp_path, capsys, monkeypatch):
    """The cache_dir itself (chmod 000) was a PermissionError traceback (second verification walk)."""
    store = tmp_path / "cache"
    plain = read_pose_path(tree, "smpl72", 30.0)
    looked = Path.is_file

    def is_file(path: Path) -> bool:
        if path == store / "poses":
            raise PermissionError(13, "Permission denied", str(path))
        return looked(path)

    monkeypatch.setattr(Path, "is_file", is_file)
    again = read_pose_path(tree, "smpl72", 30.0, store)
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"cannot read the pose cache at {store} (Permission denied)" in line and _same(again, plain)


def test_every_block_of_an_entry_is_checked_for_finite_values(tree, tmp_path, capsys, monkeypatch) -> None:
    """Blocks of 16 poses here: a NaN in the last block is damage as one in the first (mutation walk)."""
    monkeypatch.setattr(cache, "_FINITE_BLOCK", 16)
    store = tmp_path / "cache"
    read_pose_path(tree, "smpl72", 30.0, store)
    entry = _entry(store)
    _value_with_checksums(entry, (entry / "poses.f32").stat().st_size - 8, np.nan)
    capsys.readouterr()
    again = read_pose_path(tree, "smpl72", 30.0, store)
    assert "holds NaN" in capsys.readouterr().err
    assert all(np.isfinite(s.poses).all() for s in again.sequences)


def test_a_body63_tree_is_read_back_from_its_entry_without_a_word(tree, tmp_path, capsys) -> None:
    """The entry's width is the format's (63 here): the second read is the entry's, not a rebuild (mutation walk)."""
    store = tmp_path / "cache"
    first = read_pose_path(tree, "body63", 30.0, store)
    capsys.readouterr()
    second = read_pose_path(tree, "body63", 30.0, store)
    assert capsys.readouterr().err == ""
    assert isinstance(second.sequences[0].poses, np.memmap) and second.sequences[0].poses.shape[1] == 63
    assert all(np.array_equal(a.poses, b.poses) for a, b in zip(first.sequences, second.sequences, strict=True))


def test_a_tree_of_arrays_saying_their_up_axis_is_read_back_from_its_entry_without_a_word(tmp_path, capsys) -> None:
    """unet1d's own outputs carry up_axis (kind "array-z"): the entry judged such kinds damaged on every read
    (mutation walk)."""
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    rng = np.random.default_rng(0)
    for i in range(cache.CACHE_MIN_FILES + 1):
        np.savez(outputs / f"out{i}.npz", poses=rng.normal(0, 0.3, (20, 72)).astype(np.float32), up_axis=np.array("z"))
    store = tmp_path / "cache"
    first = read_pose_path(outputs, "smpl72", 30.0, store)
    capsys.readouterr()
    second = read_pose_path(outputs, "smpl72", 30.0, store)
    assert capsys.readouterr().err == ""
    assert isinstance(second.sequences[0].poses, np.memmap) and {s.kind for s in second.sequences} == {"array-z"}
    assert _same(first, second)
