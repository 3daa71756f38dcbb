"""Where config values come from and which wins: flags, YAML, environment, stored configs; errors name the source."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from unet1d.config import Config
from unet1d.config_sources import config_from_dict, load_config
from unet1d.errors import ConfigError

NO_ENV: dict[str, str] = {}


def resolve(*args: str, config_file: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    return load_config(config_file, list(args), NO_ENV if environ is None else environ)


def test_seed_command_line_verbatim() -> None:
    config = resolve("--mid_structure", "attention", "--mid_num_heads", "8")
    assert (config.model.mid_structure, config.model.mid_num_heads) == ("attention", 8)


@pytest.mark.parametrize(
    "args",
    [
        ["--mid_structure", "attention", "--mid_num_heads", "16"],
        ["--mid-structure", "attention", "--mid-num-heads", "16"],
        ["--mid_structure=attention", "--mid_num_heads=16"],
        ["--model.mid_structure=attention", "--model.mid_num_heads=16"],
        ["--model.mid-structure", "attention", "--model.mid_num_heads", "16"],
    ],
)
def test_every_spelling_of_a_flag_is_accepted(args: list[str]) -> None:
    config = resolve(*args)
    assert (config.model.mid_structure, config.model.mid_num_heads) == ("attention", 16)


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("True", True), ("false", False), ("False", False)])
def test_booleans(text: str, expected: bool) -> None:
    assert resolve(f"--ema={text}").optim.ema is expected
    assert resolve("--ema", text).optim.ema is expected


def test_bare_boolean_flag_means_true() -> None:
    assert resolve("--overwrite", "--seed", "3").train.overwrite is True


@pytest.mark.parametrize("text", ["None", "null"])
def test_null_for_optional_fields(text: str) -> None:
    config = resolve(f"--grad_clip={text}", "--min_snr_gamma", "5", f"--wandb_entity={text}")
    assert config.optim.grad_clip is None and config.logging.wandb_entity is None
    assert config.diffusion.min_snr_gamma == 5.0


@pytest.mark.parametrize("text", ["[1, 2, 4, 8]", "1,2,4,8", "[1,2,4,8]"])
def test_lists_in_both_forms(text: str) -> None:
    assert resolve("--channel_mults", text, "--pose_dim", "72").model.channel_mults == [1, 2, 4, 8]


def test_string_fields_stay_strings() -> None:
    config = resolve("--wandb_project", "123", "--data", "poses.npy")
    assert config.logging.wandb_project == "123" and config.data.data == "poses.npy"


def test_precedence_defaults_yaml_env_argv(tmp_path: Path) -> None:
    config_file = tmp_path / "run.yaml"
    config_file.write_text(yaml.safe_dump({"model": {"mid_num_heads": 4, "mid_structure": "attention"}, "lr": 1e-3}))
    from_file = resolve(config_file=config_file)
    assert (from_file.model.mid_num_heads, from_file.optim.lr, from_file.train.seed) == (4, 1e-3, 0)
    env = {"UNET1D_MID_NUM_HEADS": "16", "UNET1D_OPTIM__LR": "0.002", "OTHER": "x"}
    from_env = resolve(config_file=config_file, environ=env)
    assert (from_env.model.mid_num_heads, from_env.optim.lr) == (16, 0.002)
    from_argv = resolve("--mid_num_heads", "32", config_file=config_file, environ=env)
    assert (from_argv.model.mid_num_heads, from_argv.optim.lr) == (32, 0.002)
    assert from_argv.model.mid_structure == "attention"


def test_yaml_accepts_flat_names_and_the_data_field(tmp_path: Path) -> None:
    config_file = tmp_path / "flat.yaml"
    config_file.write_text("mid_structure: attention\ndata: /some/poses.npz\ndata.val_fraction: 0.2\n")
    config = resolve(config_file=config_file)
    assert config.model.mid_structure == "attention"
    assert config.data.data == "/some/poses.npz" and config.data.val_fraction == 0.2


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--mid_structure", "mlp"], ["model.mid_structure='mlp'", "--mid_structure", "'conv' or 'attention'"]),
        (["--mid_structure", "attention", "--mid_num_heads", "7"], ["mid_num_heads=7", "1, 2, 4, 8, 16, 32"]),
        (["--lr", "-1"], ["optim.lr='-1'", "greater than 0"]),
        (["--lr", "fast"], ["optim.lr='fast'", "valid number"]),
        (["--batch_size", "0"], ["train.batch_size='0'", "greater than 0"]),
        (  # CUDA graphs overwrite the gradients micro-batches accumulate: a RuntimeError on a GPU, no word on a CPU
            ["--compile", "true", "--compile_mode", "reduce-overhead", "--grad_accum_steps", "2", "--batch_size", "64"],
            ["compile_mode='reduce-overhead' replays CUDA graphs", "grad_accum_steps=2", "max-autotune-no-cudagraphs"],
        ),
        (["--max_steps", "1.5"], ["train.max_steps='1.5'", "integer"]),
        (["--pose_dim", "70"], ["pose_dim=70", "multiple of 4"]),
        (["--schedule", "quadratic"], ["diffusion.schedule='quadratic'", "'linear' or 'cosine'"]),
        (["--prediction", "noise"], ["'eps', 'x0' or 'v'"]),
        (["--sampler", "euler"], ["'ddpm', 'ddim' or 'dpmpp_2m'"]),
        (["--mixed_precision", "fp8"], ["'no', 'bf16' or 'fp16'"]),
        (["--wandb_mode", "cloud"], ["'auto', 'online', 'offline' or 'disabled'"]),
        (["--ema", "maybe"], ["optim.ema='maybe'", "boolean"]),
        (["--mid_structur", "conv"], ["unknown config field 'mid_structur'", "did you mean 'mid_structure'"]),
        (["--model.mid_heads", "8"], ["unknown config field 'model.mid_heads'", "did you mean 'model.mid_num_heads'"]),
        (["--seed"], ["--seed needs a value"]),
        (["attention"], ["unexpected argument 'attention'"]),
        (["--sample_steps", "2000"], ["sample_steps=2000 exceeds", "num_timesteps=1000"]),
        (["--pose_format", "body63"], ["pose_dim=72 does not match", "body63"]),
    ],
)
def test_bad_values_name_field_value_and_what_is_allowed(args: list[str], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(*args)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_bad_environment_variable_is_named() -> None:
    with pytest.raises(ConfigError, match=r"UNET1D_MID_NUM_HEAD.*did you mean 'mid_num_heads'"):
        resolve(environ={"UNET1D_MID_NUM_HEAD": "8"})
    with pytest.raises(ConfigError, match=r"train.batch_size='many' \(from environment variable UNET1D_BATCH_SIZE\)"):
        resolve(environ={"UNET1D_BATCH_SIZE": "many"})


def test_the_projects_own_variables_that_are_no_fields_are_left_alone() -> None:
    """UNET1D_IMAGE (compose), UNET1D_IMAGE_CACHE (docker/check.sh) and UNET1D_FAULTS_SEED (faults.md) in a
    user's shell made every command exit 2 with "unknown config field"."""
    theirs = {"UNET1D_IMAGE": "unet1d:cuda", "UNET1D_IMAGE_CACHE": "/tmp/images", "UNET1D_FAULTS_SEED": "3"}
    assert resolve(environ={**theirs, "UNET1D_LR": "0.002"}).optim.lr == 0.002


YAML_ERRORS = {  # file name -> (its text, None: no such file; the message it must give)
    "broken.yaml": (
        "model:\n  mid_structure: conv\n  mid_num_heads: [8\nlr: 1\n",
        r"broken.yaml: YAML syntax error at line \d+",
    ),
    "unknown.yaml": ("model:\n  mid_strcture: conv\n", r"unknown.yaml.*did you mean 'model.mid_structure'"),
    "wrong.yaml": ("lr: -3\n", r"optim.lr=-3 \(from .*wrong.yaml \(lr\)\)"),
    "missing.yaml": (None, r"missing.yaml.*does not exist"),
    "list.yaml": ("- 1\n- 2\n", "expected a mapping"),
    "misplaced.yaml": ("model:\n  lr: 0.1\n", r"unknown config field 'model.lr'; did you mean 'optim.lr'\?"),
    "twice.yaml": (
        "model:\n  mid_structure: conv\nmid_structure: attention\n",
        r"sets model.mid_structure twice: as model.mid_structure and as mid_",
    ),
    # a comment saved in cp1252: a UnicodeDecodeError traceback, exit 1
    "latin1.yaml": (
        b"model:\n  base_channels: 16  # caf\xe9\n",
        r"latin1.yaml: not UTF-8 text \(byte 0xe9 at offset 33\)",
    ),
    # aliases of aliases: 10^8 values from 8 lines, gigabytes, a MemoryError and a 21 MB "line" at 6 levels
    "bomb.yaml": (
        "model:\n  channel_mults: ["
        + ", ".join(
            ["&a0 [1,1,1,1,1,1,1,1,1,1]"] + [f"&a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
        )
        + "]\n",
        r"bomb.yaml: more than 100,000 values \(counting what its aliases, \*name, expand to\)",
    ),
    # 500 bad items: 500 lines each quoting the whole list
    "long.yaml": (
        "model:\n  channel_mults: [" + ", ".join(["x"] * 500) + "]\n",
        r"^invalid configuration: model.channel_mults=\['x', 'x'.{150,200}… \(from [^\n]*\): Input should be a valid "
        r"integer[^\n]*$",
    ),
}


@pytest.mark.parametrize("name", list(YAML_ERRORS))
def test_yaml_errors_name_the_file_and_line(tmp_path: Path, name: str) -> None:
    text, message = YAML_ERRORS[name]
    if isinstance(text, bytes):
        (tmp_path / name).write_bytes(text)
    elif text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=message):
        resolve(config_file=tmp_path / name)


def test_a_folder_given_as_the_config_file_is_named_as_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file '.*' is a folder; give the YAML file"):
        resolve(config_file=tmp_path)


def test_a_yaml_list_may_be_written_as_on_the_command_line(tmp_path: Path) -> None:
    commas = tmp_path / "commas.yaml"
    commas.write_text("channel_mults: 1,2\nmodel:\n  base_channels: 16\n")
    assert resolve(config_file=commas).model.channel_mults == [1, 2]


def test_output_dir_placeholders_come_from_the_wandb_agent() -> None:
    args = ("--output_dir", "runs/{sweep_id}/{run_id}")
    agent = resolve(*args, environ={"WANDB_RUN_ID": "abc123", "WANDB_SWEEP_ID": "sw9"})
    assert agent.train.output_dir == Path("runs/sw9/abc123")
    assert resolve(*args).train.output_dir == Path("runs/local/local")
    with pytest.raises(ConfigError, match=r"unknown placeholder 'user'; allowed: \{run_id\}, \{sweep_id\}"):
        resolve("--output_dir", "runs/{user}")


def test_a_config_stored_before_newer_fields_keeps_what_it_trained_with() -> None:
    """Checkpoints written before model.norm, data.heading and model.position existed used BatchNorm,
    recorded headings and no position code."""
    stored = Config().model_dump(mode="json")
    del stored["model"]["norm"], stored["data"]["heading"], stored["model"]["position"]
    old = config_from_dict(stored)
    assert (old.model.norm, old.data.heading, old.model.position) == ("batch", "keep", "none")
    today = Config()
    assert (today.model.norm, today.data.heading, today.model.position) == ("group", "canonical", "sinusoidal")
    stored_with_norm = Config(model={"norm": "group"}).model_dump(mode="json")
    del stored_with_norm["model"]["position"]  # stored after norm existed, before position did
    assert config_from_dict(stored_with_norm).model.norm == "group"
    assert config_from_dict(stored_with_norm).model.position == "none"
    assert config_from_dict(Config().model_dump(mode="json")) == Config()  # what is stored wins
