"""Signals a training process answers: SIGUSR2 prints where every thread is and training goes on
(preemption by SIGTERM/SIGINT is exercised end to end in tests/scenarios/test_resume.py)."""

from __future__ import annotations

import signal
import sys

import pytest


def read_until(process, marker: str) -> list[str]:
    """Lines of ``process`` up to and including the first that contains ``marker`` (all of them if none does)."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            break
    return lines


@pytest.mark.slow  # a training process
def test_sigusr2_prints_every_threads_stack_and_training_goes_on(start_cli, tiny_flags, tmp_path):
    args = [*tiny_flags, "--max_steps", "100000", "--output_dir", str(tmp_path / "run"), "--wandb_mode", "disabled"]
    process = start_cli("train", *args)
    before = read_until(process, "step 5/")
    assert "step 5/" in before[-1], "".join(before)
    process.send_signal(signal.SIGUSR2)
    dumped = read_until(process, "step ")  # the dump, then a step logged after it: the run went on
    process.send_signal(signal.SIGTERM)
    rest = process.communicate(timeout=120)[0]
    text = "".join(dumped)
    assert "most recent call first" in text and "unet1d/training/loop.py" in text, text + rest
    assert text.lower().count("thread 0x") >= 2, text  # every thread (TensorBoard's writer too), not only the current
    assert dumped[-1].startswith("step "), text
    assert process.returncode == 128 + signal.SIGTERM, rest  # and the usual preemption path still works


def test_a_second_ctrl_c_stops_at_once_and_says_so_and_one_within_the_window_is_the_first_again(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from unet1d.training import signals as signals_module
    from unet1d.training.signals import StopSignals

    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGINT)  # the terminal's press
        os.kill(os.getpid(), signal.SIGINT)  # torchrun's copy of it, within the window: ignored
        assert stop.requested and stop.exit_code == 130
        monkeypatch.setattr(signals_module, "DUPLICATE_WINDOW_S", -1.0)  # the next press comes "later"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert "a second Ctrl-C: stopping now, without a checkpoint" in capsys.readouterr().err


def test_a_child_a_signal_ended_gives_128_plus_the_signal_as_a_shell_does() -> None:
    """mutation walk: Popen's -9 was returned as it was, not the shell's 137 that a launcher or Slurm reads."""
    from unet1d.training.signals import run_passing_signals

    kill = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert run_passing_signals([sys.executable, "-c", kill]) == (137, [])
    assert run_passing_signals([sys.executable, "-c", "raise SystemExit(3)"]) == (3, [])
