"""Evaluate a checkpoint: draw poses with its sampler settings, score them beside the two baselines.

Everything comes from the checkpoint directory (config, normalisation statistics, weights), so
``unet1d eval runs/x`` needs no other flag; any config field may be overridden for the sampling
(``--sampler ddpm``, ``--sample_steps 20``, ``--clip_x0 null``). Scores come from
:mod:`unet1d.evaluation.quality`: one feature space, a reference that is the distribution, and
the ``data`` and ``gaussian`` baselines scored the same way.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from unet1d.atomic_files import write_text_atomically
from unet1d.config_sources import env_overrides, parse_overrides, with_overrides
from unet1d.data import load_pose_data
from unet1d.data.up_axis import run_up_axis
from unet1d.diffusion import NoiseSchedule
from unet1d.diffusion.validation import validation_loss, validation_seed, validation_subset
from unet1d.errors import UserError
from unet1d.evaluation import c2st, quality, side_by_side, tasks
from unet1d.evaluation.figures import pose_figure
from unet1d.evaluation.sampling import sample_poses, start_sampling
from unet1d.evaluation.timing import StageClock
from unet1d.metric_registry import EVALUATION_SETTINGS
from unet1d.precision import (
    autocast,
    precision_label,
    resolve_device,
    resolve_precision,
    runnable_precision,
    sampling_precision,
)
from unet1d.prior import PosePrior
from unet1d.store.checkpoints import CONFIG_FILE, load_for_eval
from unet1d.store.rundir import EVAL_DIR

if TYPE_CHECKING:
    from unet1d.config import Config
    from unet1d.store.checkpoints import EvalCheckpoint


@dataclass
class EvalReport:
    """Sample quality of one checkpoint; the numbers `unet1d compare` lines up (keys listed in the README)."""

    checkpoint: str
    step: int
    weights: str  # "ema" or "raw"
    sampler: str
    sample_steps: int
    num_samples: int
    reference: str  # "builtin-fresh", "val", "train" or a path
    val_loss: float
    scores: dict[str, Any]
    baselines: dict[str, dict[str, Any]]
    sample_seconds: float
    eval_seconds: float
    overrides: list[str] = field(default_factory=list)
    verdict_withheld: str | None = None  # why no verdict can be given against this reference (quality.verdict_withheld)
    compute_dtype: str = "fp32"  # the network's arithmetic while sampling: fp32, bf16 or fp16 (not the metric)
    task_seconds: float = 0.0  # the prior's task scores (completion, denoising) and their baselines; 0 when off
    stage_seconds: dict[str, float] = field(default_factory=dict)  # wall seconds of each stage, in order (timing.py)
    notes: list[str] = field(default_factory=list)  # what was done to the poses given (turned into the run's world)
    seed: int = 0  # the samples' and the scores' draws (`unet1d eval --seed`; the end of training's is 0)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON: the model's scores at the top level, baselines and verdicts beside them."""

        payload = asdict(self)
        scores = payload.pop("scores")
        payload.update(scores)
        payload["beats_gaussian"] = quality.beats(scores, self.baselines["gaussian"])
        payload["uninformative"] = quality.uninformative(self.baselines)  # left out of the verdict's count
        payload["verdict_withheld"] = self.verdict_withheld
        return payload

    def default_path(self) -> Path:
        """``<run>/eval/step-N.json``, beside the run's checkpoints, where `compare` looks."""
        return Path(self.checkpoint).parent.parent / EVAL_DIR / f"step-{self.step}.json"

    def save(self, out: Path | None = None) -> Path:
        """Write the JSON report to :meth:`default_path` or ``out``."""
        path = out or self.default_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(path, json.dumps(self.to_dict(), indent=2) + "\n")  # compare may read it meanwhile
        return path


def keep_earlier(path: Path, payload: dict[str, Any]) -> Path | None:
    """Move the report at ``path`` (and its figure) to ``step-N.K.json`` when it was made with other settings
    than ``payload``; where it went, or None (no report there, a damaged one, or the same settings). So
    `unet1d eval` at other settings does not replace the end of training's evaluation, which summary.json
    quotes; `compare` reads ``step-N.json``, the newest."""
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(earlier, dict) or (
        all(earlier.get(key) == payload.get(key) for key in EVALUATION_SETTINGS)
        and earlier.get("seed", 0) == payload.get("seed", 0)  # another draw is another evaluation (before: seed 0)
    ):
        return None
    number = 1
    while path.with_name(f"{path.stem}.{number}.json").exists():
        number += 1
    kept = path.with_name(f"{path.stem}.{number}.json")
    path.rename(kept)
    if path.with_suffix(".png").exists():
        path.with_suffix(".png").rename(kept.with_suffix(".png"))
    return kept


def save_figure(report: EvalReport, samples: np.ndarray, reference: Any, out: Path | None = None) -> Path:
    """The report's picture (``step-N.png`` beside its JSON): samples beside reference poses."""

    path = (out or report.default_path()).with_suffix(".png")
    title = f"{Path(report.checkpoint).parent.parent.name} step {report.step}: {report.sampler} {report.sample_steps}"
    return pose_figure(samples, reference.poses[: len(samples)], path, title, getattr(reference, "up_axis", "y"))


def draw_samples(
    checkpoint: EvalCheckpoint, num_samples: int, *, seed: int, device: torch.device, ema: bool = True
) -> np.ndarray:
    """(num_samples, D) poses in radians from a checkpoint (:class:`EvalCheckpoint`), reproducible by seed."""
    network = checkpoint.build_model(ema=ema, device=device)
    return sample_poses(network, checkpoint.config, checkpoint.stats, num_samples, seed=seed, device=device)


# What an evaluation may change: how it samples and what it scores against; the network and its training are the run's.
EVAL_OVERRIDE_SECTIONS = ("diffusion", "data", "evaluation")
# Fields of those sections the network learned with: its noise levels and target, width, statistics, heading, world
LEARNED_FIELDS = (
    "diffusion.num_timesteps",
    "diffusion.schedule",
    "diffusion.prediction",
    "data.representation",
    "data.pose_format",
    "data.normalize",
    "data.heading",
    "data.up_axis",  # the world its statistics and heading are of: another read its samples lying down
)


def evaluation_field(path: str) -> bool:
    """Whether an evaluation may change the config field ``path`` (``diffusion.sampler``): not what was learned."""
    return path.split(".")[0] in EVAL_OVERRIDE_SECTIONS and path not in LEARNED_FIELDS


def apply_overrides(
    checkpoint: EvalCheckpoint, overrides: list[str], environ: Mapping[str, str] | None = None
) -> list[str]:
    """Replace the checkpoint's config by one with ``--name value`` overrides of :data:`EVAL_OVERRIDE_SECTIONS`,
    over ``UNET1D_*`` variables of the environment naming such fields (those naming others, a training's
    ``UNET1D_OUTPUT_DIR`` say, are the training's; a name of no field is an error, as everywhere);
    -> the settings that changed a value, each as ``--field``, its resolved value, in field order: one that repeats
    the run's own changes nothing, and a report that records it would read as made with other settings."""

    env = [item for item in env_overrides(os.environ if environ is None else environ) if evaluation_field(item[0])]
    if not overrides and not env:
        return []
    parsed = parse_overrides(overrides)
    refused = [flag for path, _, flag in parsed if not evaluation_field(path)]
    threads = [flag for path, _, flag in parsed if path == "train.threads"]
    if threads:  # no result of the run's: the evaluation lays out its own threads beside its classifier processes
        raise UserError(
            f"{threads[0]}: a training setting; an evaluation sets its threads itself (one or two, beside its "
            "classifier's processes): bound the whole command with OMP_NUM_THREADS=N instead"
        )
    if refused:
        raise UserError(
            f"{', '.join(refused)}: not a setting an evaluation can change (the network and its training are the "
            "run's); allowed: evaluation fields, the sampler's (sampler, sample_steps, eta, clip_x0, "
            "sample_precision) and data fields but representation, pose_format, normalize, heading and up_axis"
        )
    before = checkpoint.config.flat()
    origin = f"{checkpoint.path}/{CONFIG_FILE}"
    checkpoint.config = with_overrides(checkpoint.config, overrides, origin=origin, environ=env)
    after = checkpoint.config.flat()
    flagged = {path for path, _, _ in parsed}  # a flag wins over the environment: it is the one recorded

    # where caches are kept changes no score: a report recording it would read as made with other settings
    changed = sorted(
        path for path in {*flagged, *(path for path, _, _ in env)}
        if before.get(path) != after.get(path) and path not in ("data.cache", "data.cache_dir")
    )  # fmt: skip
    # each as its flag and resolved value, in one order: the same settings read alike however they were given
    return [token for path in changed for token in (_flag(path), _value_text(after[path]))]


def _flag(path: str) -> str:
    return f"--{path.split('.')[1]}"


def _value_text(value: Any) -> str:
    """A resolved field's value as a flag takes it (``null`` for None)."""
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _from_environment(overrides: list[str], effective: list[str]) -> list[str]:
    """The notes naming the settings of ``effective`` that came from ``UNET1D_*`` variables, not from flags."""
    flagged = {path for path, _, _ in parse_overrides(overrides)}
    return [f"{source.removeprefix('environment variable ')}={raw}: from the environment"
            for path, raw, source in env_overrides(os.environ)
            if evaluation_field(path) and path not in flagged and _flag(path) in effective]  # fmt: skip


def evaluate(
    path: str | Path,
    *,
    num_samples: int,
    seed: int = 0,
    device: str = "auto",
    ema: bool = True,
    reference: str | None = None,
    overrides: list[str] | None = None,
) -> tuple[EvalReport, np.ndarray, quality.Reference]:
    """Sample from the checkpoint at ``path`` (a run directory means its latest) and score the samples.

    Returns the report, the samples (radians) and the reference they were scored against.
    """

    started = time.perf_counter()
    checkpoint = load_for_eval(path)
    trained_on = checkpoint.config.data.data
    effective = apply_overrides(checkpoint, overrides or [])
    config = checkpoint.config
    torch_device = resolve_device(device)
    world = run_up_axis(config.data, checkpoint.stats)  # --data of another world is turned into the run's
    # a run's own up_axis said what its training files were; other --data says its own world, as auto reads it
    data = config.data if config.data.data == trained_on else config.data.model_copy(update={"up_axis": "auto"})
    splits = load_pose_data(data, config.model.pose_dim, seed=config.data.data_seed, world=world)
    ref = quality.build_reference(config, splits, reference or config.evaluation.eval_reference)

    # With the fold processes beside it (the eval command), this process's torch keeps to one thread: the
    # other core has the processes' work (docs/speed.md, "The evaluation": two torch threads beside any
    # other busy thread wait at every barrier, 6x slower than one). The same numbers on one thread or two.
    # When the machine is idle its two threads scale well and the layout in turn is the quicker (machine_busy).
    one_thread = (
        c2st.fold_processes() is not None
        and torch_device.type == "cpu"
        and side_by_side.machine_busy(c2st.fold_process_ids())
    )
    with side_by_side.torch_threads(side_by_side.THREADS if one_thread else None):
        network = checkpoint.build_model(ema=ema, device=torch_device)
        loss = math.nan  # a run with no validation poses (val_fraction 0) has no val loss, as in training
        if len(splits.val) >= 2:
            normalised = validation_subset(
                torch.as_tensor(checkpoint.stats.normalize(splits.val), device=torch_device), config.train.val_max_poses
            )
            # the draws of the training loop's rank 0, in its precision: the number its val/loss_ema reported
            schedule = NoiseSchedule.from_config(config.diffusion)
            trained_in = runnable_precision(resolve_precision(config.train.mixed_precision, torch_device), torch_device)
            loss = validation_loss(
                network, schedule, normalised, prediction=config.diffusion.prediction,
                seed=validation_seed(config.train.seed), autocast=partial(autocast, trained_in, torch_device),
            )  # fmt: skip
        report, samples = score_network(
            network, config, checkpoint.stats, ref, num_samples, seed=seed, device=torch_device,
            checkpoint=checkpoint.path, step=checkpoint.step,
            weights="ema" if ema and checkpoint.ema_weights is not None else "raw", val_loss=loss, started=started,
            side_by_side_layout=one_thread,
        )  # fmt: skip
    report.overrides = effective
    report.notes += _from_environment(overrides or [], effective)
    if splits.turned_from:
        report.notes.append(f"--data {data.data}: {splits.turned_from}-up, turned into this run's {world}-up world")
    if ref.turned_from:
        report.notes.append(f"--reference {ref.name}: {ref.turned_from}, turned into this run's {world}-up world")
    return report, samples, ref


def score_network(
    network: torch.nn.Module,
    config: Config,
    stats: Any,
    reference: quality.Reference,
    num_samples: int,
    *,
    seed: int,
    device: torch.device,
    checkpoint: Path,
    step: int,
    weights: str,
    val_loss: float,
    started: float,
    side_by_side_layout: bool = False,
) -> tuple[EvalReport, np.ndarray]:
    """Draw ``num_samples`` poses from ``network`` and score them beside both baselines.

    The one path from weights to a report: ``unet1d eval`` and the end of training both take it.
    ``started`` is when the caller's evaluation began (``time.perf_counter()``), for ``eval_seconds``.
    ``side_by_side_layout`` (the eval command on a busy machine, its fold processes running): the work
    laid out side by side (:func:`_score_side_by_side`); else in turn, the folds in the fold processes
    or threads. The same numbers (but see side_by_side.py on gradients and threads).
    """

    clock = StageClock(started)
    clock.mark("load, reference, val loss")  # everything the caller did before: load, data, reference, val loss
    score = _score_side_by_side if side_by_side_layout and c2st.fold_processes() is not None else _score_in_turn
    samples, scores, baselines, task_seconds = score(
        network, config, stats, reference, num_samples, seed=seed, device=device, clock=clock
    )
    report = EvalReport(
        checkpoint=str(checkpoint), step=step, weights=weights, sampler=config.diffusion.sampler,
        sample_steps=config.diffusion.sampling_steps, num_samples=num_samples, reference=reference.name,
        val_loss=val_loss, scores=scores, baselines=baselines,
        sample_seconds=clock.seconds["sampling"] + clock.seconds.get("sampling wait", 0.0), eval_seconds=0.0,
        compute_dtype=precision_label(sampling_precision(config, device)), task_seconds=task_seconds,
        stage_seconds=clock.seconds, seed=seed,
    )  # fmt: skip
    report.verdict_withheld = quality.verdict_withheld(reference, report.baselines)
    report.eval_seconds = time.perf_counter() - started
    return report, samples


Scored = tuple[np.ndarray, dict[str, Any], dict[str, dict[str, Any]], float]  # samples, scores, baselines, task s


def _score_in_turn(
    network: torch.nn.Module,
    config: Config,
    stats: Any,
    reference: quality.Reference,
    num_samples: int,
    *,
    seed: int,
    device: torch.device,
    clock: StageClock,
) -> Scored:
    """One stage after another in this process, the classifier folds in the fold processes (the eval and train
    commands) or threads (library callers) beside the other scores: sampling on the caller's torch threads alone."""
    samples = sample_poses(network, config, stats, num_samples, seed=seed, device=device)
    clock.mark("sampling")
    with c2st.classifier_pool() as pool:  # the model's classifier folds and the baselines' share the cores
        finish = quality.start_score(samples, reference, pool, seed=seed)
        clock.mark("scores")
        baselines = quality.baselines(reference, num_samples, seed=seed, pool=pool)
        clock.mark("baselines")
        scores = finish()
        clock.mark("classifier wait")
    task_seconds = 0.0
    if config.evaluation.task_poses > 0:  # the prior at work: completion and denoising, beside two baselines
        ours, task_baselines = score_tasks(network, config, stats, reference, seed=seed, device=device)
        _merge_tasks(scores, baselines, ours, task_baselines)
        task_seconds = clock.mark("tasks")
    return samples, scores, baselines, task_seconds


def _score_side_by_side(
    network: torch.nn.Module,
    config: Config,
    stats: Any,
    reference: quality.Reference,
    num_samples: int,
    *,
    seed: int,
    device: torch.device,
    clock: StageClock,
) -> Scored:
    """The eval command's layout (:mod:`unet1d.evaluation.side_by_side`), every process on one thread so none
    waits on another's barrier. On the CPU the task scores go to one fold process and the later half of
    the sampling to the other; this process samples the earlier half, then scores the baselines (or reads
    them back) and hands their classifier folds over; then the model's scores, its folds handed over too.

    Stages: ``sampling`` (this process's half), ``baselines``, ``sampling wait`` (for the other half),
    ``scores``, ``classifier wait`` and ``tasks wait``; the tasks' own seconds are the report's ``task_seconds``."""
    processes = c2st.fold_processes()
    assert processes is not None, "side by side needs c2st.start_fold_workers()"
    tasks_done = (
        start_task_scores(network, config, stats, reference, seed=seed, device=device, pool=processes)
        if config.evaluation.task_poses > 0
        else None
    )
    with c2st.classifier_pool() as pool:  # the fold processes; this process's BLAS and OpenMP on one thread
        sampled = start_sampling(network, config, stats, num_samples, seed=seed, device=device, pool=pool)
        clock.mark("sampling")
        baselines_done = quality.start_baselines(reference, num_samples, seed, pool)
        clock.mark("baselines")
        samples = sampled()
        clock.mark("sampling wait")
        finish = quality.start_score(samples, reference, pool, seed=seed)
        clock.mark("scores")
        baselines = baselines_done()
        scores = finish()
        clock.mark("classifier wait")
    task_seconds = 0.0
    if tasks_done is not None:
        ours, task_baselines, task_seconds = tasks_done()
        _merge_tasks(scores, baselines, ours, task_baselines)
        clock.mark("tasks wait")
    return samples, scores, baselines, task_seconds


def _merge_tasks(
    scores: dict[str, Any], baselines: dict[str, dict[str, Any]], ours: dict[str, Any], task_baselines: dict
) -> None:
    """The task scores into the report's: the model's beside its own, the baselines' beside theirs."""
    scores.update(ours)
    baselines["gaussian"] = {**baselines["gaussian"], **task_baselines["gaussian"]}  # after the cached scores
    baselines["nearest"] = task_baselines["nearest"]


def score_tasks(
    network: torch.nn.Module,
    config: Config,
    stats: Any,
    reference: tasks.TaskReference,
    *,
    seed: int,
    device: torch.device,
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """The prior's task scores (:mod:`unet1d.evaluation.tasks`) of ``network`` on ``evaluation.task_poses`` held-out
    poses of ``reference``, and the ``gaussian`` and ``nearest`` baselines' on the same poses."""

    prior = PosePrior(network, config, stats, device, input_warnings=False)  # the run's own held-out poses
    return tasks.score_tasks(prior, reference, config.evaluation.task_poses, seed=seed)


TaskResult = tuple[dict[str, Any], dict[str, dict[str, float]], float]  # the model's, the baselines', seconds


def start_task_scores(
    network: torch.nn.Module,
    config: Config,
    stats: Any,
    reference: quality.Reference,
    *,
    seed: int,
    device: torch.device,
    pool: Executor | None,
) -> Callable[[], TaskResult]:
    """:func:`score_tasks` begun in a process of ``pool`` (on the CPU, the network sent pickled, run on one
    torch thread there: the same numbers), else in this process when the result is asked for.

    Only the task poses, the training poses and the up axis travel (:class:`tasks.TaskPoses`)."""
    inputs = tasks.TaskPoses.of(reference, config.evaluation.task_poses, seed)
    if pool is None or device.type != "cpu":
        return lambda: _timed_task_scores(network, config, stats, inputs, seed, device)
    future = pool.submit(_task_scores_in_process, side_by_side.pack(network), config, stats, inputs, seed)
    return future.result


def _timed_task_scores(
    network: torch.nn.Module, config: Config, stats: Any, inputs: tasks.TaskPoses, seed: int, device: torch.device
) -> TaskResult:
    started = time.perf_counter()
    ours, baselines = score_tasks(network, config, stats, inputs, seed=seed, device=device)
    return ours, baselines, time.perf_counter() - started


def _task_scores_in_process(
    network: bytes, config: Config, stats: Any, inputs: tasks.TaskPoses, seed: int
) -> TaskResult:
    """A fold process's share of an eval: the task scores, on one thread (:func:`side_by_side.one_thread`)."""
    with side_by_side.one_thread():
        return _timed_task_scores(side_by_side.unpack(network), config, stats, inputs, seed, torch.device("cpu"))
