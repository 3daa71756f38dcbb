"""`unet1d compare`: line finished runs up side by side, per variant (mean ± std over seeds) and per run.

The terminal gets a few columns in tables that fit 120 characters (long names elided in the
middle); ``--out`` JSON and the ``--report`` folder (markdown + PNGs) hold every column.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

WIDTH = 120  # the terminal the tables must fit
NAME_WIDTH = 22  # run and variant names longer than this are elided in the middle
# Shown in the terminal, where COLUMNS has them; every column is in the JSON and the report.
TERMINAL_COLUMNS = ("final_val_loss", "steps_to_common", "precision", "poses_outside_limits_tol", "wall_time_s")


def compare_command(
    runs: Annotated[
        list[Path] | None,
        typer.Argument(help="Run directories, or folders whose subfolders are runs.", show_default=False),
    ] = None,
    sweep: Annotated[
        Path | None,
        typer.Option("--sweep", help="A `sweep local` folder (with sweep.json): its finished and stopped runs."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write the numbers as JSON.")] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write report.md and PNG plots into this folder.")
    ] = None,
    wandb_report: Annotated[
        str | None,
        typer.Option("--wandb-report", metavar="ENTITY/PROJECT", help="Save a W&B report of these runs (needs login)."),
    ] = None,
    evaluate_missing: Annotated[
        bool, typer.Option("--eval", help="Run `unet1d eval` first for runs without an evaluation.")
    ] = False,
    num_samples: Annotated[int, typer.Option("--num-samples", "--num_samples", min=2, help="Poses per eval.")] = 1000,
) -> None:
    """Final loss, convergence (own 90 % drop, and steps/seconds to a common val loss), sample quality, time,
    memory and size on disk of finished runs."""
    from rich.console import Console

    from unet1d.errors import UserError
    from unet1d.evaluation.compare import COLUMNS, compare_runs, find_runs, latest_eval, write_json
    from unet1d.evaluation.convergence import common_threshold
    from unet1d.evaluation.stats import differences

    if wandb_report is not None:
        from unet1d.evaluation.wandb_report import parse_target

        parse_target(wandb_report)  # a malformed target fails before any work
    paths = list(runs or [])
    if sweep is not None:
        from unet1d.local_sweep import sweep_run_dirs

        paths += sweep_run_dirs(sweep)
    if not paths:
        raise UserError("nothing to compare: give run directories, or --sweep DIR")
    if evaluate_missing:
        from unet1d.evaluation.evaluate import evaluate

        for run in find_runs(paths):
            if latest_eval(run) is None:
                evaluate(run, num_samples=num_samples)[0].save()
    rows, variants = compare_runs(paths)
    threshold = common_threshold(rows)
    found = differences(rows, [column for column, _, _ in COLUMNS])
    console = Console() if Console().is_terminal else Console(width=WIDTH)
    print_tables(console, rows, variants, found, threshold)
    if out is not None:
        write_json(out, rows, variants)
        payload = json.loads(out.read_text())
        payload["common_val_loss_threshold"] = threshold
        payload["differences"] = [{**asdict(d), "within_noise": d.within_noise} for d in found]
        out.write_text(json.dumps(payload, indent=2) + "\n")
        console.print(f"wrote {out}")
    if report is not None:
        from unet1d.evaluation.plots import write_plots
        from unet1d.evaluation.report import write_report

        figures = write_plots(rows, COLUMNS, report)
        path = write_report(report, rows, variants, found, COLUMNS, figures, threshold)
        console.print(f"wrote {path} and {len(figures)} figures")
    if wandb_report is not None:
        console.print(f"W&B report: {save_wandb_report(wandb_report, rows)}")


def terminal_columns() -> list[tuple[str, str, str]]:
    from unet1d.evaluation.compare import COLUMNS

    return [entry for entry in COLUMNS if entry[0] in TERMINAL_COLUMNS]


def print_tables(console: Console, rows: list, variants: list, found: list, threshold: float | None) -> None:
    """The variants, the runs and the differences, in :data:`TERMINAL_COLUMNS` only."""
    from rich.table import Table

    from unet1d.evaluation.compare import format_cell
    from unet1d.evaluation.report import difference_cells, elide

    columns = terminal_columns()
    by_variant = Table(title="Variants (mean ± std over seeds)")
    by_variant.add_column("variant", no_wrap=True)
    by_variant.add_column("runs", justify="right")
    for _, heading, _ in columns:
        by_variant.add_column(heading, justify="right")
    for variant in variants:
        cells = [format_cell(variant.mean[c], f, variant.std[c]).replace(" ± ", "±") for c, _, f in columns]
        by_variant.add_row(elide(variant.variant, NAME_WIDTH), str(variant.runs), *cells)
    console.print(by_variant)
    per_run = Table(title="Runs")
    per_run.add_column("run", no_wrap=True)
    per_run.add_column("variant", no_wrap=True)
    per_run.add_column("seed", justify="right")
    for _, heading, _ in columns:
        per_run.add_column(heading, justify="right")
    for row in rows:
        cells = [format_cell(getattr(row, c), f) for c, _, f in columns]
        per_run.add_row(elide(Path(row.run).name, NAME_WIDTH), elide(row.variant, NAME_WIDTH), str(row.seed), *cells)
    console.print(per_run)
    common = f"val loss {threshold:.4f} (the worst variant's mean final)" if threshold is not None else "none"
    console.print(
        f"to common: first validation at or below one threshold for all runs, {common}; seconds from each run's first "
        "logged event. Every column (90 %-drop step, quality, memory, size) is in --out JSON and the --report."
    )
    shown = {column: (heading, fmt) for column, heading, fmt in columns}
    found = [d for d in found if d.column in shown]
    if found:
        table = Table(
            title=f"Differences from {elide(found[0].reference, NAME_WIDTH)} (95 % Welch interval over seeds)"
        )
        for heading in ("variant", "column", "difference", "95 % interval", ""):
            table.add_column(heading, justify="right" if heading in ("difference", "95 % interval") else "left")
        for d in found:
            heading, fmt = shown[d.column]
            table.add_row(elide(d.variant, NAME_WIDTH), heading, *difference_cells(d, fmt))
        console.print(table)


def save_wandb_report(target: str, rows: list) -> str:
    """Build the W&B report of ``rows`` (their logged tags, final eval/* columns, their W&B ids) and save it."""
    from unet1d.evaluation.compare import COLUMNS, EVAL_KEYS
    from unet1d.evaluation.curves import read_curves
    from unet1d.evaluation.wandb_report import build_report, parse_target, run_ids, save_report

    entity, project = parse_target(target)
    tags: set[str] = set()
    for row in rows:
        tags |= set(read_curves(Path(row.run)).points)
    eval_metrics = [f"eval/{column}" for column, _, _ in COLUMNS if column in EVAL_KEYS]
    report = build_report(entity, project, sorted(tags), eval_metrics, run_ids([Path(r.run) for r in rows]))
    return save_report(report)
