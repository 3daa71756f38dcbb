"""The trained model used as a pose prior: complete hidden body parts, denoise noisy poses.

Speaks poses as users hold them (axis-angle radians, the data's own up axis and heading) and
hands the network's space to :mod:`unet1d.diffusion.completion`. Sits above ``store`` (it loads
checkpoints) and below ``evaluation`` (whose task scores use it) and the CLI's `complete` and
`denoise`. Submodules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_exports

if TYPE_CHECKING:
    from unet1d.body.skeleton import COMPLETION_PARTS
    from unet1d.diffusion.completion import DEFAULT_DENOISE_METHOD, DEFAULT_METHOD, DEFAULT_SHRINK, METHODS
    from unet1d.prior.api import PosePrior, parse_mask

__getattr__, __all__ = lazy_exports(__name__, __file__)
