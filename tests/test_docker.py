"""The Docker image definition: what it copies exists, and no secret or run output can reach it.

No Docker engine runs on CI machines, so the build itself is not exercised here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()


def test_every_copied_path_exists() -> None:
    copies = re.findall(r"^COPY (.+?) \S+$", DOCKERFILE, flags=re.MULTILINE)
    sources = [source for line in copies for source in line.split()]
    assert sources and all((ROOT / source).exists() for source in sources), sources


def test_entrypoint_is_the_console_script_declared_in_pyproject() -> None:
    assert 'ENTRYPOINT ["unet1d"]' in DOCKERFILE
    assert 'unet1d = "unet1d.cli:main"' in (ROOT / "pyproject.toml").read_text()


def test_no_credentials_are_baked_in() -> None:
    assert not re.search(r"^(ENV|ARG)\b.*(API_KEY|TOKEN|SECRET|PASSWORD)", DOCKERFILE, flags=re.MULTILINE | re.I)
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".netrc", ".env", "wandb", "runs", ".git"} <= ignored


def test_image_runs_as_an_unprivileged_user() -> None:
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, flags=re.MULTILINE)
