"""The comparison as a markdown file beside its PNGs: what a person reads or pastes into a review.

Holds every column of ``compare.COLUMNS`` (the terminal table shows a few), the variants with
mean ± std over seeds, every run, and each variant's difference from the first with its 95 %
Welch interval, saying which are within seed noise and, beside those, what the seeds could have
detected and how many would resolve the difference (:mod:`unet1d.compare.stats`). Figures are
embedded by relative path, so the folder can be moved or zipped as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unet1d.compare.runs import format_cell, worse_prior_warnings
from unet1d.compare.stats import CONFIDENCE, MAX_POSES, MAX_SEEDS, POWER
from unet1d.metric_registry import BY_NAME, deciding_metrics, format_number, task_metrics

REPORT_FILE = "report.md"
NOISE_NOTES = {True: "within seed noise", False: "beyond seed noise", None: "no interval (one seed, or no spread)"}


def elide(text: str, width: int, among: Sequence[str] = ()) -> str:
    """``text`` cut to ``width`` characters in the middle (``runs/sweep…/k3j2``): both ends tell runs apart. Where
    that would read as another of ``among`` cut alike (``attent…ps=150`` for attention-4 and attention-8), the
    window around where they first differ instead (``…ion-4-c16 m…``)."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2 + (width - 1) % 2
    short = text[:head] + "…" + text[len(text) - (width - 1 - head) :]
    rivals = [other for other in among if other != text and len(other) > width and elide(other, width) == short]
    if not rivals or width < 5:
        return short
    first = min(next((i for i, (a, b) in enumerate(zip(text, other, strict=False)) if a != b), len(text))
                for other in rivals)  # fmt: skip
    start = max(1, min(first - (width - 2) // 2, len(text) - (width - 1)))  # the first difference mid-window
    end = start + width - 2
    return "…" + text[start:end] + ("…" if end < len(text) else text[end : end + 1])


def difference_cells(found: Any, fmt: str) -> tuple[str, str, str]:
    """(difference, interval, note) of one :class:`~unet1d.compare.stats.Difference`, in the column's format
    (a share's difference reads as percentage points: 15.4% for 0.154)."""
    interval = "-" if found.low is None else f"[{format_number(fmt, found.low)}, {format_number(fmt, found.high)}]"
    return format_number(fmt, found.difference) + found.partial, interval, NOISE_NOTES[found.within_noise]


def decision_cells(found: Any, fmt: str) -> tuple[str, str]:
    """(detectable difference, seeds per variant to resolve the observed one) of a
    :class:`~unet1d.compare.stats.Difference`: "-" where there is no interval, or (seeds) it is resolved."""
    detectable = "-" if found.detectable is None else format_number(fmt, found.detectable)
    if found.seeds_needed is not None:
        return detectable, str(found.seeds_needed)
    if found.seeds_needed_more_than is not None:
        return detectable, f"more than {found.seeds_needed_more_than}"
    return detectable, "-"


def verdict(
    found: Sequence[Any], headings: dict[str, str], formats: dict[str, str], premature: Sequence[str] = ()
) -> list[str]:
    """What the deciding scores (the registry's ``decides``) say, in a few lines: each difference beyond seed noise
    (and, for a task score, beyond the task poses' noise, which needs every run scored on the same poses), better
    or worse; else that nothing is decided, and the difference nearest to deciding with the seeds, or task poses,
    it needs. ``premature``: :func:`~unet1d.compare.runs.worse_prior_warnings`, which qualify any decision."""
    by_name = {m.name: m for m in deciding_metrics()}
    tasks = {m.name for m in task_metrics()}
    deciding = [d for d in found if d.column in by_name and d.column in headings]
    if not deciding:
        return []
    reference = deciding[0].reference

    def decides(d: Any) -> bool:  # a task score's pose check unknown (other poses, no per-pose errors): undecided
        return d.within_noise is False and (d.column not in tasks or d.within_pose_noise is False)

    decided, lines = [d for d in deciding if decides(d)], []
    for d in decided:
        lower_is_better = by_name[d.column].better == "lower"
        way = "better" if (d.difference < 0) == lower_is_better else "worse"
        fmt = formats[d.column]
        lines.append(
            f"{d.variant} is {way} than {reference} on {headings[d.column]}: {format_number(fmt, d.difference)} "
            f"[{format_number(fmt, d.low)}, {format_number(fmt, d.high)}]"
        )
    if decided and premature:  # right below what it qualifies
        lines.append("but no variant is yet a better prior than the baselines that need no network (caveats)")
    unpaired = [d for d in deciding if d.within_noise is False and d.column in tasks and d.within_pose_noise is None]
    if unpaired:
        names = ", ".join(dict.fromkeys(headings[d.column] for d in unpaired))
        lines.append(
            f"not decided on {names}: beyond seed noise, but the runs were not scored on the same task poses, so "
            "the poses' noise is unknown; `unet1d eval` every run again with one --task_poses"
        )
    if decided:
        return lines
    if all(d.low is None for d in deciding):
        return [
            *lines,
            "nothing decided: no interval (a variant with one seed, or seeds that do not differ at all); "
            "train 3 or more seeds of each",
        ]
    lines.append(
        f"nothing decided: no deciding score ({', '.join(dict.fromkeys(headings[d.column] for d in deciding))}) "
        f"separates a variant from {reference} beyond its noise (the seeds', and a task score's poses')"
    )
    needs = [(d, need) for d in deciding if (need := _needs(d, d.column in tasks)) is not None]
    if needs:
        nearest, (seeds, poses) = min(needs, key=lambda item: item[1])
        wanted = " and ".join(
            part for part in (f"{seeds} seeds per variant" if seeds else "", f"{poses:,} task poses" if poses else "")
            if part
        )  # fmt: skip
        lines.append(
            f"nearest to deciding: {nearest.variant}'s {headings[nearest.column]} "
            f"({format_number(formats[nearest.column], nearest.difference)}), which {wanted} would resolve were it "
            "the true difference"
        )
    elif not any(d.column in tasks and d.within_pose_noise is None for d in deciding):  # else: scored apart
        lines.append(
            f"none of these differences would be resolved by {MAX_SEEDS} seeds and {MAX_POSES:,} task poses: the "
            "middles are alike here"
        )
    return lines


def _needs(d: Any, task: bool) -> tuple[int, int] | None:
    """(seeds per variant, task poses) that would resolve ``d`` where it is within that noise (0: not needed);
    None when either would take more than the most counted, or nothing could (no interval; a ``task`` score
    whose runs were not scored on the same poses: no count of seeds decides it)."""
    if d.within_noise is None or (task and d.within_pose_noise is None):
        return None
    seeds = d.seeds_needed if d.within_noise else 0
    poses = d.poses_needed if d.within_pose_noise else 0
    return None if seeds is None or poses is None else (seeds, poses)


POSE_NOTE = (
    "*interval over the task poses*: for a task score, where every run was scored on the same held-out poses, "
    f"the paired {100 * CONFIDENCE:.0f} % t-interval of the variants' per-pose errors (each averaged over its "
    "seeds): how the difference would move with other poses. A difference decides only when it is beyond "
    f"both kinds of noise. *poses to resolve*: for one within pose noise, the task poses that would resolve it "
    f"with {100 * POWER:.0f} % power (`unet1d eval RUN --task_poses N` on every run) were it the true mean "
    f"difference per pose and the spread the one seen (2 to {MAX_POSES:,})."
)


def pose_cells(found: Any, fmt: str) -> tuple[str, str, str]:
    """(interval over the task poses, pose noise, poses to resolve) of a :class:`~unet1d.compare.stats.Difference`;
    "-" without an interval, and for poses to resolve where it is resolved."""
    if found.pose_low is None:
        return "-", "-", "-"
    interval = f"[{format_number(fmt, found.pose_low)}, {format_number(fmt, found.pose_high)}] ({found.poses} poses)"
    if found.poses_needed is not None:
        needed = f"{found.poses_needed:,}"
    elif found.poses_needed_more_than is not None:
        needed = f"more than {found.poses_needed_more_than:,}"
    else:
        needed = "-"
    return interval, "within pose noise" if found.within_pose_noise else "beyond pose noise", needed


def decision_note() -> str:
    """One sentence on the two columns of :func:`decision_cells`: what they mean, at which power."""
    confidence, power = f"{100 * CONFIDENCE:.0f} %", f"{100 * POWER:.0f} %"
    return (
        f"*detectable*: the smallest true difference these seeds resolve (their {confidence} Welch interval "
        f"excludes 0) with {power} power, two-sided, if both variants' seeds spread with their pooled std; "
        f"*seeds to resolve*: for a difference within seed noise, the seeds per variant that would resolve "
        f"the observed difference with {power} power if it were the true one and the spread stayed the "
        f"same (2 to {MAX_SEEDS})."
    )


def direction_note(columns: Sequence[str], headings: dict[str, str]) -> str:
    """Which way is better for each of ``columns`` (the metric registry's ``better``), so a signed difference reads
    as a gain or a loss: "Lower is better: val loss, C2ST AUC; higher is better: precision"."""
    sides = {"lower": [], "higher": []}
    for column in dict.fromkeys(columns):
        metric = BY_NAME.get(column)
        if metric is not None and metric.better in sides:
            sides[metric.better].append(headings.get(column, column))
    text = "; ".join(f"{side} is better: {', '.join(names)}" for side, names in sides.items() if names)
    return text[:1].upper() + text[1:]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), line(["---"] * len(header)), *(line(r) for r in rows)]


def markdown_headings(columns: Sequence[tuple[str, str, str]]) -> dict[str, str]:
    """Each column's heading, an indented one (a part of the score above it: ``  root``) with that score's in
    front (``C2ST AUC: root``): Markdown drops the indent, and the part would read as a score of its own."""
    headings, parent = {}, ""
    for column, heading, _ in columns:
        if heading.startswith(" "):
            headings[column] = f"{parent}: {heading.strip()}"
        else:
            headings[column] = parent = heading
    return headings


def write_report(
    folder: Path,
    rows: Sequence[Any],
    variants: Sequence[Any],
    found: Sequence[Any],
    columns: Sequence[tuple[str, str, str]],
    figures: dict[str, Path],
    threshold: float | None,
    warnings: Sequence[str] = (),
) -> Path:
    """Write ``folder/report.md``; returns its path. ``warnings``: what makes the runs less comparable than they
    look (:func:`~unet1d.compare.runs.comparability_warnings`), said before any number."""
    formats = {column: fmt for column, _, fmt in columns}
    headings = markdown_headings(columns)
    lines = ["# Comparison of runs", ""]
    lines += [
        f"{len(rows)} runs in {len(variants)} variants. Runs whose configs differ only in the seed (and fields that "
        "cannot change results) form one variant: mean ± std over its seeds.",
        "",
    ]
    if warnings:
        lines += ["## Caveats", "", *(f"- {warning}" for warning in warnings), ""]
    decision = verdict(found, headings, formats, worse_prior_warnings(list(rows)))
    if decision:
        lines += ["## Verdict", "", *(f"- {line}" for line in decision), ""]
    if threshold is not None:
        lines += [
            f"Common convergence threshold: val loss {threshold:.4f}, the worst variant's mean final val loss. "
            "*steps to common* / *s to common*: each run's first validation at or below it, in steps and in seconds "
            'from its first logged event ("-": never reached).',
            "",
        ]
    lines += ["## Variants", ""]
    lines += _table(
        ["variant", "runs", *(headings[c] for c in formats)],
        [[v.variant, str(v.runs), *(v.cell(c, f) for c, f in formats.items())] for v in variants],
    )
    lines += ["", "## Differences", ""]
    if found:
        lines += [f"Each variant minus {found[0].reference}, with the 95 % Welch interval over seeds.", ""]
        lines += [decision_note(), "", direction_note([d.column for d in found], headings) + ".", ""]
        lines += _table(
            [
                "variant", "column", "difference", "95 % interval", "seed noise", "detectable", "seeds to resolve",
                "interval over the task poses", "pose noise", "poses to resolve",
            ],
            [
                [
                    d.variant,
                    headings.get(d.column, d.column),
                    *difference_cells(d, formats[d.column]),
                    *decision_cells(d, formats[d.column]),
                    *pose_cells(d, formats[d.column]),
                ]
                for d in found
            ],
        )  # fmt: skip
        if any(d.pose_low is not None for d in found):
            lines += ["", POSE_NOTE]
    else:
        lines += ["One variant only: nothing to compare."]
    lines += [""]
    for title, path in figures.items():
        lines += [f"## {title}", "", f"![{title}]({path.relative_to(folder).as_posix()})", ""]
    lines += ["## Runs", ""]
    lines += _table(
        ["run", "variant", "seed", *(headings[c] for c in formats)],
        [[r.run, r.variant, str(r.seed), *(format_cell(getattr(r, c), f) for c, f in formats.items())] for r in rows],
    )
    path = folder / REPORT_FILE
    path.write_text("\n".join(lines) + "\n")
    return path
