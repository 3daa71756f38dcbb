"""unet1d: a 1D UNet denoising-diffusion model over SMPL body poses, and its training service.

Heavy modules (torch) load on first use, so ``unet1d --help`` answers fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_getattr

__version__ = "0.1.0"

_LAZY = {
    "UNet1D": "unet1d.model",
    "ResBlock1D": "unet1d.model",
    "SelfAttention1D": "unet1d.model",
    "count_parameters": "unet1d.model",
    "Config": "unet1d.config",
    "load_config": "unet1d.config",
    "UserError": "unet1d.errors",
}

if TYPE_CHECKING:
    from unet1d.config import Config, load_config
    from unet1d.errors import UserError
    from unet1d.model import ResBlock1D, SelfAttention1D, UNet1D, count_parameters


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = [
    "Config",
    "ResBlock1D",
    "SelfAttention1D",
    "UNet1D",
    "UserError",
    "__version__",
    "count_parameters",
    "load_config",
]
