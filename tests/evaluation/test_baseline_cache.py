"""The baselines' scores are computed once per reference, count, seed and code, then read back unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest


def _reference(tmp_path: Path, *flags: str, shift: float = 0.0):
    from unet1d.config_sources import load_config
    from unet1d.data import load_pose_data
    from unet1d.data.builtin import generate_builtin_poses
    from unet1d.evaluation.quality import build_reference

    folder = tmp_path / f"data{shift}"
    folder.mkdir(exist_ok=True)
    poses = generate_builtin_poses(1200, seed=1).poses
    poses[:, 5] += shift
    for index, part in enumerate(np.array_split(poses, 12)):
        np.save(folder / f"take{index:02d}.npy", part)
    config = load_config(None, ["--data", str(folder), "--cache_dir", str(tmp_path / "cache"), *flags], environ={})
    return build_reference(config, load_pose_data(config.data, 72, seed=0))


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the pose sets quality.start_score is asked to score (two per computed pair of baselines)."""
    from unet1d.evaluation import quality

    calls: list[int] = []
    real_start = quality.start_score

    def counting(samples, reference, pool, **options):
        calls.append(len(samples))
        return real_start(samples, reference, pool, **options)

    monkeypatch.setattr(quality, "start_score", counting)
    return calls


def test_baselines_are_scored_once_then_read_back_equal(tmp_path: Path, scored: list[int]) -> None:
    from unet1d.evaluation.quality import baselines

    reference = _reference(tmp_path)
    first = baselines(reference, 60)
    assert scored == [60, 60]
    assert list((tmp_path / "cache" / "baselines").glob("*.json"))
    again = baselines(reference, 60)
    assert scored == [60, 60], "the second evaluation of one reference scored its baselines again"
    assert json.dumps(again, sort_keys=True) == json.dumps(first, sort_keys=True)
    assert again["data"]["c2st_auc"] < again["gaussian"]["c2st_auc"]  # real scores, not placeholders


def test_count_seed_reference_and_settings_are_in_the_key(tmp_path: Path) -> None:
    from unet1d.evaluation.baseline_cache import baseline_key

    reference = _reference(tmp_path)
    key = baseline_key(reference, 60, 0)
    assert baseline_key(_reference(tmp_path), 60, 0) == key  # the same data and settings: the same entry
    others = {
        baseline_key(reference, 72, 0),
        baseline_key(reference, 60, 1),
        baseline_key(_reference(tmp_path, shift=0.2), 60, 0),  # other poses
        baseline_key(_reference(tmp_path, "--c2st_jitter", "0.05"), 60, 0),
        baseline_key(_reference(tmp_path, "--up_axis", "z"), 60, 0),
    }
    assert key not in others and len(others) == 5


def _counting() -> tuple[list[int], object]:
    calls: list[int] = []

    def compute() -> dict:
        calls.append(1)
        return {"data": {"c2st_auc": 0.5 + len(calls)}, "gaussian": {"c2st_auc": float("nan")}}

    return calls, compute


def test_no_cache_dir_always_computes_and_writes_nothing(tmp_path: Path) -> None:
    from unet1d.evaluation.baseline_cache import cached_baselines

    reference = _reference(tmp_path, "--cache", "false")
    assert reference.cache_dir is None
    calls, compute = _counting()
    assert cached_baselines(reference, 60, 0, reference.cache_dir, compute)["data"]["c2st_auc"] == 1.5
    assert cached_baselines(reference, 60, 0, reference.cache_dir, compute)["data"]["c2st_auc"] == 2.5
    assert len(calls) == 2 and not (tmp_path / "cache").exists()


def test_an_unreadable_entry_is_computed_again(tmp_path: Path) -> None:
    from unet1d.evaluation.baseline_cache import cached_baselines

    reference = _reference(tmp_path)
    calls, compute = _counting()
    cached_baselines(reference, 60, 0, reference.cache_dir, compute)
    (entry,) = (tmp_path / "cache" / "baselines").glob("*.json")
    entry.write_text('{"data": ')  # a torn write from outside, a full disk
    again = cached_baselines(reference, 60, 0, reference.cache_dir, compute)
    assert len(calls) == 2 and again["data"]["c2st_auc"] == 2.5
    stored = json.loads(entry.read_text())
    assert stored["data"]["c2st_auc"] == 2.5 and np.isnan(stored["gaussian"]["c2st_auc"])  # NaN survives
    assert cached_baselines(reference, 60, 0, reference.cache_dir, compute)["data"]["c2st_auc"] == 2.5
    assert len(calls) == 2
    entry.unlink()
    (entry / "stray").mkdir(parents=True)  # a folder in the entry's place: the store's rename cannot replace it
    cached_baselines(reference, 60, 0, reference.cache_dir, compute)
    assert len(calls) == 3 and entry.is_file()
    cached_baselines(reference, 60, 0, reference.cache_dir, compute)
    assert len(calls) == 3  # stored again: read back
    shutil.rmtree(entry.parent)
    entry.parent.write_text("x")  # the entries' folder a file: every evaluation scored the baselines again
    cached_baselines(reference, 60, 0, reference.cache_dir, compute)
    cached_baselines(reference, 60, 0, reference.cache_dir, compute)
    assert len(calls) == 4 and entry.is_file()


def test_the_key_follows_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An edited metric must never read a stale entry: every source file of the package is in the key."""
    from unet1d.evaluation import baseline_cache

    package = tmp_path / "unet1d"
    (package / "evaluation").mkdir(parents=True)
    (package / "evaluation" / "metrics.py").write_text("K = 20\n")
    monkeypatch.setattr(baseline_cache, "PACKAGE_ROOT", package)
    baseline_cache.code_fingerprint.cache_clear()
    try:
        before = baseline_cache.code_fingerprint()
        (package / "evaluation" / "metrics.py").write_text("K = 5\n")
        baseline_cache.code_fingerprint.cache_clear()
        assert baseline_cache.code_fingerprint() != before
    finally:
        baseline_cache.code_fingerprint.cache_clear()


def test_started_baselines_are_scored_on_a_miss_stored_when_finished_and_read_back_on_a_hit(tmp_path: Path) -> None:
    """The eval command starts the baselines before it samples: on a miss the scoring begins at once and the
    entry is written only when the scores are in; on a hit nothing is started."""
    from unet1d.evaluation.baseline_cache import start_cached_baselines

    reference = _reference(tmp_path)
    calls, compute = _counting()
    started: list[int] = []

    def start():
        started.append(1)
        return compute

    finish = start_cached_baselines(reference, 60, 0, reference.cache_dir, start)
    assert started == [1] and calls == [] and not list((tmp_path / "cache").glob("baselines/*.json"))
    first = finish()
    assert calls == [1] and len(list((tmp_path / "cache").glob("baselines/*.json"))) == 1
    again = start_cached_baselines(reference, 60, 0, reference.cache_dir, start)
    assert started == [1], "a cached reference started its baselines again"
    assert again()["data"]["c2st_auc"] == first["data"]["c2st_auc"] == 1.5 and calls == [1]
