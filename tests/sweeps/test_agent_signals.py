"""`unet1d sweep agent` stopped by SIGTERM (Docker's stop, Slurm's preemption): its run checkpoints.

The real ``wandb agent`` against a stand-in W&B server (the few GraphQL answers an agent needs: the
sweep, an agent id, and one run to start), so the signal's whole route is W&B's own code and ours.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

from tests.conftest import TINY_RUN

ROOT = Path(__file__).resolve().parents[2]
FAKE_KEY = "0123456789abcdef0123456789abcdef01234567"


def sweep_config(run_dir: Path) -> str:
    flags = [*TINY_RUN, "--log_every", "1", "--max_steps", "1000000", "--checkpoint_every", "1000000"]
    command = ["${env}", "${interpreter}", "${program}", "train", f"--output_dir={run_dir}", "--wandb_mode=disabled",
               *flags, "${args}"]  # fmt: skip
    return json.dumps({"program": "cli.py", "method": "grid", "command": command,
                       "parameters": {"mid_structure": {"values": ["conv"]}}})  # fmt: skip


def server_for(config: str) -> type[BaseHTTPRequestHandler]:
    handed_out = threading.Event()

    class StandIn(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers.get("content-length") or 0)).decode(errors="replace")
            if "SweepWithRuns" in query:
                sweep = {"id": "s1", "name": "abc123", "method": "grid", "state": "RUNNING", "config": config,
                         "createdAt": "2026-01-01T00:00:00", "runs": {"edges": []}, "runCount": 0}  # fmt: skip
                data: dict = {"project": {"sweep": sweep}}
            elif "CreateAgent" in query:
                data = {"createAgent": {"agent": {"id": "agent1"}}}
            elif "Heartbeat" in query:
                run = {
                    "type": "run",
                    "run_id": "run0001",
                    "program": "cli.py",
                    "args": {"mid_structure": {"value": "conv"}},
                }
                commands = [] if handed_out.is_set() else [run]
                handed_out.set()
                data = {"agentHeartbeat": {"agent": {"id": "agent1"}, "commands": json.dumps(commands)}}
            elif "viewer" in query.lower():
                data = {"viewer": {"id": "u1", "entity": "e", "username": "u", "flags": "{}", "teams": {"edges": []}}}
            else:
                data = {}
            body = json.dumps({"data": data}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    return StandIn


@pytest.fixture
def stand_in_wandb(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    run_dir = tmp_path / "run"
    server = ThreadingHTTPServer(("127.0.0.1", 0), server_for(sweep_config(run_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", run_dir
    server.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_stop_signal_to_the_agent_reaches_its_run_which_checkpoints_and_the_run_finds_this_python(
    stand_in_wandb, isolated_wandb, tmp_path, stop
):
    """Two faults, each of which lost the run: ``wandb agent`` without --forward-signals died at SIGTERM and left
    its run (a process group of its own) training until SIGKILL, and `unet1d sweep agent` stood between as a
    process that, as a container's PID 1, ignored SIGTERM. And the agent runs ``${interpreter}`` as the word
    ``python``: with this environment's folder not on PATH (a venv never activated) the run was another Python's."""
    url, run_dir = stand_in_wandb
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(ROOT / "cli.py", work / "cli.py")  # the sweeps' program, from the folder the agent starts in
    env = {**isolated_wandb, "WANDB_BASE_URL": url, "WANDB_API_KEY": FAKE_KEY, "PATH": "/usr/bin:/bin"}
    log = tmp_path / "agent.log"
    with open(log, "wb") as out:
        agent = subprocess.Popen([sys.executable, "-m", "unet1d.cli", "sweep", "agent", "e/p/abc123"], cwd=work,
                                 env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    family: set[psutil.Process] = set()
    try:
        deadline = time.monotonic() + 180
        while "step 3/" not in log.read_text(errors="replace") and time.monotonic() < deadline:
            family |= set(psutil.Process(agent.pid).children(recursive=True)) if agent.poll() is None else set()
            assert agent.poll() is None, log.read_text(errors="replace")
            time.sleep(0.2)
        assert "step 3/" in log.read_text(errors="replace"), log.read_text(errors="replace")
        agent.send_signal(stop)  # SIGTERM: what `docker stop` and Slurm's --signal send; SIGINT: Ctrl-C
        assert agent.wait(timeout=120) == 128 + stop, log.read_text(errors="replace")  # as the run's own stop ends
        output = log.read_text(errors="replace")
        checkpoints = sorted((run_dir / "checkpoints").glob("step-*"))
        assert checkpoints, output  # the run saved where it was: nothing was lost
        handed = signal.SIGTERM if stop == signal.SIGHUP else stop  # a closed terminal's: the run stops on TERM
        assert f"{handed.name}: saving a checkpoint" in output, output
        assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], output
    finally:
        for process in [psutil.Process(agent.pid), *family] if agent.poll() is None else family:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


def test_a_wandb_whose_agent_cannot_forward_signals_is_said(monkeypatch, capsys) -> None:
    """An older wandb has no --forward-signals: the agent runs without it, and the user is told what that costs."""
    from unet1d.sweeps import agent

    assert "--forward-signals" in agent.agent_command("e/p/abc123")  # this environment's wandb has it
    monkeypatch.setattr(agent, "agent_forwards_signals", lambda: False)
    assert "--forward-signals" not in agent.agent_command("e/p/abc123")
    assert "cannot hand a stop signal on to its run" in capsys.readouterr().err


def test_the_agents_path_puts_this_pythons_folder_first() -> None:
    """mutation walk: this Python's folder last on PATH let a system `python` (without torch) run the sweep's runs."""
    import os

    from unet1d.sweeps.agent import agent_environment

    folder = os.path.dirname(sys.executable)
    assert agent_environment({"PATH": "/usr/bin:/bin", "HOME": "/h"}) == {
        "PATH": os.pathsep.join([folder, "/usr/bin", "/bin"]),
        "HOME": "/h",
    }
    assert agent_environment({})["PATH"] == agent_environment({"PATH": ""})["PATH"] == folder
