"""The network: UNet1D and its blocks, and ``summary`` (parameters per block, the middle's cost: `unet1d info`)
(torch loads on first use).

Which arguments can build one is :mod:`unet1d.network_arguments`, below the config that shares it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_exports

if TYPE_CHECKING:
    from unet1d.model.blocks import ResBlock1D, SelfAttention1D, SinusoidalTimeEmbedding, make_position_encoding
    from unet1d.model.unet import UNet1D, count_parameters

__getattr__, __all__ = lazy_exports(__name__, __file__)
