"""Every number a run or an evaluation reports, once: name, label, format, which way is better, what it means.

One table serves ``unet1d eval``'s lines, ``unet1d compare``'s columns (terminal, JSON, report,
plots, differences), the W&B report's bar panel, the "beats the Gaussian" verdict and the
README's key list (:func:`key_list`). To add a metric: compute it (``evaluation/quality.py``
``score`` for an eval metric, ``evaluation/tasks.py`` ``score_tasks`` for a task score,
``compare/runs.py`` ``read_run`` for a run metric) and add one :class:`Metric` line below; the
flags say where it shows. Nothing here imports anything but the standard library.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

Better = Literal["higher", "lower"] | None


@dataclass(frozen=True)
class Metric:
    name: str  # the key in eval/step-N.json, summary.json-derived rows and compare's JSON
    label: str  # a short heading (tables, figures)
    fmt: str  # str.format spec of one value
    better: Better  # which way is better; None where neither is (a count, a diversity to match)
    meaning: str  # one line for a person
    source: Literal["eval", "run"]  # eval: eval/step-N.json; run: summary.json and the TensorBoard curves
    eval_table: bool = False  # a line of `unet1d eval`'s table (model beside both baselines)
    compare: bool = False  # a column of `unet1d compare` (JSON, report, plots, differences)
    structure: bool = False  # judged in "beats the Gaussian" (structure-aware, so a blob cannot win it)
    decides: bool = False  # a score that decides between variants: `compare`'s terminal table leads with it
    task: bool = False  # a prior task score (evaluation/tasks.py: completion, denoising), not quality.score's

    def format(self, value: float | None) -> str:
        return "-" if value is None else format_number(self.fmt, value)


# What an evaluation's scores depend on besides the weights (keys of eval/step-N.json): reports that differ in
# these are different measurements (`unet1d eval` keeps the earlier one; `compare` warns).
EVALUATION_SETTINGS = (
    "num_samples",
    "reference",
    "weights",
    "sampler",
    "sample_steps",
    "task_poses_digest",
    "overrides",
)


# The validation losses a run logs: the raw weights' and the EMA's (the weights evaluation and sampling load).
VAL_LOSS, VAL_LOSS_EMA = "val/loss", "val/loss_ema"
TRAIN_LOSS = "train/loss"


def evaluated_val_loss(ema: bool) -> str:
    """The validation loss of the weights a run's evaluation loads: the EMA's where the run keeps one."""
    return VAL_LOSS_EMA if ema else VAL_LOSS


def format_number(fmt: str, value: float) -> str:
    """``fmt.format(value)``, without the minus of a value that rounds to zero ("-0.0" reads as a loss)."""
    text = fmt.format(value)
    return text[1:] if text.startswith("-") and not any(ch in "123456789" for ch in text) else text


def unit_share(metric: Metric) -> bool:
    """A share of poses or components, shown in %: its values lie in [0, 1], so its differences in [-1, 1]."""
    return "%" in metric.fmt


_E, _R = "eval", "run"
# The prior's tasks (unet1d.evaluation.tasks): DPoser's seven parts, and the noise levels in hundredths of a radian.
_PARTS = ("left_leg", "right_leg", "legs", "left_arm", "right_arm", "arms", "trunk")
_NOISE_LEVELS = ("010", "020")
_TASK = "held-out poses, heading removed, pelvis at the origin"
# Order: `eval`'s lines are the eval metrics in this order; compare's columns are the run metrics
# up to `seconds_to_common`, then the eval metrics, then the cost of the run.
METRICS: tuple[Metric, ...] = (
    Metric("num_parameters", "params", "{:,.0f}", None, "parameters of the network, all trained", _R, compare=True),
    Metric("final_train_loss", "train loss", "{:.4f}", "lower", "mean training loss of the last logged steps", _R,
           compare=True),
    Metric("final_val_loss", "val loss", "{:.4f}", "lower",
           "validation loss (unweighted denoising MSE) of the raw weights at the end (val/loss; `unet1d eval` scores "
           "the EMA's)", _R, compare=True),
    Metric("best_val_loss", "best val", "{:.4f}", "lower", "lowest validation loss of the raw weights logged", _R,
           compare=True),
    Metric("steps_to_common", "steps to common", "{:,.0f}", "lower",
           "steps to the first validation at or below the worst variant's mean final val loss", _R, compare=True),
    Metric("seconds_to_common", "s to common", "{:,.1f}", "lower",
           "seconds from the run's first logged event to that validation", _R, compare=True),
    Metric("precision", "precision", "{:.3f}", "higher", "share of samples on the data (k-NN)", _E,
           eval_table=True, compare=True, structure=True),
    Metric("recall", "recall", "{:.3f}", "higher", "share of the data the samples reach (k-NN; a diffuse blob "
           "reaches it too, so not in the verdict)", _E, eval_table=True, compare=True),
    Metric("density", "density", "{:.3f}", "higher", "k-NN density (~1 for real data)", _E, eval_table=True,
           structure=True),
    Metric("coverage", "coverage", "{:.3f}", "higher", "share of reference poses with a sample among their k-NN",
           _E, eval_table=True, structure=True),
    Metric("one_nn_accuracy", "1-NN accuracy", "{:.3f}", "lower",
           "1-NN two-sample accuracy: 0.5 = indistinguishable from data, 1 = separable", _E, eval_table=True,
           compare=True, structure=True),
    Metric("dnn_rad", "dNN rad", "{:.3f}", "lower", "mean geodesic distance to the nearest training pose", _E,
           eval_table=True, compare=True, structure=True),
    Metric("apd_cm", "APD cm", "{:.1f}", None, "mean pairwise joint distance (diversity; the data's is the aim)",
           _E, eval_table=True, compare=True),
    Metric("c2st_auc", "C2ST AUC", "{:.3f}", "lower", "classifier two-sample test: a gradient-boosted classifier's "
           "held-out ROC AUC at telling samples from real poses (0.5 = indistinguishable, 1 = separable)", _E,
           eval_table=True, compare=True, structure=True, decides=True),
    *(Metric(f"c2st_auc_{part}", f"  {part}", "{:.3f}", "lower", f"the same test on the {part.replace('_', ' and ')} "
             "joints alone", _E, eval_table=True, compare=True) for part in ("root", "legs", "arms", "spine_head")),
    Metric("completion_cm", "completion cm", "{:.2f}", "lower", "a hidden part completed from the rest of the "
           f"pose: MPJPE (cm) of the part's joints, mean of the hypotheses' errors, mean over the 7 parts ({_TASK})",
           _E, eval_table=True, compare=True, decides=True, task=True),
    *(Metric(f"completion_cm_{part}", f"  {part.replace('_', ' ')} cm", "{:.2f}", "lower", f"the same with the "
             f"{part.replace('_', ' ')} hidden", _E, eval_table=True, compare=True, task=True) for part in _PARTS),
    Metric("completion_best_cm", "completion best", "{:.2f}", "lower", "completion error of the best of the "
           "hypotheses (an oracle's pick: rewards diverse, plausible guesses), mean over the 7 parts", _E,
           eval_table=True, compare=True, decides=True, task=True),
    *(Metric(f"completion_best_cm_{part}", f"  best {part.replace('_', ' ')}", "{:.2f}", "lower", f"the same with "
             f"the {part.replace('_', ' ')} hidden", _E, eval_table=True, task=True) for part in _PARTS),
    Metric("denoise_cm", "denoise cm", "{:.2f}", "lower", "a pose with Gaussian noise on every axis-angle number, "
           "denoised (the rotation mean of 10 draws): MPJPE (cm) of all joints, mean over the noise levels 0.1 and "
           f"0.2 rad ({_TASK})", _E,
           eval_table=True, compare=True, decides=True, task=True),
    *(Metric(f"denoise_cm_{level}", f"  at 0.{level[1:]} rad", "{:.2f}", "lower", f"the same at noise std "
             f"0.{level[1:]} rad", _E, eval_table=True, task=True) for level in _NOISE_LEVELS),
    Metric("upright", "upright", "{:.1%}", "higher", "share of poses whose body up is within 30 deg of the data's up "
           "axis", _E, eval_table=True, compare=True),
    Metric("memorisation", "memorisation", "{:.3f}", "lower", "share of samples closer to a training pose than "
           "training poses are to other takes (--reference train; base rate 0.10)", _E, eval_table=True),
    Metric("constant_components", "still parts", "{:.0f}", None, "angle components that never move in the training "
           "data (judged apart from the limits)", _E),
    Metric("constant_off", "still parts off", "{:.1%}", "lower", "samples moving a part that never moves in "
           "training (e.g. SMPL hands from SMPL-H)", _E, eval_table=True),
    Metric("poses_outside_limits_tol", "outside limits", "{:.1%}", "lower",
           "poses with an angle past a joint limit by more than 0.05 rad", _E, eval_table=True, compare=True,
           structure=True),
    Metric("poses_outside_limits", "outside (any)", "{:.1%}", "lower", "poses with any angle past a limit", _E,
           eval_table=True),
    Metric("frechet_distance", "FD", "{:.3f}", "lower", "Fréchet distance of Gaussian fits (favours a Gaussian)",
           _E, eval_table=True, compare=True),
    Metric("mmd", "MMD", "{:.5f}", "lower", "RBF maximum mean discrepancy", _E, eval_table=True),
    Metric("diversity_ratio", "diversity", "{:.3f}", None, "mean pairwise distance vs the data's (1 = as varied)",
           _E, eval_table=True),
    Metric("family_share_error", "family error", "{:.1%}", "lower",
           "largest gap between a family's share and the data's (built-in data)", _E, eval_table=True, compare=True),
    Metric("family_coverage", "families", "{:.0%}", "higher", "share of families the samples reach (built-in data)",
           _E),
    Metric("limit_violation_rate", "violations", "{:.2%}", "lower", "share of all angle components past a limit",
           _E),
    Metric("limit_excess_rad", "excess rad", "{:.3f}", "lower",
           "mean distance past the limit of the components outside", _E),
    Metric("knn_k", "k", "{:.0f}", None, "neighbours k of the k-NN scores (fewer for a probe's few hundred poses)",
           _E),
    Metric("wall_time_s", "time s", "{:,.1f}", "lower", "training time of all sessions", _R, compare=True),
    Metric("samples_per_s", "samples/s", "{:,.0f}", "higher",
           "training poses per second of training time (its validations, probes and saves included)", _R, compare=True),
    Metric("peak_memory_mb", "peak MiB", "{:,.0f}", "lower", "peak memory of the training process", _R,
           compare=True),
    Metric("model_size_mb", "disk MiB", "{:.2f}", "lower", "size of the raw weights on disk (MiB: 2^20 bytes)", _R,
           compare=True),
)  # fmt: skip
BY_NAME: dict[str, Metric] = {metric.name: metric for metric in METRICS}


# What a training run logs under train/ besides the names below that follow its config (docs/usage.md's list).
TRAIN_SCALARS = ("loss", "lr", "grad_norm", "param_norm", "samples_per_s", "step_time_s", "epoch", "epoch_time_s",
                 "peak_memory_mb", "nonfinite_steps", "scaler_skips", "model_size_mb", "num_parameters")  # fmt: skip
TIMESTEP_BUCKETS = 4  # train/loss_t<lo>-<hi>: equal slices of the timesteps


def timestep_bucket_names(num_timesteps: int, buckets: int = TIMESTEP_BUCKETS) -> list[str]:
    """``train/loss_t0-249`` ...: bucket b holds t with floor(t * buckets / T) == b."""
    count = min(buckets, num_timesteps)
    edges = [-(-i * num_timesteps // count) for i in range(count + 1)]
    return [f"train/loss_t{lo}-{hi - 1}" for lo, hi in itertools.pairwise(edges)]


def block_names(stages: int) -> list[str]:
    """The network's parts whose gradient norms are logged (train/grad_norm/<name>), for ``stages`` stages."""
    return ["time_embed", "input", *(f"down{i}" for i in range(stages)), "mid", *(f"up{i}" for i in range(stages - 1)),
            "output"]  # fmt: skip


def eval_metrics() -> list[Metric]:
    """What an evaluation reports (eval/step-N.json), in the table's order."""
    return [m for m in METRICS if m.source == "eval"]


def eval_table() -> list[Metric]:
    return [m for m in METRICS if m.eval_table]


def compare_columns() -> list[Metric]:
    return [m for m in METRICS if m.compare]


def deciding_metrics() -> list[Metric]:
    """The scores that decide between variants (the classifier test, the prior's task scores), in order."""
    return [m for m in METRICS if m.decides]


def task_metrics() -> list[Metric]:
    """The prior's task scores (completion, denoising): an evaluation writes them unless task_poses is 0."""
    return [m for m in METRICS if m.task]


def structure_metrics() -> list[Metric]:
    """The structure-aware scores "beats the Gaussian" is judged on."""
    return [m for m in METRICS if m.structure]


def better_than(metric: Metric, value: float, other: float) -> bool:
    """Whether ``value`` is better than ``other`` in ``metric`` (which must have a direction)."""
    if metric.better is None:
        raise ValueError(f"{metric.name} has no better direction")
    return value > other if metric.better == "higher" else value < other


def key_list(metrics: list[Metric] | None = None) -> str:
    """The README's key list: one markdown line per eval key, its meaning and which way is better."""
    lines = []
    for m in eval_metrics() if metrics is None else metrics:
        direction = f"; {m.better} is better" if m.better else ""
        verdict = "; in the Gaussian verdict" if m.structure else ""
        lines.append(f"- `{m.name}` ({m.label}): {m.meaning}{direction}{verdict}")
    return "\n".join(lines)
