"""`PosePrior`: a trained run as a prior over poses, for code that fits bodies to images or IMUs.

    prior = PosePrior.load("runs/quickstart")
    completed = prior.complete(poses, "legs", hypotheses=10)   # (N, 10, D)
    cleaned = prior.denoise(noisy, noise_std=0.1)               # (N, 1, D)
    drawn = prior.sample(1000, seed=0)                          # (1000, D), as `unet1d sample` draws them
    loss = data_term(pose) + weight * prior.energy(pose).sum()  # a fitting loop's prior term (torch, autograd)

Poses go in and come out as the data holds them: (N, D) axis-angle radians, D = 72 (SMPL) or 63
(body only), in the data's own heading and in the run's up axis unless ``up_axis`` names theirs
(AMASS takes are z-up; the built-in poses y-up; every method takes ``up_axis``). A run trained
with ``data.heading canonical`` saw every pose turned to heading 0: inputs are turned there and the
result turned back, so a completed pose faces where its input faced. Observed components come back bit for bit, in the
input's float dtype. Each call draws from one generator seeded by ``seed`` (0 by default, so a call
repeats itself; None draws a fresh seed): a pose's answer depends on the poses before it in the
batch, so the same poses in another batch get other draws. Bad arguments raise
:class:`~unet1d.errors.ArgumentError`, a ``ValueError``; poses that look like degrees, or stand
along the other up axis, a :class:`PoseInputWarning`.
"""

from __future__ import annotations

import difflib
import numbers
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from unet1d.body.heading import (
    WORLDS,
    apply_heading,
    body_up,
    canonical_heading,
    change_up_axis,
    has_root,
    heading_of,
    random_heading,
    standing_axis,
)
from unet1d.body.skeleton import COMPLETION_PARTS, joint_names_for_width
from unet1d.data.files import MAX_ANGLE
from unet1d.data.loading import DEGREES_HINT
from unet1d.data.representation import NUMBERS_PER_JOINT, network_config
from unet1d.data.up_axis import run_up_axis
from unet1d.diffusion.completion import (
    DEFAULT_DENOISE_METHOD,
    DEFAULT_METHOD,
    DEFAULT_SHRINK,
    GRADIENT_METHODS,
    METHODS,
    guided_start,
    impute,
    shrink_hypotheses,
)
from unet1d.diffusion.samplers import evaluating, sample
from unet1d.diffusion.schedules import NoiseSchedule
from unet1d.errors import ArgumentError, UserError
from unet1d.precision import autocast, device_problem, resolve_device, sampling_precision
from unet1d.store.checkpoints import load_for_eval

if TYPE_CHECKING:
    from unet1d.config import Config
    from unet1d.data import NormStats

Mask = str | Sequence[str] | np.ndarray  # part and joint names, or (J,) / (N, J) bool: True where hidden
Seed = int | None  # a whole number (the call repeats itself), or None (a fresh seed each call)
SEED_LIMIT = 2**64  # what torch.Generator.manual_seed takes

CHUNK = 512  # rows (poses x hypotheses) per network batch: bounded activations, as sampling (no page-fault storms)
ENERGY_LEVELS = (0.05, 0.3)  # the schedule's share :meth:`PosePrior.energy` noises poses to: DPoser's truncated range


def parse_mask(spec: str | Sequence[str], pose_dim: int, name: str = "--mask") -> np.ndarray:
    """``"legs,left_wrist"`` (or ``["legs", "left_wrist"]``) -> (J,) bool, True for each joint to complete
    (J = 24 for width 72, 21 for 63).

    Names are :data:`COMPLETION_PARTS` and SMPL joint names, comma-separated, case-insensitive; a bad
    spec is an :class:`ArgumentError` naming ``name`` (the CLI's flag, or the Python argument).
    """
    if not isinstance(spec, str):
        items = spec.tolist() if isinstance(spec, np.ndarray) and spec.dtype.kind in "US" else spec
        if not isinstance(items, Sequence) or not all(isinstance(item, str) for item in items):
            raise ArgumentError(f"{name} {spec!r}: allowed: part and joint names, as one string or a list of them")
        spec = ",".join(items)
    names = joint_names_for_width(pose_dim)
    allowed = f"allowed: parts {', '.join(COMPLETION_PARTS)}; joints {', '.join(names)}"
    hidden = np.zeros(len(names), dtype=bool)
    for item in (part.strip().lower() for part in spec.split(",")):
        if not item:
            continue
        if item in COMPLETION_PARTS:
            hidden[[names.index(joint) for joint in COMPLETION_PARTS[item]]] = True
        elif item in names:
            hidden[names.index(item)] = True
        else:
            close = difflib.get_close_matches(item.replace("-", "_"), [*COMPLETION_PARTS, *names], n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ArgumentError(
                f"{name} {spec!r}: {item!r} is no part or joint of a {pose_dim}-number pose; {hint}{allowed}"
            )
    if not hidden.any():
        raise ArgumentError(f"{name} {spec!r} hides nothing; {allowed}")
    if hidden.all():
        raise ArgumentError(
            f"{name} {spec!r} hides every joint: nothing is left to complete from (use `unet1d sample`)"
        )
    return hidden


ROOT_SAYS_NOTHING_RAD = 0.1  # energy's input check: roots nearer the identity judge no up axis


class PoseInputWarning(UserWarning):
    """Poses given to :class:`PosePrior` that look wrong for it: values like degrees, or bodies standing along
    the other up axis than the one they are taken in (``up_axis``)."""


class PosePrior:
    """A trained run as a prior over poses: draws (:meth:`sample`), completes hidden joints (:meth:`complete`),
    denoises (:meth:`denoise`) and scores poses for a fitting loop (:meth:`energy`).

    Poses are (N, D) axis-angle radians (D = ``pose_dim``: 72 for SMPL's 24 joints, 63 for the body's 21),
    numpy or torch, in the data's own heading and in the run's up axis (``up_axis``: ``"y"`` or ``"z"``)
    unless a call's ``up_axis`` names theirs. Answers are numpy (N, hypotheses, D) in the input's float dtype,
    the observed numbers bit for bit. Build one with :meth:`load`; the constructor takes a network
    (``network(x, t)``), the run's :class:`~unet1d.config.Config` and its normalisation statistics
    (:class:`~unet1d.data.NormStats`) as a checkpoint holds them, and leaves the network's mode as it is
    (each call evaluates in eval mode and hands it back as it was). ``input_warnings`` False leaves out the
    :class:`PoseInputWarning` checks (for poses that are the run's own data, or already checked).
    """

    def __init__(
        self,
        network: torch.nn.Module,
        config: Config,
        stats: Any,
        device: torch.device | str,
        *,
        input_warnings: bool = True,
    ) -> None:
        self.network = network
        self.input_warnings = input_warnings
        self._energy_said: set[str] = set()  # which of energy's input warnings were given: each once per prior
        self.config = config
        self.stats = stats
        self.device = torch.device(device)
        self.schedule = NoiseSchedule.from_config(config.diffusion)
        self.pose_dim = config.model.pose_dim
        self.up_axis = run_up_axis(config.data, stats)
        self.joint_names = joint_names_for_width(self.pose_dim)
        self._numbers = NUMBERS_PER_JOINT[config.data.representation]  # network numbers per joint
        self._width = network_config(config).pose_dim

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "auto", ema: bool = True) -> PosePrior:
        """From a run folder (its latest checkpoint) or a checkpoint folder; EMA weights when the run has them
        and ``ema`` is True, the raw training weights when False.

        ``device``: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``, or a ``torch.device``. A
        missing or damaged checkpoint is an :class:`ArgumentError` naming it."""
        if isinstance(device, torch.device):
            device = str(device)
        problem = device_problem(device) if isinstance(device, str) else "not a device name"
        if problem:
            raise ArgumentError(f"device={device!r}: {problem}")
        if not isinstance(ema, (bool, np.bool_)):
            raise ArgumentError(f"ema={ema!r}: allowed: True (the EMA weights) or False (the raw training weights)")
        torch_device = resolve_device(device)
        if not isinstance(path, (str, Path)):
            raise ArgumentError(f"path={path!r}: allowed: a run folder or a checkpoint folder (str or Path)")
        try:
            checkpoint = load_for_eval(path)
        except ArgumentError:
            raise
        except UserError as err:
            raise ArgumentError(str(err)) from None
        network = checkpoint.build_model(ema=bool(ema), device=torch_device)
        return cls(network, checkpoint.config, checkpoint.stats, torch_device)

    def sample(self, num_poses: int, *, seed: Seed = 0, up_axis: str | None = None) -> np.ndarray:
        """(num_poses, D) float32 poses drawn from the prior with the run's sampler, in the run's up axis unless
        ``up_axis`` names another; with the run's up axis, the same poses as
        ``unet1d sample RUN --num-samples num_poses --seed seed``."""
        _check_count("num_poses", num_poses)
        up, seed = self._up_axis(up_axis), _seed(seed)
        generator = self._generator(seed)
        sizes = [min(CHUNK, num_poses - first) for first in range(0, num_poses, CHUNK)]
        poses = drawn_poses(network_draws(self.network, self.config, sizes, generator, self.device),
                            self.config, self.stats, seed)  # fmt: skip
        problem = divergence(poses)
        if problem is not None:
            warnings.warn(problem, RuntimeWarning, stacklevel=2)
        return poses if up == self.up_axis else change_up_axis(poses, self.up_axis, up)

    def complete(
        self,
        poses: np.ndarray,
        hidden: Mask,
        *,
        hypotheses: int = 10,
        seed: Seed = 0,
        method: str | None = None,
        steps: int | None = None,
        shrink: float = DEFAULT_SHRINK,
        up_axis: str | None = None,
    ) -> np.ndarray:
        """(N, hypotheses, D) axis-angle radians: the ``hidden`` joints of ``poses`` (N, D) drawn from the prior,
        every other number returned bit for bit in the input's float dtype.

        ``hidden``: part and joint names (``"legs,left_wrist"`` or a list, as :func:`parse_mask` reads them),
        or a (J,), (1, J) or (N, J) bool mask, True where hidden. Names must hide some joints and not all; a
        mask's row may hide none (that pose comes back as given) or all (it is drawn from the prior alone), as a
        fitting loop's per-frame visibility gives them. Hidden numbers are never read: NaN marks them as well
        as any value. ``method`` None is :data:`~unet1d.diffusion.completion.DEFAULT_METHOD`; ``steps`` None
        its default steps. ``shrink`` pulls each pose's hypotheses towards their mean (1: plain draws; see
        :func:`~unet1d.diffusion.completion.shrink_hypotheses`). ``up_axis``: the poses' vertical
        (``"y"`` or ``"z"``), None for the run's. A pose whose root is observed faces where it faced; one whose
        root is hidden gets a uniform random heading (the prior's). N = 0 gives (0, hypotheses, D)."""
        if isinstance(shrink, bool) or not isinstance(shrink, numbers.Real) or not 0.0 <= shrink <= 1.0:
            raise ArgumentError(f"shrink={shrink!r}: must be between 0 (every hypothesis the mean) and 1 (plain draws)")
        given, up = self._check(poses, finite=False), self._up_axis(up_axis)
        hidden = self._hidden(hidden, len(given))
        hidden_numbers = np.repeat(hidden, 3, axis=1)
        if not np.isfinite(given[~hidden_numbers]).all():
            raise ArgumentError(
                "poses hold NaN or infinite values where they are observed; allowed: finite axis-angle radians "
                "(NaN only in hidden joints)"
            )
        given = np.where(hidden_numbers, np.zeros((), given.dtype), given)  # hidden numbers are never read
        self._warn_concerns(given, up, rooted=~hidden[:, 0])
        noise = np.where(np.repeat(hidden, self._numbers, axis=1), np.inf, 0.0)
        root_hidden = hidden[:, 0] if has_root(given) else None
        out = self._impute(self._to_run(given, up), noise, hypotheses, _seed(seed), method or DEFAULT_METHOD, steps,
                           shrink, root_hidden)  # fmt: skip
        return np.where(~hidden_numbers[:, None, :], given[:, None, :], self._from_run(out, up, given.dtype))

    def denoise(
        self,
        poses: np.ndarray,
        *,
        noise_std: float,
        hypotheses: int = 1,
        seed: Seed = 0,
        method: str | None = None,
        steps: int | None = None,
        up_axis: str | None = None,
    ) -> np.ndarray:
        """(N, hypotheses, D) clean poses given ``poses`` (N, D) with Gaussian noise of ``noise_std`` radians per
        axis-angle component. In the network's standardised units that noise is ``noise_std / std`` per
        component (for 6D rotations the same, a first-order approximation). ``method`` None is
        :data:`~unet1d.diffusion.completion.DEFAULT_DENOISE_METHOD`; ``up_axis`` and ``seed`` as in
        :meth:`complete`. The answers are radians in the input's float dtype; N = 0 gives (0, hypotheses, D)."""
        if isinstance(noise_std, torch.Tensor) and noise_std.numel() == 1 and noise_std.is_floating_point():
            noise_std = float(noise_std)
        if isinstance(noise_std, bool) or not isinstance(noise_std, numbers.Real) or not 0 < noise_std < np.inf:
            raise ArgumentError(
                f"noise_std={noise_std!r}: must be a finite number > 0 radians (the noise the poses carry)"
            )
        given, up = self._check(poses), self._up_axis(up_axis)
        self._warn_concerns(given, up, rooted=np.ones(len(given), dtype=bool))
        inner = getattr(self.stats, "inner", self.stats)  # 6D statistics when the network sees 6D
        noise = np.broadcast_to(noise_std / np.asarray(inner.std, dtype=np.float64), (len(given), self._width))
        out = self._impute(self._to_run(given, up), noise, hypotheses, _seed(seed),
                           method or DEFAULT_DENOISE_METHOD, steps, 1.0, None)  # fmt: skip
        return self._from_run(out, up, given.dtype)

    def energy(
        self,
        poses: torch.Tensor,
        *,
        levels: tuple[float, float] = ENERGY_LEVELS,
        generator: torch.Generator | None = None,
        up_axis: str | None = None,
    ) -> torch.Tensor:
        """(N,) the prior's energy of ``poses`` (N, D) axis-angle radians (in the run's up axis unless ``up_axis``
        names theirs), differentiable with respect to them: a fitting loop's prior term,
        ``loss = data_term + weight * prior.energy(poses).sum()``; on the poses' device, in their float dtype.

        DPoser's optimisation prior: each pose is noised to a random timestep in ``levels`` (shares of the
        schedule), the network's clean estimate is taken without a gradient, and the energy is half the squared
        distance to it in the network's units (standardised per number). Its gradient, pose minus estimate, is
        the noised density's score times -sigma^2 (Tweedie), so descending it pulls a pose towards where the
        prior puts poses. The root's orientation is held as given (no gradient; its heading is turned to the
        run's canonical one for the network): it is the data term's to fit, as in DPoser's body prior. One draw
        a call: average several calls, or take many small steps, for a smoother term. ``generator`` (a
        ``torch.Generator`` on the run's device) draws the levels and the noise; None draws them from torch's
        global generator, as ``torch.randn`` does. Runs trained on rot6d are refused (their encoding has no
        gradient here). Poses are checked as :meth:`complete`'s are (a :class:`PoseInputWarning`), each warning given
        once per prior (a fitting loop calls this at every step); roots within 0.1 rad of none (a fit's zero start and
        its first steps) judge no axis."""
        if self.config.data.representation != "axis_angle":
            raise ArgumentError(
                f"energy: this run's network sees {self.config.data.representation}; allowed: axis_angle runs"
            )
        ordered = isinstance(levels, (tuple, list)) and len(levels) == 2
        ordered = ordered and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in levels)
        if not ordered or not 0.0 < levels[0] <= levels[1] <= 1.0:
            raise ArgumentError(
                f"levels={levels!r}: allowed: a pair (low, high), 0 < low <= high <= 1 (shares of the schedule)"
            )
        low, high = levels
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ArgumentError(f"generator={generator!r}: allowed: a torch.Generator, or None (torch's own)")
        up = self._up_axis(up_axis)
        given = poses if isinstance(poses, torch.Tensor) else torch.as_tensor(self._check(poses))
        if given.dim() != 2 or given.shape[1] != self.pose_dim:
            raise ArgumentError(f"poses of shape {tuple(given.shape)}: this run's poses are (N, {self.pose_dim})")
        if len(given) == 0:
            return given.new_zeros(0, dtype=given.dtype if given.is_floating_point() else torch.float32)
        if not bool(torch.isfinite(given.detach()).all()):
            raise ArgumentError("poses hold NaN or infinite values; allowed: finite axis-angle radians")
        if self.input_warnings and len(self._energy_said) < 2:  # degrees, the other axis: each once, not every step
            seen = given.detach().float().cpu().numpy()
            # a root within ~6 deg of none (a fit's zero start, or a step from it) says no orientation yet
            rooted = np.linalg.norm(seen[:, :3], axis=1) > ROOT_SAYS_NOTHING_RAD
            for concern in input_concerns(seen, up, guessed=False, rooted=rooted, flag="up_axis="):
                kind = "degrees" if "degrees" in concern else "axis"
                if kind not in self._energy_said:
                    self._energy_said.add(kind)
                    warnings.warn(f"poses: {concern}", PoseInputWarning, stacklevel=2)
        x = given.to(self.device, torch.float32)
        body = torch.ones(self.pose_dim, dtype=torch.bool, device=self.device)
        if has_root(x):  # the root as given (turned to heading 0 for a canonical run), with no gradient
            root = change_up_axis(x.detach().cpu().numpy(), up, self.up_axis)
            if self.config.data.heading == "canonical":
                root = canonical_heading(root, self.up_axis)
            x = torch.cat([torch.as_tensor(root[:, :3], device=self.device), x[:, 3:]], dim=1)
            body[:3] = False
        mean = torch.as_tensor(self.stats.mean, device=self.device)
        std = torch.as_tensor(self.stats.std, device=self.device)
        normalised = (x - mean) / std
        steps = self.schedule.num_timesteps - 1
        t = torch.randint(max(1, round(low * steps)), max(1, round(high * steps)) + 1, (len(x),),
                          generator=generator, device=self.device)  # fmt: skip
        noise = torch.randn(normalised.shape, generator=generator, device=self.device)
        with torch.no_grad(), evaluating(self.network), autocast(sampling_precision(self.config, self.device),
                                                                 self.device):  # fmt: skip
            x_t = self.schedule.add_noise(normalised.detach(), noise, t)
            estimate, _ = self.schedule.split_prediction(
                self.network(x_t, t).float(), x_t, t, self.config.diffusion.prediction
            )
        energy = 0.5 * (normalised - estimate)[:, body].square().sum(dim=1)
        return energy.to(given.device, given.dtype if given.is_floating_point() else torch.float32)

    def _check(self, poses: np.ndarray, finite: bool = True) -> np.ndarray:
        """The poses as a float array (float32 unless given float64), refused unless (N, D) and (``finite``)
        finite."""
        if isinstance(poses, torch.Tensor):
            poses = poses.detach().cpu()
            poses = (
                poses
                if poses.dtype in (torch.float32, torch.float64) or not poses.is_floating_point()
                else poses.float()
            )
        try:
            given = np.asarray(poses)
        except (TypeError, ValueError) as err:
            raise ArgumentError(f"poses: not an array of numbers ({err})") from None
        if given.dtype.kind not in "fiu":
            raise ArgumentError(f"poses of dtype {given.dtype}: allowed: float (N, {self.pose_dim}) arrays")
        given = given if given.dtype in (np.float32, np.float64) else given.astype(np.float32)
        if given.ndim != 2 or given.shape[1] != self.pose_dim:
            hint = ""
            if given.ndim == 2 and given.shape[1] in (156, 165) and self.pose_dim == 72:
                hint = " (SMPL-H/SMPL-X: unet1d.data.formats.to_pose_format(poses, 'smpl72') reduces them)"
            raise ArgumentError(
                f"poses of shape {given.shape}: this run's poses are (N, {self.pose_dim}) axis-angle radians{hint}"
            )
        if finite and not np.isfinite(given).all():
            raise ArgumentError("poses hold NaN or infinite values; allowed: finite axis-angle radians")
        return given

    def _warn_concerns(self, poses: np.ndarray, up: str, rooted: np.ndarray) -> None:
        """A :class:`PoseInputWarning` for each of :func:`input_concerns` (roots only where ``rooted``)."""
        if not self.input_warnings:
            return
        for concern in input_concerns(poses, up, guessed=False, rooted=rooted, flag="up_axis="):
            warnings.warn(f"poses: {concern}", PoseInputWarning, stacklevel=3)

    def _hidden(self, hidden: Mask, count: int) -> np.ndarray:
        """(count, J) bool from names or a (J,), (1, J) or (count, J) bool mask."""
        joints = len(self.joint_names)
        names = isinstance(hidden, np.ndarray) and hidden.dtype.kind in "US"  # parse_mask reads such arrays too
        if (
            names
            or isinstance(hidden, str)
            or (isinstance(hidden, Sequence) and len(hidden) and all(isinstance(name, str) for name in hidden))
        ):
            return np.broadcast_to(parse_mask(hidden, self.pose_dim, "hidden"), (count, joints))
        mask = np.asarray(hidden.cpu() if isinstance(hidden, torch.Tensor) else hidden)
        if mask.size == 0 and mask.shape != (count, joints):
            raise ArgumentError(
                f"hidden {hidden!r} hides nothing: allowed: part and joint names (e.g. 'legs,left_wrist'), or a bool "
                f"mask of shape ({joints},) or ({count}, {joints}), True where hidden"
            )
        if mask.dtype != bool or mask.shape not in ((joints,), (1, joints), (count, joints)):
            raise ArgumentError(
                f"hidden of dtype {mask.dtype} and shape {mask.shape}: allowed: part and joint names "
                f"(e.g. 'legs,left_wrist'), or a bool mask of shape ({joints},) or ({count}, {joints}), "
                "True where hidden"
            )
        return np.broadcast_to(mask, (count, joints))

    def _up_axis(self, up_axis: str | None) -> str:
        if up_axis is None:
            return self.up_axis
        if up_axis not in WORLDS:
            raise ArgumentError(f"up_axis={up_axis!r}: allowed: {', '.join(WORLDS)} (None: the run's)")
        return up_axis

    def _to_run(self, poses: np.ndarray, up: str) -> np.ndarray:
        """The poses as the network's world holds them: float32, turned to the run's up axis."""
        return np.asarray(change_up_axis(poses, up, self.up_axis), dtype=np.float32)

    def _from_run(self, answers: np.ndarray, up: str, dtype: np.dtype) -> np.ndarray:
        """(N, H, D) answers from the run's world back to the poses' up axis and float dtype."""
        count, draws, width = answers.shape
        turned = change_up_axis(answers.reshape(-1, width), self.up_axis, up) if up != self.up_axis else answers
        return np.asarray(turned, dtype=dtype).reshape(count, draws, width)

    def _generator(self, seed: int) -> torch.Generator:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < SEED_LIMIT:
            raise ArgumentError(f"seed={seed!r}: allowed: a whole number from 0 to 2**64 - 1")
        return torch.Generator(device=self.device).manual_seed(int(seed))

    def _impute(
        self,
        poses: np.ndarray,
        noise: np.ndarray,
        hypotheses: int,
        seed: int,
        method: str,
        steps: int | None,
        shrink: float,
        root_hidden: np.ndarray | None,
    ) -> np.ndarray:
        """Run :func:`impute` on every pose ``hypotheses`` times in the network's space, shrink each pose's
        hypotheses towards their mean by ``shrink``; -> (N, H, D) float32 radians in the run's world.

        A canonical-heading run gets each pose at heading 0 and its answers turned back, except a pose whose
        root (``root_hidden``) is drawn: its heading is not known, so each answer gets a uniform random one (the
        prior's, as :meth:`sample` gives), drawn from ``seed``; the network's own would face one way always."""
        if method not in METHODS:
            raise ArgumentError(f"method={method!r}: allowed: {', '.join(METHODS)} (None: the default)")
        _check_count("hypotheses", hypotheses)
        if steps is not None:
            _check_count("steps", steps, least=0 if method == "guided" else 1)
        generator = self._generator(seed)
        if len(poses) == 0:
            return np.zeros((0, hypotheses, self.pose_dim), dtype=np.float32)
        turn = self.config.data.heading == "canonical" and has_root(poses)
        headings = heading_of(poses, self.up_axis) if turn else None
        network_poses = canonical_heading(poses, self.up_axis) if turn else poses
        if turn and root_hidden is not None and root_hidden.any():
            network_poses = np.where(root_hidden[:, None], poses, network_poses)
        inputs = np.asarray(self.stats.normalize(network_poses), dtype=np.float32)
        input_levels = np.asarray(np.broadcast_to(noise, inputs.shape), dtype=np.float32)
        encoded = np.repeat(inputs, hypotheses, axis=0)
        levels = np.repeat(input_levels, hypotheses, axis=0)
        prediction = self.config.diffusion.prediction
        drawn = []
        # No autograd bookkeeping where no gradient is taken; dps, dposer and guided take theirs, even
        # when the caller is in torch.inference_mode (their tensors are made here, outside it).
        grad_mode = torch.inference_mode(method not in GRADIENT_METHODS)
        with grad_mode, evaluating(self.network), autocast(sampling_precision(self.config, self.device), self.device):
            starts = self._guided_starts(inputs, input_levels, hypotheses, generator) if method == "guided" else None
            for first in range(0, len(encoded), CHUNK):
                rows = slice(first, first + CHUNK)
                observed = torch.as_tensor(encoded[rows], device=self.device)
                level = torch.as_tensor(levels[rows], device=self.device)
                start = None if starts is None else starts[rows].to(self.device)
                out = impute(self.network, self.schedule, observed, level, method=method, steps=steps,
                             prediction=prediction, generator=generator, start=start)  # fmt: skip
                drawn.append(out.float().cpu())
        network_draws = torch.cat(drawn).view(len(poses), hypotheses, -1)
        known = torch.as_tensor(noise == 0)
        network_draws = shrink_hypotheses(network_draws, known, shrink).reshape(len(poses) * hypotheses, -1)
        decoded = np.asarray(self.stats.denormalize(network_draws.numpy()), dtype=np.float32)
        if turn:
            turns = np.repeat(headings, hypotheses)
            if root_hidden is not None and root_hidden.any():
                drawn_root = np.repeat(root_hidden, hypotheses)
                uniform = np.random.default_rng([seed, 2]).uniform(-np.pi, np.pi, len(turns))
                turns = np.where(drawn_root, uniform, turns)
            decoded = apply_heading(decoded, turns, self.up_axis)
        return decoded.reshape(len(poses), hypotheses, self.pose_dim)

    def _guided_starts(
        self, inputs: np.ndarray, levels: np.ndarray, hypotheses: int, generator: torch.Generator
    ) -> torch.Tensor:
        """``guided``'s start for each pose, computed once per pose (not per hypothesis) in chunks of CHUNK poses:
        its trajectories take gradients, and small batches are what threads and a loaded CPU handle worst.
        -> (N x hypotheses, W) on the CPU, each pose's start repeated for its hypotheses."""
        pieces = []
        for first in range(0, len(inputs), CHUNK):
            rows = slice(first, first + CHUNK)
            observed = torch.as_tensor(inputs[rows], device=self.device)
            level = torch.as_tensor(levels[rows], device=self.device)
            start = guided_start(self.network, self.schedule, observed, level,
                                 prediction=self.config.diffusion.prediction, generator=generator)  # fmt: skip
            pieces.append(start.float().cpu())
        return torch.cat(pieces).repeat_interleave(hypotheses, dim=0)


def divergence(poses: np.ndarray) -> str | None:
    """One line where drawn poses hold values no pose has (beyond :data:`MAX_ANGLE` radians, or not finite), else
    None: the sampler diverged (eps prediction does without ``diffusion.clip_x0``), and no pose tool takes them."""
    wild = ~np.isfinite(poses) | (np.abs(poses) > MAX_ANGLE)
    if not wild.any():
        return None
    largest = float(np.max(np.abs(np.where(np.isfinite(poses), poses, 0.0))))
    return (
        f"{int(wild.any(axis=1).sum())} of {len(poses)} poses hold values beyond +-{MAX_ANGLE:g} rad or not finite "
        f"(largest {largest:.3g}): the sampler diverged (eps prediction does without diffusion.clip_x0); complete, "
        "denoise and --data refuse them"
    )


def _check_count(name: str, value: int, least: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ArgumentError(f"{name}={value!r}: must be a whole number >= {least}")


def _seed(seed: Seed) -> int:
    """``seed`` as given, or for None a fresh one from the operating system's entropy."""
    return int(np.random.SeedSequence().entropy % SEED_LIMIT) if seed is None else seed


def input_concerns(
    poses: np.ndarray, up: str, guessed: bool, rooted: np.ndarray | None = None, flag: str = "--up-axis "
) -> list[str]:
    """What ``data check`` would flag in these poses, taken as standing along ``up``: values like degrees, and
    bodies standing along the other axis (heading would turn them about the wrong one), judged by the poses
    whose root is given (``rooted``, default all). ``flag`` names the argument that says the poses' up axis."""
    concerns = []
    peak = float(np.abs(poses).max()) if poses.size else 0.0
    if peak > DEGREES_HINT:
        concerns.append(f"the largest |value| is {peak:.1f}: axis-angle poses are radians; is this data in degrees?")
    with_root = poses if rooted is None else poses[rooted]
    standing = standing_axis(body_up(with_root).mean(axis=0)) if has_root(poses) and len(with_root) else None
    if standing is not None and standing != up:
        taken = f"taken as {up}-up" + (" (plain arrays: the run's own world)" if guessed else "")
        value = repr(standing) if flag.endswith("=") else standing  # up_axis='z' in Python, --up-axis z in a shell
        concerns.append(f"the bodies stand along {standing}, {taken}: pass {flag}{value}")
    return concerns


def network_draws(
    network: torch.nn.Module, config: Config, sizes: list[int], generator: torch.Generator, device: torch.device
) -> list[np.ndarray]:
    """One (size, W) array of network-space samples per size, in order, from one generator, with the run's
    sampler under its sampling precision."""
    schedule = NoiseSchedule.from_config(config.diffusion)
    with autocast(sampling_precision(config, device), device):
        return [
            sample(network, schedule, config.diffusion, size, network_config(config).pose_dim,
                   generator=generator, device=device).float().cpu().numpy()
            for size in sizes
        ]  # fmt: skip


def drawn_poses(draws: list[np.ndarray], config: Config, stats: NormStats, seed: int) -> np.ndarray:
    """Network-space draws as (N, D) poses in radians; a canonical-heading run's get a uniform random heading
    about the data's own up axis (the model only ever saw poses at heading 0)."""
    poses = stats.denormalize(np.concatenate(draws))
    if config.data.heading == "canonical":
        poses = random_heading(poses, np.random.default_rng([seed, 1]), run_up_axis(config.data, stats))
    return poses
