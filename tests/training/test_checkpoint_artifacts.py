"""`--wandb_log_checkpoints`: the best (by validation loss) and the final checkpoint become versions
of the run's W&B model artifact, read back from the offline run's own log."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.test_tracking import tensorboard_scalars, wandb_records
from unet1d.training import train


@pytest.mark.slow
def test_best_and_final_checkpoints_are_logged_as_model_artifacts(tiny_config, tmp_path: Path) -> None:
    config = tiny_config("--max_steps", "30", "--wandb_mode", "offline", "--wandb_log_checkpoints")
    train(config)
    run_dir = tmp_path / "run"
    run_id = (run_dir / "wandb_run_id").read_text().strip()
    artifacts = [r["artifact"] for r in wandb_records(run_dir) if r["type"] == "artifact"]
    val_losses = tensorboard_scalars(run_dir)["val/loss"]  # at steps 10, 20, 30 (eval and checkpoint every 10)
    best_so_far = [i for i, v in enumerate(val_losses) if v < min(val_losses[:i], default=float("inf"))]
    by_alias = {}
    for artifact in artifacts:
        assert artifact["name"] == f"{run_id}-model" and artifact["type"] == "model"
        for alias in artifact["aliases"]:
            by_alias.setdefault(alias, []).append(artifact)
    # "best" moves with every new lowest validation loss; "final" is logged once, at step 30
    # ("latest" is W&B's own alias for the newest version)
    assert [set(a["aliases"]) - {"latest"} for a in by_alias["best"]] == [
        {"best", f"step-{10 * (i + 1)}"} for i in best_so_far
    ]
    assert [set(a["aliases"]) for a in by_alias["final"]] == [{"final", "latest", "step-30"}]
    files = {entry["path"] for entry in by_alias["final"][0]["manifest"]["contents"]}
    assert {"model.safetensors", "ema.safetensors", "norm_stats.safetensors", "config.yaml"} <= files
