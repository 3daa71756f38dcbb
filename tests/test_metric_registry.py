"""The metric registry is the one list: every scalar an evaluation writes is in it, and every view reads it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from unet1d.metric_registry import BY_NAME, METRICS, compare_columns, eval_metrics, eval_table, key_list

ROOT = Path(__file__).resolve().parents[1]


def test_names_are_unique_and_every_entry_is_complete():
    assert len(BY_NAME) == len(METRICS)
    for metric in METRICS:
        assert metric.label and metric.meaning and metric.better in ("higher", "lower", None), metric
        metric.format(0.5)  # the format takes a number
        assert not metric.structure or metric.better is not None, f"{metric.name}: a verdict needs a direction"
        assert not metric.eval_table or metric.source == "eval", metric.name


def test_every_scalar_score_is_registered_and_nothing_else_is(monkeypatch):
    """quality.score on two small draws: its scalar keys are exactly the registry's eval metrics but the task
    scores (evaluation/tasks.py's, checked in tests/evaluation/test_tasks.py)."""
    from unet1d.config_sources import load_config
    from unet1d.data import load_pose_data
    from unet1d.evaluation import quality

    monkeypatch.setattr(quality, "REFERENCE_POSES", 300)
    config = load_config(None, ["--builtin_samples", "600"], environ={})
    reference = quality.build_reference(config, load_pose_data(config.data, 72, seed=0), "auto")
    scores = quality.score(reference.floor[:64], reference)
    scalars = {key for key, value in scores.items() if value is None or isinstance(value, (int, float, np.number))}
    assert scalars == {m.name for m in eval_metrics() if not m.task}


def test_every_view_reads_the_registry():
    from unet1d.compare.runs import COLUMNS, EVAL_KEYS, ROW_KEYS
    from unet1d.evaluation.quality import beats

    assert [c for c, _, _ in COLUMNS] == [m.name for m in compare_columns()]
    assert set(EVAL_KEYS) <= set(ROW_KEYS) and {c for c, _, _ in COLUMNS} <= set(ROW_KEYS)
    verdict = beats({m.name: 1.0 for m in METRICS}, {m.name: 0.0 for m in METRICS})
    assert verdict == {m.name: m.better == "higher" for m in METRICS if m.structure}
    assert all(m.name in key_list() for m in eval_table())


def test_the_documented_key_list_is_the_registrys():
    """docs/usage.md's key list (between <!-- metric keys --> markers) is key_list(), word for word."""
    usage = (ROOT / "docs" / "usage.md").read_text()
    marked = re.search(r"<!-- metric keys -->\n(.*?)\n<!-- /metric keys -->", usage, re.S)
    assert marked is not None, "docs/usage.md lost its metric keys markers"
    assert marked.group(1).strip() == key_list()
