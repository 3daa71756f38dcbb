"""The network: UNet1D and its blocks, and the argument checks the config shares with it.

Submodules load on first use: the config imports :mod:`unet1d.model.checks` without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_exports

if TYPE_CHECKING:
    from unet1d.model.blocks import ResBlock1D, SelfAttention1D, SinusoidalTimeEmbedding, make_position_encoding
    from unet1d.model.checks import model_argument_problem, valid_head_counts
    from unet1d.model.unet import UNet1D, count_parameters

__getattr__, __all__ = lazy_exports(__name__, __file__)
