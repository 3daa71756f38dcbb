"""Scoring a checkpoint: sample-quality metrics (pure functions), the reference and baselines, sampling, figures.

Below compare and the CLI, beside training: nothing here imports ``unet1d.training``. The
training loop gets its quality probe (:mod:`unet1d.evaluation.probe`) from the command that builds it.
"""
