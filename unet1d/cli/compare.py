"""`unet1d compare`: line finished runs up side by side, per variant (mean ± std over seeds) and per run."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console


def compare_command(
    runs: Annotated[list[Path], typer.Argument(help="Run directories, or folders whose subfolders are runs.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write the numbers as JSON.")] = None,
    evaluate_missing: Annotated[
        bool, typer.Option("--eval", help="Run `unet1d eval` first for runs without an evaluation.")
    ] = False,
    num_samples: Annotated[int, typer.Option("--num-samples", "--num_samples", min=2, help="Poses per eval.")] = 1000,
) -> None:
    """Final loss, convergence step, sample quality, time, memory and size on disk of finished runs."""
    from rich.console import Console
    from rich.table import Table

    from unet1d.evaluation.compare import COLUMNS, compare_runs, find_runs, format_cell, latest_eval, write_json

    if evaluate_missing:
        from unet1d.evaluation.evaluate import evaluate

        for run in find_runs(runs):
            if latest_eval(run) is None:
                evaluate(run, num_samples=num_samples)[0].save()
    rows, variants = compare_runs(runs)
    console = Console(width=max(Console().width, 160))
    by_variant = Table(title="Variants (mean ± std over seeds)")
    widest = max((len(v.variant) for v in variants), default=7)
    by_variant.add_column("variant", no_wrap=True, min_width=widest)
    by_variant.add_column("runs", justify="right")
    for _, heading, _ in COLUMNS:
        by_variant.add_column(heading, justify="right")
    for variant in variants:
        cells = [format_cell(variant.mean[c], fmt, variant.std[c]) for c, _, fmt in COLUMNS]
        by_variant.add_row(variant.variant, str(variant.runs), *cells)
    console.print(by_variant)
    per_run = Table(title="Runs")
    per_run.add_column("run", overflow="fold")
    per_run.add_column("variant", no_wrap=True, min_width=widest)
    per_run.add_column("seed", justify="right")
    for _, heading, _ in COLUMNS:
        per_run.add_column(heading, justify="right")
    for row in rows:
        cells = [format_cell(getattr(row, c), fmt) for c, _, fmt in COLUMNS]
        per_run.add_row(Path(row.run).name, row.variant, str(row.seed), *cells)
    console.print(per_run)
    console.print(
        "conv. step: first validation step at 90% of the run's total val-loss drop; quality columns come from each "
        "run's latest eval/step-N.json (the final evaluation of training, or `unet1d eval`; --eval fills in missing)."
    )
    found = print_differences(console, rows)
    if out is not None:
        write_json(out, rows, variants)
        payload = json.loads(out.read_text())
        payload["differences"] = [{**asdict(d), "within_noise": d.within_noise} for d in found]
        out.write_text(json.dumps(payload, indent=2) + "\n")
        console.print(f"wrote {out}")


def print_differences(console: Console, rows: list) -> list:
    """Each variant minus the first, per column, with Welch 95 % intervals over seeds."""
    from rich.table import Table

    from unet1d.evaluation.compare import COLUMNS
    from unet1d.evaluation.stats import differences

    formats = {column: fmt for column, _, fmt in COLUMNS}
    found = differences(rows, list(formats))
    if not found:
        return found
    table = Table(title=f"Differences from {found[0].reference} (95 % Welch interval over seeds)")
    for heading in ("variant", "column", "difference", "95 % interval", ""):
        table.add_column(heading, justify="left" if heading in ("variant", "column", "") else "right")
    for d in found:
        fmt = formats[d.column].replace("%", "f") if "%" in formats[d.column] else formats[d.column]
        interval = "-" if d.low is None else f"[{fmt.format(d.low)}, {fmt.format(d.high)}]"
        note = {True: "within seed noise", False: "", None: "one seed: no interval"}[d.within_noise]
        table.add_row(d.variant, d.column, fmt.format(d.difference), interval, note)
    console.print(table)
    return found
