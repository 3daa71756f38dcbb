"""The prior at work: completion of hidden body parts and denoising of noisy poses, scored in centimetres.

Sample quality asks whether samples look like data; these scores ask whether the model knows how
one part of the body constrains another (DPoser's protocol, Lu et al. 2024):

* **Completion.** For each part of :data:`~unet1d.body.skeleton.COMPLETION_PARTS`, the part's
  rotations of ``task_poses`` held-out poses are hidden and completed with ``hypotheses`` draws;
  the error is the MPJPE (cm) of the part's own joints by :func:`~unet1d.body.kinematics.forward_kinematics`
  (pelvis at the origin) on heading-free poses. ``completion_cm_<part>`` is the mean over the
  hypotheses of each one's error, ``completion_best_cm_<part>`` the best of them (an oracle's pick).
* **Denoising.** Gaussian noise of std :data:`NOISE_LEVELS` radians on every axis-angle component,
  then the model's estimate: the rotation mean (:func:`mean_pose`) of ``hypotheses`` draws, i.e. the
  posterior mean the baselines' point estimates are read against (one draw alone errs ~1.3 times as much:
  5.37 against 4.11 cm at 0.1 rad on a quickstart checkpoint); MPJPE over all 24 joints
  (``denoise_cm_010``, ``denoise_cm_020``).
* **Intervals.** The task poses are a sample: a gap of a few hundredths of a cm between the model and a
  baseline may flip with other poses. :func:`paired_intervals` gives each mean-of-hypotheses key's
  difference, model minus baseline, over the same poses with its paired 95 % t-interval.
* **Baselines** that need no network, on the same poses and noise: ``gaussian``, the full-covariance
  Gaussian of the heading-free training poses (its exact conditional mean of the hidden components,
  its exact posterior mean given the noisy pose and the noise's std); ``nearest``, the training poses
  nearest on the observed components (the ``hypotheses`` nearest give as many hypotheses), or nearest
  to the noisy pose.

Shapes: poses (N, D) axis-angle radians, D = 72 (SMPL) or 63 (body only); joint masks (J,) bool,
J = D / 3, True = hidden.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from unet1d.body.kinematics import forward_kinematics
from unet1d.body.rotations import axis_angle_to_quaternion, quaternion_to_axis_angle
from unet1d.body.skeleton import COMPLETION_PARTS, JOINT_NAMES, joint_names_for_width
from unet1d.data.formats import BODY_COLUMNS
from unet1d.evaluation.quality import heading_free
from unet1d.paired_interval import paired_interval

NOISE_LEVELS: tuple[float, ...] = (0.1, 0.2)  # radians per axis-angle component
TASK_HYPOTHESES = 10  # DPoser's protocol: 10 hypotheses per completed pose
TASK_SEED_OFFSET = 31  # the task poses and their noise are drawn apart from the samples' seed
NEAREST_CHUNK = 4096  # training poses per distance block of the nearest search (memory, not results)
ERROR_DECIMALS = 4  # per-pose errors in the report, in cm: a micrometre, far below any gap a score reads
PINV_RCOND = 1e-10  # relative cut-off of the Gaussian's pseudo-inverse: components that never move have no variance


class Prior(Protocol):
    """What the task scores need of a prior (:class:`unet1d.prior.PosePrior` is one)."""

    def complete(
        self, poses: np.ndarray, hidden: np.ndarray, hypotheses: int = ..., seed: int = ..., method: str | None = ...
    ) -> np.ndarray: ...

    def denoise(
        self, poses: np.ndarray, noise_std: float = ..., hypotheses: int = ..., seed: int = ...
    ) -> np.ndarray: ...


class TaskReference(Protocol):
    """What the task scores read of a reference (:class:`unet1d.evaluation.quality.Reference` is one)."""

    poses: np.ndarray  # (N, D) held-out poses: the task poses are drawn from these
    train: np.ndarray  # (M, D) training poses: the baselines' fits
    up_axis: str
    train_groups: np.ndarray | None  # (M,) the sequence (take) of each training pose, None when unknown


@dataclass(frozen=True)
class TaskPoses:
    """Only what :func:`score_tasks` reads of a reference: its task poses already drawn, so a process the
    scores are sent to gets a few megabytes instead of the whole reference, and the same numbers."""

    poses: np.ndarray
    train: np.ndarray
    up_axis: str
    train_groups: np.ndarray | None = None

    @classmethod
    def of(cls, reference: TaskReference, count: int, seed: int) -> TaskPoses:
        """The ``count`` task poses of ``reference`` for ``seed`` (:func:`task_poses` of these returns them all)."""
        groups = getattr(reference, "train_groups", None)
        return cls(task_poses(reference, count, seed), np.asarray(reference.train), reference.up_axis, groups)


def noise_key(noise_std: float) -> str:
    """``denoise_cm_010`` for 0.1 rad: the std in hundredths of a radian, three digits."""
    return f"denoise_cm_{round(noise_std * 100):03d}"


def task_keys() -> list[str]:
    """Every key the task scores write, in the registry's order."""
    keys = ["completion_cm", "completion_best_cm"]
    for part in COMPLETION_PARTS:
        keys += [f"completion_cm_{part}", f"completion_best_cm_{part}"]
    return [*keys, "denoise_cm", *(noise_key(std) for std in NOISE_LEVELS)]


def part_mask(part: str, width: int) -> np.ndarray:
    """(J,) bool: the joints of ``part`` (a key of COMPLETION_PARTS) in a ``width``-wide pose vector."""
    names = set(COMPLETION_PARTS[part])
    return np.array([name in names for name in joint_names_for_width(width)])


def component_mask(hidden: np.ndarray) -> np.ndarray:
    """Joint mask (..., J) -> component mask (..., 3J): each joint's three axis-angle numbers."""
    return np.repeat(np.asarray(hidden, dtype=bool), 3, axis=-1)


def skeleton_joints(hidden: np.ndarray, width: int) -> np.ndarray:
    """(J,) joint mask of a ``width``-wide pose -> (24,) mask over the skeleton's joints (SMPL order)."""
    if width == 72:
        return np.asarray(hidden, dtype=bool)
    full = np.zeros(len(JOINT_NAMES), dtype=bool)
    full[1:22] = hidden
    return full


def joint_positions(poses: np.ndarray, up_axis: str = "y") -> np.ndarray:
    """(..., D) poses -> (..., 24, 3) joint positions in metres: heading removed, pelvis at the origin.

    Body-only poses have no root: theirs is the identity (and SMPL's hands rest), as in
    :func:`unet1d.evaluation.quality.body_positions`."""
    poses = np.asarray(poses)
    flat = poses.reshape(-1, poses.shape[-1])
    turned = heading_free(flat, up_axis).astype(np.float64)
    full = np.zeros((len(flat), 72))
    if flat.shape[1] == 72:
        full[:] = turned
    else:
        full[:, BODY_COLUMNS] = turned
    return forward_kinematics(full).reshape(*poses.shape[:-1], len(JOINT_NAMES), 3)


def mpjpe_cm(
    estimates: np.ndarray, truth: np.ndarray, joints: np.ndarray | None = None, up_axis: str = "y"
) -> np.ndarray:
    """Mean per-joint position error in cm of each estimate against its true pose.

    ``estimates`` (N, H, D) (or (N, D): one hypothesis each) against ``truth`` (N, D); ``joints``
    a (24,) bool mask of the joints scored (None: all). Returns (N, H) (or (N,)).
    """
    single = np.ndim(estimates) == 2
    estimates = np.asarray(estimates)[:, None] if single else np.asarray(estimates)
    selected = np.ones(len(JOINT_NAMES), dtype=bool) if joints is None else np.asarray(joints, dtype=bool)
    guessed = joint_positions(estimates, up_axis)[..., selected, :]
    actual = joint_positions(truth, up_axis)[:, None, selected, :]
    errors = 100 * np.linalg.norm(guessed - actual, axis=-1).mean(axis=-1)
    return errors[:, 0] if single else errors


@dataclass(frozen=True)
class GaussianPrior:
    """A full-covariance Gaussian over pose vectors, and its two exact answers."""

    mean: np.ndarray  # (D,)
    cov: np.ndarray  # (D, D)

    @classmethod
    def fit(cls, poses: np.ndarray) -> GaussianPrior:
        poses = np.asarray(poses, dtype=np.float64)
        return cls(poses.mean(axis=0), np.cov(poses, rowvar=False))

    def conditional_mean(self, poses: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        """(N, D): ``poses`` with the ``hidden`` components (a (D,) bool mask) replaced by their mean given the
        observed ones, mu_h + S_ho S_oo^+ (x_o - mu_o); observed components returned as given.

        The pseudo-inverse keeps it exact where the fit is degenerate (components that never move):
        it conditions on the observed components' span and leaves the rest at the mean."""
        hidden = np.asarray(hidden, dtype=bool)
        out = np.array(poses, dtype=np.float64)
        if not hidden.any():
            return out
        observed = ~hidden
        gain = self.cov[np.ix_(hidden, observed)] @ np.linalg.pinv(
            self.cov[np.ix_(observed, observed)], rcond=PINV_RCOND, hermitian=True
        )
        out[:, hidden] = self.mean[hidden] + (out[:, observed] - self.mean[observed]) @ gain.T
        return out

    def posterior_mean(self, noisy: np.ndarray, noise_std: float) -> np.ndarray:
        """(N, D): E[x | y] for y = x + n, x ~ this Gaussian, n ~ N(0, noise_std^2 I).

        That is mu + S (S + s^2 I)^-1 (y - mu): exact, and defined where S is singular."""
        noisy = np.asarray(noisy, dtype=np.float64)
        gain = np.linalg.solve(self.cov + noise_std**2 * np.eye(len(self.mean)), self.cov)  # symmetric: (S+s2I)^-1 S
        return self.mean + (noisy - self.mean) @ gain


def own_rows(queries: np.ndarray, pool: np.ndarray, groups: np.ndarray | None = None) -> dict[int, np.ndarray]:
    """For each query that is itself a row of ``pool`` (bit for bit), the rows the nearest baseline must not look
    up when the task poses come from its own training poses (``--reference train``): those rows, and with
    ``groups`` (each pool row's sequence) every row of their sequences: a take's neighbouring frames answer for
    a pose almost as well as the pose itself (an independent check found them 0.1-0.3 rad away, against 0.4-0.7
    for held-out poses: 1.5 cm completion against 5.1)."""
    queries, pool = np.asarray(queries), np.asarray(pool)
    if not len(pool) or queries.shape[1:] != pool.shape[1:]:
        return {}
    candidates = np.flatnonzero(np.isin(queries[:, 0], pool[:, 0]))  # one column first: usually none share it
    found = {int(i): np.flatnonzero((pool == queries[i]).all(axis=1)) for i in candidates}
    found = {i: rows for i, rows in found.items() if len(rows)}
    if groups is None or len(groups) != len(pool):
        return found
    groups = np.asarray(groups)
    return {i: np.flatnonzero(np.isin(groups, groups[rows])) for i, rows in found.items()}


def nearest_rows(
    queries: np.ndarray,
    pool: np.ndarray,
    count: int,
    columns: np.ndarray | None = None,
    exclude: dict[int, np.ndarray] | None = None,
) -> np.ndarray:
    """(N, count) indices of the ``count`` rows of ``pool`` nearest to each query (Euclidean over ``columns``,
    a (D,) bool mask; None: all), nearest first, never the rows ``exclude`` lists for a query (:func:`own_rows`).
    Searched in blocks of :data:`NEAREST_CHUNK` pool rows."""
    columns = np.ones(queries.shape[1], dtype=bool) if columns is None else np.asarray(columns, dtype=bool)
    queries = np.asarray(queries, dtype=np.float64)[:, columns]
    count = min(count, len(pool))
    best_distance = np.full((len(queries), 0), np.inf)
    best_index = np.zeros((len(queries), 0), dtype=np.int64)
    query_norms = (queries**2).sum(axis=1, keepdims=True)
    for start in range(0, len(pool), NEAREST_CHUNK):
        block = np.asarray(pool[start : start + NEAREST_CHUNK], dtype=np.float64)[:, columns]
        distance = query_norms + (block**2).sum(axis=1) - 2 * queries @ block.T
        for query, excluded in (exclude or {}).items():
            inside = excluded[(excluded >= start) & (excluded < start + len(block))]
            distance[query, inside - start] = np.inf
        rows = np.broadcast_to(np.arange(start, start + len(block)), distance.shape)
        distance = np.concatenate([best_distance, distance], axis=1)
        index = np.concatenate([best_index, rows], axis=1)
        if distance.shape[1] > count:  # keep the count smallest so far
            keep = np.argpartition(distance, count - 1, axis=1)[:, :count]
            distance, index = np.take_along_axis(distance, keep, axis=1), np.take_along_axis(index, keep, axis=1)
        best_distance, best_index = distance, index
    order = np.argsort(best_distance, axis=1, kind="stable")
    return np.take_along_axis(best_index, order, axis=1)


def nearest_completions(
    poses: np.ndarray,
    hidden: np.ndarray,
    train: np.ndarray,
    hypotheses: int,
    exclude: dict[int, np.ndarray] | None = None,
) -> np.ndarray:
    """(N, H, D): for each pose, the ``hypotheses`` training poses nearest on the observed components, each
    lending its hidden components; the observed ones are the pose's own. ``hidden``: (D,) bool components;
    ``exclude``: the pose's own rows of ``train`` (:func:`own_rows`)."""
    hidden = np.asarray(hidden, dtype=bool)
    nearest = nearest_rows(poses, train, hypotheses, columns=~hidden, exclude=exclude)
    out = np.repeat(np.asarray(poses, dtype=np.float64)[:, None], nearest.shape[1], axis=1)
    out[:, :, hidden] = np.asarray(train, dtype=np.float64)[nearest][:, :, hidden]
    return out


def mean_pose(draws: np.ndarray) -> np.ndarray:
    """(N, H, D) axis-angle draws -> (N, D): each joint's mean rotation (unit quaternions, signs aligned to the
    first draw, averaged and normalised), so draws on both sides of the +-pi wrap average to what they mean."""
    draws = np.asarray(draws, dtype=np.float64)
    quaternions = axis_angle_to_quaternion(draws.reshape(*draws.shape[:2], -1, 3))  # (N, H, J, 4)
    signs = np.sign((quaternions * quaternions[:, :1]).sum(axis=-1, keepdims=True))
    mean = (quaternions * np.where(signs == 0, 1.0, signs)).sum(axis=1)
    mean /= np.linalg.norm(mean, axis=-1, keepdims=True)
    return quaternion_to_axis_angle(mean).reshape(len(draws), -1).astype(np.float32)


def nearest_denoised(noisy: np.ndarray, train: np.ndarray, exclude: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """(N, D): the training pose nearest to each noisy pose (never its clean pose's own rows, ``exclude``)."""
    return np.asarray(train, dtype=np.float64)[nearest_rows(noisy, train, 1, exclude=exclude)[:, 0]]


def _completion_keys(errors: dict[str, np.ndarray]) -> dict[str, float]:
    """Per part (N, H) errors -> the flat keys: per part and over the parts, mean of H and best of H."""
    scores: dict[str, float] = {}
    for part, error in errors.items():
        scores[f"completion_cm_{part}"] = float(error.mean())
        scores[f"completion_best_cm_{part}"] = float(error.min(axis=1).mean())
    scores["completion_cm"] = float(np.mean([scores[f"completion_cm_{part}"] for part in errors]))
    scores["completion_best_cm"] = float(np.mean([scores[f"completion_best_cm_{part}"] for part in errors]))
    return scores


def _denoise_keys(errors: dict[float, np.ndarray]) -> dict[str, float]:
    scores = {noise_key(std): float(error.mean()) for std, error in errors.items()}
    scores["denoise_cm"] = float(np.mean(list(scores.values())))
    return scores


def _per_pose(errors: dict[str, dict]) -> dict[str, np.ndarray]:
    """Each mean-of-hypotheses key's (N,) errors per pose: per part, per noise level and their averages."""
    rows = {f"completion_cm_{part}": error.mean(axis=1) for part, error in errors["completion"].items()}
    if rows:
        rows["completion_cm"] = np.mean(list(rows.values()), axis=0)
    levels = {noise_key(std): np.asarray(error) for std, error in errors["denoise"].items()}
    if levels:
        rows.update(levels, denoise_cm=np.mean(list(levels.values()), axis=0))
    return rows


def _best_per_pose(errors: dict[str, dict]) -> dict[str, np.ndarray]:
    """Each best-of-hypotheses key's (N,) errors per pose (per part and over the parts): `compare` pairs them too."""
    rows = {f"completion_best_cm_{part}": error.min(axis=1) for part, error in errors["completion"].items()}
    if rows:
        rows["completion_best_cm"] = np.mean(list(rows.values()), axis=0)
    return rows


def poses_digest(poses: np.ndarray) -> str:
    """A short fingerprint of the task poses (float32 bytes and shape): two evaluations' per-pose errors pair
    up only when it matches (`unet1d compare`'s interval over the poses)."""
    flat = np.ascontiguousarray(poses, dtype=np.float32)
    return hashlib.sha256(str(flat.shape).encode() + flat.tobytes()).hexdigest()[:16]


def paired_intervals(
    model: dict[str, np.ndarray], baselines: dict[str, dict[str, np.ndarray]]
) -> dict[str, dict[str, list[float | None]]]:
    """{key: {baseline: [difference, low, high]}} for every per-pose key both sides have (:func:`paired_interval`):
    negative is the model ahead; an interval that holds 0 is a gap the task poses cannot decide."""
    return {
        key: {name: paired_interval(errors, rows[key]) for name, rows in baselines.items() if key in rows}
        for key, errors in model.items()
    }


def task_poses(reference: TaskReference, count: int, seed: int) -> np.ndarray:
    """``count`` held-out poses of the reference (all of them when it holds fewer), the same for a seed."""
    total = len(reference.poses)
    if count >= total:
        return np.asarray(reference.poses)
    rows = np.random.default_rng(seed + TASK_SEED_OFFSET).choice(total, count, replace=False)
    return np.asarray(reference.poses[np.sort(rows)])


def noisy_poses(poses: np.ndarray, noise_std: float, seed: int) -> np.ndarray:
    """``poses`` plus Gaussian noise of ``noise_std`` radians on every component, float32, fixed by the seed."""
    rng = np.random.default_rng([seed + TASK_SEED_OFFSET, round(noise_std * 1000)])
    return (poses + rng.normal(0.0, noise_std, poses.shape)).astype(np.float32)


def score_tasks(
    prior: Prior | None, reference: TaskReference, count: int, *, hypotheses: int = TASK_HYPOTHESES, seed: int = 0
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Completion and denoising scores of ``prior`` on ``count`` held-out poses, and the two baselines'.

    Returns (the model's keys, {"gaussian": keys, "nearest": keys}); ``prior`` None scores the
    baselines only (the model's dict is then empty). The model's dict also holds ``task_intervals``
    (:func:`paired_intervals`, against both baselines), ``task_errors`` (each mean- and best-of-hypotheses key's
    errors per pose, for `compare` to pair two runs' poses) and ``task_poses_digest`` (:func:`poses_digest`).
    Every part is completed in one call of the prior.
    """
    poses = task_poses(reference, count, seed)
    width, up = poses.shape[1], reference.up_axis
    free = heading_free(poses, up).astype(np.float64)  # the baselines' view: their fits are heading-free
    train = heading_free(reference.train, up).astype(np.float64)
    # --reference train: a pose's own row, and its take's other frames, would answer for it
    own = own_rows(poses, reference.train, getattr(reference, "train_groups", None))
    gaussian = GaussianPrior.fit(train)
    parts = {part: part_mask(part, width) for part in COMPLETION_PARTS}

    model: dict[str, dict] = {"completion": {}, "denoise": {}}
    if prior is not None:
        stacked = np.concatenate([poses] * len(parts))
        hidden = np.repeat(np.stack(list(parts.values())), len(poses), axis=0)
        completed = prior.complete(stacked, hidden, hypotheses=hypotheses, seed=seed)
        for index, (part, joints) in enumerate(parts.items()):
            rows = slice(index * len(poses), (index + 1) * len(poses))
            model["completion"][part] = mpjpe_cm(completed[rows], poses, skeleton_joints(joints, width), up)
    fitted: dict[str, dict] = {
        "gaussian": {"completion": {}, "denoise": {}},
        "nearest": {"completion": {}, "denoise": {}},
    }
    for part, joints in parts.items():
        scored = skeleton_joints(joints, width)
        hidden = component_mask(joints)
        conditional = gaussian.conditional_mean(free, hidden)
        fitted["gaussian"]["completion"][part] = mpjpe_cm(conditional, free, scored, up)[:, None]
        near = nearest_completions(free, hidden, train, hypotheses, exclude=own)
        fitted["nearest"]["completion"][part] = mpjpe_cm(near, free, scored, up)
    for std in NOISE_LEVELS:
        noisy = noisy_poses(poses, std, seed)
        if prior is not None:
            denoised = prior.denoise(noisy, noise_std=std, hypotheses=hypotheses, seed=seed)
            model["denoise"][std] = mpjpe_cm(mean_pose(denoised), poses, None, up)
        noisy_free = heading_free(noisy, up).astype(np.float64)
        fitted["gaussian"]["denoise"][std] = mpjpe_cm(gaussian.posterior_mean(noisy_free, std), free, None, up)
        fitted["nearest"]["denoise"][std] = mpjpe_cm(nearest_denoised(noisy_free, train, own), free, None, up)

    def keys(errors: dict[str, dict]) -> dict[str, float]:
        return {**_completion_keys(errors["completion"]), **_denoise_keys(errors["denoise"])}

    ours: dict[str, Any] = keys(model) if prior is not None else {}
    if prior is not None:
        per_pose = _per_pose(model)
        ours["task_intervals"] = paired_intervals(
            per_pose, {name: _per_pose(errors) for name, errors in fitted.items()}
        )
        ours["task_errors"] = {
            key: [round(float(error), ERROR_DECIMALS) for error in rows]
            for key, rows in {**per_pose, **_best_per_pose(model)}.items()
        }
        ours["task_poses_digest"] = poses_digest(poses)
    return ours, {name: keys(errors) for name, errors in fitted.items()}
