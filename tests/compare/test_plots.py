"""compare's figures: what a reader sees on their axes."""

from __future__ import annotations

from pathlib import Path

from unet1d.compare import plots
from unet1d.store.curves import Curves


def test_a_log_scale_loss_of_less_than_a_decade_reads_as_plain_numbers(tmp_path: Path, monkeypatch) -> None:
    """A loss from 1.25 to 0.9 has no decade on its axis: its minor labels read 1.2, not 1.2x10^0 in mathtext."""
    drawn = {}

    def keep(plt, figure, path):
        drawn["figure"] = figure
        return path

    monkeypatch.setattr(plots, "_save", keep)
    runs = [Curves({"train/loss": [(step, 0.0, 1.25 - 0.0035 * step) for step in range(0, 101, 10)]})]
    plots.curves_figure({"conv": runs}, ["train/loss"], tmp_path / "loss.png", "loss", log_y=True)
    figure = drawn["figure"]
    figure.canvas.draw()
    axis = figure.axes[0].yaxis
    assert figure.axes[0].get_yscale() == "log"
    labels = [label.get_text() for label in [*axis.get_majorticklabels(), *axis.get_minorticklabels()]]
    shown = [text for text in labels if text]
    assert shown and not any("times" in text or "^" in text for text in shown), shown
    assert {"1", "1.1", "1.2"} & set(shown), shown


def test_one_validation_per_run_is_drawn_and_close_ticks_read_apart(tmp_path: Path, monkeypatch) -> None:
    # runs shorter than eval_every: each curve one point, an empty panel, and log ticks "1.04, 1.04, 1.03, 1.03"
    drawn = {}
    monkeypatch.setattr(plots, "_save", lambda plt, figure, path: drawn.setdefault("figure", figure) and path)
    runs = [Curves({"val/loss": [(40, 0.0, value)]}) for value in (1.0312, 1.0377, 1.0345)]
    plots.curves_figure({"conv": runs}, ["val/loss"], tmp_path / "loss.png", "loss", log_y=True)
    figure = drawn["figure"]
    figure.canvas.draw()
    (line,) = figure.axes[0].get_lines()
    assert line.get_marker() == "o" and list(line.get_xdata()) == [40]
    axis = figure.axes[0].yaxis
    for ticks in (axis.get_majorticklabels(), axis.get_minorticklabels()):
        shown = [label.get_text() for label in ticks if label.get_text()]
        assert len(shown) == len(set(shown)), shown
