"""`compare` on run folders with a damaged summary.json or eval/step-N.json: one warning naming the
file, the run still compared on what is whole, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.run_folders import make_run
from unet1d.compare.runs import compare_runs

VAL_LOSS = [(10, 100.0, 0.9), (20, 110.0, 0.6), (30, 120.0, 0.7)]  # best 0.6, last logged step 30
SUMMARY = {"val_loss": 0.7, "train_loss": 0.8, "wall_time_s": 20.0, "num_parameters": 1234}


def warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


def cut_short(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


@pytest.mark.parametrize("damage", ["cut short", "not JSON", "a JSON list"])
def test_a_damaged_summary_is_named_once_and_the_run_compared_on_the_rest(tmp_path, capsys, damage) -> None:
    run = make_run(tmp_path / "run", summary=SUMMARY, scalars={"val/loss": VAL_LOSS}, evaluation={"precision": 0.25})
    summary = run / "summary.json"
    if damage == "cut short":
        cut_short(summary)
    elif damage == "not JSON":
        summary.write_bytes(b"\x00\xff" * 40)
    else:
        summary.write_text("[1, 2]")
    (row,), (variant,) = compare_runs([run])

    lines = warnings(capsys.readouterr().err)
    assert len(lines) == 1 and str(summary) in lines[0], lines
    assert "AttributeError" not in lines[0] and "'list' object" not in lines[0]  # said for a person, not Python
    if damage == "a JSON list":
        assert "damaged run summary (a JSON list, not an object)" in lines[0]
    assert row.final_val_loss is None and row.final_train_loss is None and row.wall_time_s is None
    assert row.best_val_loss == pytest.approx(0.6)  # the curve is whole: still read
    assert row.precision == 0.25  # so is the evaluation
    assert row.final_step == 30  # the last step the run logged
    assert variant.runs == 1 and variant.mean["best_val_loss"] == pytest.approx(0.6)


def test_a_summary_holding_words_where_numbers_go_is_named_and_the_rest_compared(tmp_path, capsys) -> None:
    # JSON, an object, and still a TypeError traceback (val_loss "nan") or int("x") (final_step)
    run = make_run(tmp_path / "run", summary={**SUMMARY, "val_loss": "nan", "final_step": "x", "wall_time_s": True})
    (row,), (variant,) = compare_runs([run])
    lines = warnings(capsys.readouterr().err)
    assert any("val_loss is 'nan', not a finite number" in line for line in lines), lines
    assert any("final_step is 'x', not a whole number" in line for line in lines), lines
    assert any("wall_time_s is True, not a finite number" in line for line in lines), lines
    assert row.final_val_loss is None and row.wall_time_s is None and row.final_step is None
    assert row.final_train_loss == 0.8 and variant.mean["final_train_loss"] == 0.8  # the whole numbers are kept


def test_a_whole_summary_keeps_every_number(tmp_path, capsys) -> None:
    """The reader's fallback must not throw away a summary that is whole (here one with fields missing)."""
    run = make_run(tmp_path / "run", summary=SUMMARY, scalars={"val/loss": VAL_LOSS})
    (row,), _ = compare_runs([run])
    assert warnings(capsys.readouterr().err) == []
    assert (row.final_val_loss, row.final_train_loss, row.wall_time_s, row.num_parameters) == (0.7, 0.8, 20.0, 1234)
    assert row.final_step == 30


def write_eval(run: Path, step: int, scores: dict) -> Path:
    path = run / "eval" / f"step-{step}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(scores))
    return path


def test_a_damaged_newest_evaluation_gives_way_to_the_previous_whole_one(tmp_path, capsys) -> None:
    run = make_run(tmp_path / "run", summary=SUMMARY)
    write_eval(run, 50, {"precision": 0.5, "recall": 0.4})
    newest = write_eval(run, 100, {"precision": 0.9, "recall": 0.8})
    write_eval(run, 9, {"precision": 0.1})  # older by step, newer by name: must not be the one taken
    cut_short(newest)
    (row,), _ = compare_runs([run])

    (line,) = warnings(capsys.readouterr().err)
    assert str(newest) in line and "step-50.json" in line
    assert (row.precision, row.recall) == (0.5, 0.4)
    assert row.final_val_loss == 0.7  # the summary is whole


def test_a_run_whose_only_evaluation_is_damaged_is_compared_without_one(tmp_path, capsys) -> None:
    run = make_run(tmp_path / "run", summary=SUMMARY, evaluation={"precision": 0.5})
    (report,) = (run / "eval").glob("step-*.json")
    report.write_text('{"precision": 0.5, "rec')
    (row,), _ = compare_runs([run])

    (line,) = warnings(capsys.readouterr().err)
    assert str(report) in line
    assert row.precision is None and row.final_val_loss == 0.7


def test_unet1d_compare_on_a_damaged_run_exits_0_with_one_warning(tmp_path, capsys) -> None:
    from unet1d.cli import main

    whole = make_run(tmp_path / "runs" / "whole", summary=SUMMARY, scalars={"val/loss": VAL_LOSS})
    damaged = make_run(tmp_path / "runs" / "damaged", "--seed", "1", summary=SUMMARY, evaluation={"precision": 0.3})
    cut_short(damaged / "summary.json")
    cut_short(next((damaged / "eval").glob("step-*.json")))
    out = tmp_path / "compared.json"
    try:
        main(["compare", str(tmp_path / "runs"), "--out", str(out)])
    except SystemExit as exited:
        assert exited.code in (0, None)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = warnings(err)
    assert len(lines) == 2, lines
    assert str(damaged / "summary.json") in lines[0] + lines[1]
    runs = {Path(r["run"]).name: r for r in json.loads(out.read_text())["runs"]}
    assert runs["whole"]["final_val_loss"] == 0.7 and runs["whole"]["best_val_loss"] == pytest.approx(0.6)
    assert runs["damaged"]["final_val_loss"] is None and runs["damaged"]["precision"] is None
    assert runs["whole"]["run"] == str(whole)


def test_every_warning_compare_prints_is_kept_in_its_json_and_report(tmp_path, capsys) -> None:
    # a damaged summary and an unfinished run were said on stderr only: --out's warnings and the report's Caveats
    # held the comparability warnings alone
    from unet1d.cli import main

    runs = tmp_path / "runs"
    make_run(runs / "whole", "--seed", "0", summary=SUMMARY)
    cut_short(make_run(runs / "damaged", "--seed", "1", summary=SUMMARY) / "summary.json")
    (make_run(runs / "killed", "--seed", "2") / "summary.json").unlink()
    out, report = tmp_path / "compare.json", tmp_path / "report"
    with pytest.raises(SystemExit) as exited:
        main(["compare", str(runs), "--out", str(out), "--report", str(report)])
    printed = [line.removeprefix("warning: ") for line in warnings(capsys.readouterr().err)]
    kept = json.loads(out.read_text())["warnings"]
    assert exited.value.code == 0 and len(printed) == 2 and kept == printed, (printed, kept)
    assert any("summary.json" in line and "damaged" in line for line in kept)
    assert any("unfinished runs, left out: killed" in line for line in kept)
    caveats = (report / "report.md").read_text().split("## Caveats")[1]
    assert all(line in caveats for line in kept)
