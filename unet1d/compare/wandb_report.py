"""A W&B report for the team dashboard, built with ``wandb-workspaces`` (``wandb_workspaces.reports.v2``).

:func:`build_report` only constructs the Report object (no network: entity and project are given,
nothing is serialised), so it is tested offline; :func:`save_report` uploads it and needs W&B
credentials. Runs are grouped by the middle: runs log their resolved config flat (``model.mid``),
which W&B stores as ``{"model.mid": {"value": ...}}``, hence the backend key ``model.mid.value``.
Line plots show each group's mean with a min–max band; bar panels show final ``eval/*`` numbers (sample quality,
and the prior's completion and denoising errors apart, in centimetres).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unet1d.errors import UserError
from unet1d.metric_registry import TRAIN_LOSS, VAL_LOSS, task_metrics
from unet1d.store.checkpoint_files import warn
from unet1d.store.rundir import read_run_id
from unet1d.wandb_access import has_wandb_credentials, server_address, unreachable_reason, wandb_base_url

GROUP_BY = ("model.mid",)  # older runs without model.mid: ("model.mid_structure", "model.mid_num_heads")
LOSS_TAGS = (TRAIN_LOSS, VAL_LOSS)
EVAL_PREFIX = "eval/"  # the final evaluation's numbers, logged once at the last step
TASK_PANEL = "the prior at work: completion and denoising error (cm, lower is better)"


def config_key(field: str) -> str:
    """The runset group-by key of a flat dotted run-config field (``model.mid`` -> ``config.model.mid.value``)."""
    return f"config.{field}.value"


def parse_target(target: str) -> tuple[str, str]:
    """``ENTITY/PROJECT`` -> (entity, project); anything else is a UserError."""
    parts = target.split("/")
    if len(parts) != 2 or not all(parts):
        raise UserError(f"--wandb-report {target!r}: expected ENTITY/PROJECT, e.g. my-team/unet1d")
    return parts[0], parts[1]


def build_report(
    entity: str,
    project: str,
    tags: Sequence[str],
    eval_metrics: Sequence[str],
    run_ids: Sequence[str] = (),
    group_by: Sequence[str] = GROUP_BY,
    title: str = "unet1d: conv vs attention middle",
) -> Any:
    """The Report: a runset of ``run_ids`` (every run of the project when empty) grouped by ``group_by``,
    line plots of the losses, ``quality/*`` and per-block gradient norms among ``tags``, a bar panel of
    ``eval_metrics`` and one of those among them that are the prior's task scores (centimetres). Not saved."""
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    runset = wr.Runset(
        entity=entity,
        project=project,
        name="compared runs",
        groupby=[config_key(field) for field in group_by],
        filters=[expr.Metric("ID").isin(list(run_ids))] if run_ids else "",
    )

    def lines(title: str, metrics: Sequence[str], log_y: bool = False) -> Any:
        return wr.LinePlot(
            title=title, x="Step", y=list(metrics), log_y=log_y or None,
            groupby_aggfunc="mean", groupby_rangefunc="minmax", smoothing_factor=0.0,
        )  # fmt: skip

    panels = [lines(tag, [tag], log_y=True) for tag in LOSS_TAGS if tag in tags]
    panels += [lines(tag, [tag]) for tag in sorted(t for t in tags if t.startswith("quality/"))]
    grad_norms = sorted(t for t in tags if t.startswith("train/grad_norm/"))
    if grad_norms:
        panels.append(lines("gradient norm per block", grad_norms, log_y=True))

    def bars(title: str, metrics: Sequence[str]) -> Any:
        # a bar panel groups by one key: by the middle where that alone sets the variants apart, else by none (a
        # bar per run) rather than one bar for variants compare keeps apart (lr=1e-3 and 2e-3 averaged)
        key = config_key(group_by[0]).removeprefix("config.") if len(group_by) == 1 else None
        return wr.BarPlot(
            title=title, metrics=list(metrics), orientation="v",
            groupby=key, groupby_aggfunc="mean" if key else None, groupby_rangefunc="minmax" if key else None,
        )  # fmt: skip

    tasks = {f"{EVAL_PREFIX}{metric.name}" for metric in task_metrics()}  # centimetres: a panel of their own
    quality = [metric for metric in eval_metrics if metric not in tasks]
    if quality:
        panels.append(bars("final evaluation", quality))
    if len(quality) < len(eval_metrics):
        panels.append(bars(TASK_PANEL, [metric for metric in eval_metrics if metric in tasks]))
    grouped = ", ".join(group_by)
    return wr.Report(
        entity=entity,
        project=project,
        title=title,
        description=f"Runs grouped by {grouped}: mean over seeds with min–max bands. Written by `unet1d compare`.",
        blocks=[
            wr.H1(text=title),
            wr.P(text=f"Runs grouped by {grouped}; each line is a group's mean over its seeds, the band min to max."),
            wr.PanelGrid(runsets=[runset], panels=panels),
        ],
    )


def save_report(report: Any, environ: dict[str, str] | None = None) -> str:
    """Upload ``report``; its URL. A UserError (exit 2) without W&B credentials, when the server takes no
    connection, or when W&B refuses."""
    if not has_wandb_credentials(environ):
        raise UserError(
            "--wandb-report needs W&B credentials: set WANDB_API_KEY or run `wandb login`; "
            "the comparison above stands without it"
        )
    url = wandb_base_url(environ)
    reason = unreachable_reason(url)  # at once, where W&B's client would retry for tens of seconds
    if reason is not None:
        raise UserError(
            f"--wandb-report {report.entity}/{report.project}: W&B server {server_address(url)} is unreachable "
            f"({reason}); the comparison above stands without it"
        )
    try:
        report.save()
    except Exception as err:  # network, permissions, unknown project: the user's to fix, not a bug here
        raise UserError(f"--wandb-report {report.entity}/{report.project}: W&B refused the report ({err})") from None
    return report.url


def run_ids(runs: Sequence[Path]) -> list[str]:
    """The W&B run ids the compared runs logged to (``<run>/wandb_run_id``), where they have one, read by
    the reader of the file's writer; a damaged one is named in one warning and its run not picked."""
    found = []
    for run in runs:
        try:
            run_id = read_run_id(Path(run))
        except UserError as damaged:
            warn(f"{damaged}; the run is not picked for the W&B report")
            continue
        if run_id is not None:
            found.append(run_id)
    return found
