"""Training: the loop (Accelerate) and the components beside it.

- ``loop``: :func:`train` and the :class:`Trainer` whose ``run`` is the loop itself
- ``checkpoints``: atomic, self-describing checkpoints; exact resume; :func:`load_for_eval`
- ``tracking``: W&B and TensorBoard through Accelerate's trackers
- ``metrics``: gradient/parameter norms, memory, loss per timestep bucket
- ``signals``: SIGTERM/SIGINT -> checkpoint -> non-zero exit
- ``launch``: ``--num_processes N`` re-runs the command under Accelerate's launcher
- ``rundir``: which run an output directory holds, and whether we may train into it

Submodules load on first use, so importing ``unet1d.training.checkpoints`` for evaluation does
not pull in the loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_getattr

_LAZY = {
    "train": "unet1d.training.loop",
    "Trainer": "unet1d.training.loop",
    "TrainingDiverged": "unet1d.training.loop",
    "TrainResult": "unet1d.training.result",
    "load_for_eval": "unet1d.training.checkpoints",
    "find_checkpoint": "unet1d.training.checkpoints",
    "EvalCheckpoint": "unet1d.training.checkpoints",
}

if TYPE_CHECKING:
    from unet1d.training.checkpoints import EvalCheckpoint, find_checkpoint, load_for_eval
    from unet1d.training.loop import Trainer, TrainingDiverged, train
    from unet1d.training.result import TrainResult


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = ["EvalCheckpoint", "TrainResult", "Trainer", "TrainingDiverged", "find_checkpoint", "load_for_eval", "train"]
