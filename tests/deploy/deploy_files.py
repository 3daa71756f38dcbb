"""Read the deployment files (images, compose, Slurm, the README's deploy section) as a person would run them.

Shared by test_docker.py and test_deploy.py: where the files are, which ``unet1d`` command lines
they run (shell variables filled with example values), and which repository files they name.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
SLURM_SCRIPTS = sorted((ROOT / "deploy" / "slurm").glob("*.sbatch"))
DEPLOY_SECTION = "## Docker and deployment"
# Example values for the variables the files expand; a new variable must be added here on purpose.
EXAMPLES = {
    "SWEEP_ID": "entity/unet1d/abc123",
    "UNET1D": "unet1d",
    "ACCELERATE": "accelerate",
    "SLURM_NNODES": "2",
    "SLURM_NODEID": "1",
    "SLURM_JOB_ID": "4242",
    "MAIN_IP": "10.0.0.1",
    "PORT": "29742",
    "GPUS_PER_NODE": "4",
    "PWD": "/home/me/unet1d",
}
SHELL_OPERATORS = {"&", "&&", "|", "||", ";", ">", ">>", "<<<"}
# A path inside the repository, as the deploy files mention them (not /srv/... or runs/...).
REPO_PATH = re.compile(r"(?<![\w/.:-])((?:docker|deploy|sweeps)/[\w./-]*\w)")


def tool(name: str) -> str:
    """An executable of this environment (dev extra), e.g. hadolint; fails clearly when missing."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[dev]'"
    return found


def deploy_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(DEPLOY_SECTION)
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end >= 0 else None]


def expand(text: str) -> str:
    """Fill ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:?message}``, ``$((...))`` and ``"$@"``."""

    def value(match: re.Match) -> str:
        name, default = match["name"], match["default"]
        if name in EXAMPLES:
            return EXAMPLES[name]
        if default is not None:
            return default
        raise AssertionError(f"no example value for ${name}: add one to tests/deploy/deploy_files.EXAMPLES")

    text = text.replace('"$@"', "").replace("$((", "$EXPR((")
    text = re.sub(r"\$EXPR\(\(.*?\)\)", "8", text)
    text = re.sub(r"\$\{(?P<name>\w+)(?:\[@\])?(?::\?[^}]*|:-(?P<default>[^}]*))?\}", value, text)
    return re.sub(r"\$(?P<name>[A-Za-z_]\w*)(?P<default>)", lambda m: value(m) if m["name"] in EXAMPLES else m[0], text)


def commands_in_tokens(tokens: list[str]) -> Iterator[list[str]]:
    """Each ``unet1d`` argv in a tokenised shell command (also inside ``bash -c '...'``)."""
    if tokens[:2] == ["docker", "build"]:
        return
    for index, token in enumerate(tokens):
        if " " in token:
            yield from commands_in_tokens(shlex.split(token, comments=True))
            continue
        start = None
        if Path(token).name == "unet1d" or (token.startswith("unet1d:") and tokens[:2] == ["docker", "run"]):
            start = index + 1
        elif token == "-m" and tokens[index + 1 : index + 2] == ["unet1d.cli"]:
            start = index + 2
        elif token.endswith("multinode.sbatch"):  # its arguments are `unet1d train` flags
            yield ["train", *tokens[index + 1 :]]
            return
        if start is not None:
            argv = []
            for arg in tokens[start:]:
                if arg in SHELL_OPERATORS:
                    break
                argv.append(arg)
            if argv:
                yield argv
            return


def shell_commands(text: str) -> Iterator[list[str]]:
    """``unet1d`` argvs of a shell script or code block: logical lines, comments skipped."""
    for line in text.replace("\\\n", " ").splitlines():
        if line.lstrip().startswith("#") or not re.search(r"unet1d|\.sbatch", line, flags=re.IGNORECASE):
            continue
        tokens = shlex.split(expand(line), comments=True)
        if tokens:
            yield from commands_in_tokens(tokens)


def readme_commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", deploy_section(), flags=re.DOTALL)
    return [argv for block in blocks for argv in shell_commands(block)]


def compose_commands() -> list[list[str]]:
    """Each service's command, after the images' ``unet1d`` entrypoint."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    return [[expand(arg) for arg in service["command"]] for service in services.values()]


def slurm_commands() -> list[list[str]]:
    return [argv for script in SLURM_SCRIPTS for argv in shell_commands(script.read_text())]
