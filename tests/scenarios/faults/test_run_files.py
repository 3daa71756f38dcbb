"""A run's files under faults: damaged checkpoints, a full disk while a checkpoint is written, a damaged
summary or run config, a same-step save killed between its renames, a damaged baselines entry.

One real run (20 steps, checkpoints at 10 and 20) is trained once; each test damages a copy of it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.scenarios.faults.conftest import said, show, train
from unet1d.errors import UserError
from unet1d.store import checkpoints


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("trained")
    result = train(base, base / "run", "--max_steps", "20")
    assert result.returncode == 0, result.stderr[-3000:]
    return base / "run"


@pytest.fixture
def run(trained: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def _cut(path: Path, size: int) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(size)


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGES = {
    "weights cut short": (lambda c: _cut(c / "model.safetensors", 1000), "model.safetensors holds 1,000 bytes"),
    "marker cut short": (lambda c: _cut(c / "checkpoint.json", 40), "unreadable checkpoint marker"),
    "optimiser state overwritten": (
        lambda c: _flip(c / "accelerate" / "optimizer.bin"),
        "accelerate/optimizer.bin does not match the checksum",
    ),
    "a rank's generator missing": (lambda c: (c / "rank-0.safetensors").unlink(), "rank-0.safetensors is missing"),
    "EMA weights emptied": (lambda c: _cut(c / "ema.safetensors", 0), "ema.safetensors holds 0 bytes"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_newest_checkpoint_is_passed_over_in_one_line(run, capsys, damage) -> None:
    newest, previous = run / "checkpoints" / "step-20", run / "checkpoints" / "step-10"
    make, reason = DAMAGES[damage]
    make(newest)
    said(f"damaged {newest.name} of a finished run: {damage}")
    assert checkpoints.latest_checkpoint(run) == previous  # what --resume auto continues
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: checkpoint {newest} is damaged (") and reason in lines[0]
    assert lines[0].endswith(f"using {previous} instead")
    with pytest.raises(UserError, match=rf"checkpoint {newest} is damaged: .*{reason.split()[0]}"):
        checkpoints.find_checkpoint(newest)  # named directly: refused, naming it
    assert checkpoints.load_for_eval(run).step == 10  # `unet1d eval RUN_DIR`
    found = show(run)
    assert found["checkpoints"]["step-10"] == "whole" and reason in found["checkpoints"]["step-20"]


def test_a_newest_checkpoint_whose_marker_was_deleted_is_named_and_passed_over(run, capsys) -> None:
    """Listed only by their marker, such folders used to be passed over without a word."""
    newest, previous = run / "checkpoints" / "step-20", run / "checkpoints" / "step-10"
    (newest / "checkpoint.json").unlink()
    assert checkpoints.latest_checkpoint(run) == previous
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"warning: checkpoint {newest} is damaged (no checkpoint.json); using {previous} instead"


def test_eval_of_a_damaged_checkpoint_is_exit_2_and_one_line(run, capsys) -> None:
    from unet1d.cli import main

    _cut(run / "checkpoints" / "step-20" / "model.safetensors", 500)
    with pytest.raises(SystemExit) as exited:
        main(["eval", str(run / "checkpoints" / "step-20")])
    err = capsys.readouterr().err
    said(f"unet1d eval of the damaged checkpoint: exit {exited.value.code}, {err.strip()!r}")
    assert exited.value.code == 2 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: checkpoint {run}/checkpoints/step-20 is damaged: model.safetensors holds 500 bytes")


@pytest.mark.slow  # two runs as processes
def test_a_full_disk_while_a_checkpoint_is_written_keeps_the_previous_one_for_resume(run, tmp_path) -> None:
    """A 64 kB file-size limit: Accelerate's optimiser file (about 97 kB) cannot be written at step 30."""
    failed = train(tmp_path, run, "--max_steps", "30", "--resume", "auto", limit=64_000)
    lines = [line for line in failed.stderr.splitlines() if line.startswith(("error", "warning", "Traceback"))]
    said(f"resumed to step 30 under a full disk: exit {failed.returncode}, {lines}")
    assert failed.returncode == 2 and "Traceback" not in failed.stderr, failed.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write checkpoint {run}/checkpoints/step-30 (")
    assert f"the latest checkpoint is still {run}/checkpoints/step-20" in lines[0]
    found = show(run)
    assert found["checkpoints"] == {"step-10": "whole", "step-20": "whole"} and found["leftovers"] == []
    assert checkpoints.latest_checkpoint(run) == run / "checkpoints" / "step-20"

    again = train(tmp_path, run, "--max_steps", "30", "--resume", "auto")
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resumed from {run}/checkpoints/step-20 at step 20" in again.stdout
    found = show(run)
    assert found["checkpoints"]["step-30"] == "whole" and found["summary.json"] == "reads back"


@pytest.mark.slow  # a run as a process
def test_a_damaged_summary_is_written_again_by_resume(run, tmp_path) -> None:
    (run / "summary.json").write_text('{"output_dir": "run", "final_st')
    result = train(tmp_path, run, "--max_steps", "20", "--resume", "auto")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning")]
    said(f"resume of a finished run whose summary.json was cut short: exit {result.returncode}, {warnings}")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(warnings) == 1 and f"{run}/summary.json: damaged run summary" in warnings[0]
    assert json.loads((run / "summary.json").read_text())["final_step"] == 20
    assert show(run)["checkpoints"] == {"step-10": "whole", "step-20": "whole"}


@pytest.mark.slow  # a run as a process
def test_resume_auto_with_every_checkpoint_damaged_keeps_them_aside_and_says_it_starts_again(run, tmp_path) -> None:
    _cut(run / "checkpoints" / "step-10" / "model.safetensors", 1000)
    (run / "checkpoints" / "step-20" / "checkpoint.json").unlink()  # a marker-less one is damaged too
    (run / "summary.json").unlink()  # killed before it finished: resume auto has only the two checkpoints
    result = train(tmp_path, run, "--max_steps", "20", "--resume", "auto")
    said(f"resume auto with both checkpoints cut short: exit {result.returncode}")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    damaged = run / "checkpoints" / "damaged"
    note = f"--resume auto: no whole checkpoint in {run} (2 damaged, moved to {damaged}); training starts again"
    assert note in result.stdout, result.stdout[-3000:]
    assert sorted(p.name for p in damaged.iterdir()) == ["step-10", "step-20"]  # kept as they were, to read by hand
    assert (damaged / "step-10" / "model.safetensors").stat().st_size == 1000
    assert show(run)["checkpoints"] == {"step-10": "whole", "step-20": "whole"}  # the new run's own


def test_a_damaged_run_config_is_read_from_the_latest_checkpoint(run, capsys) -> None:
    from tests.conftest import TINY_RUN
    from unet1d.config_sources import load_config
    from unet1d.store.rundir import plan_run, read_run_config

    (run / "config.yaml").write_text("model:\n  base_channels: [8\n")
    with pytest.raises(UserError, match=r"config\.yaml: damaged run config"):
        read_run_config(run / "config.yaml")
    config = load_config(None, [*TINY_RUN, "--max_steps", "20", "--output_dir", str(run)], environ={})
    with pytest.raises(UserError, match=r"already holds this run.s checkpoints .* pass --resume auto"):
        plan_run(config)  # the same run (its checkpoint says so): kept, not refused as another run's folder
    err = capsys.readouterr().err
    said(f"a run folder with a damaged config.yaml: {err.strip()!r}")
    assert "damaged run config" in err and "the run's config is read from" in err and "step-20" in err
    assert sorted(show(run)["checkpoints"]) == ["step-10", "step-20"]


def test_resuming_a_finished_run_writes_its_damaged_config_again_from_the_checkpoint(run, capsys) -> None:
    """It trains no step, so nothing else would: the damaged file stayed, without a word (walk F)."""
    from unet1d.store.checkpoint_files import read_config
    from unet1d.store.rundir import finished_run, read_run_config, resume_config

    (run / "config.yaml").write_text("model:\n  base_channels: [8\n")
    resolved = resume_config(None, ["--output_dir", str(run), "--resume", "auto"], environ={})  # as `train` does
    assert finished_run(resolved) is not None
    err = capsys.readouterr().err
    assert "config.yaml: damaged run config" in err and f"written again from {run / 'checkpoints' / 'step-20'}" in err
    written = read_run_config(run / "config.yaml")
    assert written == resolved and str(written.train.output_dir) == str(run)  # what a training resume writes (the
    assert written.model == read_config(run / "checkpoints" / "step-20").model  # run's folder now), the same run


@pytest.mark.slow  # a run as a process
def test_a_resume_says_it_writes_a_damaged_run_config_again(run, tmp_path) -> None:
    (run / "config.yaml").write_text("::: not yaml [")
    result = train(tmp_path, run, "--max_steps", "30", "--resume", "auto")
    assert result.returncode == 0, result.stderr[-3000:]
    warnings = [line for line in result.stderr.splitlines() if "config.yaml" in line]
    # named as the run folder's, not refused as another tool's (walk F: "not a unet1d run's folder", exit 2)
    assert len(warnings) == 1 and "unknown config field '::'" in warnings[0] and "written again" in warnings[0]
    assert show(run)["config.yaml"] == "reads back"


def test_a_same_step_save_killed_between_its_renames_keeps_the_old_checkpoint(run) -> None:
    root = run / "checkpoints"
    (root / "step-20").rename(root / ".old-step-20")  # the first rename done, the second never happened
    said("a same-step save killed between its two renames left .old-step-20 and no step-20")
    assert checkpoints.latest_checkpoint(run) == root / ".old-step-20"
    checkpoints.prune_checkpoints(run, keep=2)  # the next save's prune puts it back
    found = show(run)
    assert found["checkpoints"] == {"step-10": "whole", "step-20": "whole"} and found["leftovers"] == []


def test_prune_keeps_whole_checkpoints_when_the_newest_is_damaged(run) -> None:
    _cut(run / "checkpoints" / "step-20" / "model.safetensors", 10)
    checkpoints.prune_checkpoints(run, keep=1)
    found = show(run)
    assert found["checkpoints"]["step-10"] == "whole"  # the damaged step-20 did not push it out


def test_a_damaged_baselines_entry_is_reported_and_scored_again(tmp_path, capsys, monkeypatch) -> None:
    from unet1d.evaluation import baseline_cache

    monkeypatch.setattr(baseline_cache, "baseline_key", lambda *args: "k" * 32)
    calls = []

    def compute() -> dict:
        calls.append(1)
        return {"data": {"c2st_auc": 0.5}, "gaussian": {"c2st_auc": 0.9}}

    first = baseline_cache.cached_baselines(None, 60, 0, tmp_path, compute)
    entry = tmp_path / "baselines" / f"{'k' * 32}.json"
    stored = json.loads(entry.read_text())
    stored["data"]["c2st_auc"] = 0.7  # edited, still valid JSON
    entry.write_text(json.dumps(stored))
    again = baseline_cache.cached_baselines(None, 60, 0, tmp_path, compute)
    assert again == first and len(calls) == 2
    entry.write_text(entry.read_text()[:30])  # torn
    assert baseline_cache.cached_baselines(None, 60, 0, tmp_path, compute) == first and len(calls) == 3
    lines = capsys.readouterr().err.strip().splitlines()
    said(f"a damaged baselines entry, edited then torn: {lines}")
    assert len(lines) == 2 and all(
        line.startswith(f"warning: baselines cache entry {entry} is damaged") for line in lines
    )
    assert "do not match the checksum" in lines[0] and "unreadable" in lines[1]
    assert baseline_cache.cached_baselines(None, 60, 0, tmp_path, compute) == first and len(calls) == 3


def test_checkpoints_from_before_file_lists_and_renamed_copies_still_load(run) -> None:
    """No good data thrown away: a checkpoint written before checkpoint.json listed its files, or copied
    under another name, is whole as long as what evaluation needs is there."""
    step20 = run / "checkpoints" / "step-20"
    marker = json.loads((step20 / "checkpoint.json").read_text())
    del marker["files"]
    (step20 / "checkpoint.json").write_text(json.dumps(marker))
    assert checkpoints.checkpoint_damage(step20) is None and checkpoints.latest_checkpoint(run) == step20
    shutil.copytree(run / "checkpoints" / "step-10", run / "best")
    assert checkpoints.load_for_eval(run / "best").step == 10
    (step20 / "norm_stats.safetensors").unlink()
    assert checkpoints.checkpoint_damage(step20) == "norm_stats.safetensors missing"
    said("an old-format step-20 read as whole until a file evaluation needs went missing; a renamed copy loads")


def resign(checkpoint: Path) -> None:
    """List the checkpoint's files in its marker again, as a tamperer (or a tool that rewrote them) would."""
    from unet1d.store.checkpoint_files import file_manifest

    marker = json.loads((checkpoint / "checkpoint.json").read_text())
    marker["files"] = file_manifest(checkpoint)
    (checkpoint / "checkpoint.json").write_text(json.dumps(marker))


def _rewrite_weights(checkpoint: Path, change) -> None:
    from safetensors.torch import load_file, save_file

    for name in ("model.safetensors", "ema.safetensors"):
        save_file(change(load_file(str(checkpoint / name))), str(checkpoint / name))


def _rewrite_marker(checkpoint: Path, change) -> None:
    marker = json.loads((checkpoint / "checkpoint.json").read_text())
    change(marker)
    (checkpoint / "checkpoint.json").write_text(json.dumps(marker))


def _replace_in(path: Path, old: str, new: str) -> None:
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))


def _rewrite_stats(checkpoint: Path, **changed: Any) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    stats = load_file(str(checkpoint / "norm_stats.safetensors"))
    changed = {name: value(stats[name]) if callable(value) else torch.tensor(value) for name, value in changed.items()}
    save_file({**stats, **changed}, str(checkpoint / "norm_stats.safetensors"))


TAMPERED = {  # checkpoints whose marker lists their files again: each ended in a traceback (or loaded silently)
    "a weight removed": (
        lambda c: _rewrite_weights(c, lambda w: dict(sorted(w.items())[1:])),
        "its weights do not fit the network its config.yaml builds (RuntimeError: Error(s) in loading state_dict",
    ),
    "weights reshaped": (
        lambda c: _rewrite_weights(c, lambda w: {k: v.unsqueeze(0) for k, v in w.items()}),
        "its weights do not fit the network its config.yaml builds",
    ),
    "weights as int32": (  # loaded and cast without a word: other scores
        lambda c: _rewrite_weights(c, lambda w: {k: v.int() for k, v in w.items()}),
        "is damaged: ValueError: model.safetensors holds I32 tensors; a network's weights are floating point",
    ),
    "a wider network in config.yaml": (
        lambda c: _replace_in(c / "config.yaml", "base_channels: 8", "base_channels: 16"),
        "its weights do not fit the network its config.yaml builds",
    ),
    "up axis x in the statistics": (
        lambda c: _rewrite_stats(c, up_axis=0),
        "is damaged: ValueError: normalisation statistics name up axis 0; allowed: 1 (y) or 2 (z)",
    ),
    "a std of 0 in the statistics": (  # floored to 0.001 without a word: scores of another model
        lambda c: _rewrite_stats(c, std=lambda std: std * 0),
        "is damaged: ValueError: normalisation statistics hold a std of 0, below the 0.001 every fit stores",
    ),
}  # fmt: skip


@pytest.mark.parametrize("tampering", list(TAMPERED))
def test_a_tampered_checkpoint_is_one_line_and_exit_2(run, tmp_path, capsys, tampering) -> None:
    from unet1d.cli import main

    checkpoint = run / "checkpoints" / "step-20"
    make, reason = TAMPERED[tampering]
    make(checkpoint)
    resign(checkpoint)
    with pytest.raises(SystemExit) as exited:
        main(["sample", str(checkpoint), "--num-samples", "4", "-o", str(tmp_path / "poses.npz")])
    err = capsys.readouterr().err
    said(f"unet1d sample of a checkpoint with {tampering}: exit {exited.value.code}, {err.strip()!r}")
    assert exited.value.code == 2 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: checkpoint {checkpoint}") and reason in line, line


MARKERS = {  # a marker that reads as JSON but not as a marker: each a traceback, or a check switched off
    "files as strings": (
        lambda m: m["files"].update({"model.safetensors": ["a", "b"]}),
        "checkpoint.json lists its files in a form this version does not know",
    ),
    "files emptied": (
        lambda m: m.update(files={}),
        "checkpoint.json does not list model.safetensors, norm_stats.safetensors, config.yaml, accelerate/",
    ),
    "state null": (lambda m: m.update(state=None), "its state is not a table of components"),
}


@pytest.mark.parametrize("damage", list(MARKERS))
def test_a_marker_that_is_json_but_no_marker_is_named(run, damage) -> None:
    checkpoint = run / "checkpoints" / "step-20"
    change, reason = MARKERS[damage]
    _rewrite_marker(checkpoint, change)
    assert reason in (checkpoints.checkpoint_damage(checkpoint) or ""), checkpoints.checkpoint_damage(checkpoint)
    assert checkpoints.latest_checkpoint(run) == run / "checkpoints" / "step-10"  # what --resume auto continues


def test_a_file_no_save_wrote_makes_the_checkpoint_damaged(run) -> None:
    # a planted accelerate/custom_checkpoint_0.pkl ended a resume in Accelerate's RuntimeError traceback
    checkpoint = run / "checkpoints" / "step-20"
    (checkpoint / "accelerate" / "custom_checkpoint_0.pkl").write_bytes(b"\x80\x04N.")
    assert checkpoints.checkpoint_damage(checkpoint) == (
        "checkpoint.json does not list accelerate/custom_checkpoint_0.pkl: the files were changed after the save"
    )


@pytest.mark.slow  # a run as a process
@pytest.mark.parametrize("planted", ["random_states_0.pkl", "optimizer.bin"])
def test_accelerate_files_that_cannot_be_read_safely_stop_the_resume_in_one_line(run, tmp_path, planted) -> None:
    # Accelerate passed over random states with an info line: the resume went on, not exact
    import pickle

    class Runs:
        def __reduce__(self):
            return (print, ("unpickled",))

    checkpoint = run / "checkpoints" / "step-20"
    (checkpoint / "accelerate" / planted).write_bytes(pickle.dumps(Runs()))
    resign(checkpoint)
    resumed = train(tmp_path, run, "--max_steps", "30", "--resume", str(checkpoint))
    lines = [line for line in resumed.stderr.splitlines() if line.startswith(("error", "Traceback"))]
    assert resumed.returncode == 2 and "unpickled" not in resumed.stdout, resumed.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith(f"error: checkpoint {checkpoint} is damaged: "), lines
    assert "Warning" not in resumed.stderr, resumed.stderr[-3000:]  # torch's two lines about the pickle protocol


@pytest.mark.slow  # a run as a process
def test_a_resume_refuses_integer_weights_as_evaluation_does(run, tmp_path) -> None:
    # sample and eval refused them; --resume loaded them cast to float and trained on, exit 0
    checkpoint = run / "checkpoints" / "step-20"
    TAMPERED["weights as int32"][0](checkpoint)
    resign(checkpoint)
    resumed = train(tmp_path, run, "--max_steps", "30", "--resume", str(checkpoint))
    lines = [line for line in resumed.stderr.splitlines() if line.startswith(("error", "Traceback"))]
    assert resumed.returncode == 2, resumed.stderr[-3000:]
    assert lines == [f"error: checkpoint {checkpoint} is damaged: ValueError: model.safetensors holds I32 tensors; "
                     "a network's weights are floating point"]  # fmt: skip


def test_a_summary_of_another_step_than_the_last_checkpoint_is_no_finished_run(run) -> None:
    """A resume to a longer budget that saved its last checkpoint and died before its summary: the old summary
    (step 10 here) must not pass for the finished run's, or resume would train no step and leave it stale
    (mutation walk)."""
    from unet1d.store.rundir import finished_run, resume_config

    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "final_step": 10}))
    resolved = resume_config(None, ["--output_dir", str(run), "--resume", "auto"], environ={})
    assert finished_run(resolved) is None
