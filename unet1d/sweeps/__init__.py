"""Sweeps: W&B sweep files and their schema, the local engine, and the agent's command lines.

- ``schema``: read a sweep YAML, check it against W&B's schema and every point against the config
- ``local``: run any sweep here on W&B's own engine, with no W&B server
- ``agent``: the ``wandb agent`` command, and the command line it runs for each point

Submodules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_exports

if TYPE_CHECKING:
    from unet1d.sweeps.schema import read_sweep, validate_sweep

__getattr__, __all__ = lazy_exports(__name__, __file__)
