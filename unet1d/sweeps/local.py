"""Run any W&B sweep here, with no W&B server: W&B's own engine (``sweeps.next_run`` proposes,
``sweeps.stop_runs`` early-terminates) driving runs started exactly as ``wandb agent`` starts them.

Each run is the sweep's ``command`` with its macros expanded by wandb's own agent helpers, then the
``sweep local`` overrides, ``--resume=auto`` and ``--output_dir=<root>/<run id>`` (so local runs
never collide), with ``WANDB_RUN_ID`` / ``WANDB_SWEEP_ID`` set and W&B offline. The engine sees
each run's logged metric, read from its TensorBoard events, through the ``sampledHistory`` /
``summaryMetrics`` aliases, the only names ``SweepRun`` accepts for them in sweeps 0.2.0.
``<root>/sweep.json`` records every run, so starting the sweep again resumes interrupted and
failed runs (same run id, same folder, same W&B run) before asking the engine for new ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from unet1d.atomic_files import write_text_atomically
from unet1d.config import FIELD_PATHS
from unet1d.config_sources import parse_overrides
from unet1d.errors import UserError
from unet1d.store import checkpoint_files
from unet1d.store.curves import read_curves
from unet1d.store.rundir import SUMMARY_FILE
from unet1d.sweeps.agent import run_command
from unet1d.sweeps.schema import engine
from unet1d.training.signals import Interrupted, signals_raise, terminate_with_parent
from unet1d.wandb_access import new_run_id

STATE_FILE = "sweep.json"
POLL_S = 1.0
KILL_AFTER_S = 60.0  # a stopped run that ignores SIGTERM this long is killed
# Runs in these states are started again (resumed) when the sweep is; "stopped" ones never are.
RESUMABLE = ("running", "failed", "interrupted")


@dataclass
class LocalRun:
    """One run of a local sweep, as recorded in ``sweep.json``."""

    run_id: str
    config: dict[str, Any]
    state: str = "running"  # running | finished | stopped (early-terminated) | failed | interrupted
    exit_code: int | None = None
    history: list[float] = field(default_factory=list)  # the metric, per logged step (cached once ended)


def sweep_id_for(sweep_file: Path) -> str:
    """The local stand-in for a W&B sweep id: ``local-<file stem>``."""
    return f"local-{sweep_file.stem}"


def load_state(root: Path) -> list[LocalRun]:
    path = root / STATE_FILE
    if not path.is_file():
        return []
    try:
        return [LocalRun(**run) for run in json.loads(path.read_text())["runs"]]
    except (ValueError, KeyError, TypeError) as err:
        raise UserError(f"{path}: not a local sweep record ({err}); move it away to start the sweep afresh") from None


def sweep_run_dirs(root: Path) -> list[Path]:
    """The folders of the finished runs ``root/sweep.json`` lists; a UserError if it lists none. Early-stopped
    runs are named and left out: stopped part way, they have no final scores to set beside the others'."""
    if not (root / STATE_FILE).is_file():
        raise UserError(
            f"--sweep {root}: no {STATE_FILE} there; give the folder `unet1d sweep local` made (runs/sweeps/<sweep>)"
        )
    runs = load_state(root)
    folders = [
        root / run.run_id for run in runs if run.state == "finished" and (root / run.run_id / SUMMARY_FILE).is_file()
    ]
    stopped = [run.run_id for run in runs if run.state == "stopped"]
    if stopped:
        checkpoint_files.warn(
            f"--sweep {root}: {len(stopped)} early-stopped run{'s' if len(stopped) > 1 else ''} left out "
            f"({', '.join(stopped)}): stopped part way, they have no final scores"
        )
    if not folders:
        states = ", ".join(f"{run.run_id}: {run.state}" for run in runs) or "no runs"
        raise UserError(f"--sweep {root}: no finished run with a summary.json to compare ({states})")
    parallel = recorded_parallel(root)
    if parallel > 1:
        checkpoint_files.warn(
            f"--sweep {root}: its runs trained up to {parallel} side by side (--parallel {parallel}), so their time "
            "and samples/s hold what the runs beside them took from the cores: a variant's seeds that met heavier "
            "company read slower; compare speeds of runs trained alone"
        )
    return folders


def save_state(root: Path, runs: list[LocalRun], overrides: list[str] | None = None, parallel: int = 1) -> None:
    """Write ``sweep.json`` atomically: a killed sweep never leaves half a record, and two sweeps
    writing one folder never share a temporary file (a unique name, flushed to disk, then renamed).
    ``overrides``: the ``--field value`` flags every run got, which a later call must repeat; ``parallel``: the
    most runs any pass trained side by side (their times include what the others took from the cores)."""
    root.mkdir(parents=True, exist_ok=True)
    record = {"runs": [asdict(run) for run in runs], "overrides": overrides or [],
              "parallel": max(parallel, recorded_parallel(root))}  # fmt: skip
    write_text_atomically(root / STATE_FILE, json.dumps(record, indent=2) + "\n")


def recorded_parallel(root: Path) -> int:
    """The most runs ``sweep.json`` says were trained side by side (1 where it says nothing)."""
    try:
        stored = json.loads((root / STATE_FILE).read_text()).get("parallel", 1)
    except (OSError, ValueError, AttributeError):
        return 1
    return stored if isinstance(stored, int) and stored > 0 else 1


def recorded_overrides(root: Path) -> dict[str, str] | None:
    """The overrides ``sweep.json`` records, by config field; None when it records none (older sweeps)."""
    path = root / STATE_FILE
    try:
        stored = json.loads(path.read_text()).get("overrides")
    except (OSError, ValueError, AttributeError):
        return None
    return None if stored is None else override_values(stored)


def override_values(args: list[str]) -> dict[str, str]:
    """``--lr 1e-3`` / ``--optim.lr=1e-3`` alike: {``optim.lr``: ``1e-3``}."""
    return {path: value for path, value, _ in parse_overrides(list(args))}


def check_same_overrides(root: Path, runs: list[LocalRun], args: list[str]) -> None:
    """Refuse to add runs to a sweep folder under other overrides: its runs would mix budgets or settings
    that the sweep does not vary, and compare would put them side by side as if they did not differ."""
    recorded = recorded_overrides(root)
    if not runs or recorded is None:
        return
    given = override_values(args)
    differing = sorted(name for name in recorded.keys() | given.keys() if recorded.get(name) != given.get(name))
    if differing:
        said = "; ".join(f"{name}: {recorded.get(name, 'not given')} before, {given.get(name, 'not given')} now"
                         for name in differing)  # fmt: skip
        raise UserError(
            f"{root} holds runs started with other overrides ({said}); give the same ones to resume this sweep, "
            "or another --output-root for a new one"
        )


def child_environment(run: LocalRun, sweep_id: str, parallel: int) -> dict[str, str]:
    """The run id the agent sets, the sweep as the W&B run group, W&B offline (or disabled, if the
    environment says so), and a fair share of the CPU cores (unless OMP_NUM_THREADS or UNET1D_THREADS says).
    No ``WANDB_SWEEP_ID``: the server has no such sweep, and the offline run must sync as a plain run."""
    threads = str(max(1, (os.cpu_count() or 1) // parallel))
    env = {name: value for name, value in os.environ.items() if name != "WANDB_SWEEP_ID"}
    mode = "disabled" if env.get("WANDB_MODE") == "disabled" else "offline"
    env |= {"WANDB_RUN_ID": run.run_id, "WANDB_RUN_GROUP": sweep_id, "WANDB_MODE": mode}
    chosen = "OMP_NUM_THREADS" in env or "UNET1D_THREADS" in env  # the user's own count: theirs to keep
    env.setdefault("OMP_NUM_THREADS", threads)
    if "threads" in FIELD_PATHS and not chosen:  # the config's thread-count field, where this version has one
        env["UNET1D_THREADS"] = threads
    return env


def metric_history(run_dir: Path, metric: str) -> list[float]:
    """The metric's logged values in step order, from the run's TensorBoard events."""
    return read_curves(run_dir).values(metric)


ENGINE_STATES = {"running": "running", "finished": "finished", "stopped": "finished", "failed": "failed"}


def engine_run(run: LocalRun, metric: str | None) -> Any:
    """The engine's view of a run. Metrics go in through the aliases: field names would be dropped."""
    RunState, SweepRun = engine().RunState, engine().SweepRun

    history = [{metric: value} for value in run.history] if metric else []
    return SweepRun(
        name=run.run_id,
        state=RunState(ENGINE_STATES.get(run.state, "preempted")),
        config={name: {"value": value} for name, value in run.config.items()},
        sampledHistory=history,
        summaryMetrics=history[-1] if history else {},
        stopped=run.state == "stopped",
        exitcode=run.exit_code,
    )


class LocalSweep:
    """The agent and the server in one process: propose, start, watch, early-terminate, record."""

    def __init__(
        self,
        sweep: dict[str, Any],
        sweep_id: str,
        root: Path,
        extra_args: list[str],
        parallel: int = 1,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.sweep, self.sweep_id, self.root = sweep, sweep_id, root
        self.extra_args, self.parallel, self.echo = extra_args, parallel, echo
        self.metric = (sweep.get("metric") or {}).get("name")
        self.runs = load_state(root)
        check_same_overrides(root, self.runs, extra_args)
        self.active: dict[str, subprocess.Popen] = {}
        self.stop_sent: dict[str, float] = {}
        self.exhausted = False

    def run_dir(self, run: LocalRun) -> Path:
        return self.root / run.run_id

    def engine_runs(self) -> list[Any]:
        for run in self.runs:
            if run.run_id in self.active and self.metric:
                run.history = metric_history(self.run_dir(run), self.metric)
        return [engine_run(run, self.metric) for run in self.runs]

    def start(self, run: LocalRun) -> None:
        command = [
            *run_command(self.sweep, run.config), *self.extra_args,
            "--resume=auto", f"--output_dir={self.run_dir(run)}",
        ]  # fmt: skip
        self.echo(f"[{run.run_id}] {' '.join(f'{k}={v}' for k, v in run.config.items())}")
        self.active[run.run_id] = subprocess.Popen(  # SIGTERM from Linux if the sweep is killed: no orphan trains on
            command, env=child_environment(run, self.sweep_id, self.parallel), start_new_session=True,
            preexec_fn=terminate_with_parent(),
        )  # fmt: skip
        run.state, run.exit_code = "running", None
        save_state(self.root, self.runs, self.extra_args, self.parallel)

    def propose(self) -> LocalRun | None:
        """The engine's next run, or None once a grid is exhausted."""
        proposal = engine().next_run(self.sweep, self.engine_runs())
        if proposal is None:
            self.exhausted = True
            return None

        run = LocalRun(new_run_id(), {name: spec["value"] for name, spec in proposal.config.items()})
        self.runs.append(run)
        return run

    def reap(self) -> None:
        """Record runs that ended: finished, stopped (we sent SIGTERM), or failed."""
        for run_id, process in list(self.active.items()):
            code = process.poll()
            if code is None:
                continue
            del self.active[run_id]
            run = next(r for r in self.runs if r.run_id == run_id)
            run.exit_code = code
            run.state = "stopped" if run_id in self.stop_sent else "finished" if code == 0 else "failed"
            why = f"exit code {code}"
            if run.state == "finished" and not (self.run_dir(run) / SUMMARY_FILE).is_file():
                # the sweep's `command` ran something that trained nothing: no finished run to rank or compare
                run.state, why = "failed", f"{why}, but no {SUMMARY_FILE}: the sweep's command did not run training"
            if self.metric:
                run.history = metric_history(self.run_dir(run), self.metric)
            self.echo(f"[{run_id}] {run.state} ({why})")
            save_state(self.root, self.runs, self.extra_args, self.parallel)

    def early_terminate(self) -> None:
        """Ask the engine which running runs to stop; stop them as W&B's agent does (SIGTERM, then kill)."""
        if "early_terminate" in self.sweep and self.active:
            for proposal in engine().stop_runs(self.sweep, self.engine_runs()):
                if proposal.name in self.active and proposal.name not in self.stop_sent:
                    self.echo(f"[{proposal.name}] early-terminated by {self.sweep['early_terminate']['type']}")
                    self.signal(proposal.name, signal.SIGTERM)
                    self.stop_sent[proposal.name] = time.monotonic()
        for run_id, since in self.stop_sent.items():
            if run_id in self.active and time.monotonic() - since > KILL_AFTER_S:
                self.signal(run_id, signal.SIGKILL)

    def signal(self, run_id: str, number: int) -> None:
        """Signal the run's whole process group (a multi-GPU run's launcher and its ranks)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.active[run_id].pid, number)

    def run(self, count: int | None) -> list[LocalRun]:
        """Resume unfinished runs, then run the engine's proposals until ``count`` runs or the grid ends.
        Stopped by a signal, it stops its runs (they checkpoint) and raises :class:`Interrupted`."""
        try:  # its runs live in sessions of their own: a scheduler's SIGTERM or a closed terminal's SIGHUP
            with signals_raise((signal.SIGTERM, signal.SIGHUP)):  # reaches the sweep alone, and must reach them
                return self._run(count)
        except (KeyboardInterrupt, Interrupted) as stop:
            self.interrupt()
            raise Interrupted(getattr(stop, "signum", signal.SIGINT)) from None

    def _run(self, count: int | None) -> list[LocalRun]:
        queue = [run for run in self.runs if run.state in RESUMABLE]
        started = 0
        while True:
            self.reap()
            self.early_terminate()
            while len(self.active) < self.parallel and (count is None or started < count) and not self.exhausted:
                run = queue.pop(0) if queue else self.propose()
                if run is None:
                    break
                self.start(run)
                started += 1
            if not self.active:
                return self.runs
            time.sleep(POLL_S)

    def interrupt(self) -> None:
        """Stop every active run with SIGTERM (they checkpoint) and record them for resumption."""
        for run_id in self.active:
            self.signal(run_id, signal.SIGTERM)
        for run_id, process in self.active.items():
            process.wait()
            run = next(r for r in self.runs if r.run_id == run_id)
            run.state, run.exit_code = "interrupted", process.returncode
        self.active.clear()
        save_state(self.root, self.runs, self.extra_args, self.parallel)
