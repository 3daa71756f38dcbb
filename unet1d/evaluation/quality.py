"""Sample quality against a reference, with the two baselines every score is read beside.

One scoring function serves ``unet1d eval``, the periodic probe during training and the
baselines, so their numbers are comparable:

* **Reference.** On built-in data, a fresh draw from the generator (another seed, one frame from
  each of 10,000 new clips), so the reference is the distribution rather than a few held-out
  clips whose frames cluster (clusters make nearest-neighbour scores tell sets apart). On
  file data, the held-out files. ``--reference val|train|PATH`` overrides.
* **Limits.** The generator's ranges on built-in data; human joint limits (:mod:`unet1d.body.limits`)
  on file data. Components that never move in training (SMPL's hands after SMPL-H -> SMPL) are left
  out of them and scored on a line of their own (``constant_off``).
* **Verdict.** Withheld (``verdict_withheld`` says why) when the reference is too small or the data
  baseline itself does not beat the Gaussian: then no model could be judged against it.
* **Baselines.** ``data``: independent real poses scored like samples (a second fresh draw, or
  the training poses against held-out files): the best a model can do. ``gaussian``: a
  full-covariance Gaussian fitted to the training poses: what a model with no structure gets.
* **Feature space.** Distances are taken on poses turned to heading 0 about the data's own up axis
  (heading is a nuisance; see :mod:`unet1d.body.heading` and :func:`heading_free`) and standardised
  with the training split's statistics in that space, so every run, whatever its own normalisation
  or heading choice, is scored in one space.
  Nearest-neighbour scores use a reference subset the size of the sample set (they assume equal
  sizes); FD uses the whole reference.

Shapes: pose sets are (N, D) axis-angle radians, D = 72 (SMPL) or 63 (body only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from unet1d.body.heading import canonical_heading, change_up_axis, has_root, random_heading, upright_share
from unet1d.body.kinematics import forward_kinematics
from unet1d.body.limits import LIMIT_TOLERANCE, constant_components, human_limits_for_width
from unet1d.body.rotations import axis_angle_to_quaternion
from unet1d.body.skeleton import BODY_JOINT_NAMES, JOINT_NAMES, limits_for_width
from unet1d.config import MIN_EVAL_SAMPLES
from unet1d.data.builtin import CLIP_FRAMES, FAMILY_NAMES
from unet1d.data.builtin_cache import cached_builtin_poses
from unet1d.data.cache import configured_cache_dir
from unet1d.data.files import read_pose_path
from unet1d.data.formats import BODY_COLUMNS
from unet1d.data.loading import is_builtin, mixed_worlds
from unet1d.data.normalization import NormStats
from unet1d.data.sequences import stated_up_axis
from unet1d.errors import UserError
from unet1d.evaluation import c2st, metrics
from unet1d.evaluation.baseline_cache import start_cached_baselines
from unet1d.evaluation.c2st import JITTER_RAD
from unet1d.evaluation.memorisation import memorisation_score, memorisation_threshold
from unet1d.metric_registry import BY_NAME, better_than, structure_metrics

if TYPE_CHECKING:
    from unet1d.config import Config
    from unet1d.data.loading import PoseSplits

REFERENCE_POSES = 10_000  # one random frame from each of as many fresh clips: frames of a clip are near-copies
REFERENCE_SEED_OFFSET = 1 << 32  # fresh draws never reuse a training data_seed's poses
DNN_TRAIN_CAP = 20_000  # nearest-training-pose search over at most this many poses
KNN_K = 20  # neighbours for precision/recall: with k = 5 two draws of the data score only ~0.83 in 72 dims
MIN_REFERENCE = 1000  # fewer reference poses than this and the verdict is withheld
# The data baseline must beat the Gaussian on most of these, or the reference cannot tell a model from a blob.
VERDICT_METRICS = ("precision", "density", "coverage", "one_nn_accuracy")
# The baselines' classifier test by body part too? Off: each part test costs the CPU of another whole-body
# test, and a first `unet1d eval` scores two baselines; the model's parts are compared with 0.5 (chance).
BASELINE_PARTS = False
# What "beats the Gaussian" is judged on: the registry's structure-aware scores (unet1d.metric_registry,
# `structure=True`). Recall is reported but left out: its balls around each *sample* grow with the
# samples' spread, so a diffuse blob reaches the data by construction (the Gaussian baseline scores
# 0.94, the data 0.98); coverage asks the same question with the reference's own balls (Naeem et al.
# 2020) and is in.
REFERENCE_CHOICES = "auto, val, train, or a path to pose files"


@dataclass
class Reference:
    """What samples are scored against, prepared once (an eval, or a training run's probe)."""

    name: str  # "builtin-fresh", "val", "train" or a path
    poses: np.ndarray  # (M, D) radians
    floor_name: str  # where the `data` baseline's poses come from
    floor: np.ndarray  # (F, D) real poses independent of `poses`
    train: np.ndarray  # (T, D) training poses: the Gaussian baseline's fit, nearest-pose distances
    limits: np.ndarray  # (D, 2) per-component bounds, radians
    limits_kind: str  # "generator ranges" (built-in) or "human limits" (file data)
    labels: np.ndarray | None = None  # built-in family of each reference pose
    family_names: list[str] | None = None
    up_axis: str = "y"  # the data's world up: heading is removed about it
    train_groups: np.ndarray | None = None  # sequence id per training pose (memorisation's threshold)
    constant: np.ndarray | None = None  # (D,) bool: components that never move in training
    c2st_jitter: float = JITTER_RAD  # evaluation.c2st_jitter
    cache_dir: Path | None = None  # where the baselines' scores are kept (data.cache_dir); None = never kept
    turned_from: str = ""  # the other world's files among a path's (e.g. "z-up: 3 AMASS takes"), turned to up_axis
    feature_stats: NormStats = field(init=False)  # the training split, heading removed: the evaluation space
    train_quaternions: np.ndarray = field(init=False, repr=False)
    pose_features: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.feature_stats = NormStats.fit(heading_free(self.train, self.up_axis))
        capped = self.train[_pick(len(self.train), DNN_TRAIN_CAP, seed=0)]
        self.train_quaternions = body_quaternions(capped)
        self.pose_features = self.to_features(self.poses)
        if self.constant is None:
            self.constant = constant_components(self.train)
        self._memorisation_tau: float | None = None

    def to_features(self, poses: np.ndarray) -> np.ndarray:
        """Radians -> the evaluation space: heading removed, standardised by the training statistics."""
        return self.feature_stats.normalize(heading_free(poses, self.up_axis)).astype(np.float64)

    def memorisation(self, features: np.ndarray) -> float | None:
        """See :mod:`unet1d.evaluation.memorisation`; the threshold is computed once. None where the training poses
        are one sequence: no pose of another sequence to set the threshold by."""
        train = self.to_features(self.train)
        if self._memorisation_tau is None:
            self._memorisation_tau = memorisation_threshold(train, self.train_groups)
        if np.isnan(self._memorisation_tau):
            return None
        return memorisation_score(features, train, self._memorisation_tau)

    @property
    def family_shares(self) -> np.ndarray | None:
        if self.labels is None or self.family_names is None:
            return None
        return np.bincount(self.labels, minlength=len(self.family_names)) / len(self.labels)


def heading_free(poses: np.ndarray, up_axis: str = "y") -> np.ndarray:
    """(N, D) poses turned to heading 0 about ``up_axis`` ("y" or "z"), float32: the evaluation's view of a pose
    (heading is a nuisance). Body-only poses pass through. Any scorer of pose sets should start here."""
    return canonical_heading(poses, up_axis)


def _pick(total: int, count: int, seed: int) -> np.ndarray:
    """``count`` row indices out of ``total`` (all of them, in order, when count >= total)."""
    if count >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, count, replace=False))


def _fresh_builtin(config: Config, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """REFERENCE_POSES poses of the built-in generator, one random frame of each of as many new clips."""
    seed = config.data.data_seed + REFERENCE_SEED_OFFSET + offset
    frame = np.random.default_rng(seed).integers(0, CLIP_FRAMES, REFERENCE_POSES)
    rows = np.arange(REFERENCE_POSES) * CLIP_FRAMES + frame
    drawn = cached_builtin_poses(REFERENCE_POSES * CLIP_FRAMES, seed, configured_cache_dir(config.data), rows)
    poses = drawn.poses
    return (poses if config.model.pose_dim == 72 else poses[:, BODY_COLUMNS]), drawn.labels


def build_reference(config: Config, splits: PoseSplits, choice: str = "auto", flag: str = "--reference") -> Reference:
    """The reference for ``choice`` (see :data:`REFERENCE_CHOICES`) given a run's config and data splits; a bad
    one is a UserError naming ``flag`` (training's is ``--eval_reference``)."""
    width = config.model.pose_dim
    builtin = is_builtin(config.data.data)
    limits, kind = _limits(splits, width, builtin)
    common = {"train": splits.train, "limits": limits, "limits_kind": kind, "up_axis": splits.up_axis,
              "train_groups": splits.train_groups}  # fmt: skip
    common["c2st_jitter"] = config.evaluation.c2st_jitter
    common["cache_dir"] = configured_cache_dir(config.data)
    if choice == "auto" and builtin:  # generated y-up: a z-up run's evaluation on them turns them into its world
        poses, labels = _fresh_builtin(config, 0)
        floor, _ = _fresh_builtin(config, 1)
        poses, floor = change_up_axis(poses, "y", splits.up_axis), change_up_axis(floor, "y", splits.up_axis)
        return Reference("builtin-fresh", poses, "builtin-fresh (another draw)", floor, labels=labels,
                         family_names=list(FAMILY_NAMES), **common)  # fmt: skip
    if choice in ("auto", "val"):
        if len(splits.val) < MIN_EVAL_SAMPLES:  # too few to score against: auto takes the training poses
            if choice == "val":
                raise UserError(
                    f"{flag} val: this run holds out {len(splits.val)} validation poses; scores need at least "
                    f"{MIN_EVAL_SAMPLES} (raise data.val_fraction, or use {flag} train)"
                )
            return _enough(Reference("train", splits.train, "train", splits.train, **common), "train")
        return Reference("val", splits.val, "train", splits.train, labels=splits.val_labels,
                         family_names=splits.family_names, **common)  # fmt: skip
    if choice == "train":
        floor = splits.val if len(splits.val) >= 2 else splits.train
        reference = Reference("train", splits.train, "val" if len(splits.val) >= 2 else "train", floor,
                              labels=splits.train_labels, family_names=splits.family_names, **common)  # fmt: skip
        return _enough(reference, "train")
    poses, turned_from = _read_reference_path(config, choice, flag, splits.up_axis)
    return Reference(choice, poses, "train", splits.train, turned_from=turned_from, **common)


def _enough(reference: Reference, choice: str) -> Reference:
    """``reference``, unless it holds fewer poses than the classifier test needs a side (it would fail)."""
    if len(reference.poses) < MIN_EVAL_SAMPLES:
        raise UserError(
            f"the evaluation's reference ({choice}) holds {len(reference.poses)} poses; scores need at least "
            f"{MIN_EVAL_SAMPLES}: bring more data, or turn the scoring off (--quality_every 0 --final_eval_samples 0)"
        )
    return reference


def _read_reference_path(config: Config, choice: str, flag: str, up_axis: str) -> tuple[np.ndarray, str]:
    """The poses of the files at ``choice``, each turned into the run's world (``up_axis``): AMASS takes are z-up,
    arrays that say their up_axis stand along it, plain arrays are taken in the run's own world. With them, which
    files stood along the other axis (say "z-up: 3 AMASS takes"; empty when none did)."""
    path = Path(choice).expanduser()
    if not path.exists():
        raise UserError(f"{flag} {choice!r}: no such file or folder; allowed: {REFERENCE_CHOICES}")
    read = read_pose_path(path, config.data.pose_format, config.data.target_fps)
    stated = [stated_up_axis(s.kind) for s in read.sequences]
    if 0 < stated.count("z") < len(stated) and None in stated and has_root(read.sequences[0].poses):
        raise UserError(f"{flag} {mixed_worlds(str(path), read, stated, settable=False)}")  # as --data refuses it
    poses = np.concatenate(
        [change_up_axis(s.poses, stated_up_axis(s.kind) or up_axis, up_axis) for s in read.sequences]
    )
    if len(poses) < MIN_EVAL_SAMPLES:
        raise UserError(f"{flag} {choice!r}: holds {len(poses)} poses; scores need at least {MIN_EVAL_SAMPLES}")
    other = [s for s in read.sequences if stated_up_axis(s.kind) not in (None, up_axis)]
    if not other or not has_root(poses):
        return poses, ""
    takes, arrays = sum(s.kind == "amass" for s in other), sum(s.kind != "amass" for s in other)
    counted = [f"{n} {name}{'s' * (n != 1)}" for n, name in ((takes, "AMASS take"), (arrays, "file saying so")) if n]
    return poses, f"{stated_up_axis(other[0].kind)}-up: {' and '.join(counted)}"


def _limits(splits: PoseSplits, width: int, builtin: bool) -> tuple[np.ndarray, str]:
    """The generator's ranges for built-in poses; human joint limits for recorded data (root free)."""
    if builtin:
        return limits_for_width(width)[0].reshape(-1, 2), "generator ranges"
    return human_limits_for_width(width), "human limits"


def body_quaternions(poses: np.ndarray) -> np.ndarray:
    """(N, J, 4) unit quaternions of the body joints (the root's global orientation left out)."""
    joints = np.asarray(poses, dtype=np.float64).reshape(len(poses), -1, 3)
    return axis_angle_to_quaternion(joints[:, 1:] if joints.shape[1] == 24 else joints)


def body_positions(poses: np.ndarray) -> np.ndarray:
    """(N, 24, 3) joint positions in metres with the root orientation zeroed (pose, not heading)."""
    full = np.zeros((len(poses), 72))
    if poses.shape[1] == 72:
        full[:, 3:] = poses[:, 3:]
    else:
        full[:, BODY_COLUMNS] = poses
    return forward_kinematics(full)


def knn_k(count: int) -> int:
    """Neighbours for the k-NN scores: :data:`KNN_K` from 1,000 poses up, fewer for a training probe's few hundred."""
    return min(KNN_K, max(3, count // 50))


def score(samples: np.ndarray, reference: Reference, *, seed: int = 0, classifier: bool = True) -> dict[str, Any]:
    """Every quality number for ``samples`` (N, D) radians against ``reference``; see the README's key list.

    ``classifier=False`` leaves out the classifier test (``c2st_auc*``), most of the CPU of a small
    score: for callers that report none of it (``bench/run.py``'s sampler and budget rows).
    """
    if not classifier:  # no folds to run: no pool, and numpy keeps its own threads
        return start_score(samples, reference, None, seed=seed, classifier=False)()
    with c2st.classifier_pool() as pool:
        return start_score(samples, reference, pool, seed=seed)()


def start_score(
    samples: np.ndarray,
    reference: Reference,
    pool: Executor | None,
    *,
    seed: int = 0,
    classifier: bool = True,
    parts: bool = True,
) -> Callable[[], dict[str, Any]]:
    """:func:`score` begun: the classifier test's folds go to ``pool`` (:func:`c2st.classifier_pool`)
    and the other scores are computed here meanwhile; calling the result waits for the test.
    ``pool`` may be None only with ``classifier=False``.

    ``parts=False`` keeps the whole-body test and leaves out its body parts (the baselines').
    """
    samples = np.asarray(samples, dtype=np.float32)
    n = len(samples)
    subset = reference.pose_features[_pick(len(reference.poses), n, seed=seed + 1)]
    features = reference.to_features(samples)
    unstandardised = reference.feature_stats.denormalize  # the evaluation space's heading-free poses
    pending: Callable[[], dict[str, float]] = lambda: {}  # noqa: E731
    if classifier:
        assert pool is not None, "the classifier test needs a pool"
        jitter = reference.c2st_jitter
        pending = c2st.submit_c2st(pool, unstandardised(features), unstandardised(subset), jitter=jitter, parts=parts)
    result: dict[str, Any] = {
        "knn_k": knn_k(n),
        "frechet_distance": metrics.frechet_distance(features, reference.pose_features),
        "mmd": metrics.mmd_rbf(features, subset),
        **metrics.knn_precision_recall(features, subset, k=knn_k(n)),
        "upright": upright_share(samples, reference.up_axis),
        "one_nn_accuracy": metrics.one_nn_accuracy(features, subset),
        "diversity_ratio": metrics.mean_pairwise_distance(features) / metrics.mean_pairwise_distance(subset),
        "dnn_rad": float(
            metrics.nearest_geodesic_distance(body_quaternions(samples), reference.train_quaternions).mean()
        ),
        "apd_cm": 100 * metrics.average_pairwise_distance(body_positions(samples)),
    }
    result.update(limit_scores(samples, reference.limits, reference.constant, reference.train))
    result["limits"] = reference.limits_kind
    result.update(family_scores(features, reference))
    result["memorisation"] = reference.memorisation(features) if reference.name == "train" else None

    def finish() -> dict[str, Any]:
        return {**result, **pending()}

    return finish


def limit_scores(
    samples: np.ndarray, limits: np.ndarray, constant: np.ndarray | None = None, train: np.ndarray | None = None
) -> dict[str, Any]:
    """How often and how far poses leave the limits: all components, and per pose with a tolerance.

    ``constant`` (D,) marks components that never move in ``train``: they are left out of the limits
    (a model carrying 1e-3 there is not off-limits) and scored alone: ``constant_off`` is the share
    of samples with one of them more than LIMIT_TOLERANCE from its training value.
    """
    extra: dict[str, Any] = {"constant_components": 0, "constant_off": None}
    if constant is not None and constant.any() and train is not None and len(train):
        drift = np.abs(np.asarray(samples)[:, constant] - np.asarray(train)[0, constant])
        off = float((drift > LIMIT_TOLERANCE).any(axis=1).mean())
        extra = {"constant_components": int(constant.sum()), "constant_off": off}
        limits = np.where(constant[:, None], np.array([-np.inf, np.inf]), limits)
    excess = metrics.limit_excess(samples, limits)  # (N, D)
    outside = excess > 1e-6
    beyond = excess > LIMIT_TOLERANCE
    names = JOINT_NAMES if samples.shape[1] == 72 else BODY_JOINT_NAMES
    per_joint = beyond.reshape(len(samples), -1, 3).any(axis=2).mean(axis=0)
    worst = np.argsort(-per_joint, kind="stable")[:5]
    return {
        "limit_violation_rate": float(outside.mean()),
        "poses_outside_limits": float(outside.any(axis=1).mean()),
        "poses_outside_limits_tol": float(beyond.any(axis=1).mean()),
        "limit_excess_rad": float(excess[outside].mean()) if outside.any() else 0.0,
        "worst_joints": {names[j]: float(per_joint[j]) for j in worst if per_joint[j] > 0},
        **extra,
    }


def family_scores(features: np.ndarray, reference: Reference) -> dict[str, Any]:
    """Built-in data: which family each sample is nearest to, against the reference's own shares."""
    shares_true = reference.family_shares
    if shares_true is None:
        return {"family_coverage": None, "family_shares": None, "family_share_error": None}
    nearest = metrics.nearest_labels(features, reference.pose_features, reference.labels)
    coverage, shares = metrics.family_coverage(nearest, len(reference.family_names))
    return {
        "family_coverage": coverage,
        "family_shares": {name: float(s) for name, s in zip(reference.family_names, shares, strict=True)},
        "family_share_error": float(np.abs(shares - shares_true).max()),
    }


def gaussian_poses(reference: Reference, count: int, seed: int) -> np.ndarray:
    """``count`` poses from a full-covariance Gaussian fitted to the training poses (evaluation space)."""
    train = reference.to_features(reference.train)
    rng = np.random.default_rng(seed)
    drawn = rng.multivariate_normal(train.mean(axis=0), np.cov(train, rowvar=False), size=count, method="eigh")
    return random_heading(reference.feature_stats.denormalize(drawn.astype(np.float32)), rng, reference.up_axis)


def baselines(
    reference: Reference, count: int, seed: int = 0, pool: Executor | None = None
) -> dict[str, dict[str, Any]]:
    """The ``data`` (real poses) and ``gaussian`` (no structure) baselines, scored like samples.

    Their classifier test is the whole-body one (:data:`BASELINE_PARTS`). They do not depend on
    the model: kept per reference, count and seed under the data cache
    (:mod:`unet1d.evaluation.baseline_cache`), so only a reference's first evaluation pays for them.
    ``pool``: the classifier folds' threads to share (an evaluation's own); None opens one.
    """
    if pool is not None:
        return start_baselines(reference, count, seed, pool)()
    with c2st.classifier_pool() as threads:
        return start_baselines(reference, count, seed, threads)()


def start_baselines(
    reference: Reference, count: int, seed: int, pool: Executor
) -> Callable[[], dict[str, dict[str, Any]]]:
    """:func:`baselines` begun: read from the cache, or their scores computed here and their classifier folds
    handed to ``pool``; calling the result waits for the folds (and stores the scores). Same numbers."""

    def start() -> Callable[[], dict[str, dict[str, Any]]]:
        drawn = {
            "data": reference.floor[_pick(len(reference.floor), count, seed=seed + 2)],
            "gaussian": gaussian_poses(reference, count, seed + 3),
        }
        started = {
            name: start_score(poses, reference, pool, seed=seed, parts=BASELINE_PARTS) for name, poses in drawn.items()
        }
        return lambda: {name: finish() for name, finish in started.items()}

    return start_cached_baselines(reference, count, seed, reference.cache_dir, start)


def verdict_withheld(reference: Reference, baselines: dict[str, dict[str, Any]]) -> str | None:
    """Why no model can be judged against this reference (one line), or None when it can."""
    if len(reference.poses) < MIN_REFERENCE:
        return (
            f"reference '{reference.name}' holds {len(reference.poses):,} poses (< {MIN_REFERENCE:,}): too few to "
            "judge; hold out more files (--val_files GLOB, --split amass) or give a reference PATH (eval's "
            "--reference, train's --eval_reference)"
        )
    data, gaussian = baselines["data"], baselines["gaussian"]
    lost = [name for name in VERDICT_METRICS if not better_than(BY_NAME[name], data[name], gaussian[name])]
    if 2 * len(lost) >= len(VERDICT_METRICS):  # one loss is the clustering of recorded frames (1-NN), not narrowness
        return (
            f"the data baseline (real {reference.floor_name} poses) does not beat the Gaussian on {', '.join(lost)}: "
            f"reference '{reference.name}' is too narrow to judge against; hold out more varied files"
        )
    return None


def beats(scores: dict[str, Any], baseline: dict[str, Any]) -> dict[str, bool]:
    """Per structure-aware metric of the registry: is ``scores`` better than ``baseline``?"""
    return {m.name: better_than(m, scores[m.name], baseline[m.name]) for m in structure_metrics()}


def uninformative(baselines: dict[str, dict[str, Any]]) -> list[str]:
    """The structure-aware metrics on which real poses (the data baseline) do not beat the Gaussian against this
    reference: they cannot rank a model either (1-NN on recorded takes, whose frames are each other's neighbours)."""
    data, gaussian = baselines.get("data", {}), baselines.get("gaussian", {})
    return [
        m.name
        for m in structure_metrics()
        if m.name in data and m.name in gaussian and not better_than(m, data[m.name], gaussian[m.name])
    ]


def gaussian_verdict(beats_gaussian: dict[str, bool], left_out: Sequence[str] = ()) -> str:
    """The one line on the Gaussian baseline (the final evaluation's and `unet1d eval`'s), from ``beats_gaussian``:
    how many metrics it wins, first, so a loss on most of them does not read as a pass; the metrics ``left_out``
    (:func:`uninformative`) not counted either way."""
    counted = {name: better for name, better in beats_gaussian.items() if name not in left_out}
    won = [name for name, better in counted.items() if better]
    lost = [name for name, better in counted.items() if not better]
    skipped = [name for name in beats_gaussian if name in left_out]
    note = f"; left out: {', '.join(skipped)} (real poses do not beat the Gaussian there)" if skipped else ""
    if not counted:
        return f"no structure-aware metric counts against this reference{note}"
    if not lost:
        return f"beats the Gaussian baseline on every structure-aware metric{note}"
    if not won:
        return f"beats the Gaussian baseline on none of the structure-aware metrics{note}"
    return (
        f"beats the Gaussian baseline on {len(won)} of {len(counted)} structure-aware metrics "
        f"({', '.join(won)}); not on {', '.join(lost)}{note}"
    )
