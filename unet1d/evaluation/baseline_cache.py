"""The two baselines' scores, computed once per reference and kept on disk.

An evaluation scores the model and two baselines (:func:`unet1d.evaluation.quality.baselines`),
and the baselines do not depend on the model: every ``unet1d eval`` of a run, every final
evaluation of a sweep's runs on the same data, scores the same real draw and the same Gaussian
fit again (two classifier tests and the nearest-neighbour scores: about half of an evaluation's
scoring time). Here they are kept beside the data cache, under ``<cache_dir>/baselines/<key>.json``.

The key is a SHA-256 over everything the scores are a function of: the reference's arrays
(poses, the real draw, the training poses, limits, labels, still components, sequence ids) and
settings (names, up axis, classifier jitter), the sample count and seed, the installed versions
of numpy and scikit-learn, and the source of the package's scoring code (every ``.py`` file
under ``unet1d/``), so an edited metric or a new one never reads a stale entry. Entries are
written to a temporary file, flushed to disk and renamed, so a second process never reads half an
entry. Each carries its key and a SHA-256 of its scores (under ``"_check"``); an entry that is
unreadable or does not match them is reported in one line naming it and computed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from collections.abc import Callable
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from unet1d.atomic_files import remove_path, write_text_atomically


class Reference(Protocol):
    """What a baseline's key reads of :class:`unet1d.evaluation.quality.Reference` (which imports this module)."""

    name: str
    floor_name: str
    limits_kind: str
    up_axis: str
    c2st_jitter: float
    family_names: Any
    poses: np.ndarray
    floor: np.ndarray
    train: np.ndarray
    limits: np.ndarray
    labels: Any
    constant: Any
    train_groups: Any


SUBDIR = "baselines"
CHECK = "_check"  # the entry's own key and the SHA-256 of its scores
PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # unet1d/


@cache
def code_fingerprint() -> str:
    """SHA-256 of every source file of the package and the numeric libraries' versions (once per process)."""
    digest = hashlib.sha256()
    for name in ("numpy", "scikit-learn", "scipy"):
        with contextlib.suppress(PackageNotFoundError):
            digest.update(f"{name}=={version(name)}\n".encode())
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _update(digest: Any, array: np.ndarray | None) -> None:
    if array is None:
        digest.update(b"none\0")
        return
    array = np.ascontiguousarray(array)
    digest.update(f"{array.dtype.str}{array.shape}\0".encode())
    digest.update(array.tobytes())


def baseline_key(reference: Reference, count: int, seed: int) -> str:
    """What the baselines' scores of ``reference`` at ``count`` poses and ``seed`` are a function of."""
    digest = hashlib.sha256(code_fingerprint().encode())
    settings = [reference.name, reference.floor_name, reference.limits_kind, reference.up_axis,
                float(reference.c2st_jitter), reference.family_names, int(count), int(seed)]  # fmt: skip
    digest.update(json.dumps(settings).encode())
    for array in (reference.poses, reference.floor, reference.train, reference.limits, reference.labels,
                  reference.constant, reference.train_groups):  # fmt: skip
        _update(digest, array)
    return digest.hexdigest()[:32]


def cached_baselines(
    reference: Reference, count: int, seed: int, cache_dir: Path | None, compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``compute()`` once per key; later calls with the same reference, count and seed read the stored scores.

    ``cache_dir`` None (``--cache false``) always computes.
    """
    return start_cached_baselines(reference, count, seed, cache_dir, lambda: compute)()


def start_cached_baselines(
    reference: Reference,
    count: int,
    seed: int,
    cache_dir: Path | None,
    start: Callable[[], Callable[[], dict[str, Any]]],
) -> Callable[[], dict[str, Any]]:
    """:func:`cached_baselines` begun: on a miss ``start()`` begins the scoring and returns what finishes it;
    calling the result waits for the scores (stored on a miss, read back on a hit).

    So an evaluation can start the baselines' classifier folds first and sample while they run.
    """
    if cache_dir is None:
        return start()
    key = baseline_key(reference, count, seed)
    path = Path(cache_dir).expanduser() / SUBDIR / f"{key}.json"
    if path.parent.is_file():  # the entries' folder itself, damaged into a file: every evaluation would rescore
        _damaged(path.parent, "a file, not a folder")
        remove_path(path.parent)
    stored = _read_entry(path, key)
    if stored is not None:
        return lambda: stored
    finish = start()

    def finish_and_store() -> dict[str, Any]:
        scores = finish()
        with contextlib.suppress(OSError):  # a read-only or full cache costs only the time saved
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomically(path, json.dumps({**scores, CHECK: {"key": key, "sha256": _digest(scores)}}))
        return scores

    return finish_and_store


def _digest(scores: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(scores, sort_keys=True).encode()).hexdigest()


def _read_entry(path: Path, key: str) -> dict[str, Any] | None:
    """The stored scores; None when there are none, or (with one warning line) when the entry is damaged."""
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        return _damaged(path, f"unreadable: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    check = stored.pop(CHECK, None) if isinstance(stored, dict) else None
    if not isinstance(check, dict):
        return _damaged(path, "not a baselines entry")
    if check.get("key") != key or check.get("sha256") != _digest(stored):
        return _damaged(path, "its scores do not match the checksum stored with them")
    return stored


def _damaged(path: Path, reason: str) -> None:
    print(f"warning: baselines cache entry {path} is damaged ({reason}); scoring the baselines again",
          file=sys.stderr, flush=True)  # fmt: skip
    if path.is_dir():  # a file's place taken by a folder: the rename that stores the new scores cannot replace it
        remove_path(path)
    return None
