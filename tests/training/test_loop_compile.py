"""train.compile_mode reaches torch.compile through Accelerate, and is refused when unknown."""

from __future__ import annotations

import pytest

from unet1d.config import Config
from unet1d.errors import ConfigError
from unet1d.training.loop import Trainer, compile_options


def test_no_compile_means_no_dynamo_whatever_the_mode():
    config = Config()
    config.train.compile_mode = "reduce-overhead"
    assert compile_options(config) == {"dynamo_backend": "no"}


@pytest.mark.parametrize("mode", ["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"])
def test_compile_mode_reaches_the_dynamo_plugin(mode):
    config = Config()
    config.train.compile, config.train.compile_mode = True, mode
    plugin = compile_options(config)["dynamo_plugin"]
    assert (plugin.backend.value.lower(), plugin.mode) == ("inductor", mode)


def test_an_unknown_compile_mode_is_refused(tiny_config):
    with pytest.raises(ConfigError, match="compile_mode"):
        tiny_config("--compile", "true", "--compile_mode", "fastest")


def test_the_trainer_wraps_the_network_in_the_chosen_mode(tiny_config):
    trainer = Trainer(tiny_config("--compile", "true", "--compile_mode", "max-autotune-no-cudagraphs"))
    try:
        assert trainer.accelerator.state.dynamo_plugin.mode == "max-autotune-no-cudagraphs"
        model, network = trainer.training.model, trainer.network
        assert model is not network  # compiled wrapper; checkpoints hold the bare network
        assert set(model.state_dict()) == {f"_orig_mod.{k}" for k in network.state_dict()}
    finally:
        trainer.close()
