"""The compose fleet, the Slurm scripts and the README deploy section: only files that exist, only valid commands.

Every ``unet1d`` command they run must show ``--help`` for its subcommand, and the config flags of
``train`` must pass the config's validation, with shell variables filled with example values.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from tests.deploy.deploy_files import (
    COMPOSE,
    REPO_PATH,
    ROOT,
    SLURM_SCRIPTS,
    compose_commands,
    deploy_section,
    readme_commands,
    slurm_commands,
    tool,
)
from unet1d.cli import app
from unet1d.config_sources import load_config

CLI = typer.main.get_command(app)
CONFIG_COMMANDS = {("train",), ("info",), ("config", "show"), ("config", "validate")}
COMMANDS = {"readme": readme_commands(), "compose": compose_commands(), "slurm": slurm_commands()}
NAMED = {f"{where}: {' '.join(argv)}": (where, argv) for where, argvs in COMMANDS.items() for argv in argvs}
ALL_COMMANDS = list(NAMED.items())  # one test per distinct command and file kind


def subcommand(argv: list[str]) -> tuple[str, ...]:
    """``["sweep", "agent", "ID"]`` -> ``("sweep", "agent")``: a group and its command, or a command."""
    return tuple(argv[:2]) if argv[0] in {"config", "data", "sweep"} else (argv[0],)


def registered(path: tuple[str, ...]) -> bool:
    group = CLI
    for name in path:
        commands = getattr(group, "commands", {})
        if name not in commands:
            return False
        group = commands[name]
    return True


def test_every_file_runs_unet1d_commands():
    assert all(COMMANDS.values()), COMMANDS
    assert {"train", "sweep"} <= {argv[0] for _, (_, argv) in ALL_COMMANDS}


@pytest.mark.parametrize("command", [command for _, command in ALL_COMMANDS], ids=[name for name, _ in ALL_COMMANDS])
def test_each_command_parses_with_the_cli(command):
    where, argv = command
    path = subcommand(argv)
    if not registered(path):  # `unet1d sweep agent` lands from another branch; then this must pass
        pytest.xfail(f"{where} runs `unet1d {' '.join(path)}`, which this CLI does not have yet")
    shown = CliRunner().invoke(app, [*path, "--help"])
    assert shown.exit_code == 0, shown.output
    if path in CONFIG_COMMANDS:
        load_config(None, argv[len(path) :], environ={})  # raises ConfigError naming a bad flag


def test_files_they_name_exist():
    texts = {path: path.read_text() for path in [COMPOSE, *SLURM_SCRIPTS, *(ROOT / "docker").glob("Dockerfile*")]}
    texts[ROOT / "README.md"] = deploy_section()
    named = {(source, match) for source, text in texts.items() for match in REPO_PATH.findall(text)}
    assert {name for _, name in named} >= {"deploy/compose.yaml", "deploy/slurm/agents.sbatch", "docker/Dockerfile"}
    assert not [(str(source.relative_to(ROOT)), name) for source, name in named if not (ROOT / name).exists()]


def test_compose_builds_an_existing_image_and_gives_each_agent_its_own_gpu():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    gpus = []
    for service in services.values():
        context = (COMPOSE.parent / service["build"]["context"]).resolve()
        assert (context / service["build"]["dockerfile"]).is_file()
        devices = service["deploy"]["resources"]["reservations"]["devices"]
        assert len(devices) == 1 and devices[0]["capabilities"] == ["gpu"]
        gpus += devices[0]["device_ids"]
        assert "runs:/app/runs" in service["volumes"] and "runs" in compose["volumes"]
        assert set(service["environment"]) >= {"WANDB_API_KEY"}
        assert service["environment"]["WANDB_API_KEY"].startswith("${WANDB_API_KEY")  # from the environment only
        assert "${SWEEP_ID" in service["command"][-1]
    assert len(gpus) == len(set(gpus)) == len(services) >= 2


@pytest.mark.parametrize("script", SLURM_SCRIPTS, ids=lambda path: path.name)
def test_slurm_scripts_pass_shellcheck_and_requeue_on_a_signal(script):
    done = subprocess.run([tool("shellcheck"), str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    text = script.read_text()
    assert "#SBATCH --requeue" in text and "#SBATCH --signal=B:TERM@" in text and "trap stop TERM" in text


def test_multinode_script_takes_its_machine_rank_and_main_address_from_slurm():
    text = (ROOT / "deploy" / "slurm" / "multinode.sbatch").read_text()
    for flag, source in [("--num_machines", "SLURM_NNODES"), ("--machine_rank", "SLURM_NODEID")]:
        assert f'{flag} "${{{source}}}"' in text
    assert '--main_process_ip "${MAIN_IP}"' in text and "scontrol show hostnames" in text
    assert "-m unet1d.cli train --resume auto" in text


def test_console_scripts_the_slurm_scripts_default_to_are_installed():
    bin_dir = Path(sys.executable).parent
    for name in ("unet1d", "accelerate"):
        assert any(f".venv/bin/{name}" in script.read_text() for script in SLURM_SCRIPTS), name
        assert (bin_dir / name).exists(), f"{name} is not installed next to {sys.executable}"
