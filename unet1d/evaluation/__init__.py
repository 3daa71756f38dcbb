"""Evaluation on top of the core: sample-quality metrics (pure functions) and reports."""
