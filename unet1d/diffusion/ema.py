"""Exponential moving average of a model's weights, for sampling from a smoother model.

Built on ``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn`` (PyTorch's own,
foreach-fused EMA) rather than a hand-written loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class EMA(AveragedModel):
    """EMA weights: after each optimiser step, ``ema.update(model)``; sample with ``ema.module``.

    Update rule (PyTorch's ``AveragedModel``): the first update copies the model's weights;
    each later one sets ``w_ema <- d * w_ema + (1 - d) * w_model``. After updates with weights
    w_1..w_n: ``w_ema = d^(n-1) w_1 + sum_{k=2..n} (1 - d) d^(n-k) w_k``. Buffers (BatchNorm
    running statistics) are copied from the model at every update, not averaged: they
    describe the activations of the current weights, and integer counters cannot be averaged.

    ``warmup=True`` uses ``d_n = min(decay, (1 + n) / (10 + n))`` for the n-th averaging
    update (n = updates so far), so early, barely trained weights fade fast; without it, after
    n updates the first weights still carry d^(n-1) (0.999^2000 = 13.5%).

    ``state_dict()`` holds the averaged module (keys ``module.*``) and the update counter
    ``n_averaged``, so ``load_state_dict`` resumes exactly (given the same decay and warmup).

    Distributed / accelerate: build and update the EMA from the *unwrapped* model
    (``accelerator.unwrap_model(model)``, or ``ddp.module``, or a compiled model's
    ``_orig_mod``); a wrapper would be deep-copied into ``ema.module`` and its state-dict keys
    would not match the bare network's.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, *, warmup: bool = False) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay={decay} must lie in [0, 1]")
        super().__init__(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=False)
        self.decay = decay
        self.warmup = warmup
        # The copy is only ever evaluated: keep BatchNorm on running stats and out of autograd.
        self.module.eval()
        self.module.requires_grad_(False)
        self._count: int | None = None  # n_averaged on the host, so a step reads no device tensor

    @property
    def num_updates(self) -> int:
        """How many times ``update`` has run (restored by ``load_state_dict``)."""
        if self._count is None:
            self._count = int(self.n_averaged)
        return self._count

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        self._count = None  # read n_averaged again
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def current_decay(self) -> float:
        """The decay the next averaging update will apply."""
        if not self.warmup:
            return self.decay
        n = self.num_updates
        return min(self.decay, (1 + n) / (10 + n))

    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights in; call once per optimiser step (unwrapped model).

        ``AveragedModel.update_parameters``' rule in fewer passes: one foreach lerp over all parameters and
        one foreach copy of the buffers, no per-tensor detach/move and no host read of ``n_averaged``.
        Mixed devices or non-float parameters take PyTorch's own path.
        """
        mine = list(self.module.parameters())
        theirs = [p.detach() for p in model.parameters()]
        if len(mine) != len(theirs):
            raise ValueError(f"EMA holds {len(mine)} parameter tensors, the model {len(theirs)}")
        pairs = zip(mine, theirs, strict=True)
        if not all(a.device == b.device and a.dtype == b.dtype and a.is_floating_point() for a, b in pairs):
            if self.warmup:
                self.multi_avg_fn = get_ema_multi_avg_fn(self.current_decay())
            self.update_parameters(model)
            self._count = None
            return
        with torch.no_grad():
            if self.num_updates == 0:
                torch._foreach_copy_(mine, theirs)
            else:
                torch._foreach_lerp_(mine, theirs, 1.0 - self.current_decay())
            buffers = list(self.module.buffers())
            if buffers:
                torch._foreach_copy_(buffers, [b.detach() for b in model.buffers()])
            self.n_averaged += 1
        self._count = self.num_updates + 1
