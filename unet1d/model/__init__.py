"""The network: UNet1D and its blocks."""

from unet1d.model.blocks import ResBlock1D, SelfAttention1D, SinusoidalTimeEmbedding, make_position_encoding
from unet1d.model.unet import UNet1D, count_parameters

__all__ = [
    "ResBlock1D",
    "SelfAttention1D",
    "SinusoidalTimeEmbedding",
    "UNet1D",
    "count_parameters",
    "make_position_encoding",
]
