"""What a run leaves on disk, shared by its writers (training) and its readers (eval, compare, sweeps).

- ``rundir``: the run folder's file names, and which run a folder holds
- ``checkpoint_files``: a checkpoint on disk without torch: names, marker, config, damage
- ``checkpoints``: the self-describing checkpoint format; saving, exact restore, loading for eval
- ``curves``: the one TensorBoard reader (compare, sweeps)
- ``summary``: ``summary.json``, the trainer's result

Submodules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_exports

if TYPE_CHECKING:
    from unet1d.store.checkpoints import EvalCheckpoint, find_checkpoint, load_for_eval
    from unet1d.store.summary import TrainResult

__getattr__, __all__ = lazy_exports(__name__, __file__)
