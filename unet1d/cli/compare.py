"""`unet1d compare`: line finished runs up side by side, per variant (mean ± std over seeds) and per run.

The terminal gets a few columns in tables that fit 120 characters (long names elided in the
middle, split into several tables where needed): the scores that decide between variants first
(``metric_registry.deciding_metrics``), then loss, precision, limits and time; each difference
with its 95 % interval, and what the seeds could detect. ``--out`` JSON and the ``--report`` folder
(markdown + PNGs) hold every column.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from unet1d import metric_registry
from unet1d.cli.output import writable_folder, writable_output
from unet1d.config import MIN_EVAL_SAMPLES, EvaluationConfig
from unet1d.errors import UserError
from unet1d.metric_registry import format_number
from unet1d.notices import collected_warnings

if TYPE_CHECKING:
    from rich.console import Console

WIDTH = 120  # the terminal the tables must fit
NAME_WIDTH = 22  # run and variant names longer than this are elided in the middle
# Shown in the terminal after the deciding scores (metric_registry.deciding_metrics), where the rows have
# them: the loss, the k-NN and limit checks, the cost. Every column is in the JSON and the report.
SUPPORTING_COLUMNS = ("final_val_loss", "precision", "poses_outside_limits_tol", "wall_time_s")


def compare_command(
    runs: Annotated[
        list[Path] | None,
        typer.Argument(help="Run directories, or folders whose subfolders are runs.", show_default=False),
    ] = None,
    sweep: Annotated[
        Path | None,
        typer.Option("--sweep", help="A `sweep local` folder (with sweep.json): its finished runs."),
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
    num_samples: Annotated[
        int | None,
        typer.Option(
            "--num-samples",
            "--num_samples",
            min=MIN_EVAL_SAMPLES,
            help="Poses per eval that --eval runs. Default: as many as the runs' own evaluations score (the most "
            "common count; C2ST grows with it), else 1,000.",
            show_default=False,
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="The variant the differences are measured from (its name, or the start of one: attention-8 for "
            "attention-8-c16). Default: the conv middle, else the first by name.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Final loss, convergence (steps and seconds to a common val loss), sample quality, time, memory and
    size on disk of finished runs."""
    from rich.console import Console

    from unet1d.compare.convergence import common_threshold
    from unet1d.compare.report import verdict
    from unet1d.compare.runs import (
        COLUMNS,
        compare_runs,
        evaluated_size,
        find_runs,
        latest_eval,
        worse_prior_warnings,
        write_json,
    )
    from unet1d.compare.stats import CONFIDENCE, POWER, differences

    if wandb_report is not None:
        from unet1d.compare.wandb_report import parse_target

        parse_target(wandb_report)  # a malformed target fails before any work
    if out is not None:
        writable_output(out)
    if report is not None:
        writable_folder(report, "--report")
    paths = list(runs or [])
    if sweep is not None:
        from unet1d.sweeps.local import sweep_run_dirs

        paths += sweep_run_dirs(sweep)
    if not paths:
        raise UserError("nothing to compare: give run directories, or --sweep DIR")
    if evaluate_missing:
        from unet1d.evaluation.evaluate import evaluate, save_figure

        found_runs = find_runs(paths)
        final_default = EvaluationConfig.model_fields["final_eval_samples"].default  # where no run was evaluated
        size = num_samples or evaluated_size(found_runs) or final_default
        for run in found_runs:
            if latest_eval(run) is None:  # what `unet1d eval RUN --num_samples N` writes: the report and its figure
                typer.echo(f"evaluating {run} ({size} poses)")
                evaluation, samples, reference = evaluate(run, num_samples=size)
                evaluation.save()
                save_figure(evaluation, samples, reference)
    with collected_warnings() as caveats:  # printed as they come; carried into the JSON and the report
        rows, variants = compare_runs(paths)
    threshold = common_threshold(rows)
    names = sorted({row.variant for row in rows})
    if baseline is not None and baseline not in names:
        # the middle alone names its variant where no other shares it: attention-8 for attention-8-c16
        starting = [name for name in names if name.startswith((f"{baseline}-", f"{baseline} "))]
        if len(starting) > 1:
            raise UserError(f"--baseline {baseline!r} starts {len(starting)} variants; name one: {', '.join(starting)}")
        if not starting:
            raise UserError(f"--baseline {baseline!r} is not a variant of these runs; allowed: {', '.join(names)}")
        baseline = starting[0]
    found = differences(rows, [column for column, _, _ in COLUMNS], baseline)
    # never narrower than the tables are laid out for: a narrower terminal wraps the lines, rich would cut numbers
    console = Console(width=max(WIDTH, Console().width)) if Console().is_terminal else Console(width=WIDTH)
    headings = {column: heading for column, heading, _ in COLUMNS}
    formats = {column: fmt for column, _, fmt in COLUMNS}
    decision = verdict(found, headings, formats, worse_prior_warnings(rows))  # the deciding scores alone
    print_tables(console, rows, variants, found, threshold, decision)
    if out is not None:
        write_json(out, rows, variants)
        payload = json.loads(out.read_text())
        payload["common_val_loss_threshold"] = threshold
        payload["differences"] = [{**asdict(d), "within_noise": d.within_noise} for d in found]
        payload["differences_confidence"], payload["differences_power"] = CONFIDENCE, POWER
        payload["warnings"] = caveats
        payload["verdict"] = decision
        out.write_text(json.dumps(payload, indent=2) + "\n")
        console.print(f"wrote {out}")
    if report is not None:
        from unet1d.compare.plots import write_plots
        from unet1d.compare.report import write_report

        figures = write_plots(rows, COLUMNS, report)
        path = write_report(report, rows, variants, found, COLUMNS, figures, threshold, caveats)
        console.print(f"wrote {path} and {len(figures)} figures")
    if wandb_report is not None:
        console.print(f"W&B report: {save_wandb_report(wandb_report, rows)}")


def terminal_columns(rows: list) -> list[tuple[str, str, str]]:
    """The terminal's columns (column, heading, format): the deciding scores first, in the registry's order,
    then :data:`SUPPORTING_COLUMNS`; each only where some row has a number for it."""
    from unet1d.compare.runs import COLUMNS

    by_name = {entry[0]: entry for entry in COLUMNS}
    deciding = [m.name for m in metric_registry.deciding_metrics()]
    names = [*deciding, *(name for name in SUPPORTING_COLUMNS if name not in deciding)]
    return [by_name[name] for name in names if name in by_name and any(_number(getattr(r, name)) for r in rows)]


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def table_width(widths: list[int]) -> int:
    """Characters of a rich table (default box, padding 1) whose columns hold at most ``widths`` characters."""
    return sum(widths) + 3 * len(widths) + 1


def split_columns(fixed: list[int], widths: list[int]) -> list[list[int]]:
    """Which value columns go in which table so each fits :data:`WIDTH` beside the ``fixed`` name columns:
    in order (the deciding scores first), each table taking as many as fit; one table of names only
    when there are no value columns."""
    tables: list[list[int]] = []
    current: list[int] = []
    for index, width in enumerate(widths):
        if current and table_width([*fixed, *(widths[i] for i in current), width]) > WIDTH:
            tables.append(current)
            current = []
        current.append(index)
    return [*tables, current] if current or not tables else tables


def print_split(
    console: Console,
    title: str,
    names: list[tuple[str, bool]],
    name_cells: list[list[str]],
    columns: list[tuple[str, str, str]],
    value_cells: list[list[str]],
) -> None:
    """One table of ``names`` (heading, right-aligned) and the value ``columns``, split into several when
    it would not fit :data:`WIDTH`; every part repeats the name columns."""
    from rich.table import Table

    def width(heading: str, cells: list[str]) -> int:
        return max([len(heading), *(len(cell) for cell in cells)])

    fixed = [width(heading, [row[i] for row in name_cells]) for i, (heading, _) in enumerate(names)]
    widths = [width(heading, [row[i] for row in value_cells]) for i, (_, heading, _) in enumerate(columns)]
    parts = split_columns(fixed, widths)
    for number, indices in enumerate(parts, start=1):
        table = Table(title=title if len(parts) == 1 else f"{title}, {number} of {len(parts)}")
        for heading, right in names:
            table.add_column(heading, justify="right" if right else "left", no_wrap=True)
        for i in indices:
            table.add_column(columns[i][1], justify="right", no_wrap=True)
        for names_row, values_row in zip(name_cells, value_cells, strict=True):
            table.add_row(*names_row, *(values_row[i] for i in indices))
        console.print(table)


def print_tables(
    console: Console,
    rows: list,
    variants: list,
    found: list,
    threshold: float | None,
    decision: list[str] | None = None,
) -> None:
    """The variants, the runs and the differences, in :func:`terminal_columns` only: the deciding scores first;
    then ``decision``, the verdict (:func:`~unet1d.compare.report.verdict`)."""

    from unet1d.compare.report import elide
    from unet1d.compare.runs import format_cell

    columns = terminal_columns(rows)
    names = [v.variant for v in variants]  # elided apart from one another
    print_split(
        console,
        "Variants (mean ± std over seeds)",
        [("variant", False), ("runs", True)],
        [[elide(v.variant, NAME_WIDTH, names), str(v.runs)] for v in variants],
        columns,
        [[v.cell(c, f).replace(" ± ", "±") for c, _, f in columns] for v in variants],
    )
    print_split(
        console,
        "Runs",
        [("run", False), ("variant", False), ("seed", True)],
        [[elide(Path(r.run).name, NAME_WIDTH), elide(r.variant, NAME_WIDTH, names), str(r.seed)] for r in rows],
        columns,
        [[format_cell(getattr(r, c), f) for c, _, f in columns] for r in rows],
    )
    elided = [v.variant for v in variants if elide(v.variant, NAME_WIDTH) != v.variant]
    if elided:  # what an elided name hides may be the very difference between two variants
        shown = "\n".join(f"  {elide(name, NAME_WIDTH, names)} = {name}" for name in elided)
        console.print("Variants in full:\n" + shown)
    common = f"val loss {threshold:.4f}, the worst variant's mean final" if threshold is not None else "none"
    console.print(
        f"Common threshold: {common}. Every column (steps and seconds to the threshold, quality, memory, size) "
        "is in --out JSON and the --report."
    )
    shown = {column: (heading, fmt) for column, heading, fmt in columns}
    order = {column: i for i, column in enumerate(shown)}
    found = sorted((d for d in found if d.column in shown), key=lambda d: order[d.column])  # stable: variants in order
    if found:
        print_differences(console, found, shown)
    if decision:
        console.print("Verdict: " + "\n  ".join(decision))


def print_differences(console: Console, found: list, shown: dict[str, tuple[str, str]]) -> None:
    """Each difference with its interval, whether it is within seed noise, what the seeds detect and how
    many would resolve it; variant names elided further where the table would pass :data:`WIDTH`."""
    from unet1d.compare.report import decision_cells, direction_note, elide
    from unet1d.compare.stats import CONFIDENCE, MAX_SEEDS, POWER

    headings = ("variant", "column", "difference", "95 % interval", "seed noise", "detectable", "seeds", "pose noise")
    cells = []
    words = {True: "within", False: "beyond", None: "-"}
    for d in found:
        heading, fmt = shown[d.column]
        detectable, seeds = decision_cells(d, fmt)
        interval = "-" if d.low is None else f"[{format_number(fmt, d.low)}, {format_number(fmt, d.high)}]"
        seeds = seeds.replace(f"more than {MAX_SEEDS}", f">{MAX_SEEDS}")
        poses = words[d.within_pose_noise]
        if d.poses_needed is not None or d.poses_needed_more_than is not None:
            poses += f" ({d.poses_needed or f'>{d.poses_needed_more_than}'})"
        difference = format_number(fmt, d.difference) + d.partial
        cells.append([d.variant, heading, difference, interval, words[d.within_noise], detectable, seeds, poses])
    names = list(dict.fromkeys([found[0].reference, *(d.variant for d in found)]))
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headings)]
    widths[0] = min(widths[0], NAME_WIDTH)
    name_width = max(len(headings[0]), widths[0] - max(0, table_width(widths) - WIDTH))  # rich would cut a number
    print_split(  # in two tables where even the shortest names leave too little room (long "(3/4 vs 4/4 runs)")
        console,
        f"Differences from {elide(found[0].reference, NAME_WIDTH)} (95 % Welch interval over seeds)",
        [("variant", False), ("column", False)],
        [[elide(row[0], name_width, names), row[1]] for row in cells],
        [(heading, heading, "") for heading in headings[2:]],
        [row[2:] for row in cells],
    )
    cut_further = sorted(
        {d.variant for d in found if elide(d.variant, name_width, names) != elide(d.variant, NAME_WIDTH, names)}
    )
    if cut_further:  # shorter than in the tables above, where the names were spelled out
        console.print("\n".join(f"  {elide(name, name_width, names)} = {name}" for name in cut_further))
    console.print(
        f"detectable: the smallest true difference these seeds resolve (their {100 * CONFIDENCE:.0f} % interval "
        f"without 0) with {100 * POWER:.0f} % power, two-sided, at the pooled std over seeds. seeds: per variant, "
        f"to resolve the observed difference with that power (within seed noise only; >{MAX_SEEDS}: more than "
        f"{MAX_SEEDS}). pose noise: a task score's paired {100 * CONFIDENCE:.0f} % interval over the task poses every "
        "run was scored on (compare --out holds it); in brackets, the task poses (--task_poses) that would resolve "
        f"it with that power. {direction_note([d.column for d in found], {c: h for c, (h, _) in shown.items()})}."
    )


def save_wandb_report(target: str, rows: list) -> str:
    """Build the W&B report of ``rows`` (:func:`wandb_report_of`) and save it; its URL."""
    from unet1d.compare.wandb_report import save_report

    return save_report(wandb_report_of(target, rows))


def wandb_report_of(target: str, rows: list) -> Any:
    """The W&B report of ``rows``: their logged tags and final eval/* columns, their W&B runs alone, grouped by the
    middle and by every other field their variants differ in (as compare keeps them apart)."""
    from unet1d.compare.runs import COLUMNS, EVAL_KEYS, read_config, variant_key
    from unet1d.compare.wandb_report import GROUP_BY, build_report, parse_target, run_ids
    from unet1d.store.curves import read_curves

    entity, project = parse_target(target)
    tags: set[str] = set()
    for row in rows:
        tags |= set(read_curves(Path(row.run)).points)
    eval_metrics = [f"eval/{column}" for column, _, _ in COLUMNS if column in EVAL_KEYS]
    with_ids = [row for row in rows if run_ids([Path(row.run)])]  # the runs the report will show
    ids = run_ids([Path(r.run) for r in with_ids])
    if not ids:  # an empty filter is every run of the project
        raise UserError(
            f"--wandb-report {target}: none of these runs logged to W&B (trained with wandb_mode disabled, or no "
            "wandb_run_id file); a report would show every run of the project. The comparison above stands"
        )
    keys = [variant_key(config) for config in map(read_config, (Path(r.run) for r in with_ids)) if config is not None]
    named = {*GROUP_BY, "model.mid_structure", "model.mid_num_heads"}  # model.mid says both
    differing = [field for field in dict.fromkeys(f for key in keys for f in key) if field not in named
                 and len({repr(key.get(field)) for key in keys}) > 1]  # fmt: skip
    return build_report(entity, project, sorted(tags), eval_metrics, ids, group_by=(*GROUP_BY, *differing))
