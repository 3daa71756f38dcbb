"""What a user's plain ``docker build`` gets: the defaults that ``docker/check.sh`` replaces here.

CI builds the images with a local base and the torch that pip's sources hold, so it never uses the
Dockerfiles' defaults; these are checked here instead.
"""

from __future__ import annotations

import re

from tests.deploy.deploy_files import ROOT


def arg_default(text: str, name: str) -> str | None:
    found = re.search(rf"^ARG {name}=(\S*)$", text, flags=re.MULTILINE)
    return found.group(1) if found else None


def test_cpu_image_defaults_to_the_slim_python_base_and_pytorchs_cpu_index():
    text = (ROOT / "docker" / "Dockerfile").read_text()
    assert arg_default(text, "BASE_IMAGE") == "python:3.11-slim-bookworm"
    assert arg_default(text, "TORCH_INDEX") == "https://download.pytorch.org/whl/cpu"  # else a multi-GB CUDA torch


def test_every_stage_starts_from_the_base_argument():
    for path in sorted((ROOT / "docker").glob("Dockerfile*")):
        text = path.read_text()
        froms = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
        assert froms == ["${BASE_IMAGE}", "${BASE_IMAGE}"], (path.name, froms)  # the venv's Python is in both
        assert text.index("ARG BASE_IMAGE=") < text.index("FROM ")
