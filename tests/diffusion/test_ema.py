"""The EMA of the weights: the closed-form geometric average, its warm-up, exact resume, a frozen copy."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from tests.diffusion.test_losses import seeded, tiny_unet
from unet1d.diffusion import (
    EMA,
    NoiseSchedule,
    ddim_sample,
)


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def set_weights(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Give every parameter and float buffer new random values; return a copy of them."""
    generator = seeded(seed)
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(torch.randn(tensor.shape, generator=generator))
            else:
                tensor.add_(1)  # num_batches_tracked
    return {name: value.clone() for name, value in model.state_dict().items()}


def test_ema_equals_the_closed_form_geometric_average() -> None:
    decay, model = 0.9, small_net()
    ema = EMA(model, decay=decay)
    history = []
    for step in range(6):
        history.append(set_weights(model, seed=100 + step))
        ema.update(model)
    n = len(history)
    assert ema.num_updates == n
    averaged = ema.module.state_dict()
    for name, _ in model.named_parameters():
        # w_ema = d^(n-1) w_1 + sum_{k=2..n} (1 - d) d^(n-k) w_k  (the first update copies)
        expected = decay ** (n - 1) * history[0][name]
        expected = expected + sum((1 - decay) * decay ** (n - k) * history[k - 1][name] for k in range(2, n + 1))
        assert torch.allclose(averaged[name], expected, atol=1e-6), name
    for name, buffer in model.named_buffers():  # BatchNorm statistics: copied, not averaged
        assert torch.equal(averaged[name], buffer), name


def test_ema_warmup_decay() -> None:
    model = small_net()
    ema = EMA(model, decay=0.99, warmup=True)
    first = set_weights(model, seed=1)
    ema.update(model)
    assert ema.current_decay() == pytest.approx(2 / 11)  # (1 + n) / (10 + n) after n = 1 update
    second = set_weights(model, seed=2)
    ema.update(model)
    expected = 2 / 11 * first["0.weight"] + 9 / 11 * second["0.weight"]
    assert torch.allclose(ema.module.state_dict()["0.weight"], expected, atol=1e-6)
    for _ in range(498):
        ema.update(model)
    assert ema.current_decay() == pytest.approx(501 / 510)  # n = 500: still warming up
    for _ in range(500):
        ema.update(model)
    assert ema.current_decay() == 0.99


def test_ema_state_dict_resumes_exactly() -> None:
    model = small_net()
    ema = EMA(model, decay=0.8)
    for step in range(3):
        set_weights(model, seed=200 + step)
        ema.update(model)
    buffer = io.BytesIO()
    torch.save(ema.state_dict(), buffer)
    buffer.seek(0)

    resumed = EMA(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)), decay=0.8)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert resumed.num_updates == 3, "the step counter must survive (or the next update would copy)"
    for step in range(3, 5):
        set_weights(model, seed=200 + step)
        ema.update(model)
        resumed.update(model)
    for (name, value), (_, other) in zip(ema.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(value, other), name


def test_ema_module_is_a_frozen_eval_copy_usable_for_sampling() -> None:
    model = tiny_unet()
    ema = EMA(model, decay=0.999)
    assert not ema.module.training and not any(p.requires_grad for p in ema.module.parameters())
    assert all(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    assert not torch.equal(next(model.parameters()), next(ema.module.parameters())), "a copy, not an alias"
    schedule = NoiseSchedule.cosine(10)
    out = ddim_sample(ema.module, schedule, (3, 72), steps=3, generator=seeded(20))
    assert out.shape == (3, 72) and bool(torch.isfinite(out).all())
