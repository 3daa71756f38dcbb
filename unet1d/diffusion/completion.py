"""Completion and denoising with the unconditional denoiser: the prior at work.

One problem covers both tasks: each component ``i`` of the network's vector is observed as
``y_i = x0_i + s_i n_i`` with a known noise level ``s_i`` (in the network's own, standardised
units): ``s_i = 0`` is a component known exactly (completion's visible joints), ``s_i = inf`` one
not observed at all (a hidden joint), anything between a noisy observation (denoising). Every
method returns the known components (``s_i = 0``) exactly as observed.

Methods (measured against each other in docs/quality.md; :data:`DEFAULT_METHOD` is the pick):

* ``replace``: score-SDE imputation (Song et al. 2021), generalised to noisy components. At every
  step of a stochastic DDIM (eta = 1) trajectory, a component whose observation noise is at most
  the diffusion's noise level at that step is replaced by its observation noised to that level:
  ``x_t = sqrt(abar_t) (y + sqrt(sigma_t^2 - s^2) z)`` with ``sigma_t^2 = (1 - abar_t) / abar_t``,
  which is distributed as ``q(x_t | x0)`` exactly; the others follow the reverse process.
* ``repaint``: the same with RePaint's resampling (Lugmayr et al. 2022): each step is undone by
  the forward process and redone ``resample`` times, so the generated part can settle with the
  observed part (``resample`` x the network calls).
* ``dps``: diffusion posterior sampling (Chung et al. 2023): unconditional steps pushed along the
  gradient, through the network, of the observations' misfit ``sum (w (y - x0_hat))^2`` (``w`` =
  1 / max(s, floor), scaled so the most precise weigh 1), step ``guidance / ||w (y - x0_hat)||``.
  Costs a backward pass per step.
* ``dposer``: DPoser's optimisation (Lu et al. 2024): Adam on the unknown components, each
  iteration pulling them towards the network's one-step denoising of themselves noised to a
  timestep that falls linearly from ``t_max`` to ``t_min`` of the schedule (a truncated range: low
  noise refines, it does not redraw). Known components stay fixed; noisy ones also pay the
  Gaussian likelihood of their observation.
* ``anneal``: DPoser's update taken whole, from the prior's mean: the unknown components start at
  the origin of the network's space (the data's mean when standardised) and each iteration
  *replaces* them by the network's one-step denoising of the current estimate noised to a level
  falling from ``ANNEAL_T[1]`` to ``ANNEAL_T[0]`` of the schedule (the observations imposed at
  that level as ``replace`` does). Fresh noise each iteration makes the hypotheses differ; one
  network call per iteration and no gradients, so it is the cheapest.
* ``guided``: ``anneal`` started from where gradient guidance puts the hidden part. Once per input
  (not per hypothesis), ``GUIDED_STARTS`` short ``dps``-style trajectories from pure noise, the
  observations also imposed by replacement, each stopped at ``GUIDED_STOP`` of the schedule, give x0
  estimates; the one the network finds most consistent with the observations starts every hypothesis
  of that input, which then takes ``steps`` ``anneal`` calls. Consistent: each try's hidden part is
  put beside the observed one, the whole noised to each level of ``GUIDED_CHECK`` (the same noise
  for every try of an input), and the network's estimate of the observed components from it is
  compared with the observations; the smallest misfit summed over the levels wins. A hidden part
  from the wrong mode pulls that estimate away from what was seen. Why the trajectories: replacement
  hears the observed part only through copies noised to each step's level, so a subtle observed cue
  (a head tilted up) is drowned exactly where the hidden part's mode is chosen (arms up or down),
  and ``anneal`` from the mean keeps the mode it starts near; the misfit's gradient through the
  network asks the model which hidden values explain the observed ones, and the pick among a few
  tries stops one unlucky trajectory from deciding all the hypotheses. The mode is a property of the
  input, so its price is shared by the hypotheses: rows come in groups of ``group`` copies of one
  input (``impute(..., group=H)``), or the starts come from :func:`guided_start`, run once per input
  in batches as large as the caller likes (``impute(..., start=...)``: what PosePrior does, since
  the trajectories' small batches are what threads and a loaded CPU handle worst).

Hypotheses of one input can be pulled towards their common mean (:func:`shrink_hypotheses`): for
a Gaussian posterior, draws shrunk by ``factor`` are draws at temperature ``factor**2``. Each
guess is then nearer the truth on average (the mean-of-N error falls), at the cost of spread (the
best of N rises); completion's default shrinks by :data:`DEFAULT_SHRINK`.

Shapes: ``observed`` (B, W); ``noise`` (W,) or (B, W), the per-component ``s``. Nothing here
imports the network: ``model(x_t, t)`` is any callable returning the schedule's prediction.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator

import numpy as np
import torch

from unet1d.diffusion.samplers import Denoiser, ddim_timesteps
from unet1d.diffusion.schedules import NoiseSchedule, check_prediction

METHODS: tuple[str, ...] = ("replace", "repaint", "dps", "dposer", "anneal", "guided")
# Picked by accuracy against cost on validation poses (bench/completion_methods.py --validation, docs/quality.md):
# completion is guided (10 guided steps per input, then 5 anneal calls per hypothesis) with the hypotheses shrunk
# halfway to their mean: at about anneal's cost it finds the mode anneal alone missed (both arms hidden: about 1
# pose in 10 off by ~40 cm) and both legs far better; denoising is plain replacement at 20 steps (resampling only
# widened its single draws there).
DEFAULT_METHOD = "guided"
DEFAULT_DENOISE_METHOD = "replace"
GRADIENT_METHODS: tuple[str, ...] = ("dps", "dposer", "guided")  # take gradients, whatever the caller's grad mode
DEFAULT_STEPS: dict[str, int] = {"replace": 20, "repaint": 5, "dps": 20, "dposer": 50, "anneal": 10, "guided": 5}
"""Steps per hypothesis when none are given (network calls: x4 for repaint; dps adds a backward pass each;
guided adds GUIDED_STEPS calls with a backward pass each once per input, shared by its hypotheses)."""
RESAMPLE = 4  # repaint: each step done this many times
GUIDANCE = 1.0  # dps: the step along the misfit's gradient, relative to the misfit's norm
DPOSER_LR = 0.1  # dposer: Adam's step in standardised units (DPoser's)
DPOSER_T = (0.05, 0.3)  # dposer: the timestep range, as fractions of the schedule (DPoser's t_min, t_max)
ANNEAL_T = (0.2, 0.5)  # anneal: the level falls from 0.5 to 0.2 of the schedule (tuned on validation poses)
GUIDED_STEPS = 15  # guided: the shared trajectory's steps per input (a network call and a backward pass each)
GUIDED_STARTS = 2  # guided: trajectories per input; the most consistent one (GUIDED_CHECK) starts its hypotheses
GUIDED_STOP = 0.4  # guided: it stops at this fraction of the schedule and hands on its x0 estimate
GUIDED_CHECK = (0.3, 0.4, 0.5)  # guided: the levels at which each try, completed, is checked: the pick
GUIDED_GUIDANCE = 3.0  # guided: its step along the misfit's gradient, relative to the misfit's norm (dps's is 1)
DEFAULT_SHRINK = 0.5  # completion's hypotheses pulled halfway to their mean (temperature 0.25 for a Gaussian)
NOISE_FLOOR = 1e-3  # dps: the misfit of exactly known components is weighted as if their noise were this


def check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {', '.join(METHODS)}")


def known_noise(hidden: torch.Tensor) -> torch.Tensor:
    """The ``noise`` argument for completion: 0 where observed, inf where ``hidden`` (bool) is True."""
    return torch.where(hidden, torch.tensor(math.inf), torch.tensor(0.0)).to(hidden.device)


def impute(
    model: Denoiser,
    schedule: NoiseSchedule,
    observed: torch.Tensor,
    noise: torch.Tensor,
    *,
    method: str = DEFAULT_METHOD,
    steps: int | None = None,
    prediction: str = "eps",
    generator: torch.Generator | None = None,
    group: int = 1,
    start: torch.Tensor | None = None,
) -> torch.Tensor:
    """Draw x0 given ``observed`` components with per-component noise ``noise`` (0 known, inf hidden) -> (B, W).

    Everything is in the network's space: standardised numbers (a run's ``stats.normalize``, and
    ``stats.denormalize`` after), and ``prediction`` must be what the network predicts, a run's
    ``config.diffusion.prediction`` (``v`` by default; ``eps`` here is a plain DDPM's: a run's network
    read as another's gives wild poses). :class:`~unet1d.prior.PosePrior` does all of that for a run.
    Components with ``noise == 0`` come back exactly as ``observed``. Each call with another
    generator state is another hypothesis. The gradient-taking methods (:data:`GRADIENT_METHODS`) take
    their gradients under ``torch.no_grad`` and ``torch.inference_mode`` too. ``group``: the rows come
    in runs of ``group`` copies of one input (its hypotheses); ``guided`` does its per-input work once
    per run, the other methods treat every row alone. ``start`` (B, W): ``guided``'s start for every
    row, from :func:`guided_start` (then ``group`` is not used).
    """
    check_method(method)
    if group < 1 or observed.shape[0] % group:
        raise ValueError(f"group={group} must be >= 1 and divide the {observed.shape[0]} rows")
    check_prediction(prediction)
    noise = torch.as_tensor(noise, device=observed.device, dtype=torch.float32).expand_as(observed)
    if (noise < 0).any() or noise.isnan().any():
        raise ValueError("noise levels must be >= 0 (0 = known, inf = hidden)")
    steps = DEFAULT_STEPS[method] if steps is None else steps
    least = 0 if method == "guided" else 1  # guided at 0: its start alone, the same for every hypothesis
    if isinstance(steps, bool) or not hasattr(steps, "__index__") or steps < least:
        raise ValueError(f"steps={steps!r} must be a whole number >= {least} (None: {method}'s default)")
    steps = int(steps)
    if method in GRADIENT_METHODS:
        with autograd_on():
            observed, noise = outside_inference(observed), outside_inference(noise)
            start = None if start is None else outside_inference(start)
            return _draw(model, schedule, observed, noise, method, steps, prediction, generator, group, start)
    return _draw(model, schedule, observed, noise, method, steps, prediction, generator, group, start)


@contextlib.contextmanager
def autograd_on() -> Iterator[None]:
    """Gradients recorded whatever the caller's mode: ``torch.enable_grad`` alone cannot leave ``inference_mode``."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def outside_inference(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor``, copied where it was made under ``torch.inference_mode`` (autograd cannot save such a tensor)."""
    return tensor.clone() if tensor.is_inference() else tensor


def _draw(
    model: Denoiser,
    schedule: NoiseSchedule,
    observed: torch.Tensor,
    noise: torch.Tensor,
    method: str,
    steps: int,
    prediction: str,
    generator: torch.Generator | None,
    group: int,
    start: torch.Tensor | None,
) -> torch.Tensor:
    """:func:`impute`'s work, its arguments checked."""
    known = noise == 0
    y = torch.where(noise.isinf(), torch.zeros_like(observed), observed)  # hidden values never read
    if method == "dposer":
        x = _dposer(model, schedule, y, noise, iterations=steps, prediction=prediction, generator=generator)
    elif method == "anneal":
        x = _anneal(model, schedule, y, noise, iterations=steps, prediction=prediction, generator=generator)
    elif method == "guided":
        if start is None:
            start = guided_start(model, schedule, y[::group], noise[::group], prediction=prediction,
                                 generator=generator).repeat_interleave(group, dim=0)  # fmt: skip
        x = torch.where(noise > 0, start.to(y.dtype), y)
        x = _anneal_from(model, schedule, x, y, noise, iterations=steps, prediction=prediction, generator=generator)
    else:
        resample = RESAMPLE if method == "repaint" else 1
        x = _reverse(model, schedule, y, noise, steps=steps, prediction=prediction, generator=generator,
                     resample=resample, guidance=GUIDANCE if method == "dps" else 0.0)  # fmt: skip
    return torch.where(known, observed, x.to(observed.dtype))


def complete(
    model: Denoiser,
    schedule: NoiseSchedule,
    observed: torch.Tensor,
    hidden: torch.Tensor,
    **options: object,
) -> torch.Tensor:
    """The ``hidden`` (bool, (W,) or (B, W)) components of ``observed`` (B, W) drawn from the prior; the rest kept.
    ``options`` as :func:`impute` takes them (``prediction`` among them: a run's is not this one's default)."""
    hidden = torch.as_tensor(np.array(hidden) if isinstance(hidden, np.ndarray) else hidden)  # a copy: any strides
    width = observed.shape[-1]
    if hidden.dtype != torch.bool or tuple(hidden.shape) not in ((width,), (1, width), tuple(observed.shape)):
        raise ValueError(
            f"hidden of dtype {hidden.dtype} and shape {tuple(hidden.shape)}: allowed: bool of shape ({width},), "
            f"(1, {width}) or {tuple(observed.shape)}, one per component of observed (not per joint)"
        )
    return impute(model, schedule, observed, known_noise(hidden.to(observed.device)), **options)  # type: ignore[arg-type]


def denoise(
    model: Denoiser, schedule: NoiseSchedule, noisy: torch.Tensor, noise: torch.Tensor | float, **options: object
) -> torch.Tensor:
    """Clean poses given ``noisy`` (B, W) observations with noise std ``noise`` (scalar, (W,) or (B, W)).

    ``method`` defaults to :data:`DEFAULT_DENOISE_METHOD`."""
    options.setdefault("method", DEFAULT_DENOISE_METHOD)
    return impute(model, schedule, noisy, torch.as_tensor(noise, dtype=torch.float32), **options)  # type: ignore[arg-type]


def shrink_hypotheses(draws: torch.Tensor, known: torch.Tensor, factor: float) -> torch.Tensor:
    """(N, H, W) draws -> each pulled towards its input's mean over H: ``mean + factor (draw - mean)``.

    For draws from a Gaussian posterior the result has covariance ``factor**2 + (1 - factor**2) / H`` times the
    posterior's: a lower temperature. ``known`` ((W,) or (N, W) bool) components come back bit for bit."""
    if not 0.0 <= factor <= 1.0:
        raise ValueError(f"shrink factor={factor} must be in [0, 1] (1 = the draws as they are)")
    if factor == 1.0 or draws.shape[1] == 1:
        return draws
    mean = draws.mean(dim=1, keepdim=True)
    shrunk = mean + factor * (draws - mean)
    return torch.where(known.expand(draws.shape[0], draws.shape[2])[:, None, :], draws, shrunk)


def _randn(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(like.shape, generator=generator, device=like.device, dtype=torch.float32)


def _level_step(schedule: NoiseSchedule, fraction: float) -> int:
    """The timestep at ``fraction`` of the schedule (at least 1: timestep 0 adds no noise to check or refine)."""
    return max(1, round(fraction * (schedule.num_timesteps - 1)))


def _observation_weight(noise: torch.Tensor) -> torch.Tensor:
    """How much each observed component's misfit counts (``dps``, ``guided``): 1 / its noise, a hidden one (inf) 0,
    an exact one as if its noise were NOISE_FLOOR, scaled so the most precise of each row weigh 1."""
    weight = 1.0 / noise.clamp_min(NOISE_FLOOR)
    return weight / weight.amax(dim=1, keepdim=True).clamp_min(1e-12)


def _observe(x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor, abar: float, z: torch.Tensor) -> torch.Tensor:
    """``x`` (a state at noise level abar) with every component observed at least that precisely replaced by its
    observation noised up to the level: ``sqrt(abar) (y + sqrt(sigma^2 - s^2) z)``, ``q(x_t | x0)`` exactly."""
    level = (1.0 - abar) / abar  # sigma^2 of x_t / sqrt(abar) about x0
    take = noise.square() <= level  # no early return when none is: asking would wait on a GPU every step
    extra = (level - noise.square()).clamp_min(0.0).sqrt()
    return torch.where(take, math.sqrt(abar) * (y + extra * z), x)


def _reverse(
    model: Denoiser,
    schedule: NoiseSchedule,
    y: torch.Tensor,
    noise: torch.Tensor,
    *,
    steps: int,
    prediction: str,
    generator: torch.Generator | None,
    resample: int,
    guidance: float,
) -> torch.Tensor:
    """``replace`` / ``repaint`` / ``dps``: a stochastic DDIM (eta = 1) trajectory over ``steps`` timesteps."""
    timesteps = ddim_timesteps(schedule.num_timesteps, min(steps, schedule.num_timesteps))  # a short schedule: all
    abar = schedule.alphas_cumprod.tolist()
    weight = _observation_weight(noise)
    x = _randn(y, generator)
    for index, step in enumerate(timesteps):
        abar_t = abar[step]
        abar_prev = abar[timesteps[index + 1]] if index + 1 < len(timesteps) else 1.0
        t = torch.full((y.shape[0],), step, dtype=torch.long, device=y.device)
        for round_ in range(resample):
            if not guidance:
                x = _observe(x, y, noise, abar_t, _randn(y, generator))
            x_prev, grad = _ddim_step(model, schedule, x, t, abar_t, abar_prev, prediction, generator,
                                      y, weight, guidance)  # fmt: skip
            if grad is not None:
                x_prev = x_prev - grad
            if abar_prev == 1.0:
                return x_prev
            if round_ + 1 < resample:  # RePaint: back to t by the forward process, and again
                ratio = abar_t / abar_prev
                x = math.sqrt(ratio) * x_prev + math.sqrt(1.0 - ratio) * _randn(y, generator)
        x = x_prev
    return x


def _ddim_step(
    model: Denoiser,
    schedule: NoiseSchedule,
    x: torch.Tensor,
    t: torch.Tensor,
    abar_t: float,
    abar_prev: float,
    prediction: str,
    generator: torch.Generator | None,
    y: torch.Tensor,
    weight: torch.Tensor,
    guidance: float,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One eta = 1 DDIM step from ``x`` at abar_t to abar_prev (x0_hat at the last), and DPS's correction."""
    grad = None
    if guidance:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            x0_hat, eps_hat = schedule.split_prediction(model(x, t), x, t, prediction)
            misfit = ((y - x0_hat.float()) * weight).square().sum(dim=1)
            (gradient,) = torch.autograd.grad(misfit.sum(), x)
        norm = misfit.detach().sqrt().clamp_min(1e-12)[:, None]
        grad = guidance * gradient / norm
        x, x0_hat, eps_hat = x.detach(), x0_hat.detach(), eps_hat.detach()
    else:
        with torch.no_grad():
            x0_hat, eps_hat = schedule.split_prediction(model(x, t), x, t, prediction)
    x0_hat, eps_hat = x0_hat.float(), eps_hat.float()
    if abar_prev == 1.0:
        return x0_hat, grad
    sigma = math.sqrt((1.0 - abar_prev) / (1.0 - abar_t) * (1.0 - abar_t / abar_prev))
    direction = math.sqrt(max(1.0 - abar_prev - sigma**2, 0.0))
    x_prev = math.sqrt(abar_prev) * x0_hat + direction * eps_hat + sigma * _randn(x0_hat, generator)
    return x_prev, grad


def _dposer(
    model: Denoiser,
    schedule: NoiseSchedule,
    y: torch.Tensor,
    noise: torch.Tensor,
    *,
    iterations: int,
    prediction: str,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """DPoser's optimisation: Adam on the unknown components towards their one-step denoising, t falling."""
    free = noise > 0
    noisy = free & noise.isfinite()
    start = torch.where(noise.isinf(), _randn(y, generator), y)  # hidden components start as noise (DPoser's)
    variable = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([variable], lr=DPOSER_LR)
    abar = schedule.alphas_cumprod.tolist()
    t_min, t_max = DPOSER_T
    precision = torch.where(noisy, 1.0 / noise.clamp_min(NOISE_FLOOR).square(), torch.zeros_like(noise))
    for iteration in range(iterations):
        fraction = t_min + (iterations - 1 - iteration) / iterations * (t_max - t_min)
        step = _level_step(schedule, fraction)
        t = torch.full((y.shape[0],), step, dtype=torch.long, device=y.device)
        with torch.no_grad():
            x_t = math.sqrt(abar[step]) * variable + math.sqrt(1.0 - abar[step]) * _randn(y, generator)
            target, _ = schedule.split_prediction(model(x_t, t), x_t, t, prediction)
        optimizer.zero_grad(set_to_none=True)
        prior = (variable - target.float()).square().sum(dim=1)
        likelihood = 0.5 * (precision * (variable - y).square()).sum(dim=1)
        (prior + likelihood).sum().backward()
        variable.grad.mul_(free)  # known components never move
        optimizer.step()
    return variable.detach()


def _anneal(
    model: Denoiser,
    schedule: NoiseSchedule,
    y: torch.Tensor,
    noise: torch.Tensor,
    *,
    iterations: int,
    prediction: str,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """``anneal``: from the prior's mean, each iteration the network's one-step denoising of the estimate noised to
    a level falling from ANNEAL_T[1] to ANNEAL_T[0] (observations imposed at that level, as ``replace`` does)."""
    start = torch.where(noise.isinf(), torch.zeros_like(y), y)  # hidden: the origin (the data's mean, standardised)
    return _anneal_from(model, schedule, start, y, noise, iterations=iterations, prediction=prediction,
                        generator=generator)  # fmt: skip


def _anneal_from(
    model: Denoiser,
    schedule: NoiseSchedule,
    x: torch.Tensor,
    y: torch.Tensor,
    noise: torch.Tensor,
    *,
    iterations: int,
    prediction: str,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """``iterations`` anneal updates of the estimate ``x`` (one network call each, no gradients)."""
    abar = schedule.alphas_cumprod.tolist()
    low, high = ANNEAL_T
    for iteration in range(iterations):
        fraction = high - (high - low) * iteration / max(iterations - 1, 1)
        step = _level_step(schedule, fraction)
        abar_t = abar[step]
        x_t = math.sqrt(abar_t) * x + math.sqrt(1.0 - abar_t) * _randn(y, generator)
        x_t = _observe(x_t, y, noise, abar_t, _randn(y, generator))
        t = torch.full((y.shape[0],), step, dtype=torch.long, device=y.device)
        with torch.no_grad():
            x0_hat, _ = schedule.split_prediction(model(x_t, t), x_t, t, prediction)
        x = x0_hat.float()
    return x


def guided_start(
    model: Denoiser,
    schedule: NoiseSchedule,
    observed: torch.Tensor,
    noise: torch.Tensor,
    *,
    prediction: str = "eps",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``guided``'s start for each input (B, W): GUIDED_STARTS guided trajectories each; the one that, completed,
    the network finds most consistent with the observations (:func:`_consistency`; with GUIDED_CHECK empty, the
    one whose own x0 estimate fits them best). Known components come back as observed; hidden ones never read.
    Its gradients are taken under ``torch.no_grad`` and ``torch.inference_mode`` too."""
    noise = torch.as_tensor(noise, device=observed.device, dtype=torch.float32).expand_as(observed)
    with autograd_on():
        observed, noise = outside_inference(observed), outside_inference(noise)
        y = torch.where(noise.isinf(), torch.zeros_like(observed), observed).float()
        tries_y = y.repeat_interleave(GUIDED_STARTS, dim=0)
        tries_noise = noise.repeat_interleave(GUIDED_STARTS, dim=0)
        tries, misfit = _guided_start(model, schedule, tries_y, tries_noise, prediction=prediction,
                                      generator=generator)  # fmt: skip
        if GUIDED_CHECK:
            misfit = _consistency(model, schedule, tries, tries_y, tries_noise, prediction=prediction,
                                  generator=generator)  # fmt: skip
    best = misfit.view(len(y), GUIDED_STARTS).argmin(dim=1)
    chosen = tries.view(len(y), GUIDED_STARTS, -1)[torch.arange(len(y), device=y.device), best]
    return torch.where(noise == 0, observed, chosen.to(observed.dtype))


def _consistency(
    model: Denoiser,
    schedule: NoiseSchedule,
    tries: torch.Tensor,
    y: torch.Tensor,
    noise: torch.Tensor,
    *,
    prediction: str,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """How badly each try, completed (hidden numbers from the try, the others as observed), explains what was
    observed: the network's estimate of the observed numbers from the completed pose noised to each level of
    GUIDED_CHECK, its weighted squared misfit summed over the levels -> (rows,). Rows come in runs of
    GUIDED_STARTS tries of one input, and the tries of an input share each level's noise, so the sum compares
    the tries, not the draws. No gradients: one network call per level."""
    abar = schedule.alphas_cumprod.tolist()
    weight = _observation_weight(noise)
    completed = torch.where(noise > 0, tries, y)
    total = torch.zeros(len(y), device=y.device)
    with torch.no_grad():
        for fraction in GUIDED_CHECK:
            step = _level_step(schedule, fraction)
            z = _randn(y[::GUIDED_STARTS], generator).repeat_interleave(GUIDED_STARTS, dim=0)
            x_t = math.sqrt(abar[step]) * completed + math.sqrt(1.0 - abar[step]) * z
            t = torch.full((len(y),), step, dtype=torch.long, device=y.device)
            x0_hat, _ = schedule.split_prediction(model(x_t, t), x_t, t, prediction)
            total += ((y - x0_hat.float()) * weight).square().sum(dim=1)
    return total


def guided_timesteps(num_timesteps: int) -> list[int]:
    """The shared trajectory's GUIDED_STEPS timesteps: from T - 1 down to GUIDED_STOP of the schedule, evenly."""
    last = num_timesteps - 1
    stop = round(GUIDED_STOP * last)
    return [round(last - (last - stop) * i / max(GUIDED_STEPS - 1, 1)) for i in range(GUIDED_STEPS)]


def _guided_start(
    model: Denoiser,
    schedule: NoiseSchedule,
    y: torch.Tensor,
    noise: torch.Tensor,
    *,
    prediction: str,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``guided``'s x0 estimates and their misfits: eta = 1 DDIM steps from pure noise over
    :func:`guided_timesteps`, each with the observations imposed by replacement (``_observe``) and a step of
    GUIDED_GUIDANCE / ||misfit|| against the gradient of the observations' weighted misfit
    ``sum (w (y - x0_hat))^2`` (``dps``'s weights and step) -> (x0_hat at the last timestep, where no gradient is
    taken, and its misfit per row: how well the network's estimate there explains what was observed)."""
    abar = schedule.alphas_cumprod.tolist()
    timesteps = guided_timesteps(schedule.num_timesteps)
    weight = _observation_weight(noise)
    x = _randn(y, generator)
    for step, following in itertools.pairwise(timesteps):
        x = _observe(x, y, noise, abar[step], _randn(y, generator))
        t = torch.full((y.shape[0],), step, dtype=torch.long, device=y.device)
        x_prev, grad = _ddim_step(model, schedule, x, t, abar[step], abar[following], prediction, generator,
                                  y, weight, GUIDED_GUIDANCE)  # fmt: skip
        x = x_prev - grad
    step = timesteps[-1]
    x = _observe(x, y, noise, abar[step], _randn(y, generator))
    t = torch.full((y.shape[0],), step, dtype=torch.long, device=y.device)
    with torch.no_grad():
        x0_hat, _ = schedule.split_prediction(model(x, t), x, t, prediction)
    x0_hat = x0_hat.float()
    return x0_hat, ((y - x0_hat) * weight).square().sum(dim=1)
