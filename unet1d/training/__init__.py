"""Training: the loop (Accelerate) and the components beside it.

- ``loop``: :func:`train` and the :class:`Trainer` whose ``run`` is the loop itself
- ``components``: what the Trainer is made of, each owning its state and cadence
- ``tracking``: W&B and TensorBoard through Accelerate's trackers
- ``metrics``: gradient/parameter norms, memory, loss per timestep bucket
- ``signals``: SIGTERM/SIGINT -> checkpoint -> non-zero exit
- ``launch``: ``--num_processes N`` re-runs the command under Accelerate's launcher
- ``launcher``: that launcher, ending in an exit code and one line instead of torchrun's traceback
- ``launcher_watch``: a rank whose launcher dies stops the run cleanly
- ``lock``: one writer per run folder
- ``optimization``: AdamW, warm-up + cosine, and what a schedule's settings mean for a run
- ``console``: the progress bar or plain lines, and warnings

Checkpoints and the run folder are :mod:`unet1d.store` (below training and evaluation alike).
Submodules load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unet1d._lazy import lazy_exports

if TYPE_CHECKING:
    from unet1d.training.components import TrainingDiverged
    from unet1d.training.loop import Trainer, train

__getattr__, __all__ = lazy_exports(__name__, __file__)
