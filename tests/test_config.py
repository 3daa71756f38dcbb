"""The config schema: unique flat names, documented fields, the round trip, and `mid`, the middle as one value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from unet1d import UNet1D
from unet1d.config import FIELD_PATHS, MEASUREMENT_FIELDS, NO_EFFECT_FIELDS, SAMPLER_STEPS, SECTIONS, Config
from unet1d.config_sources import config_from_dict, load_config
from unet1d.errors import ConfigError

NO_ENV: dict[str, str] = {}


def resolve(*args: str, config_file: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    return load_config(config_file, list(args), NO_ENV if environ is None else environ)


def test_flat_names_are_unique_across_sections() -> None:
    declared = [field for cls in SECTIONS.values() for field in cls.model_fields]
    assert len(declared) == len(set(declared)) == len(FIELD_PATHS)


def test_the_fields_compare_warns_about_are_real_and_put_runs_in_one_variant() -> None:
    sections_fields = {f"{section}.{name}" for section, cls in SECTIONS.items() for name in cls.model_fields}
    assert set(MEASUREMENT_FIELDS) <= NO_EFFECT_FIELDS <= sections_fields


def test_every_field_has_a_description_and_a_default() -> None:
    for section, cls in SECTIONS.items():
        for name, info in cls.model_fields.items():
            assert info.description, f"{section}.{name} has no description"
            assert not info.is_required(), f"{section}.{name} has no default"


def test_fields_other_issues_rely_on_exist() -> None:
    needed = (
        "pose_dim base_channels mid_structure mid_num_heads lr batch_size max_steps seed data output_dir "
        "checkpoint_every eval_every resume mixed_precision wandb_mode wandb_project wandb_entity"
    ).split()
    assert set(needed) <= set(FIELD_PATHS)


def test_resolved_config_round_trips_through_yaml_and_dict() -> None:
    config = resolve("--mid_structure", "attention", "--mid_num_heads", "4", "--output_dir", "runs/x")
    assert config_from_dict(yaml.safe_load(config.to_yaml())) == config
    flat = config.flat()
    assert flat["model.mid_num_heads"] == 4 and flat["train.output_dir"] == "runs/x"


def resolve_model(*flags: str):
    return load_config(None, list(flags), environ={}).model


@pytest.mark.parametrize(
    ("flags", "pair"),
    [
        (["--mid", "conv"], ("conv", 8)),
        (["--mid", "attention-16"], ("attention", 16)),
        (["--model.mid=attention-4", "--mid_structure=attention"], ("attention", 4)),  # agreeing: fine
        (["--mid", "conv", "--mid_num_heads", "4"], ("conv", 4)),  # heads mean nothing to a conv middle
    ],
)
def test_mid_sets_the_pair(flags: list[str], pair: tuple[str, int]) -> None:
    model = resolve_model(*flags)
    assert (model.mid_structure, model.mid_num_heads) == pair


def test_the_pair_names_mid_and_follows_later_changes() -> None:
    model = resolve_model("--mid_structure", "attention", "--mid_num_heads", "8")  # the seed's flags, verbatim
    assert model.mid == "attention-8"
    model.mid_num_heads = 16
    assert model.mid == "attention-16"
    assert resolve_model().mid == "attention-8"
    assert resolve_model("--mid_structure", "conv").mid == "conv"


def test_mid_builds_the_same_network_as_the_pair() -> None:
    by_mid = UNet1D.from_config(resolve_model("--mid", "attention-8", "--base_channels", "16"))
    by_pair = UNet1D(base_channels=16, mid_structure="attention", mid_num_heads=8)
    assert type(by_mid.mid_block) is type(by_pair.mid_block)
    assert sum(p.numel() for p in by_mid.parameters()) == sum(p.numel() for p in by_pair.parameters())


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--mid", "attention-8", "--mid_structure", "conv"], ["mid='attention-8'", "mid_structure='conv'"]),
        (["--mid", "attention-8", "--mid_num_heads", "4"], ["mid='attention-8'", "mid_num_heads=4"]),
        (["--mid", "conv", "--mid_structure", "attention"], ["mid='conv'", "mid_structure='attention'"]),
        (["--mid", "attention-6"], ["mid='attention-6'", "does not divide the 512", "valid head counts"]),
        (["--mid", "attn8"], ["mid='attn8'", "allowed: conv, or attention-H", "attention-8"]),
    ],
)
def test_bad_or_conflicting_mid_names_both_values(flags: list[str], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_model(*flags)
    assert all(fragment in str(caught.value) for fragment in fragments), str(caught.value)


def test_null_sample_steps_means_each_samplers_own_and_follows_a_later_sampler() -> None:
    """A stored config with the default steps, evaluated with --sampler ddim, samples DDIM-50, not DDIM-20."""
    from unet1d.config_sources import load_config, with_overrides

    config = load_config(None, [], environ={})
    assert config.diffusion.sampler == "dpmpp_2m" and config.diffusion.sample_steps is None
    assert config.diffusion.sampling_steps == SAMPLER_STEPS["dpmpp_2m"] == 20
    stored = Config.model_validate(config.model_dump(mode="json"))  # what a checkpoint keeps and eval reads
    assert with_overrides(stored, ["--sampler", "ddim"]).diffusion.sampling_steps == SAMPLER_STEPS["ddim"] == 50
    assert with_overrides(stored, ["--sampler", "ddpm"]).diffusion.sampling_steps == 1000
    assert load_config(None, ["--sampler", "ddim", "--sample_steps", "25"], environ={}).diffusion.sampling_steps == 25
    with pytest.raises(ConfigError, match=r"sample_steps=null \(dpmpp_2m's default 20\) exceeds"):
        load_config(None, ["--num_timesteps", "10"], environ={})


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_data_path_is_refused_rather_than_reading_the_working_folder(value: str) -> None:
    from unet1d.config_sources import load_config

    with pytest.raises(ConfigError, match="is empty; allowed: builtin, or a pose file or folder"):
        load_config(None, ["--data", value], environ={})


@pytest.mark.parametrize("seconds", ["604801", "99999999999"])
def test_a_collective_timeout_beyond_a_week_is_refused_before_torch_overflows_on_it(seconds: str) -> None:
    """torch keeps the timeout in 64-bit milliseconds: 99999999999 s hung silently, larger values overflowed."""
    from unet1d.config_sources import load_config

    assert load_config(None, ["--collective_timeout_s", "604800"], environ={}).launch.collective_timeout_s == 604800
    with pytest.raises(ConfigError, match=rf"collective_timeout_s='{seconds}'.*less than or equal to 604800"):
        load_config(None, ["--collective_timeout_s", seconds], environ={})


def test_a_config_cut_short_is_told_from_one_kept_whole_in_any_line_ending() -> None:
    """Walk D: a config.yaml cut between fields parsed (the rest at defaults). The verification walk: a trailing
    space on the end line was called cut short, and a CRLF copy cut short was not."""
    from unet1d.config import cut_short

    text = resolve("--mid_structure", "conv").to_yaml()
    cut = text[: text.index("data:")]
    assert not cut_short(text) and cut_short(cut)
    crlf = text.replace("\n", "\r\n")
    assert not cut_short(crlf) and cut_short(crlf[: crlf.index("data:")])
    assert not cut_short(text.replace("# end of the unet1d config\n", "# end of the unet1d config  \n"))
    assert not cut_short(cut.split("\n", 1)[1])  # its head line deleted: a file cut on purpose
    assert not cut_short(text + "model:\n  lr: 0.1\n")  # lines added after the end
    assert cut_short("\ufeff" + cut) and not cut_short("\ufeff" + text)  # saved by an editor with a BOM
