"""Dashboards: a real offline W&B run and real TensorBoard event files hold the metrics; W&B
trouble warns and training goes on."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from unet1d.training import train
from unet1d.wandb_access import (
    configured_base_url,
    has_wandb_credentials,
    resolve_wandb_mode,
    server_address,
    unreachable_reason,
    wandb_base_url,
)

PER_BLOCK = ["time_embed", "input", "down0", "down1", "mid", "up0", "output"]


def wandb_records(run_dir: Path) -> list[dict]:
    """Every record of the run's .wandb log(s), read back with `wandb leet inspect --json`."""
    records = []
    for log in sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb")):
        out = subprocess.run(
            [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(log)],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        records += [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return records


def wandb_history(run_dir: Path) -> list[dict]:
    return [r["history"]["item"] for r in wandb_records(run_dir) if r["type"] == "history"]


def tensorboard_scalars(run_dir: Path) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [e.value for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_wandb_mode_auto_goes_online_only_with_credentials(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    bare = {"HOME": str(home)}
    assert resolve_wandb_mode("auto", bare) == "offline"
    assert resolve_wandb_mode("auto", {**bare, "WANDB_API_KEY": "k" * 40}) == "online"
    assert resolve_wandb_mode("auto", {**bare, "WANDB_MODE": "disabled", "WANDB_API_KEY": "k" * 40}) == "disabled"
    assert resolve_wandb_mode("offline", {**bare, "WANDB_API_KEY": "k" * 40}) == "offline"
    (home / ".netrc").write_text("machine example.org login user password secret\n")
    assert not has_wandb_credentials(bare)
    (home / ".netrc").write_text("machine api.wandb.ai login user password " + "k" * 40 + "\n")
    (home / ".netrc").chmod(0o600)
    assert has_wandb_credentials(bare)
    assert resolve_wandb_mode("auto", bare) == "online"


def test_a_self_hosted_server_that_wandb_login_recorded_counts_as_credentials(tmp_path):
    """`wandb login --host https://wandb.example.org` keeps the key in ~/.netrc under that host and the
    host in W&B's settings file; `auto` must go online for it, as for W&B's own server."""
    home = tmp_path / "home"
    (home / ".config" / "wandb").mkdir(parents=True)
    (home / ".netrc").write_text("machine wandb.example.org login user password " + "k" * 40 + "\n")
    (home / ".netrc").chmod(0o600)
    bare = {"HOME": str(home)}
    assert resolve_wandb_mode("auto", bare) == "offline"  # a key for a host W&B was never pointed at
    assert wandb_base_url(bare) == "https://api.wandb.ai"
    (home / ".config" / "wandb" / "settings").write_text("[default]\nbase_url = https://wandb.example.org\n")
    assert configured_base_url(bare) == "https://wandb.example.org"
    assert wandb_base_url(bare) == "https://wandb.example.org"  # the server a run probes and talks to
    assert wandb_base_url({**bare, "WANDB_BASE_URL": "http://localhost:8080"}) == "http://localhost:8080"
    assert resolve_wandb_mode("auto", bare) == "online"
    elsewhere = tmp_path / "config"
    elsewhere.mkdir()
    assert resolve_wandb_mode("auto", {**bare, "WANDB_CONFIG_DIR": str(elsewhere)}) == "offline"  # read from there
    (elsewhere / "settings").write_text("not an ini file")
    assert configured_base_url({**bare, "WANDB_CONFIG_DIR": str(elsewhere)}) is None


@pytest.mark.slow
def test_offline_wandb_and_tensorboard_hold_loss_lr_and_gradient_norms(tiny_config, tmp_path):
    config = tiny_config("--max_steps", "20", "--wandb_mode", "offline", "--wandb_run_name", "tiny")
    train(config)
    run_dir = tmp_path / "run"
    run_id = (run_dir / "wandb_run_id").read_text().strip()
    assert list((run_dir / "wandb").glob(f"offline-run-*-{run_id}"))  # syncable later: `wandb sync <dir>`

    records = wandb_records(run_dir)
    run_record = next(r["run"] for r in records if r["type"] == "run")
    assert run_record["run_id"] == run_id
    assert run_record["tags"] == ["attention-8"]  # model.mid: what a dashboard filters the middles by
    assert run_record["display_name"] == "tiny"
    run_config = {k: v for r in records if r["type"] == "config" for k, v in r["config"]["update"].items()}
    assert run_config == {**config.flat(), "model.channel_mults": [1, 2]}  # the resolved config, flat names
    assert "WANDB_API_KEY" not in json.dumps(records)

    history = [r["history"]["item"] for r in records if r["type"] == "history"]
    every_step = [row["train/grad_norm"] for row in history if "train/grad_norm" in row]
    assert len(every_step) == 20  # the pre-clipping norm of every step
    wanted = ["train/loss", "train/lr", "train/grad_norm", "train/samples_per_s", "train/param_norm", "val/loss"]
    wanted += ["train/peak_memory_mb", "train/model_size_mb"] + [f"train/grad_norm/{b}" for b in PER_BLOCK]
    for key in wanted:
        values = [row[key] for row in history if key in row]
        assert values and all(isinstance(v, (int, float)) and math.isfinite(v) for v in values), key
    assert any(key.startswith("train/loss_t") for row in history for key in row)  # loss per timestep bucket

    scalars = tensorboard_scalars(run_dir)
    for key in ["train/loss", "train/lr", "train/grad_norm", *(f"train/grad_norm/{b}" for b in PER_BLOCK)]:
        assert scalars.get(key) and all(math.isfinite(v) for v in scalars[key]), key
    assert len(scalars["train/grad_norm"]) == 20


def tensorboard_hparams(run_dir: Path) -> tuple[list[str], dict[str, object]]:
    """The HParams table's metric columns and this run's settings, as the run's own event file holds them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    content = events.PluginTagToContent("hparams")
    experiment = HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    start = HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    settings = {key: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind")) for key, value in
                start.hparams.items()}  # fmt: skip
    return [info.name.tag for info in experiment.metric_infos], settings


def test_tensorboard_keeps_the_settings_in_the_run_itself_across_sessions(tiny_config, tmp_path):
    # Accelerate's add_hparams made a timestamped sub-run per session: extra runs, and settings apart from scores
    train(tiny_config("--max_steps", "4", "--mid", "conv"))
    train(tiny_config("--max_steps", "8", "--mid", "conv", "--resume", "auto"))
    board = tmp_path / "run" / "tensorboard"
    assert [path for path in board.iterdir() if not path.name.startswith("events.out.tfevents.")] == []

    metrics, settings = tensorboard_hparams(tmp_path / "run")
    assert metrics[:2] == ["val/loss", "val/loss_ema"] and "eval/c2st_auc" in metrics
    assert settings["model.mid"] == "conv" and settings["model.mid_structure"] == "conv"
    assert settings["model.channel_mults"] == "[1, 2]"  # a list as text: hparams hold only scalars
    assert "val/loss" in tensorboard_scalars(tmp_path / "run")  # the scores those columns show, in the same run


def test_wandb_without_credentials_warns_and_trains_offline(tiny_config, tmp_path, capsys):
    config = tiny_config("--max_steps", "5", "--wandb_mode", "online")  # no API key anywhere (isolated HOME)
    result = train(config)
    assert result.exit_code == 0 and result.final_step == 5
    assert "warning: W&B could not start" in capsys.readouterr().err
    history = wandb_history(tmp_path / "run")  # the same run, kept offline for `wandb sync`
    assert [row["train/grad_norm"] for row in history if "train/grad_norm" in row]


@pytest.mark.slow
def test_a_wandb_that_cannot_start_at_all_is_named_once_and_the_run_logs_its_figure_elsewhere(
    tiny_config, tmp_path, capsys
):
    """<output_dir>/wandb a file: even offline W&B cannot start. One warning, and nothing after it speaks of
    W&B's missing run (the final evaluation's figure logged "'NoneType' object has no attribute 'log'")."""
    from unet1d.evaluation.probe import QualityProbe

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "wandb").write_text("in the way\n")
    config = tiny_config("--max_steps", "5", "--wandb_mode", "offline", "--final_eval_samples", "32",
                         "--task_poses", "0")  # fmt: skip
    result = train(config, probe=QualityProbe)
    err = capsys.readouterr().err
    assert result.exit_code == 0 and result.quality is not None
    assert err.count("warning: W&B is unavailable") == 1 and "NoneType" not in err and "could not log" not in err, err


@pytest.mark.slow
def test_an_unreachable_wandb_server_sends_the_run_offline_at_once(start_cli, tiny_flags, tmp_path):
    unreachable = {
        "WANDB_BASE_URL": "http://user:secret@127.0.0.1:9/path",  # nothing listens: wandb.init would retry ~100 s
        "WANDB_API_KEY": "k" * 40,
        "no_proxy": "127.0.0.1",  # asked directly, whatever proxy this machine names
    }
    run_dir = tmp_path / "run"
    started = time.monotonic()
    process = start_cli("train", *tiny_flags, "--output_dir", str(run_dir), "--max_steps", "5", env=unreachable)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    assert "warning: W&B server http://127.0.0.1:9 is unreachable (Connection refused); logging offline" in output
    assert time.monotonic() - started < 60  # not wandb.init's 90 s init timeout
    assert "k" * 40 not in output and "secret" not in output  # neither the key nor the URL's password
    assert wandb_history(run_dir)  # the same run, kept offline for `wandb sync`


def test_unreachable_reason_names_what_failed_and_waits_at_most_its_timeout(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]
        assert unreachable_reason(f"http://127.0.0.1:{port}/graphql") is None
    assert unreachable_reason(f"http://127.0.0.1:{port}") == "Connection refused"  # closed now
    assert unreachable_reason("not a url") is None  # no host: wandb.init decides
    assert server_address("https://user:pw@wandb.example.org:8443/x?y") == "https://wandb.example.org:8443"

    hung = threading.Event()
    hangs = lambda *args, **kwargs: (hung.wait(30), socket.socket())[1]  # noqa: E731  a lookup that hangs
    monkeypatch.setattr(socket, "create_connection", hangs)
    started = time.monotonic()
    assert unreachable_reason("http://wandb.example.org", timeout_s=0.3) == "no connection within 0.3 s"
    assert time.monotonic() - started < 2
    hung.set()  # the abandoned attempt ends (a daemon thread: it never held the caller)


def test_unreachable_reason_asks_the_proxy_where_the_environment_names_one(monkeypatch):
    with socket.create_server(("127.0.0.1", 0)) as proxy:
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{proxy.getsockname()[1]}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        assert unreachable_reason("https://127.0.0.1:9") is None  # the proxy answers for a server we cannot reach
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        assert unreachable_reason("https://127.0.0.1:9") == "Connection refused"  # bypassed: asked directly


@pytest.mark.slow
def test_best_and_final_checkpoints_are_logged_as_model_artifacts(tiny_config, tmp_path: Path) -> None:
    config = tiny_config("--max_steps", "30", "--wandb_mode", "offline", "--wandb_log_checkpoints")
    train(config)
    run_dir = tmp_path / "run"
    run_id = (run_dir / "wandb_run_id").read_text().strip()
    artifacts = [r["artifact"] for r in wandb_records(run_dir) if r["type"] == "artifact"]
    val_losses = tensorboard_scalars(run_dir)["val/loss_ema"]  # at steps 10, 20, 30 (eval and checkpoint every 10)
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


def test_a_dashboard_that_fails_leaves_the_others_logging(tiny_config, tmp_path, capsys) -> None:
    """W&B is the first tracker: once its log raised, TensorBoard got nothing more for the rest of the run
    (`compare` and `sweep local` read TensorBoard, so the run looked empty), after one warning."""
    from accelerate import Accelerator

    from unet1d.store.curves import read_curves
    from unet1d.training.tracking import Tracking

    config = tiny_config("--wandb_mode", "offline")
    tracking = Tracking(config, run_id="failing1", resume_step=None)
    tracking.start(Accelerator(cpu=True, log_with=tracking.trackers), config.flat())
    tracking.wandb_run.finish()  # W&B's run is gone underneath: each log now raises
    for step in (1, 2, 3):
        tracking.log({"train/loss": 1.0 / step}, step=step)
    figure = tmp_path / "poses.png"
    import matplotlib.pyplot as plt

    plt.imsave(figure, np.zeros((8, 8, 3)))
    tracking.log_image("eval/poses", figure, step=3)  # the image too: one try around both trackers blanked it
    tracking.finish()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert events.Tags()["images"] == ["eval/poses"]
    assert [step for step, _, _ in read_curves(tmp_path / "run").points["train/loss"]] == [1, 2, 3]
    warnings = [line for line in capsys.readouterr().err.splitlines() if "logging to wandb failed" in line]
    assert len(warnings) == 1 and "and so does logging to the other dashboards" in warnings[0]


def test_a_tensorboard_tracker_never_started_closes_without_a_word(tmp_path, capsys) -> None:
    """A Ctrl-C while W&B started (before TensorBoard's start) printed only "warning: closing the tensorboard
    tracker failed ('TensorBoard' object has no attribute 'writer')"."""
    from unet1d.training.tracking import TensorBoard

    TensorBoard("tensorboard", str(tmp_path)).finish()
    assert not (tmp_path / "tensorboard").exists()


@pytest.mark.slow  # a run with its final evaluation and W&B
def test_the_wandb_summary_holds_the_final_scores_and_the_whole_runs_figures(
    tiny_config, tmp_path, monkeypatch
) -> None:
    """A runs table or a sweep reads the summary: it had no training time, a window's throughput, and the
    final scores only as history (which W&B drops at a step it has passed: a resumed run's evaluation)."""
    from unet1d.evaluation import quality
    from unet1d.evaluation.probe import QualityProbe

    monkeypatch.setattr(quality, "REFERENCE_POSES", 400)  # a smaller fresh reference: same code, faster
    config = tiny_config("--max_steps", "10", "--wandb_mode", "offline", "--final_eval_samples", "32",
                         "--task_poses", "0")  # fmt: skip
    train(config, probe=QualityProbe)
    summary = {key: value for record in wandb_records(tmp_path / "run") if record["type"] == "summary"
               for key, value in record["summary"]["update"].items()}  # fmt: skip
    stored = json.loads((tmp_path / "run" / "summary.json").read_text())
    for name in ("wall_time_s", "steps_per_s", "samples_per_s", "peak_memory_mb", "final_step"):
        assert summary[f"run/{name}"] == pytest.approx(stored[name]), name
    report = json.loads((tmp_path / "run" / "eval" / "step-10.json").read_text())
    assert summary["eval/c2st_auc"] == pytest.approx(report["c2st_auc"])
    run_record = next(r["run"] for r in wandb_records(tmp_path / "run") if r["type"] == "run")
    assert run_record["display_name"] == f"attention-8-s{config.train.seed}"  # walk A: W&B's random words
    more = tiny_config("--max_steps", "12", "--wandb_mode", "offline", "--final_eval_samples", "0", "--resume", "auto")
    train(more)  # a resumed run keeps the name W&B has: it was named anew (a WANDB_NAME given at the start was lost)
    names = [r["run"].get("display_name", "") for r in wandb_records(tmp_path / "run") if r["type"] == "run"]
    assert len(names) == 2 and names[1] == "", names


def test_the_best_checkpoint_is_judged_by_the_ema_loss_and_a_resume_keeps_it(tiny_config) -> None:
    """ "best" went by the raw weights' val/loss (evaluation loads the EMA's), and after any resume the first
    validated checkpoint became best, however bad: the judge's memory was no part of the checkpoint."""
    from accelerate import Accelerator

    from unet1d.training.tracking import Tracking

    config = tiny_config("--tensorboard", "false")
    tracking = Tracking(config, run_id="best1", resume_step=None)
    tracking.start(Accelerator(cpu=True), config.flat())
    tracking.log({"val/loss": 0.5, "val/loss_ema": 0.9}, step=10)
    assert tracking.rank_checkpoint(10)
    tracking.log({"val/loss": 0.4, "val/loss_ema": 0.95}, step=20)  # the raw weights better, the EMA's not
    assert not tracking.rank_checkpoint(20)
    stored = tracking.state_dict()
    tracking.finish()

    resumed = Tracking(config, run_id="best1", resume_step=20)
    resumed.load_state_dict(stored)
    resumed.start(Accelerator(cpu=True), config.flat())
    resumed.log({"val/loss": 0.3, "val/loss_ema": 0.92}, step=30)
    assert not resumed.rank_checkpoint(30)  # worse than step 10's 0.9
    resumed.log({"val/loss": 0.3, "val/loss_ema": 0.8}, step=40)
    assert resumed.rank_checkpoint(40)
    resumed.finish()

    no_ema = tiny_config("--tensorboard", "false", "--ema", "false")  # mutation walk: then no checkpoint was best
    plain = Tracking(no_ema, run_id="best2", resume_step=None)
    plain.start(Accelerator(cpu=True), no_ema.flat())
    plain.log({"val/loss": 0.5}, step=10)
    assert plain.rank_checkpoint(10)
    plain.finish()
