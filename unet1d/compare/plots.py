"""Comparison figures as PNG (matplotlib, Agg): curves overlaid by variant, bars per compared column.

A variant's curve is the mean over its seeds at each logged step, with the band from the lowest
to the highest seed (min–max: with two or three seeds a standard deviation says little). Bars are
variant means with ±1 std error bars and every seed as a dot. Colours follow the variants' order,
the same in every figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unet1d.compare.report import elide
from unet1d.metric_registry import TRAIN_LOSS, VAL_LOSS
from unet1d.store.curves import Curves, read_curves

LOSS_TAGS = (TRAIN_LOSS, VAL_LOSS)
GRAD_NORM_PREFIX = "train/grad_norm/"  # per block; train/grad_norm itself is the whole network's
QUALITY_PREFIX = "quality/"
PANELS_PER_ROW = 4


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def band(curves: Sequence[Curves], tag: str) -> tuple[list[int], list[float], list[float], list[float]]:
    """(steps, mean, min, max) over the runs that logged ``tag`` at each step."""
    by_step: dict[int, list[float]] = {}
    for run in curves:
        for step, _, value in run.points.get(tag, []):
            if math.isfinite(value):
                by_step.setdefault(step, []).append(value)
    steps = sorted(by_step)
    return (
        steps,
        [sum(by_step[s]) / len(by_step[s]) for s in steps],
        [min(by_step[s]) for s in steps],
        [max(by_step[s]) for s in steps],
    )


def distinct_labels() -> Any:
    """Tick labels in plain numbers with as few significant digits (3 or more) as tell every tick apart."""
    from matplotlib.ticker import Formatter

    class Labels(Formatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return f"{x:.3g}"

        def format_ticks(self, values: Sequence[float]) -> list[str]:
            for digits in range(3, 10):
                labels = [f"{value:.{digits}g}" for value in values]
                if len(set(labels)) == len(labels):
                    break
            return labels

    return Labels()


def _grid(plt: Any, panels: int, width: float = 4.0, height: float = 3.2) -> tuple[Any, list[Any]]:
    columns = min(panels, PANELS_PER_ROW)
    rows = math.ceil(panels / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[panels:]:
        ax.axis("off")
    return figure, flat[:panels]


def curves_figure(
    by_variant: dict[str, list[Curves]], tags: Sequence[str], path: Path, title: str, log_y: bool = False
) -> Path:
    """One panel per tag; in each, every variant's mean over seeds and its min–max band."""
    plt = _pyplot()
    figure, axes = _grid(plt, len(tags))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, tag in zip(axes, tags, strict=True):
        for index, (variant, curves) in enumerate(by_variant.items()):
            steps, mean, low, high = band(curves, tag)
            if not steps:
                continue
            colour = colours[index % len(colours)]
            marker = "o" if len(steps) == 1 else None  # a lone validation (a run shorter than eval_every) is a point
            ax.plot(steps, mean, color=colour, lw=1.4, marker=marker, label=f"{variant} ({len(curves)} runs)")
            ax.fill_between(steps, low, high, color=colour, alpha=0.2, lw=0)
        ax.set_title(tag, fontsize=10)
        ax.set_xlabel("step")
        if log_y and all(v > 0 for line in ax.get_lines() for v in line.get_ydata()):
            ax.set_yscale("log")
            plain = distinct_labels()  # a loss spans less than a decade: 1.2, not 1.2x10^0 on the minor ticks,
            ax.yaxis.set_major_formatter(plain)  # and as many digits as tell its ticks apart (1.031, 1.032, not
            ax.yaxis.set_minor_formatter(distinct_labels())  # 1.03 twice)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0, 1, 0.96))  # the title above the panels' own
    return _save(plt, figure, path)


def bars_figure(rows: Sequence[Any], columns: Sequence[tuple[str, str, str]], path: Path) -> Path | None:
    """One panel per column with values: variant means, ±1 std error bars, each seed a dot."""
    variants = list(dict.fromkeys(row.variant for row in rows))
    shown = []
    for column, heading, _ in columns:
        values = {v: _finite([getattr(r, column, None) for r in rows if r.variant == v]) for v in variants}
        if any(values.values()):
            shown.append((column, heading, values))
    if not shown:
        return None
    plt = _pyplot()
    figure, axes = _grid(plt, len(shown), width=3.6, height=3.0)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    positions = range(len(variants))
    for ax, (column, heading, values) in zip(axes, shown, strict=True):
        means = [sum(v) / len(v) if v else 0.0 for v in values.values()]
        errors = [_std(v) for v in values.values()]
        ax.bar(positions, means, yerr=errors, capsize=4, color=[colours[i % len(colours)] for i in positions])
        for i, seeds in enumerate(values.values()):
            ax.plot([i] * len(seeds), seeds, "o", color="black", ms=3)
        ax.set_title(f"{heading} ({column})", fontsize=9)
        ax.set_xticks(list(positions), bar_labels(rows, values), rotation=30, ha="right", fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    figure.suptitle("per variant: mean, ±1 std over seeds (bars), each seed (dots)")
    figure.tight_layout(rect=(0, 0, 1, 0.96))  # the title above the panels' own
    return _save(plt, figure, path)


def bar_labels(rows: Sequence[Any], values: dict[str, list[float]]) -> list[str]:
    """Each variant's name, and where its bar counts fewer runs than it has (a threshold some seeds never
    reached), how many: ``attention-4 (1/3 runs)``, as the tables say it."""
    runs = {variant: sum(row.variant == variant for row in rows) for variant in values}
    return [
        elide(variant, 24) + (f" ({len(counted)}/{runs[variant]} runs)" if len(counted) < runs[variant] else "")
        for variant, counted in values.items()
    ]


def write_plots(rows: Sequence[Any], columns: Sequence[tuple[str, str, str]], folder: Path) -> dict[str, Path]:
    """Every figure that the runs have data for, into ``folder``; {title: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    by_variant: dict[str, list[Curves]] = {}
    for row in rows:
        by_variant.setdefault(row.variant, []).append(read_curves(Path(row.run)))
    every = [c for curves in by_variant.values() for c in curves]
    figures: dict[str, Path] = {}
    losses = [tag for tag in LOSS_TAGS if any(tag in c.points for c in every)]
    if losses:
        figures["Training and validation loss"] = curves_figure(
            by_variant, losses, folder / "losses.png", "loss by variant: mean over seeds, min–max band", log_y=True
        )
    for title, prefix, name in (
        ("Gradient norm per block", GRAD_NORM_PREFIX, "grad_norms.png"),
        ("Sample quality during training", QUALITY_PREFIX, "quality.png"),
    ):
        tags = sorted({tag for c in every for tag in c.tags(prefix)})
        if tags:
            figures[title] = curves_figure(by_variant, tags, folder / name, f"{title.lower()}: mean, min–max band")
    bars = bars_figure(rows, columns, folder / "columns.png")
    if bars is not None:
        figures["Final numbers per variant"] = bars
    return figures


def _save(plt: Any, figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def _finite(values: list[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def _std(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
