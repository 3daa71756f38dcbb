"""The W&B team report is built offline with wandb-workspaces: grouping, panels and titles checked
without any W&B server (the library's API client is made to fail if anything reaches for it)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from unet1d.compare.wandb_report import build_report, parse_target, save_report
from unet1d.config_sources import load_config
from unet1d.errors import UserError

TAGS = ["train/loss", "val/loss", "train/lr", "quality/precision", "quality/recall"]
TAGS += ["train/grad_norm", "train/grad_norm/mid", "train/grad_norm/input"]


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import wandb_workspaces.reports.v2.interface as interface

    def refuse() -> None:
        raise AssertionError("the report tried to reach a W&B server")

    monkeypatch.setattr(interface, "_get_api", refuse)


def test_the_report_groups_runs_by_middle_with_loss_quality_and_gradient_panels(no_server: None) -> None:
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    report = build_report("team", "unet1d", TAGS, ["eval/precision", "eval/frechet_distance"], ["r1", "r2"])

    assert (report.entity, report.project) == ("team", "unet1d")
    (grid,) = [block for block in report.blocks if isinstance(block, wr.PanelGrid)]
    (runset,) = grid.runsets
    # runs log their config flat ("model.mid"), stored by W&B as {"model.mid": {"value": ...}}
    assert "model.mid" in load_config(None, [], environ={}).flat()
    assert expr.groupby_str_to_key(runset.groupby[0]).name == "model.mid.value"
    assert "r1" in runset.filters and "r2" in runset.filters
    lines = {panel.title: panel for panel in grid.panels if isinstance(panel, wr.LinePlot)}
    assert list(lines) == ["train/loss", "val/loss", "quality/precision", "quality/recall", "gradient norm per block"]
    assert lines["gradient norm per block"].y == ["train/grad_norm/input", "train/grad_norm/mid"]  # blocks only
    assert all(p.groupby_aggfunc == "mean" and p.groupby_rangefunc == "minmax" for p in lines.values())
    (bars,) = [panel for panel in grid.panels if isinstance(panel, wr.BarPlot)]
    assert bars.metrics == ["eval/precision", "eval/frechet_distance"] and bars.groupby == "model.mid.value"


def test_older_runs_group_by_the_structure_and_heads_pair(no_server: None) -> None:
    report = build_report("team", "p", ["val/loss"], [], group_by=("model.mid_structure", "model.mid_num_heads"))
    grid = report.blocks[-1]
    assert grid.runsets[0].groupby == ["config.model.mid_structure.value", "config.model.mid_num_heads.value"]
    assert grid.runsets[0].filters == ""  # no run ids: every run of the project
    assert [p.title for p in grid.panels] == ["val/loss"]


def test_saving_needs_credentials_and_targets_are_entity_slash_project(isolated_wandb: dict[str, str]) -> None:
    with pytest.raises(UserError, match="WANDB_API_KEY"):
        save_report(object(), environ=isolated_wandb)


def test_saving_to_an_unreachable_server_says_so_at_once(isolated_wandb: dict[str, str], monkeypatch) -> None:
    class NeverSaved:
        entity, project = "team", "p"

        def save(self) -> None:
            raise AssertionError("no upload is tried when the server takes no connection")

    monkeypatch.setenv("no_proxy", "127.0.0.1")
    unreachable = {**isolated_wandb, "WANDB_API_KEY": "k" * 40, "WANDB_BASE_URL": "http://127.0.0.1:9"}
    started = time.monotonic()
    with pytest.raises(UserError) as refused:
        save_report(NeverSaved(), environ=unreachable)
    assert str(refused.value).startswith(
        "--wandb-report team/p: W&B server http://127.0.0.1:9 is unreachable (Connection refused)"
    )
    assert time.monotonic() - started < 5  # W&B's client retried for 23 s before giving up
    assert parse_target("team/unet1d") == ("team", "unet1d")
    for bad in ("unet1d", "team/", "a/b/c"):
        with pytest.raises(UserError, match="ENTITY/PROJECT"):
            parse_target(bad)


@pytest.mark.slow
def test_the_cli_refuses_a_wandb_report_without_credentials(isolated_wandb: dict[str, str], tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.run_folders import make_run

    run = make_run(tmp_path / "run", scalars={"val/loss": [(0, 1.0, 1.0), (10, 2.0, 0.5)]}, summary={"val_loss": 0.5})
    (run / "wandb_run_id").write_text("abc123")
    command = [sys.executable, "-m", "unet1d.cli", "compare", str(tmp_path / "run"), "--wandb-report", "team/unet1d"]
    result = subprocess.run(command, capture_output=True, text=True, env=isolated_wandb, timeout=120)
    assert result.returncode == 2 and "needs W&B credentials" in result.stderr and "Traceback" not in result.stderr


def test_the_report_holds_the_compared_runs_alone_grouped_as_compare_keeps_them_apart(no_server, tmp_path) -> None:
    """Walk G: runs without W&B ids made an empty filter (every run of the project), and grouping by the middle
    alone merged variants compare keeps apart (here by lr)."""
    from wandb_workspaces import expr

    from tests.run_folders import make_run
    from unet1d.cli.compare import wandb_report_of
    from unet1d.compare.runs import compare_runs

    for name, lr in (("fast", "2e-3"), ("slow", "1e-3")):
        make_run(tmp_path / name, "--lr", lr, summary={"val_loss": 0.5})
    rows, _ = compare_runs([tmp_path])
    with pytest.raises(UserError, match=r"none of these runs logged to W&B .* every run of the project"):
        wandb_report_of("team/unet1d", rows)
    for name in ("fast", "slow"):
        (tmp_path / name / "wandb_run_id").write_text(f"id-{name}")
    report = wandb_report_of("team/unet1d", rows)
    (runset,) = report.blocks[-1].runsets
    assert [expr.groupby_str_to_key(key).name for key in runset.groupby] == ["model.mid.value", "optim.lr.value"]
    assert "id-fast" in runset.filters and "id-slow" in runset.filters
    (grid,) = [block for block in report.blocks if hasattr(block, "panels")]
    bars = [panel for panel in grid.panels if type(panel).__name__ == "BarPlot"]
    assert bars and all(panel.groupby is None for panel in bars)  # one key only: a bar per run, never lr merged
    (tmp_path / "slow" / "wandb_run_id").unlink()  # the report shows "fast" alone: nothing to group lr by
    (runset,) = wandb_report_of("team/unet1d", rows).blocks[-1].runsets
    assert [expr.groupby_str_to_key(key).name for key in runset.groupby] == ["model.mid.value"]


def test_the_prior_task_scores_get_a_bar_panel_of_their_own(no_server: None) -> None:
    """Centimetres beside AUCs would flatten one or the other: compare's task columns go to their own panel,
    in compare's order, and the sample-quality bars keep the rest."""
    import wandb_workspaces.reports.v2 as wr

    from unet1d.compare.runs import COLUMNS, EVAL_KEYS
    from unet1d.compare.wandb_report import TASK_PANEL
    from unet1d.metric_registry import task_metrics

    metrics = [f"eval/{column}" for column, _, _ in COLUMNS if column in EVAL_KEYS]  # what `compare` passes
    report = build_report("team", "unet1d", TAGS, metrics)
    bars = {panel.title: panel.metrics for panel in report.blocks[-1].panels if isinstance(panel, wr.BarPlot)}
    tasks = [name for name in metrics if name.removeprefix("eval/") in {m.name for m in task_metrics()}]
    assert "eval/completion_cm" in tasks and "eval/denoise_cm" in tasks and "eval/completion_cm_trunk" in tasks
    assert bars == {"final evaluation": [name for name in metrics if name not in tasks], TASK_PANEL: tasks}
