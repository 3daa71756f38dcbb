"""Gradient and parameter norms against the norm of all values flattened into one vector."""

from __future__ import annotations

import torch
from torch import nn

from unet1d.training.metrics import block_grad_norms, parameter_norm


def test_parameter_norm_is_the_norm_of_every_value_together() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 2)).to(torch.float64)
    everything = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    assert parameter_norm(model).dtype == torch.float32  # float64 weights are measured in float32
    torch.testing.assert_close(parameter_norm(model).double(), everything.norm(), rtol=1e-6, atol=0)


def test_block_grad_norms_take_each_blocks_gradients_only() -> None:
    torch.manual_seed(0)
    first, second, unused = nn.Linear(3, 4), nn.Linear(4, 1), nn.Linear(2, 2)
    second(first(torch.randn(6, 3))).sum().backward()
    norms = block_grad_norms({"first": first, "second": second, "unused": unused}, torch.device("cpu"))
    for index, block in enumerate((first, second)):
        expected = torch.cat([p.grad.reshape(-1) for p in block.parameters()]).norm()
        torch.testing.assert_close(norms[index], expected)
    assert norms[2] == 0  # no gradients yet: an empty block reads 0
