"""Compare finished runs: final loss, convergence speed, sample quality, time, memory, size on disk.

Reads only what runs leave in their output_dir: ``config.yaml`` (the resolved config),
``summary.json`` (the trainer's result), TensorBoard event files (the validation curve) and
``eval/step-N.json`` (from ``unet1d eval``). Runs whose resolved configs differ only in
``train.seed`` (and fields that cannot change results: output paths, logging, checkpoint
cadence) are one variant; a variant's numbers are the mean and standard deviation over its seeds.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from unet1d.config import NO_EFFECT_FIELDS, config_from_dict
from unet1d.errors import ConfigError, UserError

EVAL_DIR = "eval"  # <run>/eval/step-N.json, written by `unet1d eval`
CONVERGED_FRACTION = 0.9  # convergence step: first validation at 90% of the run's total loss drop

# (column, heading, format): the numbers lined up per run and per variant.
COLUMNS = [
    ("num_parameters", "params", "{:,.0f}"),
    ("final_train_loss", "train loss", "{:.4f}"),
    ("final_val_loss", "val loss", "{:.4f}"),
    ("best_val_loss", "best val", "{:.4f}"),
    ("converged_step", "conv. step", "{:,.0f}"),
    ("steps_to_common", "steps to common", "{:,.0f}"),  # evaluation/convergence.py: one threshold for all runs
    ("seconds_to_common", "s to common", "{:,.1f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("one_nn_accuracy", "1-NN", "{:.3f}"),
    ("dnn_rad", "dNN rad", "{:.3f}"),
    ("poses_outside_limits_tol", "off limits", "{:.1%}"),
    ("frechet_distance", "FD", "{:.3f}"),
    ("apd_cm", "APD cm", "{:.1f}"),
    ("family_share_error", "family err", "{:.1%}"),
    ("c2st_auc", "C2ST AUC", "{:.3f}"),
    *((f"c2st_auc_{part}", f"C2ST {part}", "{:.3f}") for part in ("root", "legs", "arms", "spine_head")),
    ("wall_time_s", "time s", "{:,.1f}"),
    ("samples_per_s", "samples/s", "{:,.0f}"),
    ("peak_memory_mb", "peak MiB", "{:,.0f}"),
    ("model_size_mb", "disk MiB", "{:.1f}"),
]


@dataclass
class RunRow:
    """One run's numbers (None where the run did not produce them)."""

    run: str
    variant: str
    seed: int
    final_step: int
    num_parameters: float | None = None
    final_train_loss: float | None = None
    final_val_loss: float | None = None
    best_val_loss: float | None = None
    converged_step: float | None = None
    steps_to_common: float | None = None  # to the common val-loss threshold (filled by compare_runs)
    seconds_to_common: float | None = None
    # from the run's latest eval/step-N.json (the final evaluation, or `unet1d eval`)
    precision: float | None = None
    recall: float | None = None
    one_nn_accuracy: float | None = None
    dnn_rad: float | None = None
    poses_outside_limits_tol: float | None = None
    frechet_distance: float | None = None
    apd_cm: float | None = None
    family_share_error: float | None = None
    mmd: float | None = None
    limit_violation_rate: float | None = None
    family_coverage: float | None = None
    c2st_auc: float | None = None  # evaluation/c2st.py, whole body then per body part
    c2st_auc_root: float | None = None
    c2st_auc_legs: float | None = None
    c2st_auc_arms: float | None = None
    c2st_auc_spine_head: float | None = None
    wall_time_s: float | None = None
    samples_per_s: float | None = None
    peak_memory_mb: float | None = None
    model_size_mb: float | None = None


EVAL_KEYS = (
    "precision", "recall", "one_nn_accuracy", "dnn_rad", "poses_outside_limits_tol", "frechet_distance", "apd_cm",
    "family_share_error", "mmd", "limit_violation_rate", "family_coverage",
    "c2st_auc", "c2st_auc_root", "c2st_auc_legs", "c2st_auc_arms", "c2st_auc_spine_head",
)  # fmt: skip


@dataclass
class VariantRow:
    variant: str
    runs: int
    mean: dict[str, float | None] = field(default_factory=dict)
    std: dict[str, float | None] = field(default_factory=dict)


def variant_name(config: dict) -> str:
    """``attention-h8`` / ``conv``, plus anything else that differs from the defaults but the seed."""
    model = config["model"]
    name = "conv" if model["mid_structure"] == "conv" else f"attention-h{model['mid_num_heads']}"
    if not model.get("downsample", True):
        name += "-L" + str(model["pose_dim"])
    if model.get("base_channels", 128) != 128:
        name += f"-c{model['base_channels']}"
    return name


# Shown by variant_name itself, so not repeated as `name=value`.
NAMED_FIELDS = {
    "model.mid_structure",
    "model.mid_num_heads",
    "model.downsample",
    "model.pose_dim",
    "model.base_channels",
}


def variant_key(config: dict) -> dict[str, object]:
    """The fields of a run's config that can change its results: all but the seed and :data:`NO_EFFECT_FIELDS`."""
    try:
        flat = config_from_dict(config).flat()  # fills fields an older run did not store with their defaults
    except ConfigError:  # written by another version: compare what it stored
        flat = {f"{section}.{name}": value for section, sub in config.items() for name, value in sub.items()}
    flat.pop("model.mid", None)  # the mid_structure/mid_num_heads pair in one word: already in the key
    if flat.get("model.mid_structure") == "conv":
        flat.pop("model.mid_num_heads", None)  # a conv middle has no heads
    return {key: value for key, value in flat.items() if key != "train.seed" and key not in NO_EFFECT_FIELDS}


def variant_names(configs: list[dict]) -> list[str]:
    """Each run's variant: runs with equal :func:`variant_key` share one, named by what sets it apart.

    ``conv`` / ``attention-h8`` (:func:`variant_name`), plus ``name=value`` for every other field
    that differs between the variants, e.g. ``conv lr=0.001`` next to ``conv lr=0.0002``.
    """
    keys = [variant_key(config) for config in configs]
    distinct = list({repr(sorted(key.items())): key for key in keys}.values())
    differing = sorted(f for f in {f for key in distinct for f in key} if len({repr(k.get(f)) for k in distinct}) > 1)
    for shown_fields in ([f for f in differing if f not in NAMED_FIELDS], differing):
        names = [
            " ".join([variant_name(config), *(f"{f.split('.')[1]}={_short(key.get(f))}" for f in shown_fields)])
            for config, key in zip(configs, keys, strict=True)
        ]
        if len(set(names)) == len(distinct):  # else the short name hid a difference: spell out every field
            break
    return names


def _short(value: object) -> str:
    return str(value).replace(" ", "") if isinstance(value, list) else str(value)


def find_runs(paths: list[Path]) -> list[Path]:
    """Run directories (holding config.yaml and summary.json) given directly or one level below."""
    runs: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UserError(f"run directory '{path}' does not exist")
        if (path / "summary.json").is_file():
            runs.append(path)
            continue
        below = sorted(p.parent for p in path.glob("*/summary.json"))
        if not below:
            raise UserError(f"'{path}' holds no finished run (no summary.json in it or its subfolders)")
        runs.extend(below)
    return runs


def read_scalars(tensorboard_dir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) for ``tag`` from every event file below ``tensorboard_dir``; a resumed run's later write wins."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    by_step: dict[int, tuple[float, float]] = {}
    folders = sorted({p.parent for p in tensorboard_dir.rglob("events.out.tfevents*")})
    for folder in folders:
        accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        accumulator.Reload()
        if tag not in accumulator.Tags().get("scalars", []):
            continue
        for event in accumulator.Scalars(tag):
            if event.step not in by_step or event.wall_time >= by_step[event.step][0]:
                by_step[event.step] = (event.wall_time, event.value)
    return sorted((step, value) for step, (_, value) in by_step.items())


def converged_step(curve: list[tuple[int, float]], fraction: float = CONVERGED_FRACTION) -> int | None:
    """First step whose loss has made ``fraction`` of the drop from the first value to the best."""
    if len(curve) < 2:
        return None
    first, best = curve[0][1], min(value for _, value in curve)
    if first <= best:
        return curve[0][0]
    return next(step for step, value in curve if (first - value) / (first - best) >= fraction - 1e-9)


def latest_eval(run: Path) -> dict | None:
    reports = sorted((run / EVAL_DIR).glob("step-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    return json.loads(reports[-1].read_text()) if reports else None


def read_run(run: Path) -> RunRow:
    import yaml

    config = yaml.safe_load((run / "config.yaml").read_text())
    summary = json.loads((run / "summary.json").read_text())
    curve = read_scalars(run / "tensorboard", "val/loss") if (run / "tensorboard").is_dir() else []
    evaluation = latest_eval(run) or {}
    return RunRow(
        run=str(run),
        variant=variant_name(config),
        seed=int(config["train"]["seed"]),
        final_step=int(summary["final_step"]),
        num_parameters=summary.get("num_parameters"),
        final_train_loss=summary.get("train_loss"),
        final_val_loss=summary.get("val_loss"),
        best_val_loss=min((value for _, value in curve), default=summary.get("val_loss")),
        converged_step=converged_step(curve),
        **{key: evaluation.get(key) for key in EVAL_KEYS},
        wall_time_s=summary.get("wall_time_s"),
        samples_per_s=summary.get("samples_per_s"),
        peak_memory_mb=summary.get("peak_memory_mb"),
        model_size_mb=summary.get("model_size_mb"),
    )


def summarize_variants(rows: list[RunRow]) -> list[VariantRow]:
    """Mean and sample standard deviation of every column over the runs of each variant."""
    variants: dict[str, list[RunRow]] = {}
    for row in rows:
        variants.setdefault(row.variant, []).append(row)
    summaries = []
    for name, members in variants.items():
        summary = VariantRow(name, len(members))
        for column, _, _ in COLUMNS:
            values = [getattr(m, column) for m in members if getattr(m, column) is not None]
            values = [v for v in values if not math.isnan(v)]
            summary.mean[column] = statistics.fmean(values) if values else None
            summary.std[column] = statistics.stdev(values) if len(values) > 1 else None
        summaries.append(summary)
    return summaries


def compare_runs(paths: list[Path]) -> tuple[list[RunRow], list[VariantRow]]:
    import yaml

    runs = find_runs(paths)
    rows = [read_run(run) for run in runs]
    names = variant_names([yaml.safe_load((run / "config.yaml").read_text()) for run in runs])
    for row, name in zip(rows, names, strict=True):
        row.variant = name
    from unet1d.evaluation.convergence import add_common_convergence

    add_common_convergence(rows)
    return rows, summarize_variants(rows)


def write_json(path: Path, rows: list[RunRow], variants: list[VariantRow]) -> None:
    payload = {"runs": [asdict(r) for r in rows], "variants": [asdict(v) for v in variants]}
    path.write_text(json.dumps(payload, indent=2) + "\n")


def format_cell(value: float | None, fmt: str, spread: float | None = None) -> str:
    if value is None:
        return "-"
    text = fmt.format(value)
    return f"{text} ± {fmt.format(spread)}" if spread is not None else text
