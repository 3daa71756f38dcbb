"""Poses from a network with a run's sampler settings: what evaluation and the training probe share."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING

import numpy as np
import torch

from unet1d.data.representation import network_config
from unet1d.diffusion import NoiseSchedule, sample
from unet1d.evaluation import side_by_side
from unet1d.prior.api import drawn_poses, network_draws

if TYPE_CHECKING:
    from unet1d.config import Config
    from unet1d.data import NormStats

SAMPLE_CHUNK = 512  # poses per sampling batch: bounded activations, no page-fault storms on the CPU


def sample_poses(
    network: torch.nn.Module, config: Config, stats: NormStats, num_samples: int, *, seed: int, device: torch.device
) -> np.ndarray:
    """(num_samples, D) poses in radians from ``network`` with ``config``'s sampler, reproducible by seed.

    Sampled in chunks of :data:`SAMPLE_CHUNK`, the network under the run's autocast
    (:func:`sampling_precision`); with ``data.heading=canonical`` each pose gets a uniform random
    heading about the data's up axis (the model only ever saw poses at heading 0).
    """
    return start_sampling(network, config, stats, num_samples, seed=seed, device=device)()


def start_sampling(
    network: torch.nn.Module,
    config: Config,
    stats: NormStats,
    num_samples: int,
    *,
    seed: int,
    device: torch.device,
    pool: Executor | None = None,
) -> Callable[[], np.ndarray]:
    """:func:`sample_poses` with its later chunks handed to a process of ``pool`` (on the CPU): the earlier
    ones are sampled here before this returns; calling the result waits for the rest. The same poses.

    The chunks share one generator, so the process starts where this one will end: the generator is
    run through this process's chunks with a network that only returns zeros (:func:`_draws_only`: the
    samplers' random draws never depend on the network's values), and its state travels with the chunks.
    """
    schedule = NoiseSchedule.from_config(config.diffusion)
    sizes = [min(SAMPLE_CHUNK, num_samples - start) for start in range(0, num_samples, SAMPLE_CHUNK)]
    handed = len(sizes) // 2 if pool is not None and torch.device(device).type == "cpu" else 0
    own, theirs = sizes[: len(sizes) - handed], sizes[len(sizes) - handed :]
    later = None
    if pool is not None and theirs:
        skipped = _generator(seed, device)
        for size in own:
            sample(_draws_only, schedule, config.diffusion, size, network_config(config).pose_dim,
                   generator=skipped, device=device)  # fmt: skip
        state = skipped.get_state().numpy().tobytes()
        later = pool.submit(_chunks_in_process, side_by_side.pack(network), config, theirs, state)
    chunks = network_draws(side_by_side.in_pieces(network) if pool is not None else network, config, own,
                           _generator(seed, device), device)  # fmt: skip

    def finish() -> np.ndarray:
        return drawn_poses(chunks + (later.result() if later is not None else []), config, stats, seed)

    return finish


def _generator(seed: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def _chunks_in_process(network: bytes, config: Config, sizes: list[int], state: bytes) -> list[np.ndarray]:
    """A fold process's share of the sampling: ``sizes`` chunks from the generator ``state``, on one thread."""
    device = torch.device("cpu")
    generator = torch.Generator(device=device)
    generator.set_state(torch.tensor(np.frombuffer(state, dtype=np.uint8)))
    with side_by_side.one_thread():
        return network_draws(side_by_side.unpack(network), config, sizes, generator, device)


def _draws_only(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A stand-in network for running a generator through a chunk: zeros, as the samplers' arithmetic keeps them."""
    return torch.zeros_like(x)
