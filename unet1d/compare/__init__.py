"""Compare finished runs: their numbers, statistics over seeds, curves, plots and reports.

On top of the core: reads only what runs leave on disk (:mod:`unet1d.store`) and eval reports.
Submodules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_exports

if TYPE_CHECKING:
    from unet1d.compare.runs import compare_runs, find_runs

__getattr__, __all__ = lazy_exports(__name__, __file__)
