"""The validation loss needs a network, a schedule and poses: fixed draws, an exact value where one is known."""

from __future__ import annotations

import math
from contextlib import contextmanager

import pytest
import torch
from torch import nn

from unet1d.diffusion import NoiseSchedule
from unet1d.diffusion.validation import (
    VALIDATION_SEED_OFFSET,
    loss_from_sums,
    validation_loss,
    validation_seed,
    validation_subset,
    validation_sums,
)

POSES = torch.randn(11, 6, generator=torch.Generator().manual_seed(3))


class Zero(nn.Module):
    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


class Scale(nn.Module):
    """Any network whose output depends on the noised input (so the noise draws matter)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.weight * x


def schedule() -> NoiseSchedule:
    return NoiseSchedule.cosine(50)


def test_a_zero_prediction_of_x0_scores_the_mean_square_of_the_poses() -> None:
    """With the x0 target a zero output misses each pose by the pose itself, whatever the noise or level."""
    sums = validation_sums(Zero(), schedule(), POSES, prediction="x0", seed=1, chunk=4)
    assert sums.dtype == torch.float64
    assert sums[1].item() == 11
    assert sums[0].item() == pytest.approx(POSES.double().square().mean(dim=1).sum().item(), rel=1e-6)
    assert validation_loss(Zero(), schedule(), POSES, prediction="x0", seed=1, chunk=4) == pytest.approx(
        POSES.double().square().mean().item(), rel=1e-6
    )


def test_the_same_seed_draws_the_same_noise_and_another_seed_other_noise() -> None:
    network = Scale()
    first = validation_loss(network, schedule(), POSES, prediction="eps", seed=7, chunk=4)
    assert validation_loss(network, schedule(), POSES, prediction="eps", seed=7, chunk=4) == first
    assert validation_loss(network, schedule(), POSES, prediction="eps", seed=8, chunk=4) != first


def test_the_chunk_bounds_memory_only_each_pose_meets_the_same_noise_at_any_chunk() -> None:
    """Every draw is made before the first pass: with an eps target a zero output misses each pose by its own
    noise, so the sums are the same to the last bit at any chunk (a run's batch size no longer changes them),
    and equal the draws of one generator seeded with the seed: all timesteps, then all noise."""
    sums = {
        chunk: validation_sums(Zero(), schedule(), POSES, prediction="eps", seed=5, chunk=chunk)
        for chunk in (1, 4, 512)
    }
    assert torch.equal(sums[1], sums[4]) and torch.equal(sums[4], sums[512])
    generator = torch.Generator().manual_seed(5)
    torch.randint(0, schedule().num_timesteps, (len(POSES),), generator=generator)
    noise = torch.randn(POSES.shape, generator=generator)
    assert sums[4][0].item() == pytest.approx(noise.double().square().mean(dim=1).sum().item(), rel=1e-6)
    network = Scale()  # a network that reads the noised input: the noise levels matter too
    losses = {validation_loss(network, schedule(), POSES, prediction="eps", seed=5, chunk=chunk) for chunk in (3, 11)}
    assert len(losses) == 1


@pytest.mark.parametrize("training", [True, False])
def test_the_network_is_scored_in_eval_mode_under_the_given_autocast_and_keeps_its_mode(training: bool) -> None:
    seen: list[bool] = []
    entered: list[str] = []

    class Watch(Zero):
        def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            seen.append(self.training)
            return super().forward(x, t)

    @contextmanager
    def autocast():
        entered.append("in")
        yield

    network = Watch().train(training)
    validation_sums(network, schedule(), POSES, prediction="x0", seed=0, chunk=4, autocast=autocast)
    assert seen == [False, False, False] and entered == ["in"]  # three chunks of at most 4, in eval mode
    assert network.training is training


def test_no_poses_is_nan_and_seeds_stay_apart_from_the_training_seed() -> None:
    empty = validation_sums(Zero(), schedule(), POSES[:0], prediction="x0", seed=0, chunk=4)
    assert math.isnan(loss_from_sums(empty))
    assert validation_seed(5) == 5 + VALIDATION_SEED_OFFSET
    assert validation_seed(5, rank=2) == validation_seed(5) + 2  # each rank its own draws


@pytest.mark.parametrize(("count", "limit"), [(2010, 2048), (2010, 2010), (10_000, 2048), (11, 3), (7, 2)])
def test_the_validation_subset_is_evenly_spaced_and_only_cut_above_its_limit(count: int, limit: int) -> None:
    poses = torch.arange(count, dtype=torch.float32).unsqueeze(1).expand(count, 2)
    subset = validation_subset(poses, limit)
    if count <= limit:
        assert subset is poses
        return
    rows = subset[:, 0].long()
    gaps = rows.diff()
    assert len(rows) == limit and rows[0] == 0 and rows[-1] == count - 1
    assert bool((gaps > 0).all()) and int(gaps.max() - gaps.min()) <= 1  # in order, none twice, even spacing
    assert validation_subset(poses, None) is poses
