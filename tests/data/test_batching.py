"""Device batches: ranks cover each epoch once, disjointly; resume continues identically."""

from __future__ import annotations

import pytest
import torch

from unet1d.data import DeviceBatches
from unet1d.errors import UserError

# --- NormStats ---------------------------------------------------------------------------------


def index_data(n: int) -> torch.Tensor:
    """Row i holds i, so batches reveal which indices were drawn."""
    return torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 3)


def drawn(batches: DeviceBatches, steps: int) -> list[list[int]]:
    return [batches.next_batch()[:, 0].long().tolist() for _ in range(steps)]


def test_two_ranks_cover_each_epoch_exactly_once_disjointly():
    data = index_data(103)  # global batch 2 x 10 = 20: 5 steps an epoch, 3 indices dropped
    ranks = [DeviceBatches(data, 10, seed=7, rank=r, world_size=2) for r in range(2)]
    assert ranks[0].batches_per_epoch == 5
    epochs = []
    for _ in range(3):
        per_rank = [[i for batch in drawn(b, 5) for i in batch] for b in ranks]
        assert not set(per_rank[0]) & set(per_rank[1])  # disjoint slices
        seen = per_rank[0] + per_rank[1]
        assert len(seen) == len(set(seen)) == 100  # no index twice; all but the dropped tail
        epochs.append(seen)
    assert ranks[0].epoch == 3
    assert epochs[0] != epochs[1] and set(epochs[0]) != set(epochs[1])  # fresh permutation, new tail dropped


def test_batches_have_the_right_shape_and_device_and_depend_on_the_seed():
    data = index_data(64)
    batch = DeviceBatches(data, 16, seed=0).next_batch()
    assert batch.shape == (16, 3) and batch.device == data.device and batch.dtype == data.dtype
    assert drawn(DeviceBatches(data, 16, seed=0), 4) == drawn(DeviceBatches(data, 16, seed=0), 4)
    assert drawn(DeviceBatches(data, 16, seed=0), 4) != drawn(DeviceBatches(data, 16, seed=1), 4)
    # Every rank derives the same permutation: rank 1's first batch is the slice after rank 0's.
    perm = DeviceBatches(data, 8, seed=3, rank=0, world_size=2).permutation(0).tolist()
    assert drawn(DeviceBatches(data, 8, seed=3, rank=1, world_size=2), 1)[0] == perm[8:16]


def test_resume_from_state_dict_continues_identically():
    data = index_data(50)
    original = DeviceBatches(data, 8, seed=11)  # 6 batches an epoch
    drawn(original, 7)  # into the second epoch
    state = original.state_dict()
    expected = drawn(original, 10)
    resumed = DeviceBatches(data, 8, seed=11)
    resumed.load_state_dict(state)
    assert resumed.epoch == 1
    assert drawn(resumed, 10) == expected


def test_resume_with_a_different_batch_size_is_refused():
    state = DeviceBatches(index_data(50), 8, seed=11).state_dict()
    with pytest.raises(UserError, match="batch_size 8 -> 5"):
        DeviceBatches(index_data(50), 5, seed=11).load_state_dict(state)


def test_fewer_samples_than_a_global_batch_is_a_user_error():
    with pytest.raises(UserError, match=r"30 training poses are fewer than one batch \(16 x 2 processes\)"):
        DeviceBatches(index_data(30), 16, seed=0, rank=0, world_size=2)
    with pytest.raises(ValueError, match="rank"):
        DeviceBatches(index_data(30), 4, seed=0, rank=2, world_size=2)
