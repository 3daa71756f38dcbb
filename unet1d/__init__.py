"""unet1d: a 1D UNet denoising-diffusion model over SMPL body poses, and its training service.

Heavy modules (torch) load on first use, so ``unet1d --help`` answers fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_exports

if TYPE_CHECKING:
    from unet1d.config import Config
    from unet1d.config_sources import load_config
    from unet1d.errors import UserError
    from unet1d.model import ResBlock1D, SelfAttention1D, UNet1D, count_parameters

__version__ = "0.1.0"

__getattr__, __all__ = lazy_exports(__name__, __file__)
__all__ += ["__version__"]
