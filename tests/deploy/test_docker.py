"""The CPU and CUDA images' definitions, checked statically (docker/check.sh builds and runs them in CI).

hadolint lints them; the rest checks what hadolint does not know about this project: what they
copy exists, the final stage carries no build tools and no secrets, and it runs `unet1d` unprivileged;
and that check.sh runs a step again only when the engine, not the command, failed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.deploy_files import ROOT, tool

DOCKERFILES = sorted((ROOT / "docker").glob("Dockerfile*"))
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "cmake", "python3-dev", "python3-venv", "git")


def stages(dockerfile: Path) -> list[str]:
    """The text of each ``FROM`` stage, in order."""
    return re.split(r"^(?=FROM )", dockerfile.read_text(), flags=re.MULTILINE)[1:]


def test_both_images_exist_and_are_multi_stage():
    assert [path.name for path in DOCKERFILES] == ["Dockerfile", "Dockerfile.cuda"]
    for dockerfile in DOCKERFILES:
        assert len(stages(dockerfile)) == 2, dockerfile
        assert "COPY --from=build /opt/venv /opt/venv" in stages(dockerfile)[-1]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_hadolint_passes(dockerfile):
    done = subprocess.run([tool("hadolint"), "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_every_copied_path_exists(dockerfile):
    copies = re.findall(r"^COPY (?!--from)(.+?) \S+$", dockerfile.read_text(), flags=re.MULTILINE)
    sources = [source for line in copies for source in line.split()]
    assert sources and all((ROOT / source).exists() for source in sources), sources


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_final_stage_runs_unet1d_unprivileged_without_build_tools(dockerfile):
    final = stages(dockerfile)[-1]
    installs = " ".join(re.findall(r"(?:apt-get|apk|yum|dnf) .*install[^\n&]*", final))
    assert not [name for name in BUILD_TOOLS if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", installs)]
    assert "pip install" not in final
    assert re.search(r"^USER (?!0\b|root\b)\w+", final, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["unet1d"]' in final
    assert 'unet1d = "unet1d.command:main"' in (ROOT / "pyproject.toml").read_text()  # the CLI behind its Ctrl-C guard


def test_cuda_image_pins_its_base_and_the_matching_torch_build():
    text = (ROOT / "docker" / "Dockerfile.cuda").read_text()
    base = re.search(r"^ARG BASE_IMAGE=nvidia/cuda:(\d+)\.(\d+)\.\d+-\w+-ubuntu[\d.]+$", text, flags=re.MULTILINE)
    index = re.search(r"^ARG TORCH_INDEX=https://download\.pytorch\.org/whl/cu(\d+)$", text, flags=re.MULTILINE)
    assert base and index and index.group(1) == base.group(1) + base.group(2)  # 12.8 <-> cu128
    torch_pin = re.search(r"^ARG TORCH_VERSION=(\S+)$", text, flags=re.MULTILINE)
    assert torch_pin and torch_pin.group(1) in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_no_credentials_are_baked_in(dockerfile):
    text = dockerfile.read_text()
    assert not re.search(r"^(ENV|ARG)\b.*(API_KEY|TOKEN|SECRET|PASSWORD|NETRC)", text, flags=re.MULTILINE | re.I)
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".netrc", ".env", "wandb", "runs", ".git"} <= ignored
    # and below the root: compose reads deploy/.env, and COPY sweeps took a sweeps/.env into the image
    assert {"**/.netrc", "**/.env", "**/*.env", "**/wandb"} <= ignored


def test_check_script_logs_no_index_credentials(tmp_path):
    """docker/check.sh printed PIP_INDEX_URL whole in its build line: a private index's token went to CI's log."""
    say = re.search(r"^say\(\) \{.*\}$", CHECK_SCRIPT.read_text(), flags=re.MULTILINE)
    assert say, "docker/check.sh no longer defines say on one line"
    line = "build: --build-arg PIP_INDEX_URL=https://ci-bot:s3cr3t@pypi.internal.example/simple --x http://u:p@ss@h/a@b"
    done = subprocess.run(["bash", "-c", f"{say.group(0)}\nsay '{line}'"], capture_output=True, text=True)
    assert done.returncode == 0 and "s3cr3t" not in done.stderr and "ci-bot" not in done.stderr, done.stderr
    assert (
        "PIP_INDEX_URL=https://***@pypi.internal.example/simple --x http://***@h/a@b" in done.stderr
    )  # @ in a password


CHECK_SCRIPT = ROOT / "docker" / "check.sh"
# A stand-in for buildah: its first FLAKY calls fail as buildah does when it cannot re-execute itself
# (the command never starts); then it runs, exiting with EXIT.
FAKE_ENGINE = """calls=$(( $(cat "$WORK/calls" 2>/dev/null || echo 0) + 1 )); echo "$calls" >"$WORK/calls"
if (( calls <= FLAKY )); then echo "Close_Fd sealing memfd copy: Device or resource busy" >&2; exit 1; fi
echo ran; exit "$EXIT\""""


@pytest.mark.parametrize(
    ("flaky", "exit_code", "status", "calls"),
    [(0, 0, 0, 1), (2, 0, 0, 3), (3, 0, 1, 3), (0, 3, 3, 1)],
    ids=["runs-once", "engine-fails-twice-then-runs", "engine-fails-every-time", "command-fails-not-retried"],
)
def test_check_runs_a_step_again_only_when_the_engine_failed_to_start_it(tmp_path, flaky, exit_code, status, calls):
    """docker/check.sh's retry_engine, as the script defines it, around a fake engine."""
    script = CHECK_SCRIPT.read_text()
    helpers = re.search(r"^say\(\).*?^ENGINE_FLAKE=.*?^retry_engine\(\) \{.*?^\}$", script, flags=re.MULTILINE | re.S)
    assert helpers, "docker/check.sh no longer defines say, ENGINE_FLAKE and retry_engine together"
    (tmp_path / "engine").write_text(FAKE_ENGINE)
    program = f"set -euo pipefail\nexport WORK={tmp_path} FLAKY={flaky} EXIT={exit_code}\n{helpers.group(0)}\n"
    program += 'status=0\nretry_engine bash "$WORK/engine" || status=$?\nexit "$status"\n'
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == status, done.stderr
    assert int((tmp_path / "calls").read_text()) == calls
    assert done.stdout == ("ran\n" if flaky < 3 else "")
    assert done.stderr.count("the engine failed before the command started") == min(flaky, 2)
