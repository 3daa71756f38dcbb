"""Shuffled batches drawn by index from a training tensor that already lives on the device.

Pose data is tiny (72 floats a pose; a million poses is 288 MB), so every process keeps the
whole training split on its device and a batch is one gather: no DataLoader, workers, pinned
memory or host-to-device copy in the hot path.

Epoch ``e`` uses the permutation drawn from a CPU ``torch.Generator`` seeded with (seed, e),
so every rank computes the same permutation on any device. Each step takes the next
``batch_size * world_size`` indices of it and rank ``r`` keeps slice ``r``: ranks see disjoint
poses, and together cover the epoch once. The tail that cannot fill a global batch is dropped
(a different tail each epoch, since the permutation changes).
"""

from __future__ import annotations

import numpy as np
import torch

from unet1d.errors import UserError


def epoch_seed(seed: int, epoch: int) -> int:
    """A well-mixed 63-bit seed for (seed, epoch), so neighbouring epochs are unrelated."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


class DeviceBatches:
    """Endless shuffled batches ``(batch_size, D)`` on ``data.device``, sharded across processes."""

    def __init__(self, data: torch.Tensor, batch_size: int, *, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if data.ndim != 2:
            raise ValueError(f"data must be (N, D), got shape {tuple(data.shape)}")
        if batch_size <= 0 or world_size <= 0 or not 0 <= rank < world_size:
            raise ValueError(f"invalid batch_size={batch_size}, rank={rank}, world_size={world_size}")
        global_batch = batch_size * world_size
        if data.shape[0] < global_batch:
            processes = f" x {world_size} processes" if world_size > 1 else ""
            raise UserError(
                f"{data.shape[0]} training poses are fewer than one batch ({batch_size}{processes}); "
                "lower --batch_size or bring more data"
            )
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.batches_per_epoch = data.shape[0] // global_batch
        self._step = 0  # global batches drawn so far; the whole state
        self._perm_epoch = -1
        self._perm: torch.Tensor | None = None

    @property
    def epoch(self) -> int:
        """The epoch the next batch comes from (= epochs completed)."""
        return self._step // self.batches_per_epoch

    def permutation(self, epoch: int) -> torch.Tensor:
        """Epoch ``epoch``'s order of all N indices (on the CPU; identical on every rank)."""
        generator = torch.Generator(device="cpu").manual_seed(epoch_seed(self.seed, epoch))
        return torch.randperm(self.data.shape[0], generator=generator)

    def next_batch(self) -> torch.Tensor:
        epoch, position = divmod(self._step, self.batches_per_epoch)
        if epoch != self._perm_epoch:
            self._perm = self.permutation(epoch).to(self.data.device)
            self._perm_epoch = epoch
        assert self._perm is not None
        start = (position * self.world_size + self.rank) * self.batch_size
        self._step += 1
        return self.data[self._perm[start : start + self.batch_size]]

    def state_dict(self) -> dict[str, int]:
        return {
            "step": self._step,
            "seed": self.seed,
            "num_samples": int(self.data.shape[0]),
            "batch_size": self.batch_size,
            "world_size": self.world_size,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue exactly where ``state`` left off; refuses a state that cannot give the same batches."""
        mine = self.state_dict()
        changed = [f"{k} {state.get(k)} -> {v}" for k, v in mine.items() if k != "step" and state.get(k) != v]
        if changed:
            raise UserError(
                "cannot resume the data order: " + ", ".join(changed) + " since the checkpoint; "
                "resume with the same data, seed, batch size and process count"
            )
        self._step = int(state["step"])
