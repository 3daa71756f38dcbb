"""The README's examples work as written: the model snippet runs, the run.yaml example is a valid config."""

from __future__ import annotations

from pathlib import Path

import torch

from unet1d.config_sources import load_config

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def block(language: str) -> str:
    return README.split(f"```{language}\n")[1].split("```")[0]


def test_the_model_snippet_runs_as_written(single_thread):
    namespace: dict = {}
    exec(compile(block("python"), "README.md", "exec"), namespace)
    assert namespace["prediction"].shape == namespace["x_t"].shape == (4, 72)
    assert torch.isfinite(namespace["prediction"]).all()


def test_the_run_yaml_example_is_a_valid_config(tmp_path):
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(block("yaml"))
    config = load_config(run_yaml, [], environ={"UNET1D_LR": "1e-3"})  # the README's own command line
    assert (config.model.mid_structure, config.model.mid_num_heads, config.train.max_steps) == ("attention", 8, 4000)
    assert config.optim.lr == 1e-3  # the environment variable over the file


def test_the_readme_stays_a_users_page() -> None:
    """At most 250 lines (studies and tables live in docs/), prose lines at most 120 characters."""
    lines = README.splitlines()
    assert len(lines) <= 250
    fenced, long = False, []
    for number, line in enumerate(lines, 1):
        fenced ^= line.startswith("```")
        if not fenced and not line.startswith(("|", "```")) and len(line) > 120:
            long.append(number)
    assert long == []
