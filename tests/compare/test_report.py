"""What `compare` shows and writes: terminal tables that fit 120 columns, the PNG plots and the
markdown report beside them, `--sweep DIR`. Runs are hand-built folders (tests/run_folders.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from tests.run_folders import make_run
from unet1d.cli.compare import NAME_WIDTH, WIDTH, print_tables, terminal_columns
from unet1d.compare.plots import band
from unet1d.compare.report import elide
from unet1d.compare.runs import COLUMNS, RunRow, format_cell, summarize_variants
from unet1d.compare.stats import differences
from unet1d.store.curves import Curves

ROOT = Path(__file__).resolve().parents[2]


def test_elide_keeps_both_ends() -> None:
    assert elide("short", 8) == "short"
    assert elide("abcdefghij", 5) == "ab…ij"
    assert elide("abcdefghijk", 6) == "abc…jk" and len(elide("x" * 200, NAME_WIDTH)) == NAME_WIDTH


def test_terminal_tables_fit_120_columns_with_every_value_on_its_line() -> None:
    rows = [
        RunRow(
            run=f"runs/sweeps/middles-with-a-long-name/{variant}-seed{seed}-" + "x" * 40, seed=seed, final_step=20000,
            variant=variant, final_val_loss=0.41 + 0.01 * seed + 0.1 * v, steps_to_common=12345 + seed,
            seconds_to_common=98765.4 + seed, frechet_distance=123.456 + seed, wall_time_s=123456.7 + v,
            peak_memory_mb=12345.0,
        )
        for v, variant in enumerate(["attention-h16 lr=0.0005 warmup_steps=500 ema=false", "conv lr=0.001"])
        for seed in range(3)
    ]  # fmt: skip
    console = Console(width=WIDTH, record=True)
    print_tables(console, rows, summarize_variants(rows), differences(rows, ["final_val_loss"]), 0.5)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    columns = terminal_columns()
    assert 3 <= len(columns) < 8  # a few columns; the rest live in the JSON and the report
    for row in rows:  # one line holds the run's elided name, its variant and every value shown
        cells = [elide(Path(row.run).name, NAME_WIDTH), elide(row.variant, NAME_WIDTH)]
        cells += [format_cell(getattr(row, c), fmt) for c, _, fmt in columns]
        assert any(all(cell in line for cell in cells) for line in lines), cells
    for variant in summarize_variants(rows):
        cells = [format_cell(variant.mean[c], f, variant.std[c]).replace(" ± ", "±") for c, _, f in columns]
        assert any(all(cell in line for cell in [elide(variant.variant, NAME_WIDTH), *cells]) for line in lines)


def test_a_variant_band_is_mean_min_max_over_the_seeds_logging_each_step() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 5))
    runs = [Curves({"val/loss": [(10 * i, 0.0, float(v)) for i, v in enumerate(row)]}) for row in values]
    runs[2].points["val/loss"] = runs[2].points["val/loss"][:3]  # a run stopped early: fewer steps
    steps, mean, low, high = band(runs, "val/loss")
    assert steps == [0, 10, 20, 30, 40]
    assert mean[:3] == pytest.approx(values[:, :3].mean(axis=0)) and mean[3:] == pytest.approx(values[:2, 3:].mean(0))
    assert low[:3] == pytest.approx(values[:, :3].min(axis=0)) and high[4] == pytest.approx(values[:2, 4].max())


def make_sweep(root: Path) -> dict[str, list[float]]:
    """A `sweep local` folder: conv and attention-2 × 2 seeds finished, one attention run stopped, one failed."""
    finals = {"conv": [0.50, 0.52], "attention-2": [0.40, 0.41, 0.60]}  # the third attention run was stopped
    records = []
    for mid, losses in finals.items():
        for seed, final in enumerate(losses):
            run_id = f"{mid}-{seed}"
            curve = [final + 0.5 * math.exp(-s / 20) for s in range(0, 101, 10)]
            make_run(
                root / run_id, "--mid", mid, "--seed", str(seed),
                summary={"val_loss": final, "wall_time_s": 100.0 + seed, "peak_memory_mb": 500.0 + 7 * seed},
                scalars={
                    "train/loss": [(s, 10.0 + s, v + 0.1) for s, v in zip(range(0, 101, 10), curve, strict=True)],
                    "val/loss": [(s, 10.5 + s, v) for s, v in zip(range(0, 101, 10), curve, strict=True)],
                    "train/grad_norm/mid": [(s, 10.0 + s, 1.0 + seed) for s in range(0, 101, 50)],
                    "train/grad_norm/input": [(s, 10.0 + s, 2.0 + seed) for s in range(0, 101, 50)],
                    "quality/precision": [(s, 10.0 + s, 0.5 + seed / 10) for s in (50, 100)],
                },
                evaluation={"precision": 0.6 + 0.01 * seed, "frechet_distance": 30.0 + seed},
            )  # fmt: skip
            state = "stopped" if seed == 2 else "finished"
            records.append({"run_id": run_id, "config": {"mid": mid, "seed": seed}, "state": state})
    records.append({"run_id": "failed-run", "config": {"mid": "conv", "seed": 9}, "state": "failed"})
    (root / "sweep.json").write_text(json.dumps({"runs": records}))
    return finals


@pytest.mark.slow
def test_compare_on_a_local_sweep_writes_tables_json_plots_and_a_report(tmp_path: Path) -> None:
    from PIL import Image

    sweep, report = tmp_path / "sweeps" / "middles", tmp_path / "report"
    finals = make_sweep(sweep)
    make_run(sweep / "failed-run", "--seed", "9", summary={"val_loss": 9.0})  # listed as failed: left out
    command = [sys.executable, "-m", "unet1d.cli", "compare", "--sweep", str(sweep), "--out", str(tmp_path / "c.json")]
    result = subprocess.run([*command, "--report", str(report)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]

    compared = json.loads((tmp_path / "c.json").read_text())
    assert sorted(Path(r["run"]).name for r in compared["runs"]) == [
        "attention-2-0",
        "attention-2-1",
        "attention-2-2",
        "conv-0",
        "conv-1",
    ]
    assert compared["common_val_loss_threshold"] == pytest.approx(max(np.mean(v) for v in finals.values()))
    markdown = (report / "report.md").read_text()
    pngs = sorted(report.glob("*.png"))
    assert [p.name for p in pngs] == ["columns.png", "grad_norms.png", "losses.png", "quality.png"]
    for png in pngs:
        with Image.open(png) as image:
            image.verify()
        with Image.open(png) as image:
            pixels = np.asarray(image.convert("L"))
        assert 300 < pixels.shape[1] < 4000 and 200 < pixels.shape[0] < 4000 and pixels.std() > 5  # not blank
        assert f"]({png.name})" in markdown
    for variant in ("conv", "attention-h2"):
        assert f"| {variant} |" in markdown
    headings = {column: (heading, fmt.replace("%", "f")) for column, heading, fmt in COLUMNS}
    assert compared["differences"] and {d["reference"] for d in compared["differences"]} == {
        "conv"
    }  # first in sweep.json
    for d in compared["differences"]:  # every difference is a row of the report
        heading, fmt = headings[d["column"]]
        assert f"| {d['variant']} | {heading} | {fmt.format(d['difference'])} |" in markdown
    loss = next(d for d in compared["differences"] if d["column"] == "final_val_loss")
    expected = np.mean(finals["attention-2"]) - np.mean(finals["conv"])
    assert loss["variant"] == "attention-h2" and loss["difference"] == pytest.approx(expected)
    note = "within seed noise" if loss["low"] <= 0 <= loss["high"] else "beyond seed noise"
    row = f"| attention-h2 | val loss | {expected:.4f} | [{loss['low']:.4f}, {loss['high']:.4f}] | {note} |"
    assert row in markdown and note == "within seed noise"  # the stopped run's 0.60 widens attention's spread
    memory = next(d for d in compared["differences"] if d["column"] == "peak_memory_mb")
    assert memory["within_noise"] is True and "| attention-h2 | peak MiB |" in markdown
    assert max(len(line) for line in result.stdout.splitlines()) <= 120


def test_sweep_needs_a_sweep_record(tmp_path: Path) -> None:
    from unet1d.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["compare", "--sweep", str(tmp_path)])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        main(["compare"])
    assert exit_.value.code == 2
