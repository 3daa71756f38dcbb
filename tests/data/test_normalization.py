"""Normalisation statistics: fit, round trips, safetensors, the identity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unet1d.data import NormStats
from unet1d.data.normalization import STD_FLOOR

# --- NormStats ---------------------------------------------------------------------------------


@pytest.fixture
def poses() -> np.ndarray:
    rng = np.random.default_rng(0)
    data = rng.normal(loc=np.linspace(-1, 1, 6), scale=np.linspace(0.1, 2.0, 6), size=(4000, 6))
    data[:, 2] = 0.7  # a constant dimension, like zero-filled hands
    return data.astype(np.float32)


def test_fit_gives_zero_mean_unit_std_and_floors_constant_dims(poses):
    stats = NormStats.fit(poses)
    assert stats.mean.dtype == stats.std.dtype == np.float32 and stats.dim == 6
    assert stats.std[2] == pytest.approx(STD_FLOOR)
    normed = stats.normalize(poses)
    moving = [0, 1, 3, 4, 5]
    np.testing.assert_allclose(normed.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(normed.std(axis=0)[moving], 1.0, atol=1e-4)
    assert np.abs(normed[:, 2]).max() < 1e-3  # constant dim stays at ~0 instead of exploding


def test_chunked_fit_matches_numpy(poses):
    stats = NormStats.fit(poses, chunk=7)  # many uneven chunks
    np.testing.assert_allclose(stats.mean, poses.astype(np.float64).mean(axis=0), rtol=1e-6, atol=1e-7)
    expected_std = np.maximum(poses.astype(np.float64).std(axis=0), STD_FLOOR)
    np.testing.assert_allclose(stats.std, expected_std, rtol=1e-5)


def test_round_trip_numpy_and_torch_keep_dtype_and_device(poses):
    stats = NormStats.fit(poses)
    for x in (poses, poses.astype(np.float64), poses.reshape(2, 2000, 6)):
        back = stats.denormalize(stats.normalize(x))
        assert isinstance(back, np.ndarray) and back.dtype == x.dtype and back.shape == x.shape
        np.testing.assert_allclose(back, x, atol=1e-5)
    tensor = torch.from_numpy(poses)
    normed = stats.normalize(tensor)
    assert isinstance(normed, torch.Tensor) and normed.dtype == torch.float32 and normed.device == tensor.device
    np.testing.assert_allclose(normed.numpy(), stats.normalize(poses), atol=1e-6)
    torch.testing.assert_close(stats.denormalize(normed), tensor, atol=1e-5, rtol=0)
    half = stats.normalize(tensor.to(torch.bfloat16))
    assert half.dtype == torch.bfloat16


def test_denormalize_is_x_times_std_plus_mean():
    stats = NormStats(np.array([1.0, -2.0]), np.array([2.0, 0.5]))
    np.testing.assert_allclose(stats.denormalize(np.array([[1.0, 2.0]])), [[3.0, -1.0]])
    np.testing.assert_allclose(stats.normalize(np.array([[3.0, -1.0]])), [[1.0, 2.0]])


def test_tensors_round_trip_through_safetensors(poses, tmp_path):
    from safetensors.torch import load_file, save_file

    stats = NormStats.fit(poses)
    tensors = stats.to_tensors()
    assert set(tensors) == {"mean", "std", "envelope"} and tensors["mean"].dtype == torch.float32
    np.testing.assert_array_equal(stats.envelope, np.stack([poses.min(axis=0), poses.max(axis=0)], axis=-1))
    save_file(tensors, tmp_path / "stats.safetensors")
    loaded = NormStats.from_tensors(load_file(tmp_path / "stats.safetensors"))
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    np.testing.assert_array_equal(loaded.std, stats.std)
    np.testing.assert_array_equal(loaded.envelope, stats.envelope)
    with pytest.raises(ValueError, match="lack"):
        NormStats.from_tensors({"mean": tensors["mean"]})


def test_identity_changes_nothing_and_shape_mismatch_is_refused(poses):
    identity = NormStats.identity(6)
    np.testing.assert_array_equal(identity.normalize(poses), poses)
    with pytest.raises(ValueError, match="last dimension"):
        identity.normalize(np.zeros((3, 5)))
