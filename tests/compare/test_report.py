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
from unet1d.cli.compare import (
    NAME_WIDTH,
    SUPPORTING_COLUMNS,
    WIDTH,
    print_tables,
    split_columns,
    table_width,
    terminal_columns,
)
from unet1d.compare.plots import band
from unet1d.compare.report import elide, markdown_headings, write_report
from unet1d.compare.runs import COLUMNS, RunRow, format_cell, summarize_variants
from unet1d.compare.stats import MAX_SEEDS, detectable_difference, differences, seeds_needed
from unet1d.metric_registry import BY_NAME, deciding_metrics
from unet1d.store.curves import Curves

ROOT = Path(__file__).resolve().parents[2]


def test_elide_keeps_both_ends() -> None:
    assert elide("short", 8) == "short"
    assert elide("abcdefghij", 5) == "ab…ij"
    assert elide("abcdefghijk", 6) == "abc…jk" and len(elide("x" * 200, NAME_WIDTH)) == NAME_WIDTH


def wide_rows() -> list[RunRow]:
    """Two variants × three seeds with long names and wide numbers in every terminal column (every
    deciding score the registry names included, the task scores in cm at 10-20 plus the seed)."""
    tasks = {m.name for m in deciding_metrics()} - {"c2st_auc"}
    return [
        RunRow(
            run=f"runs/sweeps/middles-with-a-long-name/{variant}-seed{seed}-" + "x" * 40, seed=seed, final_step=20000,
            variant=variant, final_val_loss=0.41 + 0.01 * seed + 0.1 * v, steps_to_common=12345 + seed,
            seconds_to_common=98765.4 + seed, frechet_distance=123.456 + seed, wall_time_s=123456.7 + v + seed,
            peak_memory_mb=12345.0, c2st_auc=0.7 + 0.01 * seed - 0.005 * v, precision=0.5 + 0.1 * seed,
            poses_outside_limits_tol=0.5 - 0.1 * seed, one_nn_accuracy=0.9 - 0.01 * seed + v * 0.1,
            **{name: 12.34 + seed + 0.5 * v for name in tasks},
        )
        for v, variant in enumerate(["attention-16 lr=5e-4 warmup_steps=500 ema=false", "conv lr=1e-3"])
        for seed in range(3)
    ]  # fmt: skip


def printed(rows: list[RunRow], columns: list[str] | None = None) -> list[str]:
    console = Console(width=WIDTH, record=True)
    found = differences(rows, columns or [c for c, _, _ in COLUMNS])
    print_tables(console, rows, summarize_variants(rows), found, 0.5)
    return console.export_text().splitlines()


def assert_every_value_on_its_line(lines: list[str], rows: list[RunRow]) -> None:
    """Each run's (and each variant's) names and values shown on one line of some table: a split table
    repeats the names, so check each value beside the names, one column at a time."""
    for column, _, fmt in terminal_columns(rows):
        for row in rows:
            cells = [elide(Path(row.run).name, NAME_WIDTH), elide(row.variant, NAME_WIDTH), str(row.seed)]
            cells.append(format_cell(getattr(row, column), fmt))
            assert any(all(cell in line for cell in cells) for line in lines), cells
        for variant in summarize_variants(rows):
            cell = format_cell(variant.mean[column], fmt, variant.std[column]).replace(" ± ", "±")
            assert any(elide(variant.variant, NAME_WIDTH) in line and cell in line for line in lines), cell


def test_terminal_tables_fit_120_columns_with_every_value_on_its_line() -> None:
    rows = wide_rows()
    lines = printed(rows, ["final_val_loss"])
    assert max(len(line) for line in lines) <= WIDTH
    assert 3 <= len(terminal_columns(rows)) <= 8  # a few columns; the rest live in the JSON and the report
    assert_every_value_on_its_line(lines, rows)


def test_the_terminal_leads_with_the_deciding_scores_the_runs_have() -> None:
    deciding = [m.name for m in deciding_metrics()]
    assert deciding and deciding[0] == "c2st_auc"
    rows = wide_rows()
    names = [column for column, _, _ in terminal_columns(rows)]
    assert names == [*deciding, *(n for n in SUPPORTING_COLUMNS if n not in deciding)]
    headings = {column: heading for column, heading, _ in COLUMNS}
    variants_header = next(line for line in printed(rows) if line.startswith("┃ variant") and "runs" in line)
    assert variants_header.index(headings["c2st_auc"]) < variants_header.index(headings["final_val_loss"])

    without_eval = [RunRow(run=r.run, variant=r.variant, seed=r.seed, final_step=1, final_val_loss=0.4) for r in rows]
    assert [c for c, _, _ in terminal_columns(without_eval)] == ["final_val_loss"]  # no "-" columns
    only_c2st = [RunRow(run=r.run, variant=r.variant, seed=r.seed, final_step=1, c2st_auc=0.6) for r in rows]
    assert [c for c, _, _ in terminal_columns(only_c2st)] == ["c2st_auc"]  # scores the runs lack are left out


def test_every_deciding_score_and_supporting_column_is_a_compare_column() -> None:
    """compare holds per-variant statistics and differences only for its columns: a score marked as
    deciding in the registry must be one of them, or the terminal could not lead with it."""
    names = {column for column, _, _ in COLUMNS}
    assert {m.name for m in deciding_metrics()} <= names
    assert set(SUPPORTING_COLUMNS) <= names and set(SUPPORTING_COLUMNS) <= set(BY_NAME)


def test_more_deciding_scores_split_the_tables_and_still_lead(monkeypatch) -> None:
    """With four deciding scores (as when the task scores join the classifier test) the eight columns do
    not fit 120 characters: the tables split, the deciding ones first, every value still on its line."""
    import unet1d.metric_registry as registry

    more = ["c2st_auc", "one_nn_accuracy", "frechet_distance", "steps_to_common"]  # stand-ins for the task scores
    monkeypatch.setattr(registry, "deciding_metrics", lambda: [BY_NAME[name] for name in more])
    rows = wide_rows()
    columns = [column for column, _, _ in terminal_columns(rows)]
    assert columns == [*more, *SUPPORTING_COLUMNS]
    lines = printed(rows)
    assert max(len(line) for line in lines) <= WIDTH
    assert any("Runs, 1 of 2" in line for line in lines) and any("Variants (mean ± std over seeds), 1 of" in line
                                                                  for line in lines)  # fmt: skip
    assert_every_value_on_its_line(lines, rows)
    first_header = next(line for line in lines if line.startswith("┃ run"))
    assert BY_NAME["c2st_auc"].label in first_header and BY_NAME["wall_time_s"].label not in first_header


def test_split_columns_packs_in_order_within_the_width() -> None:
    assert split_columns([10], [20, 20]) == [[0, 1]]
    parts = split_columns([22, 22, 4], [15] * 8)
    assert [i for part in parts for i in part] == list(range(8)) and len(parts) == 3
    assert all(table_width([22, 22, 4, *([15] * len(part))]) <= WIDTH for part in parts)
    assert table_width([22, 22, 4, *([15] * (len(parts[0]) + 1))]) > WIDTH  # the first takes all that fit
    assert split_columns([200], [5, 5]) == [[0], [1]]  # too wide anyway: one column a table, never none
    assert split_columns([22, 4], []) == [[]]  # no numbers at all: the names still get their table


def test_a_rich_table_is_as_wide_as_table_width_says() -> None:
    from rich.table import Table

    table = Table()
    for width in (3, 8, 12):
        table.add_column("x" * width)
    console = Console(width=WIDTH, record=True)
    console.print(table)
    assert max(len(line) for line in console.export_text().splitlines()) == table_width([3, 8, 12])


def test_the_differences_table_shows_what_the_seeds_can_decide() -> None:
    rows = wide_rows()
    found = {d.column: d for d in differences(rows, [c for c, _, _ in COLUMNS])}
    auc, loss = found["c2st_auc"], found["final_val_loss"]
    assert auc.within_noise is True and loss.within_noise is False
    lines = printed(rows)
    assert max(len(line) for line in lines) <= WIDTH
    auc_line = next(line for line in lines if "│ C2ST AUC" in line)
    seeds = ">100" if auc.seeds_needed is None else str(auc.seeds_needed)
    for cell in ("within", f"{auc.difference:.3f}", f"{auc.detectable:.3f}", f" {seeds} │"):
        assert cell in auc_line, (cell, auc_line)
    loss_line = next(line for line in lines if "│ val loss" in line and "[" in line)
    assert "beyond" in loss_line and f"{loss.detectable:.4f}" in loss_line and loss_line.endswith("- │")
    body = [line for line in lines if line.startswith("│") and "[" in line]
    assert "C2ST AUC" in body[0]  # the deciding score's difference comes first
    assert any("80 % power" in line for line in lines)


def test_the_report_says_what_the_seeds_can_decide(tmp_path: Path) -> None:
    rows = wide_rows()
    found = differences(rows, [c for c, _, _ in COLUMNS])
    path = write_report(tmp_path, rows, summarize_variants(rows), found, COLUMNS, {}, None)
    markdown = path.read_text()
    assert "| seed noise | detectable | seeds to resolve |" in markdown and "80 % power" in markdown
    auc = next(d for d in found if d.column == "c2st_auc")
    seeds = f"more than {MAX_SEEDS}" if auc.seeds_needed is None else str(auc.seeds_needed)
    row = f"| {auc.variant} | C2ST AUC | {auc.difference:.3f} | [{auc.low:.3f}, {auc.high:.3f}] | within seed noise"
    assert f"{row} | {auc.detectable:.3f} | {seeds} |" in markdown


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
    """A `sweep local` folder: conv and attention-2 × 2 seeds finished, one attention run stopped (no summary, as
    a stopped run leaves), one failed. Returns the finished runs' final val losses by variant."""
    finals = {"conv": [0.50, 0.52], "attention-2": [0.40, 0.48, 0.60]}  # the third attention run was stopped
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
            if state == "stopped":
                (root / run_id / "summary.json").unlink()
            records.append({"run_id": run_id, "config": {"mid": mid, "seed": seed}, "state": state})
    records.append({"run_id": "failed-run", "config": {"mid": "conv", "seed": 9}, "state": "failed"})
    (root / "sweep.json").write_text(json.dumps({"runs": records}))
    return {mid: losses[:2] for mid, losses in finals.items()}


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
        "conv-0",
        "conv-1",
    ]
    assert "1 early-stopped run left out (attention-2-2): stopped part way" in result.stderr
    assert isinstance(compared["warnings"], list)  # what comparability_warnings says, kept with the numbers
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
    for variant in ("conv", "attention-2"):
        assert f"| {variant} |" in markdown
    shown = markdown_headings(COLUMNS)
    headings = {column: (shown[column], fmt.replace("%", "f")) for column, _, fmt in COLUMNS}
    assert compared["differences"] and {d["reference"] for d in compared["differences"]} == {"conv"}  # the conv middle
    for d in compared["differences"]:  # every difference is a row of the report
        heading, fmt = headings[d["column"]]
        a, n, b, m = d["counted"]  # a mean over fewer runs than the variant has says so
        partial = "" if (a, n, b, m) == (n, n, m, m) else f" ({a}/{n} vs {b}/{m} runs)"
        assert f"| {d['variant']} | {heading} | {fmt.format(d['difference'])}{partial} |" in markdown
    steps = next(d for d in compared["differences"] if d["column"] == "steps_to_common")
    assert steps["counted"] == [2, 2, 1, 2]  # conv's seed 1 (0.52) never reaches the threshold (0.51)
    loss = next(d for d in compared["differences"] if d["column"] == "final_val_loss")
    expected = np.mean(finals["attention-2"]) - np.mean(finals["conv"])
    assert loss["variant"] == "attention-2" and loss["difference"] == pytest.approx(expected)
    note = "within seed noise" if loss["low"] <= 0 <= loss["high"] else "beyond seed noise"
    row = f"| attention-2 | val loss | {expected:.4f} | [{loss['low']:.4f}, {loss['high']:.4f}] | {note} |"
    assert row in markdown and note == "within seed noise"  # attention's two seeds are far apart
    pooled = math.sqrt((np.var(finals["attention-2"], ddof=1) + np.var(finals["conv"], ddof=1)) / 2)
    assert loss["pooled_std"] == pytest.approx(pooled) and compared["differences_power"] == 0.8
    assert loss["detectable"] == pytest.approx(detectable_difference(pooled, 2, 2))
    assert loss["seeds_needed"] == seeds_needed(expected, pooled) and loss["seeds_needed_more_than"] is None
    assert f"{row} {loss['detectable']:.4f} | {loss['seeds_needed']} |" in markdown
    memory = next(d for d in compared["differences"] if d["column"] == "peak_memory_mb")
    assert memory["within_noise"] is True and "| attention-2 | peak MiB |" in markdown
    assert max(len(line) for line in result.stdout.splitlines()) <= 120


def test_sweep_needs_a_sweep_record(tmp_path: Path) -> None:
    from unet1d.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["compare", "--sweep", str(tmp_path)])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        main(["compare"])
    assert exit_.value.code == 2


def test_baseline_names_the_variant_the_differences_are_measured_from(tmp_path: Path, capsys) -> None:
    from unet1d.cli import main

    make_sweep(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["compare", "--sweep", str(tmp_path), "--out", str(tmp_path / "c.json"), "--baseline", "attention-2"])
    assert exit_.value.code in (0, None)
    assert {d["reference"] for d in json.loads((tmp_path / "c.json").read_text())["differences"]} == {"attention-2"}
    with pytest.raises(SystemExit) as exit_:
        main(["compare", "--sweep", str(tmp_path), "--baseline", "attention-8"])
    assert exit_.value.code == 2
    assert (
        "--baseline 'attention-8' is not a variant of these runs; allowed: attention-2, conv" in capsys.readouterr().err
    )


def test_the_tables_say_whether_a_task_scores_difference_is_beyond_the_poses_noise(tmp_path: Path) -> None:
    """Runs that carry their per-pose errors on the same poses: the terminal's `pose noise` column and the
    report's interval over the task poses, for the task scores only; the other columns keep "-"."""
    from unet1d.compare.runs import PoseErrors

    rows = wide_rows()
    for row in rows:  # per pose: the run's mean plus a spread every run shares (it cancels in the pairs)
        errors = row.completion_cm + np.array([-3.0, 3.0, -2.0, 2.0, 0.0])
        row.pose_errors = PoseErrors("same-poses", {"completion_cm": list(errors)})
    rows[0].pose_errors.errors["completion_cm"][0] -= 6.0  # one run's pose 0 out of step: the pairs scatter
    rows[0].values["completion_cm"] = float(np.mean(rows[0].pose_errors.errors["completion_cm"]))
    found = {d.column: d for d in differences(rows, [c for c, _, _ in COLUMNS])}
    completion = found["completion_cm"]
    assert completion.within_pose_noise is True and completion.poses == 5
    assert found["final_val_loss"].pose_low is None
    assert completion.poses_needed is not None and completion.poses_needed > 5  # more poses would resolve it
    line = next(line for line in printed(rows) if "│ completion cm" in line and "[" in line)
    assert line.rstrip(" │").endswith(f"within ({completion.poses_needed})")
    markdown = write_report(tmp_path, rows, summarize_variants(rows), list(found.values()), COLUMNS, {}, None)
    text = markdown.read_text()
    cell = f"[{completion.pose_low:.2f}, {completion.pose_high:.2f}] (5 poses) | within pose noise | "
    assert "| interval over the task poses | pose noise | poses to resolve |" in text
    assert f"{cell}{completion.poses_needed:,} |" in text
    assert "*interval over the task poses*" in text and "*poses to resolve*" in text


def test_an_out_or_report_that_cannot_be_written_exits_2_before_any_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from unet1d.cli import main

    run = make_run(tmp_path / "run", "--seed", "0", summary={"val_loss": 1.0})
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    for flags, message in (
        (["--out", str(blocker / "c.json")], f"error: --out {blocker / 'c.json'}: {blocker} is a file, not a folder"),
        (["--out", str(tmp_path)], f"error: --out {tmp_path}: is a folder"),
        (["--report", str(blocker)], f"error: --report {blocker}: {blocker} is a file, not a folder"),
    ):
        with pytest.raises(SystemExit) as exited:
            main(["compare", str(run), *flags])
        captured = capsys.readouterr()
        assert exited.value.code == 2 and captured.err.startswith(message) and captured.out == "", captured


def test_variant_names_the_terminal_elides_are_spelled_out_below_its_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from unet1d.cli import main

    long = ("--lr", "0.00123", "--warmup_steps", "17", "--ema_decay", "0.9876")
    short = make_run(tmp_path / "short", "--seed", "0", summary={"val_loss": 1.0})
    longer = make_run(tmp_path / "long", "--seed", "0", *long, summary={"val_loss": 0.9})
    with pytest.raises(SystemExit) as exited:
        main(["compare", str(short), str(longer)])
    lines = capsys.readouterr().out.splitlines()
    listed = lines[lines.index("Variants in full:") + 1 :][:2]
    assert exited.value.code == 0
    assert listed[1] == "  attention-8…p_steps=17 = attention-8 ema_decay=0.988 lr=0.00123 warmup_steps=17", listed


def test_the_differences_table_cuts_names_not_numbers_and_spells_out_what_it_cut() -> None:
    """Names just under the elision width and a four-digit pose count: the table must shrink the names enough
    for rich never to cut the last column, and name each shortened variant in full beneath it."""
    from unet1d.compare.runs import PoseErrors

    rows = wide_rows()
    for row in rows:
        row.variant = row.variant.replace("attention-16 lr=5e-4 warmup_steps=500 ema=false", "conv-c16 max_steps=60")
        row.variant = row.variant.replace("conv lr=1e-3", "attention-2 steps=600")  # under NAME_WIDTH
        spread = 3.0 * (row.seed + 1) * (1 if row.variant.startswith("conv") else -1)  # the means stay the runs'
        errors = row.completion_cm + np.array([-spread, spread, 0.0, 0.0, 0.0])
        row.pose_errors = PoseErrors("same-poses", {"completion_cm": list(errors)})
    lines = printed(rows)
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("Differences from"))
    body = [line for line in lines[start:] if line.startswith("│")]
    assert any("within (" in line and len(line.split("(")[-1].split(")")[0]) >= 4 for line in body), body
    assert body and max(len(line) for line in body) <= WIDTH
    for line in body:
        assert "…" not in "│".join(line.split("│")[2:]), line  # every cell but the name whole
    shortened = {line.split("│")[1].strip() for line in body if "…" in line.split("│")[1]}
    assert shortened, "the names were not cut: the test no longer tests the squeeze"
    for name in shortened:
        assert any(line.startswith(f"  {name} = ") for line in lines[start:]), name


def test_the_differences_table_splits_where_a_partial_column_leaves_no_room_for_its_numbers() -> None:
    """A variant with a run short of a score writes "(2/3 vs 3/3 runs)" beside the difference: with long names
    and four-digit numbers even the shortest names left rich too little room, and it cut a number."""
    rows = wide_rows()
    rows[0].final_val_loss = None  # one attention run without a val loss
    lines = printed(rows)
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("Differences from"))
    body = [line for line in lines[start:] if line.startswith("│")]
    assert any("(2/3 vs 3/3 runs)" in line for line in body), body
    assert max(len(line) for line in body) <= WIDTH
    for line in body:
        assert "…" not in "│".join(line.split("│")[2:]), line  # every cell but the name whole


def test_eval_scores_as_many_poses_as_the_other_runs_evaluations(tmp_path: Path) -> None:
    from unet1d.compare.runs import evaluated_size

    for name, size in (("a", 64), ("b", 64), ("c", 2000), ("d", None)):
        if size is not None:
            (tmp_path / name / "eval").mkdir(parents=True)
            (tmp_path / name / "eval" / "step-40.json").write_text(json.dumps({"num_samples": size}))
    assert evaluated_size([tmp_path / n for n in "abcd"]) == 64  # --eval of d at 1,000 made C2ST incomparable
    assert evaluated_size([tmp_path / "d"]) is None


def test_the_report_and_json_carry_the_caveats_before_any_number(tmp_path: Path) -> None:
    from unet1d.compare.report import write_report

    caveat = "the evaluations differ in num_samples: 1000 (d); 64 (a, b); their scores do not compare"
    path = write_report(tmp_path, [], [], [], [], {}, None, [caveat])
    text = path.read_text()
    assert f"## Caveats\n\n- {caveat}" in text and text.index("## Caveats") < text.index("## Variants")


def test_the_differences_say_which_way_is_better() -> None:
    from unet1d.compare.report import direction_note

    note = direction_note(["c2st_auc", "precision", "final_val_loss", "c2st_auc", "num_parameters"],
                          {"c2st_auc": "C2ST AUC", "precision": "precision", "final_val_loss": "val loss"})  # fmt: skip
    assert note == "Lower is better: C2ST AUC, val loss; higher is better: precision"  # params: neither way


def test_baseline_takes_the_middle_alone_where_one_variant_starts_with_it(tmp_path: Path, capsys) -> None:
    # every variant of a 16-channel sweep is named <middle>-c16: --baseline attention-8 was refused
    from unet1d.cli import main

    for middle in ("conv", "attention-8", "attention-16"):
        for seed in (0, 1):
            make_run(tmp_path / f"{middle}-{seed}", "--mid", middle, "--base_channels", "16", "--seed", str(seed),
                     summary={"val_loss": 1.0 + 0.01 * seed})  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        main(["compare", str(tmp_path), "--out", str(tmp_path / "c.json"), "--baseline", "attention-8"])
    assert exit_.value.code in (0, None)
    assert {d["reference"] for d in json.loads((tmp_path / "c.json").read_text())["differences"]} == {"attention-8-c16"}
    with pytest.raises(SystemExit) as exit_:  # the start of two variants' names: refused, naming them
        main(["compare", str(tmp_path), "--baseline", "attention"])
    assert (
        exit_.value.code == 2
        and "starts 2 variants; name one: attention-16-c16, attention-8-c16" in capsys.readouterr().err
    )


def test_the_verdict_names_what_the_deciding_scores_decide_or_that_nothing_is_decided() -> None:
    # a team lead read 24-99 rows to learn that nothing was decided; val loss decides nothing here
    from unet1d.compare.report import verdict
    from unet1d.compare.stats import Difference

    headings = {"c2st_auc": "C2ST AUC", "completion_cm": "completion cm", "final_val_loss": "val loss"}
    formats = {"c2st_auc": "{:.3f}", "completion_cm": "{:.2f}", "final_val_loss": "{:.4f}"}
    loss = Difference("final_val_loss", "attention-8", "conv", 0.007, 0.001, 0.013)  # beyond, but not deciding
    c2st = Difference("c2st_auc", "attention-8", "conv", -0.059, -0.075, -0.043)
    completion = Difference("completion_cm", "attention-8", "conv", 0.2, -1.3, 1.7, seeds_needed=40)
    assert verdict([loss, c2st, completion], headings, formats) == [
        "attention-8 is better than conv on C2ST AUC: -0.059 [-0.075, -0.043]"
    ]
    beyond_seeds_only = Difference(
        "completion_cm", "attention-8", "conv", -0.3, -0.5, -0.1, pose_low=-0.6, pose_high=0.1
    )
    undecided = [loss, Difference("c2st_auc", "attention-8", "conv", 0.01, -0.02, 0.04, seeds_needed=12),
                 completion, beyond_seeds_only]  # fmt: skip
    assert verdict(undecided, headings, formats) == [
        "nothing decided: no deciding score (C2ST AUC, completion cm) separates a variant from conv beyond its noise "
        "(the seeds', and a task score's poses')",
        "nearest to deciding: attention-8's C2ST AUC (0.010), which 12 seeds per variant would resolve were it the "
        "true difference",
    ]
    one_seed = [Difference("c2st_auc", "attention-8", "conv", 0.01, None, None)]
    assert verdict(one_seed, headings, formats) == [
        "nothing decided: no interval (a variant with one seed, or seeds that do not differ at all); "
        "train 3 or more seeds of each"
    ]
    assert verdict([loss], headings, formats) == []  # no deciding score compared: nothing to say


def test_the_verdict_weighs_the_task_poses_noise_and_says_when_no_variant_is_yet_a_prior_worth_choosing() -> None:
    """Walk G: task scores decided on runs scored on other poses (their pose noise unknown), "nearest to deciding"
    named seeds for a difference only more poses could resolve, and a decision read unqualified beside the caveat
    that every run is a worse prior than the baselines."""
    from unet1d.compare.report import verdict
    from unet1d.compare.stats import Difference

    headings, formats = {"completion_cm": "completion cm", "c2st_auc": "C2ST AUC"}, {"completion_cm": "{:.2f}",
                                                                                    "c2st_auc": "{:.3f}"}  # fmt: skip
    other_poses = Difference("completion_cm", "attention-4", "conv", 1.22, 0.37, 2.08)  # no pose interval
    assert verdict([other_poses], headings, formats)[0] == (
        "not decided on completion cm: beyond seed noise, but the runs were not scored on the same task poses, so "
        "the poses' noise is unknown; `unet1d eval` every run again with one --task_poses"
    )
    within_poses = Difference("completion_cm", "attention-4", "conv", 0.95, 0.2, 1.7, pose_low=-0.3, pose_high=2.2,
                              poses_needed=20)  # fmt: skip
    c2st = Difference("c2st_auc", "attention-4", "conv", 0.01, -0.02, 0.04, seeds_needed=12)
    assert verdict([within_poses, c2st], headings, formats)[-1] == (
        "nearest to deciding: attention-4's completion cm (0.95), which 20 task poses would resolve were it the "
        "true difference"
    )
    decided = Difference("c2st_auc", "attention-4", "conv", -0.05, -0.07, -0.03)
    premature = ["no run beats a baseline that needs no network on completion_cm ..."]
    assert verdict([decided], headings, formats, premature) == [
        "attention-4 is better than conv on C2ST AUC: -0.050 [-0.070, -0.030]",
        "but no variant is yet a better prior than the baselines that need no network (caveats)",
    ]


def test_a_terminal_narrower_than_the_tables_wraps_lines_and_cuts_no_number(tmp_path: Path, capsys, monkeypatch):
    # on an 80-column terminal rich took the terminal's width and cut cells: "[-0.073, 0.0…", the seeds column empty
    import re

    from unet1d.cli import main

    make_sweep(tmp_path)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich takes stdout for a terminal
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main(["compare", "--sweep", str(tmp_path)])
    printed = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    cells = [cell for line in printed.splitlines() if line.startswith("│") for cell in line.split("│")[2:]]
    assert cells and not any("…" in cell for cell in cells)


def test_a_part_of_a_score_keeps_its_score_in_the_reports_headings() -> None:
    """Markdown drops the terminal's indent: "  root" read as a score of its own (walk G)."""
    columns = [("c2st_auc", "C2ST AUC", "{:.3f}"), ("c2st_auc_root", "  root", "{:.3f}"), ("fd", "FD", "{:.2f}")]
    assert markdown_headings(columns) == {"c2st_auc": "C2ST AUC", "c2st_auc_root": "C2ST AUC: root", "fd": "FD"}
    assert "  root" in [heading for _, heading, _ in COLUMNS if heading.strip() == "root"]  # the registry indents


def test_a_bar_over_fewer_runs_than_its_variant_has_says_how_many() -> None:
    """Survivor bias: attention's "s to common" bar stood for 1 of its 3 runs without a word (walk G)."""
    from types import SimpleNamespace

    from unet1d.compare.plots import bar_labels

    rows = [SimpleNamespace(variant=v) for v in ("conv", "conv", "conv", "attention-4", "attention-4", "attention-4")]
    assert bar_labels(rows, {"conv": [1.0, 2.0, 3.0], "attention-4": [4.6]}) == ["conv", "attention-4 (1/3 runs)"]


def test_names_cut_alike_are_cut_where_they_differ() -> None:
    """attention-4 and attention-8 at one budget both read `attent…ps=150`, and the key below the table mapped
    that one name to two variants (walk G)."""
    names = ["attention-4-c16 max_steps=150", "attention-8-c16 max_steps=150", "conv-c16 max_steps=150"]
    for width in (5, 8, 14, 20):
        cut = [elide(name, width, names) for name in names]
        assert len(set(cut)) == 3 and all(len(c) == width for c in cut), cut
    assert elide(names[2], 14, names) == elide(names[2], 14)  # no rival: cut as always


def test_the_classifiers_ceiling_does_not_read_as_no_better_prior_and_unpaired_task_scores_want_no_seeds() -> None:
    """Verification walk: the C2ST ceiling alone made a decision say "no variant is yet a better prior than the
    baselines"; a task score scored on other poses was "resolved by 3 seeds"."""
    from types import SimpleNamespace

    from unet1d.compare.report import verdict
    from unet1d.compare.runs import worse_prior_warnings
    from unet1d.compare.stats import Difference

    rows = [
        SimpleNamespace(
            completion_cm=3.0,
            denoise_cm=4.0,
            c2st_auc=0.995,
            baselines={
                "gaussian": {"completion_cm": 100.0, "denoise_cm": 100.0},
                "nearest": {"completion_cm": 100.0, "denoise_cm": 100.0},
            },
        )
    ]
    assert worse_prior_warnings(rows) == []  # every run beats the baselines: only the ceiling is a caveat
    headings, formats = {"completion_best_cm": "completion best"}, {"completion_best_cm": "{:.2f}"}
    unpaired = Difference("completion_best_cm", "attention-4", "conv", 0.94, -0.5, 2.4, seeds_needed=3)
    said = verdict([unpaired], headings, formats)
    assert not any("seeds per variant" in line or "alike" in line for line in said)  # unknown, not alike


def test_a_nan_per_pose_error_gives_no_pose_interval_to_decide_by() -> None:
    from types import SimpleNamespace

    from unet1d.compare.stats import pose_interval

    def run(errors):
        return SimpleNamespace(pose_errors=SimpleNamespace(digest="d", errors={"completion_cm": errors}))

    assert pose_interval([run([8.0, 8.5, 7.9])], [run([1.0, 1.1, 0.9])], "completion_cm") is not None
    assert pose_interval([run([8.0, float("nan"), 7.9])], [run([1.0, 1.1, 0.9])], "completion_cm") is None


def test_the_worse_prior_caveat_follows_a_decision_only():
    """R03: with nothing decided there is no decision to qualify: no 'but no variant...' line."""
    from unet1d.compare.report import verdict
    from unet1d.compare.stats import Difference

    headings, formats = {"c2st_auc": "C2ST AUC"}, {"c2st_auc": "{:.3f}"}
    undecided = Difference("c2st_auc", "attention-4", "conv", 0.01, -0.02, 0.04, seeds_needed=12)
    said = verdict([undecided], headings, formats, ["no run beats a baseline that needs no network ..."])
    assert not any(line.startswith("but no variant") for line in said), said
    assert said[0].startswith("nothing decided: no deciding score")


def test_one_difference_without_an_interval_does_not_hide_the_nearest_to_deciding():
    """R05: a variant with one seed beside one with three: the other's difference still says what would decide."""
    from unet1d.compare.report import verdict
    from unet1d.compare.stats import Difference

    headings, formats = {"c2st_auc": "C2ST AUC"}, {"c2st_auc": "{:.3f}"}
    three = Difference("c2st_auc", "attention-4", "conv", 0.01, -0.02, 0.04, seeds_needed=12)
    one = Difference("c2st_auc", "attention-8", "conv", 0.02, None, None)
    said = verdict([three, one], headings, formats)
    assert said[-1].startswith("nearest to deciding: attention-4's C2ST AUC (0.010), which 12 seeds"), said


def test_a_seed_repeated_twice_names_the_one_counted_each_time(tmp_path, capsys):
    """U02: the third copy of seed 0 must name the first run, the one counted, not the second (left out)."""
    from tests.run_folders import make_run
    from unet1d.compare.runs import compare_runs

    first = make_run(tmp_path / "a" / "one", "--seed", "0")
    second = make_run(tmp_path / "b" / "one", "--seed", "0")
    third = make_run(tmp_path / "c" / "one", "--seed", "0")
    rows, _ = compare_runs([first, second, third])
    err = capsys.readouterr().err
    assert [row.run for row in rows] == [str(first)]
    assert f"{third} and {first} are both seed 0" in err and f"{third} and {second}" not in err, err
