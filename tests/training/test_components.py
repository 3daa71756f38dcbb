"""Each component of the Trainer keeps its own state (a round trip through ``state_dict`` gives the same
behaviour after it) and its own cadence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from unet1d.diffusion import EMA, NoiseSchedule
from unet1d.errors import UserError
from unet1d.training.components import (
    BatchNormGuard,
    Checkpointer,
    EMAState,
    LoopCounters,
    NoiseGenerator,
    NonFiniteGuard,
    StepOutcome,
    TrainingDiverged,
    TrainingState,
    Validator,
)


@pytest.fixture
def accelerator() -> Iterator[object]:
    """A real single-process CPU Accelerator; its shared state cleared after, for later tests in this process."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    yield Accelerator(cpu=True)
    AcceleratorState._reset_state(reset_partial_state=True)


def outcome(finite: bool, loss: float = 1.0) -> StepOutcome:
    return StepOutcome(loss=loss if finite else float("nan"), grad_norm=2.0, lr=1e-3, finite=finite, stop=False)


def adam_step(training: TrainingState) -> None:
    training.model(torch.ones(4, 3)).square().sum().backward()
    training.optimizer.step()
    training.optimizer.zero_grad()
    training.scheduler.step()


def test_training_state_round_trip_gives_back_weights_optimiser_and_schedule(accelerator, tmp_path) -> None:
    torch.manual_seed(0)
    network = nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(network.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    training = TrainingState(accelerator, network, optimizer, scheduler)
    adam_step(training)
    weights = {name: tensor.clone() for name, tensor in training.state_dict().items()}
    training.save_state(tmp_path / "accelerate")
    after_one = {name: p.detach().clone() for name, p in training.network.named_parameters()}
    adam_step(training)
    reference_second = {name: p.detach().clone() for name, p in training.network.named_parameters()}
    adam_step(training)  # the state moves on twice

    training.load_state(tmp_path / "accelerate")
    training.load_state_dict(weights)
    assert set(weights) == {"weight", "bias"}  # the bare network's keys: what model.safetensors holds
    for name, p in training.network.named_parameters():
        assert torch.equal(p, after_one[name])
    assert training.lr == pytest.approx(0.05)  # one StepLR halving, as at the save
    adam_step(training)  # the same second step as before the save: Adam's moments came back too
    for name, p in training.network.named_parameters():
        assert torch.equal(p, reference_second[name])


def test_ema_state_holds_bare_weights_and_the_update_count_and_continues_exactly() -> None:
    torch.manual_seed(0)
    network = nn.Linear(3, 2)
    ema = EMAState(EMA(network, 0.9, warmup=True))
    for _ in range(3):
        with torch.no_grad():
            network.weight.add_(1.0)
        ema.update(network)
    state = {
        key: value.clone() if isinstance(value, torch.Tensor) else value for key, value in ema.state_dict().items()
    }
    assert state["num_updates"] == 3
    assert {key for key, value in state.items() if isinstance(value, torch.Tensor)} == {"weight", "bias"}
    json.dumps({key: value for key, value in state.items() if not isinstance(value, torch.Tensor)})

    restored = EMAState(EMA(nn.Linear(3, 2), 0.9, warmup=True))
    restored.load_state_dict(state)
    assert restored.ema.num_updates == 3
    with torch.no_grad():
        network.weight.add_(1.0)
    ema.update(network)
    restored.update(network)
    # The fourth update's warm-up decay is min(0.9, 4/13): it depends on the count that came back.
    expected = (4 / 13) * state["weight"] + (1 - 4 / 13) * network.weight.detach()
    assert torch.allclose(restored.module.weight, expected, atol=1e-6)
    assert torch.equal(restored.module.weight, ema.module.weight)


def test_noise_generator_continues_the_same_draws_and_is_per_rank() -> None:
    noise = NoiseGenerator(torch.device("cpu"), seed=5)
    torch.randn(3, generator=noise.generator)
    state = noise.state_dict()
    expected = torch.randn(4, generator=noise.generator)
    other = NoiseGenerator(torch.device("cpu"), seed=99)
    other.load_state_dict(state)
    assert torch.equal(torch.randn(4, generator=other.generator), expected)
    assert NoiseGenerator.per_rank


def test_a_gpu_runs_noise_generator_resumed_on_the_cpu_names_the_device_to_resume_on() -> None:
    # a CUDA generator's state is 16 bytes, a CPU one's 5,056: the resume said "checkpoint ... is damaged"
    gpu_state = {"state": torch.zeros(16, dtype=torch.uint8)}  # what a CUDA generator stores
    with pytest.raises(
        UserError, match=r"drew on the cuda, and this run trains on the cpu: resume it with --device cuda"
    ):
        NoiseGenerator(torch.device("cpu"), seed=5).load_state_dict(gpu_state)


def test_loop_counters_carry_step_time_loss_and_run_id_across_sessions(monkeypatch) -> None:
    clock = iter([100.0, 103.0, 107.5, 110.0, 112.5])
    monkeypatch.setattr("unet1d.training.components.time.perf_counter", lambda: next(clock))
    counters = LoopCounters("abc123", step=40, earlier_sessions_s=20.0)
    assert counters.begin_session(epoch=2)  # at 100.0
    assert not counters.begin_session(epoch=2)  # once per session: the clock keeps its start
    assert counters.epoch_time_s(2) is None  # still in epoch 2: no clock read
    assert counters.epoch_time_s(3) == 3.0  # epoch 3 began at 103.0
    counters.step = 45
    counters.window.add(outcome(True, loss=0.5), 1.0)
    counters.window.add(outcome(False), 1.0)
    counters.window.add(outcome(True, loss=0.7), 1.0)
    state = counters.state_dict()  # read at 107.5
    window = {"seconds": 3.0, "steps": 3, "finite_steps": 2, "loss_sum": pytest.approx(1.2)}
    assert state == {
        "step": 45,
        "wandb_run_id": "abc123",
        "train_time_s": 27.5,
        "train_loss": pytest.approx(0.6),
        "periodic_pending": False,
        "window": window,
        "extended_from": None,
        "epoch_time_s": 4.5,
        "peak_memory_mb": 0.0,
    }  # fmt: skip  (epoch 3, from 103.0)

    resumed = LoopCounters("fresh-id")
    resumed.load_state_dict(state)
    # the run id stays the session's: the trainer resolves it from the stored state, unless it forks the run
    assert (resumed.step, resumed.wandb_run_id, resumed.earlier_sessions_s) == (45, "fresh-id", 27.5)
    assert resumed.begin_session(epoch=3) and resumed.epoch_time_s(4) == pytest.approx(4.5 + 2.5)  # 110 to 112.5
    assert resumed.recent_train_loss() == pytest.approx(0.6)  # no step since: the stored loss
    resumed.window.add(outcome(True, loss=0.9), 1.0)
    assert (resumed.window.steps, resumed.window.mean_loss) == (4, pytest.approx(0.7))  # the stored window goes on
    resumed.load_state_dict({**state, "wandb_run_id": None})
    assert resumed.wandb_run_id == "fresh-id"  # a checkpoint without an id keeps the one we have
    resumed.load_state_dict({**state, "periodic_pending": True, "extended_from": 30})
    assert resumed.periodic_pending and resumed.extended_from == 30
    resumed.load_state_dict({key: value for key, value in state.items() if key != "periodic_pending"})
    assert not resumed.periodic_pending  # checkpoints from before the flag: nothing was left undone
    window = counters.new_window()
    assert (window.steps, counters.window.steps, counters.last_train_loss) == (3, 0, pytest.approx(0.6))


def test_nonfinite_guard_counts_skipped_steps_and_stops_at_the_limit(tmp_path) -> None:
    guard = NonFiniteGuard(limit=3, output_dir=tmp_path)
    assert guard.record(outcome(True), 1) is None
    note = guard.record(outcome(False), 2)
    assert note.startswith("step 2: non-finite loss (nan)") and "(1 in a row, limit 3)" in note
    guard.record(outcome(True), 3)  # a finite step resets the run of skipped ones, not the total
    guard.record(outcome(False), 4)
    guard.record(outcome(False), 5)
    assert (guard.total, guard.in_a_row, guard.diverged) == (3, 2, False)

    resumed = NonFiniteGuard(limit=3, output_dir=tmp_path)
    resumed.load_state_dict(json.loads(json.dumps(guard.state_dict())))
    resumed.record(outcome(False), 6)
    assert resumed.diverged and resumed.total == 4
    error = resumed.error(6)
    assert isinstance(error, TrainingDiverged)
    assert "3 steps in a row" in str(error) and "(last at step 6)" in str(error)
    assert "no checkpoint was written yet" in str(error)


def test_fp16_scaler_skips_are_counted_apart_and_never_stop_the_run(tmp_path) -> None:
    # the gradient scaler overflows on purpose as it searches its scale: each was a "non-finite" line and step
    guard = NonFiniteGuard(limit=2, output_dir=tmp_path)
    skip = StepOutcome(loss=0.9, grad_norm=float("inf"), lr=1e-3, finite=False, stop=False, scaler_skip=True)
    assert [guard.record(skip, step) for step in (1, 2, 3)] == [None, None, None]
    assert (guard.total, guard.in_a_row, guard.scaler_skips, guard.diverged) == (0, 0, 3, False)
    guard.record(outcome(False), 4)
    guard.record(skip, 5)  # neither ends a run of non-finite steps nor adds to it
    assert guard.in_a_row == 1 and guard.total == 1
    resumed = NonFiniteGuard(limit=2, output_dir=tmp_path)
    resumed.load_state_dict(json.loads(json.dumps(guard.state_dict())))
    assert resumed.scaler_skips == 4
    resumed.load_state_dict({"nonfinite_total": 1, "nonfinite_in_a_row": 0})  # a checkpoint from before it
    assert resumed.scaler_skips == 0


def test_batch_norm_guard_puts_back_the_statistics_a_skipped_step_changed() -> None:
    network = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    network(torch.randn(8, 3))
    guard = BatchNormGuard(network)
    assert len(guard.buffers) == 3  # running mean, variance and the batch counter
    guard.keep()
    before = [b.clone() for b in guard.buffers]
    network(torch.full((8, 3), float("nan")))
    assert torch.isnan(network[1].running_mean).all()
    guard.put_back()
    assert all(torch.equal(b, kept) for b, kept in zip(guard.buffers, before, strict=True))
    assert BatchNormGuard(nn.Sequential(nn.Linear(3, 4), nn.GroupNorm(2, 4))).buffers == []


class Zero(nn.Module):
    """Predicts zeros: with the x0 target its loss is the mean square of the poses, whatever the noise."""

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def test_validator_scores_each_network_by_its_cadence_and_remembers_the_last(accelerator, tiny_config) -> None:
    config = tiny_config("--prediction", "x0", "--eval_every", "10")
    poses = torch.randn(10, 6, generator=torch.Generator().manual_seed(0))
    validator = Validator(accelerator, poses, NoiseSchedule.from_config(config.diffusion), config)
    assert [step for step in range(1, 31) if validator.due(step)] == [10, 20, 30]
    assert validator.last_step is None
    metrics = validator.validate({"val/loss": Zero()}, step=20)
    assert metrics == {"val/loss": pytest.approx(poses.double().square().mean().item(), rel=1e-6)}
    assert (validator.last, validator.last_step) == (metrics, 20)
    nothing_held_out = Validator(accelerator, poses[:0], NoiseSchedule.from_config(config.diffusion), config)
    assert nothing_held_out.validate({"val/loss": Zero()}, step=10) == {}


class Counter:
    """A component of JSON state only."""

    def __init__(self, value: int = 0) -> None:
        self.value = value

    def state_dict(self) -> dict[str, int]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.value = state["value"]


def test_checkpointer_saves_by_its_cadence_and_restores_the_table(accelerator, tiny_config, tmp_path) -> None:
    from unet1d.data import NormStats

    config = tiny_config("--checkpoint_every", "25", "--keep_checkpoints", "2", output_dir=tmp_path)
    stats = NormStats(mean=torch.zeros(3).numpy(), std=torch.ones(3).numpy())
    checkpointer = Checkpointer(accelerator, tmp_path, config, stats)
    assert [step for step in range(1, 101) if checkpointer.due(step)] == [25, 50, 75, 100]
    assert (checkpointer.path, checkpointer.saved_step, checkpointer.model_size_mb()) == (None, None, None)

    network = nn.Linear(3, 3)
    path = checkpointer.save(25, {"model": network, "counter": Counter(7)})
    assert (path, checkpointer.saved_step) == (tmp_path / "checkpoints" / "step-25", 25)
    assert checkpointer.model_size_mb() == pytest.approx((path / "model.safetensors").stat().st_size / 2**20)
    assert checkpointer.eval_files() == [
        "model.safetensors",
        "norm_stats.safetensors",
        "config.yaml",
        "checkpoint.json",
    ]

    later = Checkpointer(accelerator, tmp_path, config, stats)
    counter, fresh = Counter(), nn.Linear(3, 3)
    later.restore(path, {"model": fresh, "counter": counter})
    assert (later.path, later.saved_step, counter.value) == (path, 25, 7)
    assert torch.equal(fresh.weight, network.weight)


def test_a_component_that_is_not_tensors_or_json_is_refused_by_name(accelerator, tiny_config, tmp_path) -> None:
    from unet1d.data import NormStats

    class Opaque(Counter):
        def state_dict(self) -> dict[str, object]:
            return {"value": object()}

    config = tiny_config(output_dir=tmp_path)
    checkpointer = Checkpointer(
        accelerator, tmp_path, config, NormStats(mean=torch.zeros(3).numpy(), std=torch.ones(3).numpy())
    )
    with pytest.raises(TypeError, match="component 'opaque'"):
        checkpointer.save(1, {"opaque": Opaque()})
    assert not list(Path(tmp_path / "checkpoints").glob("step-*"))


def test_arithmetic_names_what_a_session_computes_with_otherwise_than_its_checkpoint() -> None:
    import torch

    from unet1d.training.components import Arithmetic

    stored = Arithmetic(1, "bf16", torch.device("cpu")).state_dict()
    now = Arithmetic(2, "no", torch.device("cpu"))
    now.load_state_dict(stored)
    assert now.changes() == ["threads 1 -> 2", "precision bf16 -> no"]
    assert now.warning().endswith("(--threads 1 keeps the threads; the autocast follows this machine's CPU "
                                  "(mixed_precision auto): resume on one like the first)")  # fmt: skip
    same = Arithmetic(1, "bf16", torch.device("cpu"))
    same.load_state_dict(stored)
    assert same.changes() == []
    gpu = Arithmetic(4, "bf16", torch.device("cuda"))  # threads do not enter a GPU's arithmetic
    gpu.load_state_dict(stored)
    assert gpu.changes() == []
    old = Arithmetic(2, "no", torch.device("cpu"))
    old.load_state_dict({})  # a checkpoint from before: nothing to compare
    assert old.changes() == []
