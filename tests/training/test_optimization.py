"""The optimiser's groups: norms and biases never decay, every other weight decays at optim.weight_decay.

Checked on one AdamW step with zero gradients, where Adam's own update is exactly zero and what is
left is the decoupled decay, ``p <- p * (1 - lr * weight_decay)``: a closed form, computed here
from the parameters' modules (not from the dimension rule the code uses).
"""

from __future__ import annotations

import pytest
import torch

from unet1d.config_sources import load_config
from unet1d.data.representation import network_config
from unet1d.model import UNet1D
from unet1d.training.optimization import build_optimizer

NORMS = (torch.nn.GroupNorm, torch.nn.LayerNorm, torch.nn.modules.batchnorm._BatchNorm)


def _exempt_names(model: torch.nn.Module) -> set[str]:
    """Biases of every layer and the weights of normalisation layers, by module type."""
    names = set()
    for module_name, module in model.named_modules():
        for name, _ in module.named_parameters(recurse=False):
            if name == "bias" or isinstance(module, NORMS):
                names.add(f"{module_name}.{name}" if module_name else name)
    return names


@pytest.mark.parametrize("weight_decay", [0.1, 0.0])
def test_norms_and_biases_do_not_decay_and_the_rest_decays_at_the_configured_rate(weight_decay: float) -> None:
    config = load_config(None, ["--base_channels", "8", "--channel_mults", "1,2", "--lr", "0.01",
                                "--weight_decay", str(weight_decay), "--warmup_steps", "0"], environ={})  # fmt: skip
    torch.manual_seed(0)
    model = UNet1D.from_config(network_config(config))
    exempt = _exempt_names(model)
    modules = dict(model.named_modules())
    assert any(n.endswith("weight") and isinstance(modules[n.rsplit(".", 1)[0]], NORMS) for n in exempt)
    optimizer, _ = build_optimizer(model, config.optim, max_steps=100)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    lr = config.optim.lr
    for name, p in model.named_parameters():
        expected = before[name] if name in exempt else before[name] * (1 - lr * weight_decay)
        torch.testing.assert_close(
            p.detach(), expected, rtol=0, atol=1e-7, msg=f"{name} ({'exempt' if name in exempt else 'decays'})"
        )
    decayed = [n for n in before if n not in exempt]
    assert decayed and len(exempt) >= 10  # both groups are populated


def test_extending_max_steps_names_the_learning_rate_jump_and_only_when_there_is_one() -> None:
    from unet1d.config import OptimConfig
    from unet1d.training.optimization import extension_note, lr_factor

    optim = OptimConfig(lr=1e-3, warmup_steps=5, min_lr_ratio=0.1)
    note = extension_note(optim, 40, 40, 60)
    old, new = (
        1e-3 * lr_factor(40, warmup_steps=5, max_steps=n, schedule="cosine", min_lr_ratio=0.1) for n in (40, 60)
    )
    assert note is not None and f"moves from {old:.2e} to {new:.2e}" in note and new > old
    assert extension_note(optim, 40, 40, 40) is None
    assert extension_note(optim.model_copy(update={"min_lr_ratio": 1.0}), 40, 40, 60) is None  # a flat cosine
    assert extension_note(optim.model_copy(update={"lr_schedule": "constant"}), 40, 40, 60) is None


def test_a_run_that_is_all_warm_up_or_validates_once_is_named() -> None:
    # 60 steps under the default 100 of warm-up ended at lr 6.0e-4 of 1e-3, with one validation: no word said
    from unet1d.config_sources import load_config
    from unet1d.training.optimization import schedule_concerns

    short = schedule_concerns(load_config(None, ["--max_steps", "60", "--lr", "1e-3"], environ={}))
    assert len(short) == 2
    assert short[0].startswith("optim.warmup_steps=100 is not below train.max_steps=60: the whole run warms up")
    assert "its learning rate ends at 6.00e-04, its peak 1.00e-03 unreached" in short[0]
    assert short[1].startswith("train.eval_every=250 exceeds train.max_steps=60: the run validates once")
    assert schedule_concerns(load_config(None, ["--max_steps", "2000"], environ={})) == []
    (equal,) = schedule_concerns(
        load_config(None, ["--max_steps", "5", "--warmup_steps", "5", "--eval_every", "5"], {})
    )
    assert "its learning rate ends at 1.00e-03, its peak at the last step alone" in equal  # it said "unreached"
