"""The numbers a training run reports, and what its loop promises to do, against independent computations.

One tiny real run (W&B offline, TensorBoard on) is instrumented with small hooks on its
:class:`Trainer`: they record what each step saw (the batches, the noised inputs and timesteps
the network received, its outputs, the gradients handed to clipping, the weights before and
after the update). The tests recompute each logged number from those records with plain torch
and compare it with what TensorBoard and W&B received: the dashboards' numbers, not the loop's
own variables.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import isolate_wandb, tiny_run_config
from tests.training.test_loop import tensorboard_scalars
from tests.training.test_tracking import wandb_history
from unet1d.config import Config
from unet1d.model import UNet1D
from unet1d.store.summary import TrainResult
from unet1d.training.loop import StepOutcome, Trainer
from unet1d.training.metrics import TimestepLosses

STEPS, WARMUP, ACCUM, CLIP, GRAD_NORM_EVERY, BATCH, LR = 12, 4, 2, 0.05, 2, 32, 2e-3
RECORDED_RUN = [
    "--prediction", "eps",  # the hand computations below recover the noise as the target
    "--max_steps", str(STEPS), "--warmup_steps", str(WARMUP), "--grad_accum_steps", str(ACCUM),
    "--grad_clip", str(CLIP), "--log_every", "1", "--grad_norm_every", str(GRAD_NORM_EVERY),
    "--batch_size", str(BATCH), "--lr", str(LR), "--eval_every", "1000", "--checkpoint_every", "1000",
]  # fmt: skip
BUCKETS = ["train/loss_t0-24", "train/loss_t25-49", "train/loss_t50-74", "train/loss_t75-99"]  # T = 100, 4 buckets


@dataclass
class StepRecord:
    """What one optimiser step saw; lists hold one entry per micro-batch."""

    x0: list[torch.Tensor] = field(default_factory=list)
    x_t: list[torch.Tensor] = field(default_factory=list)
    t: list[torch.Tensor] = field(default_factory=list)
    output: list[torch.Tensor] = field(default_factory=list)
    activation_dtypes: set[torch.dtype] = field(default_factory=set)  # the middle block's outputs
    grads: dict[str, torch.Tensor] = field(default_factory=dict)  # as handed to clipping
    state_before: dict[str, torch.Tensor] = field(default_factory=dict)  # the weights the forwards used
    weights_after: dict[str, torch.Tensor] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class RecordedRun:
    config: Config
    result: TrainResult
    run_dir: Path
    steps: list[StepRecord]  # steps[i] is step i + 1
    initial_weights: dict[str, torch.Tensor]
    block_params: dict[str, list[str]]  # per-block gradient-norm group -> its parameter names
    alphas_cumprod: torch.Tensor


def run_recorded(config: Config, after_step: Callable[[int], None] | None = None) -> RecordedRun:
    """Train ``config`` with recording hooks; ``after_step(step)`` runs after each step (e.g. to send a signal)."""
    trainer = Trainer(config)
    try:
        network, steps = trainer.network, list[StepRecord]()
        names = {id(p): name for name, p in network.named_parameters()}
        block_params = {block: [names[id(p)] for p in m.parameters()] for block, m in trainer.metrics.blocks.items()}
        initial = {name: p.detach().clone() for name, p in network.named_parameters()}
        next_batch, train_step = trainer.batches.next_batch, trainer.train_step
        clip = trainer.accelerator.clip_grad_norm_

        def record_batch() -> torch.Tensor:
            x0 = next_batch()
            steps[-1].x0.append(x0.clone())
            return x0

        def record_forward(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> None:
            if module.training:  # validation runs in eval mode
                x_t, t = args
                steps[-1].x_t.append(x_t.detach().clone())
                steps[-1].t.append(t.detach().clone())
                steps[-1].output.append(output.detach().float().clone())

        def record_activation(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> None:
            if module.training:
                steps[-1].activation_dtypes.add(output.dtype)

        def record_clip(parameters, max_norm: float, *args, **kwargs) -> torch.Tensor:
            record = steps[-1]
            record.grads = {n: p.grad.detach().clone() for n, p in network.named_parameters() if p.grad is not None}
            record.state_before = {k: v.detach().clone() for k, v in network.state_dict().items()}
            return clip(parameters, max_norm, *args, **kwargs)

        def record_step(*, stop: bool) -> StepOutcome:
            tick = time.perf_counter()  # all of this wrapper lies inside the loop's own timing of the step
            steps.append(StepRecord())
            outcome = train_step(stop=stop)
            steps[-1].weights_after = {name: p.detach().clone() for name, p in network.named_parameters()}
            steps[-1].seconds = time.perf_counter() - tick
            if after_step is not None:
                after_step(len(steps))
            return outcome

        trainer.batches.next_batch = record_batch
        trainer.train_step = record_step
        trainer.accelerator.clip_grad_norm_ = record_clip
        network.register_forward_hook(record_forward)
        network.mid_block.register_forward_hook(record_activation)
        result = trainer.run()
    finally:
        trainer.close()
    return RecordedRun(
        config, result, Path(config.train.output_dir), steps, initial, block_params, trainer.schedule.alphas_cumprod
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedRun:
    """A 12-step tiny run: 2 micro-batches a step, always clipped, every number logged every step."""
    root = tmp_path_factory.mktemp("recorded")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            isolate_wandb(monkeypatch, root / "home")
            return run_recorded(tiny_run_config(root / "run", *RECORDED_RUN, "--wandb_mode", "offline"))
    finally:
        torch.set_num_threads(threads)


def logged(recorded: RecordedRun, tag: str) -> dict[int, float]:
    """step -> value of ``tag`` as TensorBoard's event files hold it."""
    return dict(tensorboard_scalars(recorded.run_dir).get(tag, []))


def noise_of(recorded: RecordedRun, record: StepRecord, micro: int) -> torch.Tensor:
    """The noise a micro-batch was noised with, solved from x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise."""
    abar = recorded.alphas_cumprod.double()[record.t[micro]].unsqueeze(1)
    x_t, x0 = record.x_t[micro].double(), record.x0[micro].double()
    return (x_t - abar.sqrt() * x0) / (1.0 - abar).sqrt()


def per_sample_losses(recorded: RecordedRun, record: StepRecord) -> tuple[torch.Tensor, torch.Tensor]:
    """(losses, t) of every sample of a step: the unweighted eps-prediction MSE, by hand in float64."""
    losses = [
        (record.output[m].double() - noise_of(recorded, record, m)).pow(2).mean(dim=1) for m in range(len(record.x_t))
    ]
    return torch.cat(losses), torch.cat(record.t)


def total_norm(tensors: list[torch.Tensor]) -> float:
    return torch.cat([g.double().flatten() for g in tensors]).norm().item()


@pytest.mark.slow
def test_the_run_is_what_the_other_tests_assume(recorded: RecordedRun) -> None:
    assert recorded.result.final_step == STEPS == len(recorded.steps) and recorded.result.nonfinite_steps == 0
    for record in recorded.steps:
        assert len(record.x0) == len(record.x_t) == ACCUM  # grad_accum_steps forwards, one per micro-batch
        assert [len(x) for x in record.x0] == [BATCH // ACCUM] * ACCUM
        for x0, x_t, t in zip(record.x0, record.x_t, record.t, strict=True):
            # the network saw x0 noised (the hand noise recovery relies on this pairing)
            assert x_t.shape == x0.shape and not torch.equal(x_t, x0) and t.dtype == torch.long


@pytest.mark.slow
def test_logged_grad_norm_is_the_pre_clipping_norm(recorded: RecordedRun) -> None:
    tensorboard, wandb = logged(recorded, "train/grad_norm"), wandb_history(recorded.run_dir)
    wandb_norms = {row["_step"]: row["train/grad_norm"] for row in wandb if "train/grad_norm" in row}
    for step, record in enumerate(recorded.steps, start=1):
        copies = [torch.zeros_like(g, requires_grad=True) for g in record.grads.values()]
        for copy, grad in zip(copies, record.grads.values(), strict=True):
            copy.grad = grad.clone()
        expected = torch.nn.utils.clip_grad_norm_(copies, CLIP).item()  # returns the norm before clipping
        assert expected > 2 * CLIP, "clipping must act, or a post-clipping norm would look the same"
        assert total_norm([c.grad for c in copies]) == pytest.approx(CLIP, rel=1e-4)  # what clipping leaves
        assert tensorboard[step] == pytest.approx(expected, rel=1e-5), step
        assert wandb_norms[step] == pytest.approx(expected, rel=1e-5), step


@pytest.mark.slow
def test_per_block_gradient_norms_are_each_blocks_gradients(recorded: RecordedRun) -> None:
    every = {name for names in recorded.block_params.values() for name in names}
    assert every == set(recorded.initial_weights)  # the blocks partition the network: norms add up in squares
    for step in range(GRAD_NORM_EVERY, STEPS + 1, GRAD_NORM_EVERY):
        grads = recorded.steps[step - 1].grads
        squares = 0.0
        for block, names in recorded.block_params.items():
            expected = total_norm([grads[n] for n in names])
            assert logged(recorded, f"train/grad_norm/{block}")[step] == pytest.approx(expected, rel=1e-5), block
            squares += expected**2
        assert math.sqrt(squares) == pytest.approx(logged(recorded, "train/grad_norm")[step], rel=1e-5)
    assert 1 not in logged(recorded, "train/grad_norm/mid")  # only every grad_norm_every steps


@pytest.mark.slow
def test_timestep_bucket_losses_and_the_loss_match_a_hand_computation(recorded: RecordedRun) -> None:
    series = {tag: logged(recorded, tag) for tag in ["train/loss", *BUCKETS]}
    filled = [0] * len(BUCKETS)
    for step, record in enumerate(recorded.steps, start=1):  # log_every 1: each window is one step
        losses, t = per_sample_losses(recorded, record)
        assert series["train/loss"][step] == pytest.approx(losses.mean().item(), rel=1e-4)
        for bucket, tag in enumerate(BUCKETS):
            inside = (t >= 25 * bucket) & (t < 25 * (bucket + 1))
            if inside.any():
                filled[bucket] += 1
                assert series[tag][step] == pytest.approx(losses[inside].mean().item(), rel=1e-4), (step, tag)
            else:
                assert step not in series[tag]  # an empty bucket is left out, not logged as 0
    assert all(filled), filled


def test_timestep_buckets_on_a_fixed_batch() -> None:
    buckets = TimestepLosses(num_timesteps=1000, num_buckets=4, device=torch.device("cpu"))
    assert buckets.names == ["train/loss_t0-249", "train/loss_t250-499", "train/loss_t500-749", "train/loss_t750-999"]
    buckets.add(torch.tensor([1.0, 3.0, 10.0, 20.0, 7.0]), torch.tensor([0, 249, 250, 499, 999]))
    buckets.add(torch.tensor([5.0]), torch.tensor([100]))
    means = buckets.means(buckets.state())
    assert means == {"train/loss_t0-249": 3.0, "train/loss_t250-499": 15.0, "train/loss_t750-999": 7.0}
    assert buckets.means(buckets.state()) == {}  # reading resets


@pytest.mark.slow
def test_logged_lr_warms_up_then_follows_the_cosine(recorded: RecordedRun) -> None:
    floor = recorded.config.optim.min_lr_ratio
    assert floor == 0.1

    def expected(step: int) -> float:  # the lr used by step `step` (1-based), written out afresh
        if step <= WARMUP:
            return LR * step / WARMUP
        progress = (step - 1 - WARMUP) / (STEPS - WARMUP)
        return LR * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))

    lrs = logged(recorded, "train/lr")
    assert sorted(lrs) == list(range(1, STEPS + 1))
    for step, value in lrs.items():
        assert value == pytest.approx(expected(step), rel=1e-6), step
    assert lrs[1] == pytest.approx(LR / 4) and lrs[WARMUP + 1] == pytest.approx(LR)
    assert lrs[WARMUP + 5] == pytest.approx(0.55 * LR)  # half-way through the decay


@pytest.mark.slow
def test_samples_per_s_agrees_with_steps_batch_and_time(recorded: RecordedRun) -> None:
    rates, step_times = logged(recorded, "train/samples_per_s"), logged(recorded, "train/step_time_s")
    for step in range(1, STEPS + 1):
        assert rates[step] * step_times[step] == pytest.approx(BATCH, rel=1e-5)  # one step of 32 poses a window
    measured = sum(record.seconds for record in recorded.steps)  # a lower bound of the loop's timing
    reported = sum(BATCH / rates[step] for step in range(1, STEPS + 1))
    assert measured <= reported * (1 + 1e-5)
    assert reported <= 1.25 * measured + 0.05


@pytest.mark.slow
def test_ema_weights_equal_the_closed_form_of_the_run(recorded: RecordedRun) -> None:
    checkpoint = Path(recorded.result.checkpoint)
    assert json.loads((checkpoint / "checkpoint.json").read_text())["state"]["ema"]["num_updates"] == STEPS
    ema = load_file(str(checkpoint / "ema.safetensors"))
    decay = recorded.config.optim.ema_decay
    weights = [record.weights_after for record in recorded.steps]
    moved, averaged = 0.0, 0
    for name, initial in recorded.initial_weights.items():
        # first update copies; the n-th later one uses d = min(decay, (1 + n) / (10 + n)) (README: EMA warm-up)
        expected = weights[0][name].double()
        for n, after in enumerate(weights[1:], start=1):
            d = min(decay, (1 + n) / (10 + n))
            expected = d * expected + (1 - d) * after[name].double()
        torch.testing.assert_close(ema[name].double(), expected, rtol=1e-5, atol=1e-7, msg=name)
        moved = max(moved, (ema[name].double() - initial.double()).abs().max().item())
        travelled = (weights[-1][name] - weights[0][name]).abs().max()
        if name.endswith("weight") and initial.dim() > 1 and travelled > 1e-4:
            # averaged, not a copy (a weight the run barely moves, like the tiny attention middle's time projection,
            # whose gradient its one-channel GroupNorm groups cancel, is all but its own average)
            assert not torch.allclose(ema[name], weights[-1][name], rtol=0, atol=1e-6), name
            averaged += 1
    assert moved > 1e-3  # the EMA left the initial weights
    assert averaged >= 10  # the "averaged, not a copy" check ran on most weight matrices


@pytest.mark.slow
def test_accumulated_gradient_equals_one_batch_k_times_larger(recorded: RecordedRun) -> None:
    """k micro-batches of B/k give the gradient of one B-pose batch whose BatchNorm statistics are per B/k chunk.

    BatchNorm normalises with the statistics of the batch it sees, so the larger batch passes the
    network in micro-batch-sized chunks (ghost batch norm), inside one graph and one backward.
    """
    for record in recorded.steps[:4]:
        model = UNet1D.from_config(recorded.config.model).train()
        model.load_state_dict(record.state_before)
        x_t, t = torch.cat(record.x_t), torch.cat(record.t)
        noise = torch.cat([noise_of(recorded, record, m) for m in range(ACCUM)]).float()
        output = torch.cat([model(x, s) for x, s in zip(x_t.chunk(ACCUM), t.chunk(ACCUM), strict=True)])
        torch.testing.assert_close(output.detach(), torch.cat(record.output))  # the same network and inputs as the run
        (output - noise).pow(2).mean().backward()
        expected = [p.grad for _, p in model.named_parameters()]
        got = [record.grads[name] for name, _ in model.named_parameters()]
        difference = total_norm([a - b for a, b in zip(got, expected, strict=True)])
        assert difference <= 1e-4 * total_norm(expected)


@pytest.mark.slow
def test_fp32_runs_the_forward_in_fp32(recorded: RecordedRun) -> None:
    assert all(record.activation_dtypes == {torch.float32} for record in recorded.steps)


@pytest.mark.slow
def test_bf16_runs_the_forward_in_bf16(tiny_config) -> None:
    run = run_recorded(tiny_config("--max_steps", "2", "--mixed_precision", "bf16"))
    assert [record.activation_dtypes for record in run.steps] == [{torch.bfloat16}] * 2
    assert all(g.dtype == torch.float32 for g in run.steps[-1].grads.values())  # fp32 master weights
