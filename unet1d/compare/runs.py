"""Compare finished runs: final loss, convergence speed, sample quality, time, memory, size on disk.

Reads only what runs leave in their output_dir (:mod:`unet1d.store.rundir`): ``config.yaml`` (the
resolved config), ``summary.json`` (the trainer's result), TensorBoard event files (the validation
curve) and ``eval/step-N.json`` (from ``unet1d eval`` or the end of training). The columns, their
labels and formats are the metric registry's (:mod:`unet1d.metric_registry`). Runs whose resolved configs differ only in
``train.seed`` (and fields that cannot change results: output paths, logging, checkpoint
cadence) are one variant; a variant's numbers are the mean and standard deviation over its seeds.

A damaged ``summary.json`` or ``eval/step-N.json`` (cut short, not JSON) is named in one warning
and passed over: the run is still compared on what is whole (its curves, an older evaluation). A
damaged ``config.yaml`` is named in one warning and read from the run's latest checkpoint, as the
store reads it for a resumed run; with no checkpoint the run is a variant of its own.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from unet1d.compare.convergence import add_common_convergence
from unet1d.config import MEASUREMENT_FIELDS, NO_EFFECT_FIELDS, ModelConfig, mid_name
from unet1d.config_sources import config_from_dict
from unet1d.data.loading import is_builtin
from unet1d.data.up_axis import resolve_up_axis
from unet1d.errors import ConfigError, UserError
from unet1d.metric_registry import EVALUATION_SETTINGS, METRICS, VAL_LOSS, compare_columns, eval_metrics, format_number
from unet1d.store import checkpoint_files
from unet1d.store.curves import read_curves
from unet1d.store.rundir import EVAL_DIR, RUN_CONFIG_FILE, SUMMARY_FILE, read_run_config
from unet1d.store.summary import TrainResult

# (column, heading, format): the numbers lined up per run and per variant, from the registry.
COLUMNS = [(m.name, m.label, m.fmt) for m in compare_columns()]
# What a row takes from the run's latest eval/step-N.json (the final evaluation, or `unet1d eval`).
EVAL_KEYS = tuple(m.name for m in eval_metrics())
# Every number a row holds: the columns and every eval key (in the JSON; the columns also in the tables).
ROW_KEYS = tuple(m.name for m in METRICS if m.compare or m.source == "eval")


@dataclass(frozen=True)
class PoseErrors:
    """A run's task scores per held-out pose (the evaluation's ``task_errors``), and which poses they are."""

    digest: str  # tasks.poses_digest of the task poses: runs pair up only on the same poses
    errors: dict[str, list[float]]  # per task key (completion_cm_<part>, denoise_cm, ...): one error per pose

    @classmethod
    def of(cls, evaluation: dict[str, Any]) -> PoseErrors | None:
        """From an eval/step-N.json payload; None where it has none (task scores off, or written before them)."""
        digest, errors = evaluation.get("task_poses_digest"), evaluation.get("task_errors")
        if not isinstance(digest, str) or not isinstance(errors, dict):
            return None
        return cls(digest, {key: list(map(float, rows)) for key, rows in errors.items() if isinstance(rows, list)})


class RunRow:
    """One run's numbers: ``row.<key>`` for every :data:`ROW_KEYS` (None where the run did not produce it),
    and ``row.pose_errors`` (its task scores per pose, None without them)."""

    def __init__(
        self,
        run: str,
        variant: str,
        seed: int | None,  # None: the run's config is lost (compare.runs.read_config)
        final_step: int | None,
        values: dict | None = None,
        pose_errors: PoseErrors | None = None,
        evaluated: dict[str, Any] | None = None,
        extended_from: int | None = None,
        baselines: dict[str, dict[str, Any]] | None = None,
        **keys: float | None,
    ) -> None:
        values = {**(values or {}), **keys}
        unknown = sorted(set(values) - set(ROW_KEYS))
        if unknown:
            raise TypeError(f"RunRow: {', '.join(unknown)} not in the metric registry (unet1d/metric_registry.py)")
        self.run, self.variant, self.seed, self.final_step, self.values = run, variant, seed, final_step, values
        self.pose_errors = pose_errors
        self.evaluated = evaluated  # how its evaluation was made (EVALUATION_SETTINGS); None without one
        self.extended_from = extended_from  # summary.json's: the max_steps a resume lengthened
        self.baselines = baselines  # its evaluation's baselines' scores by name (gaussian, nearest, data)

    def __getattr__(self, name: str) -> Any:
        if name in ROW_KEYS:
            return self.__dict__.get("values", {}).get(name)
        raise AttributeError(f"RunRow has no {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON of compare's ``--out``: run, variant, seed, final_step, then every key."""
        head = {"run": self.run, "variant": self.variant, "seed": self.seed, "final_step": self.final_step}
        return head | {key: self.values.get(key) for key in ROW_KEYS}


@dataclass
class VariantRow:
    variant: str
    runs: int
    mean: dict[str, float | None] = field(default_factory=dict)
    std: dict[str, float | None] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)  # runs with a value (steps to common: those that reached it)

    def cell(self, column: str, fmt: str) -> str:
        """The mean ± std, and ``(k/n)`` when only k of the variant's n runs have a value."""
        text = format_cell(self.mean[column], fmt, self.std[column])
        counted = self.counted.get(column, self.runs)
        return f"{text} ({counted}/{self.runs})" if 0 < counted < self.runs else text


def variant_name(config: dict) -> str:
    """The middle as the config spells it (``attention-8`` / ``conv``), plus ``-L72`` at full length and
    ``-cN`` away from the default width (both defaults the config's)."""
    model = config["model"]
    name = mid_name(model["mid_structure"], model["mid_num_heads"])
    if not model.get("downsample", _MODEL_DEFAULTS["downsample"]):
        name += "-L" + str(model["pose_dim"])
    if model.get("base_channels", _MODEL_DEFAULTS["base_channels"]) != _MODEL_DEFAULTS["base_channels"]:
        name += f"-c{model['base_channels']}"
    return name


_MODEL_DEFAULTS = {name: field.default for name, field in ModelConfig.model_fields.items()}


# Shown by variant_name itself, so not repeated as `name=value`.
NAMED_FIELDS = {
    "model.mid_structure",
    "model.mid_num_heads",
    "model.downsample",
    "model.pose_dim",
    "model.base_channels",
}


def flat_config(config: dict) -> dict[str, object]:
    """A stored config as ``section.field`` -> value, the fields an older run did not store at their defaults
    (one written by another version: what it stored)."""
    try:
        return config_from_dict(config).flat()
    except ConfigError:
        return {f"{section}.{name}": value for section, sub in config.items() for name, value in sub.items()}


def variant_key(config: dict) -> dict[str, object]:
    """The fields of a run's config that can change its results: all but the seed and :data:`NO_EFFECT_FIELDS`."""
    flat = flat_config(config)
    flat.pop("model.mid", None)  # the mid_structure/mid_num_heads pair in one word: already in the key
    if is_builtin(str(flat.get("data.data"))) and "data.up_axis" in flat:  # what runs from before auto stored
        flat["data.up_axis"] = resolve_up_axis(flat["data.up_axis"], builtin=True, z_up_files=0)
    if flat.get("model.mid_structure") == "conv":
        flat.pop("model.mid_num_heads", None)  # a conv middle has no heads
    return {key: value for key, value in flat.items() if key != "train.seed" and key not in NO_EFFECT_FIELDS}


def variant_names(configs: list[dict]) -> list[str]:
    """Each run's variant: runs with equal :func:`variant_key` share one, named by what sets it apart.

    ``conv`` / ``attention-8`` (:func:`variant_name`), plus ``name=value`` for every other field
    that differs between the variants, numbers short (:func:`short_value`), e.g. ``conv lr=1e-3`` next to
    ``conv lr=2e-4``.
    """
    keys = [variant_key(config) for config in configs]
    distinct = list({repr(sorted(key.items())): key for key in keys}.values())
    differing = sorted(f for f in {f for key in distinct for f in key} if len({repr(k.get(f)) for k in distinct}) > 1)
    shown = [f for f in differing if f not in NAMED_FIELDS]
    # Short first; where that hides a difference (names alike, keys not), every field, then every digit.
    for shown_fields, digits in ((shown, SHORT_DIGITS), (differing, SHORT_DIGITS), (differing, None)):
        names = [
            " ".join(
                [variant_name(config), *(f"{f.split('.')[1]}={short_value(key.get(f), digits)}" for f in shown_fields)]
            )
            for config, key in zip(configs, keys, strict=True)
        ]
        if len(set(names)) == len(distinct):
            break
    return names


SHORT_DIGITS = 3  # significant digits of a number in a variant's name


def short_value(value: object, digits: int | None = SHORT_DIGITS) -> str:
    """A setting as a variant's name shows it: a float to ``digits`` significant digits, in the shorter of
    plain and scientific notation (0.002 -> ``2e-3``, 0.0019337995529 -> ``0.00193``, 0.05 -> ``0.05``),
    every digit when ``digits`` is None; a list without spaces; anything else as ``str`` writes it."""
    if isinstance(value, list):
        return str(value).replace(" ", "")
    if not isinstance(value, float) or not math.isfinite(value):
        return str(value)
    if digits is None:
        return repr(value)
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    scientific = f"{mantissa}e{int(exponent)}"
    plain = f"{float(scientific):.{max(0, digits - 1 - int(exponent))}f}"
    plain = plain.rstrip("0").rstrip(".") if "." in plain else plain
    return scientific if len(scientific) < len(plain) else plain


UNFINISHED = "stopped, crashed or still training; `unet1d train --output_dir RUN --resume auto` finishes one"


def find_runs(paths: list[Path]) -> list[Path]:
    """Run directories (holding config.yaml and summary.json) given directly or one level below; a run
    named twice (itself and through its folder, or two spellings) once."""
    runs: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UserError(f"run directory '{path}' does not exist")
        if (path / SUMMARY_FILE).is_file():
            runs.append(path)
            continue
        if (path / RUN_CONFIG_FILE).is_file():
            raise UserError(f"'{path}' holds an unfinished run (no summary.json): {UNFINISHED}")
        below = sorted(p.parent for p in path.glob(f"*/{SUMMARY_FILE}"))
        if not below:
            raise UserError(f"'{path}' holds no finished run (no summary.json in it or its subfolders)")
        unfinished = sorted(p.parent.name for p in path.glob(f"*/{RUN_CONFIG_FILE}") if p.parent not in below)
        if unfinished:  # a seed that crashed or was killed would vanish from its variant unsaid
            listed = ", ".join(unfinished[:5]) + (f" and {len(unfinished) - 5} more" if len(unfinished) > 5 else "")
            checkpoint_files.warn(f"'{path}' holds unfinished runs, left out: {listed} (no summary.json): {UNFINISHED}")
        runs.extend(below)
    seen: set[Path] = set()
    unique = []
    for run in runs:  # the first spelling of each
        if run.resolve() not in seen:
            seen.add(run.resolve())
            unique.append(run)
    return unique


EVAL_REPORT = re.compile(r"^step-(\d+)\.json$")


def _json_object(path: Path) -> tuple[dict | None, str]:
    """``path``'s JSON object, or None and why not (unreadable, cut short, not JSON, not an object)."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as err:
        return None, getattr(err, "strerror", None) or f"{type(err).__name__}: {err}"
    except ValueError as err:
        return None, f"{type(err).__name__}: {str(err).splitlines()[0]}"
    if not isinstance(stored, dict):
        return None, f"a JSON {type(stored).__name__}, not an object"
    return stored, ""


def latest_eval(run: Path) -> dict | None:
    """The newest whole ``eval/step-N.json``; a damaged newer one is named in a warning and passed over."""
    reports = [p for p in (run / EVAL_DIR).glob("step-*.json") if EVAL_REPORT.match(p.name)]
    reports.sort(key=lambda p: int(EVAL_REPORT.match(p.name)[1]), reverse=True)
    for newer, report in enumerate(reports):
        evaluation, reason = _json_object(report)
        if evaluation is not None:
            return evaluation
        instead = f"using {reports[newer + 1].name} instead" if newer + 1 < len(reports) else "no whole one is left"
        checkpoint_files.warn(f"evaluation {report} is damaged ({reason}); {instead}")
    return None


def read_summary(run: Path) -> dict[str, Any]:
    """``summary.json``'s numbers, read by the store's reader; empty, with one warning, when it is damaged.

    A whole JSON object the reader refuses (written by a version with other fields) still counts.
    """
    path = run / SUMMARY_FILE
    try:
        summary = asdict(TrainResult.read(path))
    except UserError as refused:
        stored, _ = _json_object(path)
        if stored is None:
            checkpoint_files.warn(f"{refused}; the run is compared without it")
            return {}
        summary = stored
    for key in SUMMARY_NUMBERS:  # a whole JSON object may still hold a word where a number goes
        value = summary.get(key)
        whole = key in ("final_step", "extended_from")
        number = not isinstance(value, bool) and isinstance(value, int if whole else (int, float))
        if value is not None and (not number or not math.isfinite(value)):  # NaN: the trainer writes null
            kind = "a whole number" if whole else "a finite number"
            checkpoint_files.warn(f"{path}: damaged run summary ({key} is {value!r}, not {kind}); compared without it")
            summary[key] = None
    return summary


# What compare reads from summary.json, each a number (steps: whole numbers).
SUMMARY_NUMBERS = (
    "num_parameters", "train_loss", "val_loss", "wall_time_s", "samples_per_s", "peak_memory_mb", "model_size_mb",
    "final_step", "extended_from",
)  # fmt: skip


def read_config(run: Path) -> dict[str, Any] | None:
    """The run's resolved config as a nested dict, read as the store reads it (:func:`read_run_config`).

    A damaged ``config.yaml`` is named in one warning and the config read from the run's latest whole
    checkpoint instead (a file cut short can still parse, with a bad value: that counts too); without
    one the run is compared as a variant of its own (None). A whole config this version refuses, and no
    checkpoint of the run reads either (written by another version), is compared on what it stores.
    """
    path = run / RUN_CONFIG_FILE
    try:
        return read_run_config(path).model_dump(mode="json")
    except UserError as err:
        problem = err
    latest = checkpoint_files.latest_checkpoint(run)
    fallback, missing = None, "no whole checkpoint holds the run's config"
    if latest is not None:
        try:
            fallback = checkpoint_files.read_config(latest).model_dump(mode="json")
        except UserError as refused:
            missing = f"{latest} does not hold one this version reads either ({refused})"
    if fallback is None and isinstance(problem, ConfigError):
        stored = yaml.safe_load(path.read_text())  # a mapping (read_run_config parsed it): another version's fields?
        if _comparable(stored):
            return stored
    damaged = (  # the store's line, less its advice to a resuming run
        f"{path}: damaged run config ({problem})"
        if isinstance(problem, ConfigError)
        else str(problem).split("; restore")[0]
    )
    if fallback is not None:
        checkpoint_files.warn(f"{damaged}; the run's config is read from {latest}")
        return fallback
    checkpoint_files.warn(f"{damaged}; {missing}, so it is compared as a variant of its own")
    return None


def _comparable(config: dict[str, Any]) -> bool:
    """Whether a config this version refuses still names what a row needs: its variant and its seed
    (one written by another version does; one cut short may not)."""
    try:
        variant_name(config), variant_key(config), int(config["train"]["seed"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    return True


def read_run(run: Path) -> RunRow:
    """A run's row: summary.json, the best of its val/loss curve, its latest evaluation (steps and
    seconds to the common threshold are filled by :func:`compare_runs`, which sees every run)."""
    return _row(run, read_config(run))


def _finite(run: Path, key: str, value: Any) -> Any:
    """An evaluation's number, or None (named in a warning) where it is NaN or infinite: a mean and a std of
    one are NaN or a traceback, and `--out` would hold bare NaN, which strict JSON readers refuse."""
    if isinstance(value, float) and not math.isfinite(value):
        checkpoint_files.warn(f"{run}: its evaluation's {key} is {value}; the run is compared without it")
        return None
    return value


def _best_val_loss(curve: list[float], final: float | None) -> float | None:
    """The lowest validation loss: the curve's (TensorBoard's float32) and the summary's final (float64), so the
    best is never above the final by a rounding."""
    return min([*curve, *([final] if final is not None else [])], default=None)


def _row(run: Path, config: dict[str, Any] | None) -> RunRow:
    """:func:`read_run` for a run whose config (:func:`read_config`) is already read."""
    summary = read_summary(run)
    curves = read_curves(run)
    curve = curves.values(VAL_LOSS)
    evaluation = latest_eval(run) or {}
    values = {
        "num_parameters": summary.get("num_parameters"),
        "final_train_loss": summary.get("train_loss"),
        "final_val_loss": summary.get("val_loss"),
        "best_val_loss": _best_val_loss(curve, summary.get("val_loss")),
        **{key: _finite(run, key, evaluation.get(key)) for key in EVAL_KEYS},
        **{key: summary.get(key) for key in ("wall_time_s", "samples_per_s", "peak_memory_mb", "model_size_mb")},
    }
    final_step = summary.get("final_step")
    if final_step is None:  # no whole summary: the last step the run logged, if any
        final_step = max((steps[-1] for tag in curves.points if (steps := curves.steps(tag))), default=None)
    final_step = int(final_step) if final_step is not None else None
    poses = PoseErrors.of(evaluation)
    evaluated = {key: evaluation.get(key) for key in EVALUATION_SETTINGS} if evaluation else None
    extended = summary.get("extended_from")
    baselines = evaluation.get("baselines") if isinstance(evaluation.get("baselines"), dict) else None
    if config is None:
        return RunRow(str(run), unknown_variant(run), None, final_step, values, poses, evaluated, extended, baselines)
    seed = int(config["train"]["seed"])
    return RunRow(str(run), variant_name(config), seed, final_step, values, poses, evaluated, extended, baselines)


def _being_extended(row: RunRow, config: dict[str, Any] | None) -> bool:
    """A summary of fewer steps than the config asks for: a resume to a longer budget rewrote config.yaml at its
    start and writes summary.json at its end (a run that diverged writes none)."""
    budget = (config or {}).get("train", {}).get("max_steps")
    return isinstance(budget, int) and row.final_step is not None and row.final_step < budget


def comparability_warnings(rows: list[RunRow]) -> list[str]:
    """What makes these runs' numbers less comparable than they look: evaluations made with other settings
    (C2ST grows with the poses scored) or of an earlier step than the run's last; a run a resume lengthened;
    no run a better prior than a baseline (:func:`decisiveness_warnings`). (A repeated seed is left out before.)"""
    warnings = []
    evaluated = [row for row in rows if row.evaluated is not None]
    for key in EVALUATION_SETTINGS:
        listed = differing_values([(Path(row.run).name, row.evaluated[key]) for row in evaluated])
        if listed:
            if key == "task_poses_digest":  # the task poses alone: the other scores still compare
                legend = "; None: no per-pose errors, an older evaluation or task_poses 0" if any(
                    row.evaluated[key] is None for row in evaluated) else ""  # fmt: skip
                warnings.append(
                    f"the evaluations scored the prior's tasks on other poses ({listed}{legend}): their task scores "
                    "do not compare; `unet1d eval` them again"
                )
            else:
                warnings.append(
                    f"the evaluations differ in {key}: {listed}; their scores do not compare (the variants' means mix "
                    f"them): evaluate the odd runs again alike, e.g. `unet1d eval RUN{REDO.get(key, '')}`"
                )
    for row in rows:
        if row.extended_from is not None:
            warnings.append(
                f"{row.run} was trained for {row.extended_from} steps, then resumed to {row.final_step}: its "
                f"learning-rate schedule is not a {row.final_step}-step run's, so it does not compare as one"
            )
    for row in evaluated:
        step = row.evaluated.get("step")
        if step is not None and row.final_step is not None and step != row.final_step:
            warnings.append(f"{row.run}'s evaluation is of step {step}; the run ended at step {row.final_step}")
    warnings += decisiveness_warnings(rows)
    if evaluated:
        for row in rows:
            if row.evaluated is None:
                warnings.append(
                    f"{row.run} has no evaluation (--final_eval_samples 0, or it stopped before one): its quality "
                    f"and task scores are missing; `unet1d eval {row.run}` or `unet1d compare --eval` scores it"
                )
    return warnings


REDO = {
    "num_samples": " --num_samples N",
    "reference": " --reference REF",
    "weights": " (--raw for raw weights)",
    "sampler": " --sampler NAME",
    "sample_steps": " --sample_steps N",
}  # how `unet1d eval` sets each again


BASELINES_TO_BEAT = ("gaussian", "nearest")  # the evaluation's baselines that need no network
C2ST_CEILING = 0.99  # every run at or above it: the classifier tells them all from data, and them not apart


def decisiveness_warnings(rows: list[RunRow]) -> list[str]:
    """Where the runs' scores cannot decide between middles: every run a worse prior than a baseline that needs
    no network (a task score, :func:`worse_prior_warnings`), or every run at the classifier's ceiling. Both say:
    train longer first."""
    warnings = worse_prior_warnings(rows)
    c2st = [row.c2st_auc for row in rows if row.c2st_auc is not None]
    if len(c2st) > 1 and min(c2st) >= C2ST_CEILING:
        warnings.append(
            f"c2st_auc is at its ceiling in every run ({min(c2st):.3f}–{max(c2st):.3f}): the classifier tells "
            "every variant's samples from data and cannot tell the variants apart; train longer"
        )
    return warnings


def worse_prior_warnings(rows: list[RunRow]) -> list[str]:
    """A line per task score on which every run is a worse prior than a baseline that needs no network."""
    warnings = []
    for key in ("completion_cm", "denoise_cm"):
        pairs = [(getattr(row, key), _best_baseline(row, key)) for row in rows]
        pairs = [(score, best) for score, best in pairs if score is not None and best is not None]
        if pairs and all(score > best[1] for score, best in pairs):
            scores = [score for score, _ in pairs]
            best = min((best for _, best in pairs), key=lambda named: named[1])
            warnings.append(
                f"no run beats a baseline that needs no network on {key} (runs {min(scores):.2f}–{max(scores):.2f}; "
                f"{best[0]} {best[1]:.2f}): every variant is a worse prior than that, so which middle is better "
                "is not yet the question; train longer before comparing them"
            )
    return warnings


def _best_baseline(row: RunRow, key: str) -> tuple[str, float] | None:
    """The run's evaluation's best no-network baseline on ``key``: (name, score), None without one."""
    scores = [(name, (row.baselines or {}).get(name, {}).get(key)) for name in BASELINES_TO_BEAT]
    scores = [(name, score) for name, score in scores if isinstance(score, (int, float)) and math.isfinite(score)]
    return min(scores, key=lambda named: named[1]) if scores else None


def measurement_warnings(runs: list[Path], configs: list[dict | None]) -> list[str]:
    """Where runs differ in a :data:`MEASUREMENT_FIELDS` field: one variant's runs are alike in what they learn,
    but not in the numbers that field moves."""
    flats = [(run.name, flat_config(config)) for run, config in zip(runs, configs, strict=True) if config is not None]
    warnings = []
    for name, moved in MEASUREMENT_FIELDS.items():
        listed = differing_values([(run, flat.get(name)) for run, flat in flats])
        if listed:
            warnings.append(f"the runs differ in {name}: {listed}; {moved}")
    return warnings


def differing_values(values: list[tuple[str, object]]) -> str:
    """``"20 (a, b, c, ...); 1000 (d)"`` for (run name, value) pairs holding more than one value; else ``""``."""
    by_value: dict[str, list[str]] = {}
    for name, value in values:
        by_value.setdefault(str(value), []).append(name)
    if len(by_value) < 2:
        return ""
    return "; ".join(f"{value} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                     for value, names in by_value.items())  # fmt: skip


def evaluated_size(runs: list[Path]) -> int | None:
    """The poses the runs' latest evaluations scored, the most common count (None without any): what an
    evaluation of another of these runs must score for its C2ST to compare (it grows with the poses)."""
    sizes = [evaluation.get("num_samples") for run in runs if (evaluation := latest_eval(run)) is not None]
    counted = Counter(size for size in sizes if isinstance(size, int))
    return counted.most_common(1)[0][0] if counted else None


def unknown_variant(run: Path) -> str:
    """The variant of a run whose config is lost: its own, named after its folder."""
    return f"{Path(run).name} (config unknown)"


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
            summary.counted[column] = len(values)
        summaries.append(summary)
    return summaries


def compare_runs(paths: list[Path]) -> tuple[list[RunRow], list[VariantRow]]:
    runs = find_runs(paths)
    configs = [read_config(run) for run in runs]  # once per run: a damaged one is named once
    rows = [_row(run, config) for run, config in zip(runs, configs, strict=True)]
    extending = [i for i, (row, config) in enumerate(zip(rows, configs, strict=True)) if _being_extended(row, config)]
    for i in extending:  # its config names the new budget, its numbers are the old one's: neither variant's
        checkpoint_files.warn(
            f"'{rows[i].run}' ended at step {rows[i].final_step} and its config now asks for "
            f"{configs[i]['train']['max_steps']} (a resume under way, or stopped), left out: {UNFINISHED}"
        )
    runs, configs, rows = ([x for i, x in enumerate(seq) if i not in extending] for seq in (runs, configs, rows))
    if not rows:
        raise UserError("no finished run left to compare (each is being resumed to a longer budget)")
    known = [config for config in configs if config is not None]
    names = iter(variant_names(known))
    for row, config in zip(rows, configs, strict=True):
        row.variant = next(names) if config is not None else unknown_variant(Path(row.run))

    first: dict[tuple[str, int], str] = {}
    repeated = []
    for i, row in enumerate(rows):  # a repeated seed is not another sample: the first only, before any number
        if row.seed is not None and (row.variant, row.seed) in first:
            repeated.append(i)
            checkpoint_files.warn(
                f"{row.run} and {first[(row.variant, row.seed)]} are both seed {row.seed} of {row.variant}: a "
                f"repeated seed is not another sample (counted, its intervals would read too narrow): only "
                f"{first[(row.variant, row.seed)]} is counted"
            )
        elif row.seed is not None:
            first[(row.variant, row.seed)] = row.run
    runs, configs, rows = ([x for i, x in enumerate(seq) if i not in repeated] for seq in (runs, configs, rows))
    add_common_convergence(rows)
    for warning in [*comparability_warnings(rows), *measurement_warnings(runs, configs)]:
        checkpoint_files.warn(warning)
    return rows, summarize_variants(rows)


def write_json(path: Path, rows: list[RunRow], variants: list[VariantRow]) -> None:
    payload = {"runs": [r.to_dict() for r in rows], "variants": [asdict(v) for v in variants]}
    path.write_text(json.dumps(payload, indent=2) + "\n")


def format_cell(value: float | None, fmt: str, spread: float | None = None) -> str:
    if value is None:
        return "-"
    text = format_number(fmt, value)
    return f"{text} ± {format_number(fmt, spread)}" if spread is not None else text
