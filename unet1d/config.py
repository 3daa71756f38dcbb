"""The configuration schema: one pydantic model behind every flag, YAML file, env variable and sweep.

Every field has a flat name (``mid_num_heads``) and a dotted path (``model.mid_num_heads``);
both are accepted everywhere, and a flat name is unique across sections (a test holds us to
that). Where values come from and which wins is :mod:`unet1d.config_sources`; whether network
arguments can build a UNet1D is :mod:`unet1d.network_arguments`. Nothing here imports torch, so
``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from unet1d.network_arguments import model_argument_problem, valid_head_counts

# Each sampler's steps when diffusion.sample_steps is null: DPM-Solver++ 2M is second order, and at 20
# steps scored as DDIM does at 50 (docs/classifier-test.md, docs/speed.md).
SAMPLER_STEPS = {"ddim": 50, "dpmpp_2m": 20}
# The fewest poses an evaluation scores (`unet1d eval --num_samples`, the final evaluation, the probes): below
# 30 a side, the classifier test's training folds are under 40 rows and its trees (20 rows a leaf) never split,
# so C2ST reads ~0.46 for any two sets, however far apart.
MIN_EVAL_SAMPLES = 32
# The largest seed: numpy's legacy seeding (Accelerate's set_seed) takes 32 bits.
SEED_MAX = 2**32 - 1


class Section(BaseModel):
    """A config section: unknown keys are errors, assignment re-validates, and no number is inf or nan."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True, allow_inf_nan=False)


class ModelConfig(Section):
    """The network. Defaults: attention-8, 5.28M parameters; conv 5.80M (reference design: 5.24M / 5.77M)."""

    pose_dim: int = Field(72, gt=0, description="Length of one pose vector (SMPL: 24 joints x 3).")
    base_channels: int = Field(128, gt=0, description="Channels of the first UNet stage (an even number).")
    channel_mults: list[int] = Field(
        [1, 2, 4], min_length=1, description="Channel multiplier per stage; the last sets the middle block's width."
    )
    mid_structure: Literal["conv", "attention"] = Field(
        "attention",
        description="Middle block: 'attention' (SelfAttention1D; the default: it learns how the joints move "
        "together sooner) or 'conv' (ResBlock1D).",
    )
    mid_num_heads: int = Field(
        8,
        gt=0,
        description="Attention heads in the middle block (attention only); must divide its channels, "
        "base_channels x channel_mults[-1].",
    )
    mid: str | None = Field(
        None,
        description="The middle as one value, 'conv' or 'attention-H' (H heads dividing the middle channels), "
        "for sweeps over every middle; same as mid_structure + mid_num_heads, filled from them when unset.",
    )
    downsample: bool = Field(
        True,
        description="Halve the length between stages (72 -> 36 -> 18); false keeps full length 72 everywhere.",
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout inside residual blocks.")
    norm: Literal["batch", "group"] = Field(
        "group",
        description="Normalisation in the ResBlocks: 'group' (GroupNorm: sampling normalises as training did) or "
        "'batch' (the reference design's BatchNorm). Same parameter count.",
    )
    position: Literal["none", "sinusoidal"] = Field(
        "sinusoidal",
        description="Tell the network which pose number it is looking at: 'sinusoidal' adds a fixed, "
        "parameter-free code per position after the input convolution, so shared kernels can tell the "
        "joints apart; 'none' (the reference design's) leaves only the zero padding at the ends. Same parameter count.",
    )

    @field_validator("channel_mults")
    @classmethod
    def _positive_mults(cls, value: list[int]) -> list[int]:
        if any(m <= 0 for m in value):
            raise ValueError(f"every multiplier must be a positive integer, got {value}")
        return value

    @property
    def mid_channels(self) -> int:
        return self.base_channels * self.channel_mults[-1]

    @property
    def num_downsamples(self) -> int:
        return len(self.channel_mults) - 1 if self.downsample else 0

    @model_validator(mode="after")
    def _check_shapes(self) -> ModelConfig:
        self._resolve_mid()
        problem = model_argument_problem(
            self.pose_dim,
            self.base_channels,
            self.channel_mults,
            self.mid_structure,
            self.mid_num_heads,
            self.downsample,
        )
        if problem:
            raise ValueError(f"mid={self.mid!r}: {problem}" if "mid" in self.model_fields_set else problem)
        return self

    def _resolve_mid(self) -> None:
        """Make ``mid`` and the pair agree: a given ``mid`` sets the pair, else the pair names ``mid``.

        Written through ``__dict__``: assignment would re-run this validator. A ``mid`` filled in
        here is not in ``model_fields_set``, so changing the pair later renames it.
        """
        if self.mid is None or "mid" not in self.model_fields_set:
            self.__dict__["mid"] = mid_name(self.mid_structure, self.mid_num_heads)
            return
        structure, heads = parse_mid(self.mid, self.mid_channels)
        given = self.model_fields_set
        if "mid_structure" in given and self.mid_structure != structure:
            raise ValueError(f"mid={self.mid!r} conflicts with mid_structure={self.mid_structure!r}; set one of them")
        if structure == "attention" and "mid_num_heads" in given and self.mid_num_heads != heads:
            raise ValueError(f"mid={self.mid!r} conflicts with mid_num_heads={self.mid_num_heads}; set one of them")
        self.__dict__["mid_structure"] = structure
        if heads is not None:
            self.__dict__["mid_num_heads"] = heads


def mid_name(structure: str, heads: int) -> str:
    """``conv`` or ``attention-8``: the one-value spelling of the middle block."""
    return "conv" if structure == "conv" else f"{structure}-{heads}"


def parse_mid(text: str, mid_channels: int) -> tuple[str, int | None]:
    """``attention-8`` -> ("attention", 8); ``conv`` -> ("conv", None); anything else is a ValueError."""
    structure, _, heads = text.strip().partition("-")
    if structure == "conv" and not heads:
        return "conv", None
    if structure == "attention" and heads.isdigit() and int(heads) > 0:
        return "attention", int(heads)
    examples = ", ".join([f"attention-{h}" for h in valid_head_counts(mid_channels) if h >= 4][:4])
    raise ValueError(f"mid={text!r} is not a middle; allowed: conv, or attention-H with H heads, e.g. {examples}")


class DiffusionConfig(Section):
    """Noise schedule, training objective and sampler."""

    @property
    def sampling_steps(self) -> int:
        """Network calls per sample: every timestep for ddpm, else sample_steps or the sampler's own default."""
        if self.sampler == "ddpm":
            return self.num_timesteps
        return self.sample_steps or SAMPLER_STEPS[self.sampler]

    num_timesteps: int = Field(
        1000, ge=2, description="Diffusion steps T of the forward process (at least 2: one step is no trajectory)."
    )
    schedule: Literal["linear", "cosine"] = Field("cosine", description="Noise schedule for beta_t.")
    prediction: Literal["eps", "x0", "v"] = Field(
        "v", description="What the network predicts: v (the default; measured best), eps or x0."
    )
    min_snr_gamma: float | None = Field(
        None, gt=0, description="Min-SNR loss weighting gamma (e.g. 5.0); null = unweighted."
    )
    sampler: Literal["ddpm", "ddim", "dpmpp_2m"] = Field(
        "dpmpp_2m",
        description="Sampler for evaluation and `unet1d sample`: dpmpp_2m (DPM-Solver++ 2M: second order, so 20 "
        "steps match DDIM's 50 at 2.5x fewer network calls), ddim, or ddpm (all T steps).",
    )
    sample_steps: int | None = Field(
        None,
        gt=0,
        description="Sampling steps of ddim and dpmpp_2m (at most num_timesteps; ddpm uses all); "
        "null = the sampler's own: 20 for dpmpp_2m, 50 for ddim.",
    )
    eta: float = Field(
        0.0, ge=0.0, description="DDIM stochasticity: 0 = deterministic, 1 = DDPM-like (the ddim sampler only)."
    )
    clip_x0: float | None = Field(
        6.0,
        gt=0,
        description="Clamp each step's predicted clean pose to +-c (normalised units; data stays within ~5.2); "
        "null = off. Stops eps-prediction from blowing up at the noisiest steps.",
    )
    sample_precision: Literal["auto", "no", "bf16", "fp16"] = Field(
        "auto",
        description="Network arithmetic while sampling (eval, probe, `unet1d sample`): auto = bf16 where the hardware "
        "runs it natively (AMX/AVX-512 BF16 CPUs, CUDA with bf16), else fp32; no = fp32; fp16 on CUDA only.",
    )


class DataConfig(Section):
    """Where poses come from and how they are prepared."""

    data: str = Field(
        "builtin", description="'builtin' (procedural SMPL poses) or a path: AMASS .npz file/folder, .npy, .npz."
    )

    @field_validator("data")
    @classmethod
    def _a_path_or_builtin(cls, value: str) -> str:
        if not value.strip():  # Path("") is the working folder: it would be read, however large
            raise ValueError("is empty; allowed: builtin, or a pose file or folder")
        return value

    builtin_samples: int = Field(
        100_000,
        gt=0,
        description="Poses generated when data=builtin (clips of 30 frames): 100,000 rather than 20,000 cost one more "
        "second to generate and, at the quickstart's steps, give samples closer to the data (docs/classifier-test.md).",
    )
    data_seed: int = Field(
        0,
        ge=0,
        le=SEED_MAX,
        description="Seed of the built-in pose generator; fixed so runs with other train.seed see equal data.",
    )
    pose_format: Literal["smpl72", "body63"] = Field(
        "smpl72",
        description="smpl72: root + 23 joints; body63: root-less 21 body joints (with --pose_dim 63 and "
        "--downsample false: 21 positions do not halve).",
    )
    target_fps: float = Field(30.0, gt=0, description="AMASS sequences are subsampled to this frame rate.")
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="Share of sequences (files) held out.")
    normalize: bool = Field(True, description="Standardise each dimension with training-split mean/std.")
    heading: Literal["keep", "canonical"] = Field(
        "canonical",
        description="'canonical' trains on poses turned to face +z and gives samples a uniform random heading "
        "(heading is a nuisance and wraps at +-pi in axis-angle); 'keep' trains on headings as recorded.",
    )
    up_axis: Literal["auto", "y", "z"] = Field(
        "auto",
        description="The world's up axis the poses are stored in, which heading turns about (training, sampling, "
        "evaluation, figures): 'z' for AMASS (z-up world), 'y' for SMPL's own frame; 'auto' = z for AMASS .npz "
        "files, y for the built-in poses and plain arrays. `unet1d data check` prints the data's mean body up.",
    )
    split: Literal["hash", "amass"] = Field(
        "hash",
        description="Which files are held out: 'hash' (val_fraction of them, chosen by a hash of each name) or "
        "'amass' (AMASS's standard split by sub-dataset: val HumanEva, MPI_HDM05, SFU, MPI_mosh; test "
        "Transitions_mocap, SSM_synced, never loaded; train the rest).",
    )
    val_files: str | None = Field(
        None,
        description="Glob over file paths relative to data (e.g. 'HumanEva/*' or '*/walk*'): the files held out "
        "for validation, instead of val_fraction or split's val datasets (with split 'amass' its test datasets "
        "stay out, and a glob reaching them is refused).",
    )
    cache: bool = Field(
        True,
        description="Keep a folder of 100+ files (pose files or not), once read, as one float32 array in a cache keyed "
        "by the files (names, sizes, mtimes), target_fps and pose_format; the next run over the tree loads in seconds. "
        "Evaluations keep their baselines' scores there too (keyed by the reference, count, seed and code), and every "
        "run the built-in poses it generates. false: none of the three is read or written.",
    )
    cache_dir: str | None = Field(
        None, description="Where that cache lives; null = $XDG_CACHE_HOME/unet1d (or ~/.cache/unet1d)."
    )
    representation: Literal["axis_angle", "rot6d"] = Field(
        "axis_angle",
        description="What the network sees: 'axis_angle' (the pose as loaded) or 'rot6d' (continuous 6D rotations, "
        "Zhou et al. 2019: a sequence twice as long; samples come back as axis-angle).",
    )


class OptimConfig(Section):
    """Optimiser, learning-rate schedule and weight averaging."""

    lr: float = Field(1e-3, gt=0, description="Peak AdamW learning rate.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    beta1: float = Field(0.9, ge=0, lt=1, description="AdamW beta1.")
    beta2: float = Field(0.999, ge=0, lt=1, description="AdamW beta2.")
    warmup_steps: int = Field(100, ge=0, description="Linear warm-up steps before the schedule.")
    lr_schedule: Literal["cosine", "constant"] = Field(
        "cosine", description="After warm-up: 'cosine' decays to min_lr_ratio x lr; 'constant' holds lr."
    )
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="Cosine floor as a fraction of lr.")
    grad_clip: float | None = Field(1.0, gt=0, description="Clip the global gradient norm; null = off.")
    grad_accum_steps: int = Field(
        1, gt=0, description="Micro-batches accumulated per optimiser step (batch_size must be a multiple of it)."
    )
    ema: bool = Field(True, description="Keep an exponential moving average of the weights.")
    ema_decay: float = Field(0.999, gt=0, lt=1, description="EMA decay per optimiser step.")
    ema_warmup: bool = Field(
        True, description="Use decay min(ema_decay, (1+n)/(10+n)) so short runs' EMA is not stuck near init."
    )


CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")  # torch.compile modes that replay CUDA graphs on a GPU


class TrainConfig(Section):
    """The run: length, batches, checkpoints, precision."""

    batch_size: int = Field(256, gt=0, description="Poses per optimiser step per process.")
    max_steps: int = Field(2000, gt=0, description="Optimiser steps to train for.")
    seed: int = Field(0, ge=0, le=SEED_MAX, description="Seed for weights, data order and noise.")
    output_dir: Path = Field(
        Path("runs/default"),
        description="Where checkpoints, logs and samples go; {run_id} and {sweep_id} are filled by a W&B agent.",
    )
    checkpoint_every: int = Field(500, gt=0, description="Save a checkpoint every N steps (and at the end).")
    keep_checkpoints: int = Field(3, gt=0, description="Keep the last K checkpoints.")
    eval_every: int = Field(250, gt=0, description="Validation loss every N steps.")
    val_max_poses: int | None = Field(
        2048,
        gt=0,
        description="Held-out poses each validation loss scores: at most this many, evenly spaced and the same every "
        "time (null = all). Bounds validation's cost on large data: the built-in 100,000 hold out 10,000.",
    )
    resume: str | None = Field(None, description="'auto' (latest in output_dir), a checkpoint path, or null.")
    overwrite: bool = Field(False, description="Allow output_dir to hold a different run (it is replaced).")
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = Field(
        "auto",
        description="Training autocast: auto (the default: bf16 where the hardware runs it natively, CPUs with AMX "
        "or AVX-512 BF16 and CUDA with bf16; else fp32), no (fp32), bf16, or fp16 (GPU only).",
    )
    compile: bool = Field(False, description="torch.compile the network.")
    compile_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = Field(
        "default",
        description="torch.compile mode when compile is on: 'reduce-overhead' and 'max-autotune' add CUDA graphs "
        "of the network's forward and backward (GPU; the 5.3M default network is launch-bound there).",
    )
    max_nonfinite_steps: int = Field(20, gt=0, description="Stop after this many non-finite steps in a row.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="'auto' uses CUDA when present. One process uses the first visible GPU: pick another with "
        "CUDA_VISIBLE_DEVICES; --num_processes N uses N of them.",
    )
    threads: int | None = Field(
        None,
        gt=0,
        description="CPU threads for this run's math (torch.set_num_threads); null = OMP_NUM_THREADS if set, "
        "else this machine's cores / processes on it. `sweep local --parallel K` gives each run cores/K.",
    )


class EvaluationConfig(Section):
    """Sample quality: the probe during training and the full evaluation at its end."""

    quality_every: int = Field(
        500,
        ge=0,
        description="Score quality_samples poses every N steps, logged as quality/*; 0 = off. "
        "500: four probes over the default 2,000 steps.",
    )
    quality_samples: int = Field(
        256, ge=MIN_EVAL_SAMPLES, description="Poses drawn by each quality probe during training."
    )
    final_eval_samples: int = Field(
        1000,
        ge=0,
        description="Poses of the full evaluation at the end of training (eval/step-N.json); 0 = off, else at "
        "least 32, as for `unet1d eval`.",
    )
    eval_reference: str = Field(
        "auto", description="What quality is scored against: auto (fresh built-in draw, else val), val, train, PATH."
    )
    c2st_jitter: float = Field(
        0.03,
        ge=0,
        description="Radians of Gaussian jitter on both sets before the classifier test (c2st_auc): "
        "hides exact values a generator produces (a tilt that is exactly 0); 0 = none.",
    )

    task_poses: int = Field(
        32,
        ge=0,
        le=10_000,
        description="Held-out poses each prior task is scored on in an evaluation (completion of each of 7 body "
        "parts and denoising at 0.1 and 0.2 rad, 10 draws each): completion_cm*, denoise_cm*; 0 = off. 32: 224 "
        "guided starts (2 x 15 network calls with a backward pass, 2 x 3 to pick one), 2,240 hypotheses of 5 calls "
        "and 640 denoisings of 20, run beside the eval's sampling.",
    )

    @field_validator("final_eval_samples")
    @classmethod
    def _off_or_enough(cls, value: int) -> int:
        """Refused when set, not after training: the classifier test needs MIN_EVAL_SAMPLES poses a side."""
        if 0 < value < MIN_EVAL_SAMPLES:
            raise ValueError(f"must be 0 (off) or at least {MIN_EVAL_SAMPLES}")
        return value


class LaunchConfig(Section):
    """Distributed launch: `unet1d train --num_processes N` starts Accelerate's launcher itself."""

    num_processes: int = Field(1, gt=0, description="Processes on this machine (GPUs, or CPU workers).")
    num_machines: int = Field(1, gt=0, description="Machines in the job.")
    machine_rank: int = Field(0, ge=0, description="This machine's rank in a multi-node job.")
    main_process_ip: str | None = Field(None, description="Address of rank 0 for multi-node jobs.")
    main_process_port: int = Field(
        29500,
        gt=0,
        lt=65536,
        description="Port of rank 0 (several machines; on one machine the default 29500 means a free port).",
    )
    collective_timeout_s: int = Field(
        600,
        gt=0,
        le=7 * 24 * 3600,  # a week; torch's own limit (milliseconds in 64 bits) overflowed into hangs and C++ stacks
        description="Seconds a process waits for the others (joining, each collective) before failing (at most a "
        "week).",
    )

    @model_validator(mode="after")
    def _rank_of_the_job(self) -> LaunchConfig:
        """A machine rank the job has: machine 5 of 2 would wait for a rendezvous that never completes."""
        if self.machine_rank >= self.num_machines:
            raise ValueError(
                f"machine_rank={self.machine_rank} is not a machine of num_machines={self.num_machines}: "
                f"ranks go from 0 to {self.num_machines - 1}"
            )
        return self


class LoggingConfig(Section):
    """Dashboards: W&B and TensorBoard."""

    wandb_mode: Literal["auto", "online", "offline", "disabled"] = Field(
        "auto", description="'auto': online when credentials exist, else offline (sync later)."
    )
    wandb_project: str = Field("unet1d", description="W&B project.")
    wandb_entity: str | None = Field(None, description="W&B entity (team or user); null = your default.")
    wandb_run_name: str | None = Field(
        None, description="W&B run name; null = WANDB_NAME, else the middle and the seed (attention-8-s0)."
    )
    wandb_log_checkpoints: bool = Field(
        False,
        description="Log the best (by val/loss_ema, the weights evaluation loads; val/loss without EMA) and the final "
        "checkpoint as W&B model artifacts (offline too).",
    )
    tensorboard: bool = Field(True, description="Write TensorBoard event files under output_dir/tensorboard.")
    log_every: int = Field(10, gt=0, description="Log training metrics every N steps.")
    grad_norm_every: int = Field(50, gt=0, description="Log per-block gradient norms every N steps.")
    progress: Literal["auto", "bar", "plain", "none"] = Field(
        "auto",
        description="Progress output: 'bar' (a live bar), 'plain' (a line per log_every steps, for log files), "
        "'none'; 'auto' is a bar on a terminal, plain lines otherwise.",
    )


class Config(BaseModel):
    """The whole resolved configuration of a run."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)

    model: ModelConfig = Field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = Field(default_factory=DiffusionConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    launch: LaunchConfig = Field(default_factory=LaunchConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @model_validator(mode="after")
    def _check_across_sections(self) -> Config:
        if self.diffusion.sampling_steps > self.diffusion.num_timesteps:
            given = self.diffusion.sample_steps
            steps = given if given else f"null ({self.diffusion.sampler}'s default {self.diffusion.sampling_steps})"
            raise ValueError(
                f"diffusion.sample_steps={steps} exceeds diffusion.num_timesteps={self.diffusion.num_timesteps}"
            )
        train, accum = self.train, self.optim.grad_accum_steps
        if train.compile and train.compile_mode in CUDA_GRAPH_MODES and accum > 1 and train.device != "cpu":
            raise ValueError(
                f"train.compile_mode={train.compile_mode!r} replays CUDA graphs, and each micro-batch's replay "
                f"overwrites the gradients the one before left (optim.grad_accum_steps={accum}); use compile_mode "
                "max-autotune-no-cudagraphs, grad_accum_steps 1, or device cpu"
            )
        expected = {"smpl72": 72, "body63": 63}[self.data.pose_format]
        if self.model.pose_dim != expected:
            raise ValueError(
                f"model.pose_dim={self.model.pose_dim} does not match data.pose_format="
                f"{self.data.pose_format!r}, which gives {expected} numbers per pose"
            )
        return self

    def flat(self) -> dict[str, Any]:
        """``{"model.mid_num_heads": 8, ...}``: the run config W&B and TensorBoard receive."""
        return {
            f"{section}.{name}": (str(value) if isinstance(value, Path) else value)
            for section, sub in self.model_dump().items()
            for name, value in sub.items()
        }

    def to_yaml(self) -> str:
        """The whole config as YAML, sections in order: what a run folder's ``config.yaml`` holds, and what
        ``--config`` reads back. Between a head and an end line, so a file cut short is known (:func:`cut_short`)."""
        import yaml

        return YAML_HEAD + yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False) + YAML_END


YAML_HEAD = "# unet1d config: every field, resolved; it ends with the line below them\n"
YAML_END = "# end of the unet1d config\n"


def cut_short(text: str) -> bool:
    """Whether ``text`` is a config :meth:`Config.to_yaml` wrote that lost its end: a file cut short still parses,
    each field it lost taking its default (a conv run read as attention). One without the head line (hand-written,
    or from before the line) cannot tell."""
    lines = [line.strip().lstrip("\ufeff") for line in text.splitlines()]  # CRLF, trailing spaces, a BOM alike
    return bool(lines) and lines[0] == YAML_HEAD.strip() and YAML_END.strip() not in lines


SECTIONS: dict[str, type[Section]] = {
    name: info.annotation
    for name, info in Config.model_fields.items()  # type: ignore[misc]
}
# Fields that cannot change what a run learns (where it writes, what it logs, how often it saves,
# how it is started): `compare` puts runs differing only in these (and the seed) in one variant.
NO_EFFECT_FIELDS: frozenset[str] = frozenset(
    {
        "train.output_dir", "train.resume", "train.overwrite", "train.checkpoint_every", "train.keep_checkpoints",
        "train.eval_every", "train.val_max_poses", "train.max_nonfinite_steps", "train.threads", "data.cache",
        "data.cache_dir",
        "launch.machine_rank", "launch.main_process_ip", "launch.main_process_port", "launch.collective_timeout_s",
        "evaluation.quality_every", "evaluation.quality_samples", "evaluation.final_eval_samples",
        "evaluation.task_poses",
        *(f"logging.{name}" for name in SECTIONS["logging"].model_fields),
    }
)  # fmt: skip
# What `--resume` may change in the run it continues: the above, and max_steps to extend it.
RESUMABLE_FIELDS: frozenset[str] = NO_EFFECT_FIELDS | {"train.max_steps"}
# Of NO_EFFECT_FIELDS, the ones that still move what a run measures, and which numbers: `compare` warns where the
# runs it compares differ in one (their weights alike, their numbers not).
MEASUREMENT_FIELDS: dict[str, str] = {
    "train.val_max_poses": "their val loss and steps to common do not compare: each scores other validation poses",
    "logging.log_every": "their train loss does not compare: it is the mean of the last log window",
    "train.eval_every": "their time and samples/s do not compare (validation counts in them), nor steps to common",
    "train.checkpoint_every": "their time and samples/s do not compare: saving counts in them",
    "train.threads": "their time and samples/s do not compare",
    "evaluation.quality_every": "their time, samples/s and peak MiB do not compare: the quality probes count in them",
    "evaluation.quality_samples": "their time, samples/s and peak MiB do not compare: the quality probes count in them",
}
# flat name -> (section, field); built once, asserted unique by a test.
FIELD_PATHS: dict[str, tuple[str, str]] = {
    field: (section, field) for section, cls in SECTIONS.items() for field in cls.model_fields
}


# Fields added after runs were first stored, with the value every run stored before them used (not
# today's default): a checkpoint from then rebuilds the network and data it was trained with.
# data.up_axis: every run before it turned heading about y, AMASS runs too (hence their sideways samples).
STORED_BEFORE = {"model.norm": "batch", "data.heading": "keep", "model.position": "none", "data.up_axis": "y"}
