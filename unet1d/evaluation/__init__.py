"""Scoring a checkpoint: sample-quality metrics (pure functions), the reference and baselines, sampling, figures.

The classifier test and its fold workers (``c2st``), the prior's task scores and their baselines (``tasks``),
memorisation, the baselines' cache (``baseline_cache``), the stages' times (``timing``), the figure of samples
beside real poses (``side_by_side``), and ``evaluate``, which writes ``eval/step-N.json``.

Below compare and the CLI, beside training: nothing here imports ``unet1d.training``. The
training loop gets its quality probe (:mod:`unet1d.evaluation.probe`) from the command that builds it.
"""
