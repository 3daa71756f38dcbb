"""`compare` on a run whose config.yaml is damaged: one warning naming the file, the config read from the
run's latest checkpoint as the store reads it for a resumed run, and the run still compared; without a
checkpoint the run is a variant of its own. Never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.run_folders import make_run
from unet1d.compare.runs import compare_runs

VAL_LOSS = [(10, 100.0, 0.9), (20, 110.0, 0.6), (30, 120.0, 0.7)]
SUMMARY = {"val_loss": 0.7, "train_loss": 0.8, "wall_time_s": 20.0, "num_parameters": 1234}
CONV = ("--mid_structure", "conv", "--seed", "3")


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


@pytest.fixture
def accelerator() -> Iterator[object]:
    """A real single-process CPU Accelerator (checkpoints are saved the trainer's way); its state cleared after."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    yield Accelerator(cpu=True)
    AcceleratorState._reset_state(reset_partial_state=True)


def save_checkpoint(accelerator, run: Path, *flags: str, step: int = 30) -> Path:
    """A real checkpoint of the run of ``flags`` in ``run``, as the trainer saves it."""
    import torch

    from unet1d.config_sources import load_config
    from unet1d.data.normalization import NormStats
    from unet1d.store import checkpoints

    config = load_config(None, ["--max_steps", "30", *flags, "--output_dir", str(run)], environ={})  # make_run's
    return checkpoints.save_checkpoint(
        accelerator, run, step=step, components={"model": torch.nn.Linear(2, 2)}, config=config,
        stats=NormStats(mean=np.zeros(2), std=np.ones(2)), keep=2,
    )  # fmt: skip


def damage(path: Path, how: str) -> None:
    text = path.read_text()
    if how == "cut before a field":  # parses and validates: the fields it lost take their defaults (walk D)
        path.write_text(text[: text.index("  mid_structure: ")])
    elif how == "cut inside a value":  # still parses as YAML: `mid_structure: c`, the rest of the file gone
        path.write_text(text[: text.index("mid_structure: ") + len("mid_structure: c")])
    elif how == "cut inside a list":  # `channel_mults: [` cut short does not parse
        flow = text.replace("channel_mults:\n  - 1", "channel_mults: [1,", 1)
        path.write_text(flow[: flow.index("[1,") + 3])
    elif how == "empty":  # a full disk when it was written in place
        path.write_text("")
    elif how == "missing":
        path.unlink()
    else:
        path.write_bytes(b"\x00\xff" * 40)


@pytest.mark.parametrize(
    "how", ["cut before a field", "cut inside a value", "cut inside a list", "empty", "not text", "missing"]
)
def test_a_damaged_config_is_named_once_and_read_from_the_latest_checkpoint(tmp_path, capsys, accelerator, how) -> None:
    whole = make_run(tmp_path / "whole", *CONV, summary=SUMMARY, scalars={"val/loss": VAL_LOSS})
    run = make_run(tmp_path / "run", *CONV, summary=SUMMARY, scalars={"val/loss": VAL_LOSS})
    save_checkpoint(accelerator, run, *CONV, step=10)
    latest = save_checkpoint(accelerator, run, *CONV, step=30)
    (expected,), _ = compare_runs([whole])  # the same run with its config whole
    capsys.readouterr()
    damage(run / "config.yaml", how)

    (row,), (variant,) = compare_runs([run])

    (line,) = warnings(capsys.readouterr().err)
    assert line.startswith(f"warning: {run / 'config.yaml'}: "), line
    assert line.endswith(f"the run's config is read from {latest}"), line
    if how == "missing":  # said as it is, not as "damaged (No such file or directory)"
        assert f"{run / 'config.yaml'}: the run config is missing;" in line, line
    assert (row.variant, row.seed) == (expected.variant, 3) == ("conv", 3)
    assert (row.best_val_loss, row.final_val_loss, row.final_step) == (pytest.approx(0.6), 0.7, 30)
    assert variant.runs == 1


def test_a_damaged_config_without_a_checkpoint_is_a_variant_of_its_own(tmp_path, capsys) -> None:
    """Two such runs are not averaged together, nor with a whole run; each keeps its numbers."""
    whole = make_run(tmp_path / "runs" / "whole", *CONV, summary=SUMMARY, scalars={"val/loss": VAL_LOSS})
    lost = []
    for name, loss in (("lost-a", 0.5), ("lost-b", 0.9)):
        lost.append(make_run(tmp_path / "runs" / name, *CONV, summary={**SUMMARY, "val_loss": loss}))
        damage(lost[-1] / "config.yaml", "cut inside a list")

    rows, variants = compare_runs([tmp_path / "runs"])

    lines = warnings(capsys.readouterr().err)
    assert len(lines) == 2, lines
    for run, line in zip(lost, lines, strict=True):
        assert line.startswith(f"warning: {run / 'config.yaml'}: damaged run config"), line
        assert "no whole checkpoint holds the run's config" in line
    by_name = {Path(r.run).name: r for r in rows}
    assert by_name["whole"].variant == "conv" and by_name["whole"].seed == 3
    assert (by_name["lost-a"].variant, by_name["lost-a"].seed) == ("lost-a (config unknown)", None)
    assert (by_name["lost-b"].variant, by_name["lost-b"].final_val_loss) == ("lost-b (config unknown)", 0.9)
    assert sorted((v.variant, v.runs) for v in variants) == [
        ("conv", 1), ("lost-a (config unknown)", 1), ("lost-b (config unknown)", 1),
    ]  # fmt: skip
    assert whole in [Path(r.run) for r in rows]


def test_a_config_cut_short_to_a_bad_value_without_a_checkpoint_is_a_variant_of_its_own(tmp_path, capsys) -> None:
    """It parses (`model: {pose_dim: 7}`) but names neither the variant nor the seed: damaged, not another version's."""
    run = make_run(tmp_path / "run", *CONV, summary=SUMMARY)
    text = (run / "config.yaml").read_text().split("\n", 1)[1]  # without its head line (older): cut is not said
    (run / "config.yaml").write_text(text[: text.index("pose_dim: 72") + len("pose_dim: 7")])
    (row,), _ = compare_runs([run])
    (line,) = warnings(capsys.readouterr().err)
    assert line.startswith(f"warning: {run / 'config.yaml'}: damaged run config (invalid configuration: "), line
    assert "so it is compared as a variant of its own" in line
    assert (row.variant, row.seed, row.final_val_loss) == ("run (config unknown)", None, 0.7)


def test_a_whole_config_of_another_version_is_still_compared_on_what_it_stores(tmp_path, capsys) -> None:
    """A field this version does not know is not damage: no checkpoint reads better, so no warning."""
    run = make_run(tmp_path / "run", *CONV, summary=SUMMARY)
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text.replace("model:\n", "model:\n  a_later_field: 2\n", 1))
    (row,), _ = compare_runs([run])
    assert warnings(capsys.readouterr().err) == []
    assert (row.variant, row.seed) == ("conv", 3)


def test_unet1d_compare_with_a_lost_config_exits_0_and_writes_every_output(tmp_path, capsys) -> None:
    from unet1d.cli import main

    make_run(tmp_path / "runs" / "whole", *CONV, summary=SUMMARY, scalars={"val/loss": VAL_LOSS})
    lost = make_run(tmp_path / "runs" / "lost", "--seed", "4", summary=SUMMARY, scalars={"val/loss": VAL_LOSS})
    damage(lost / "config.yaml", "not text")
    out, report = tmp_path / "compared.json", tmp_path / "report"
    try:
        main(["compare", str(tmp_path / "runs"), "--out", str(out), "--report", str(report)])
    except SystemExit as exited:
        assert exited.code in (0, None)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = warnings(err)
    assert str(lost / "config.yaml") in line
    runs = {Path(r["run"]).name: r for r in json.loads(out.read_text())["runs"]}
    assert runs["lost"]["variant"] == "lost (config unknown)" and runs["lost"]["final_val_loss"] == 0.7
    assert runs["whole"]["variant"] == "conv"
    assert (report / "report.md").is_file()
