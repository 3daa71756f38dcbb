"""The pose cache under faults, with real processes: two first readers at once, a reader killed -9 while
writing the entry, a full disk while writing it. Each reader must get the tree's own poses."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.scenarios.faults.conftest import ROOT, environment, file_size_limit, said
from unet1d.data.files import read_pose_path

# A reader in its own process. Before the first file is read (inside the entry's write) it touches
# <gate>/<pid> and waits until `wait_for` readers have: so both readers really write at once. With
# `hang`, it stops there for good instead (to be killed mid-write). It prints a digest of the poses.
READER = """
import hashlib, os, sys, time
from pathlib import Path
import numpy as np
from unet1d.data import files
root, store, gate = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
wait_for, hang = int(sys.argv[4]), sys.argv[5]
real, waited = files.read_pose_file, []
def gated(*args, **kwargs):
    if not waited:
        waited.append(1)
        (gate / str(os.getpid())).touch()
        deadline = time.monotonic() + 60
        while len(list(gate.iterdir())) < wait_for and time.monotonic() < deadline:
            time.sleep(0.01)
        while hang == "hang":
            time.sleep(1)
    return real(*args, **kwargs)
files.read_pose_file = gated
result = files.read_pose_path(root, "smpl72", 30.0, store)
digest = hashlib.sha256()
for s in result.sequences:
    digest.update(s.name.encode()); digest.update(np.ascontiguousarray(s.poses, dtype=np.float32).tobytes())
print(digest.hexdigest(), len(result.sequences), type(result.sequences[0].poses).__name__)
"""


def digest_of(result) -> str:
    digest = hashlib.sha256()
    for s in result.sequences:
        digest.update(s.name.encode())
        digest.update(np.ascontiguousarray(s.poses, dtype=np.float32).tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """100 AMASS-style files (the cache's threshold) and the digest of their poses read without a cache."""
    from unet1d.data.synthetic_amass import write_amass_tree

    root = tmp_path_factory.mktemp("amass")
    write_amass_tree(root, 100, clips_per_file=1, seed=8)
    return root, digest_of(read_pose_path(root, "smpl72", 30.0))


def reader(tmp_path: Path, root: Path, store: Path, gate: Path, wait_for: int, hang: bool = False, **options):
    gate.mkdir(exist_ok=True)
    command = [sys.executable, "-c", READER, str(root), str(store), str(gate), str(wait_for), "hang" if hang else "-"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env=environment(tmp_path), **options)  # fmt: skip


def entries(store: Path) -> tuple[list[str], list[str]]:
    names = sorted(p.name for p in (store / "poses").iterdir())
    return [n for n in names if not n.startswith(".")], [n for n in names if n.startswith(".")]


def test_two_first_readers_at_once_both_succeed_with_the_same_poses(tree, tmp_path) -> None:
    root, expected = tree
    store = tmp_path / "cache"
    first, second = (reader(tmp_path, root, store, tmp_path / "gate", 2) for _ in range(2))
    outputs = [process.communicate(timeout=120) for process in (first, second)]
    said("two processes read the same 100-file tree for the first time, both writing its entry at once")
    for process, (out, err) in zip((first, second), outputs, strict=True):
        assert process.returncode == 0 and "Traceback" not in err, err
        digest, count, kind = out.split()
        assert digest == expected and count == "100" and kind == "memmap"  # the tree's poses, from the entry
        assert err == "", err  # no warning: the second rename losing is not a fault
    kept, left = entries(store)
    said(f"both got the tree's poses ({expected[:12]}); the cache holds {kept} and leftovers {left}")
    assert len(kept) == 1 and left == []
    assert digest_of(read_pose_path(root, "smpl72", 30.0, store)) == expected


def test_a_reader_killed_while_writing_the_entry_leaves_nothing_served(tree, tmp_path) -> None:
    root, expected = tree
    store = tmp_path / "cache"
    victim = reader(tmp_path, root, store, tmp_path / "gate", 1, hang=True)
    deadline = time.monotonic() + 60
    while not list((tmp_path / "gate").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    kept, left = entries(store)
    said(f"kill -9 of a reader mid-write left entries {kept} and a staging folder {left}")
    assert kept == [] and len(left) == 1 and left[0].endswith(".tmp")

    out, err = reader(tmp_path, root, store, tmp_path / "gate2", 1).communicate(timeout=120)
    assert out.split()[0] == expected and err == "", err
    kept, left = entries(store)
    said(f"the next reader got the tree's poses and stored {kept}; the fresh staging folder waits out its hour")
    assert len(kept) == 1 and len(left) == 1


def test_a_full_disk_while_writing_the_entry_costs_one_line_and_no_poses(tree, tmp_path) -> None:
    """The pose array (about 0.9 MB) outgrows a 200 kB limit: the reader warns once and reads the tree itself."""
    root, expected = tree
    store = tmp_path / "cache"
    process = reader(tmp_path, root, store, tmp_path / "gate", 1, preexec_fn=file_size_limit(200_000))
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    said(f"a reader under a 200 kB file-size limit said: {lines}")
    assert len(lines) == 1 and lines[0].startswith(f"warning: cannot store {root} in the pose cache at {store}")
    assert "File too large" in lines[0] and lines[0].endswith("reading it without the cache")
    digest, _, kind = out.split()
    assert digest == expected and kind == "ndarray"
    assert entries(store) == ([], [])  # neither an entry nor the staging folder is left
    said("it got the tree's poses; nothing half-written was left in the cache")
