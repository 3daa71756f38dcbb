"""PosePrior speaks the data's convention: observed components bit for bit, heading restored, clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from unet1d.body.heading import apply_heading, canonical_heading, change_up_axis, heading_of
from unet1d.body.skeleton import COMPLETION_PARTS, JOINT_NAMES
from unet1d.config import Config
from unet1d.data import NormStats
from unet1d.data.builtin import generate_builtin_poses
from unet1d.data.representation import encode, network_config, wrap_stats
from unet1d.errors import UserError
from unet1d.model import UNet1D
from unet1d.prior import PosePrior, parse_mask
from unet1d.prior.api import PoseInputWarning


def tiny_prior(model: dict | None = None, **data: object) -> tuple[PosePrior, np.ndarray]:
    """An untrained 8-channel network: what is tested here is the plumbing around it, not its skill."""
    config = Config.model_validate({"model": {"base_channels": 8, "mid_num_heads": 2, **(model or {})}, "data": data})
    torch.manual_seed(0)
    poses = generate_builtin_poses(600, 3).poses
    network = UNet1D.from_config(network_config(config))
    stats = wrap_stats(NormStats.fit(encode(canonical_heading(poses), config.data.representation)),
                       config.data.representation)  # fmt: skip
    return PosePrior(network, config, stats, "cpu"), poses[::60]


def test_parse_mask_takes_parts_and_joints_and_names_what_is_allowed():
    legs = parse_mask("legs", 72)
    assert [JOINT_NAMES[j] for j in np.flatnonzero(legs)] == sorted(COMPLETION_PARTS["legs"], key=JOINT_NAMES.index)
    both = parse_mask(" Left_Arm , head", 72)
    assert set(np.flatnonzero(both)) == {JOINT_NAMES.index(n) for n in (*COMPLETION_PARTS["left_arm"], "head")}
    assert parse_mask("trunk", 63).shape == (21,)  # body-only: no pelvis, no hands
    with pytest.raises(UserError, match=r"'tail' is no part or joint of a 72-number pose; allowed: parts left_leg"):
        parse_mask("legs,tail", 72)
    with pytest.raises(UserError, match="left_hand"):
        parse_mask("left_hand", 63)  # a 63-number pose has no SMPL hand joints
    with pytest.raises(
        UserError, match=r"'left-leg' is no part or joint of a 72-number pose; did you mean 'left_leg'\?"
    ):
        parse_mask("left-leg", 72)
    with pytest.raises(UserError, match="hides nothing; allowed: parts"):
        parse_mask(" , ", 72)
    everything = ",".join(JOINT_NAMES)
    with pytest.raises(UserError, match="hides every joint"):
        parse_mask(everything, 72)


@pytest.mark.parametrize("representation", ["axis_angle", "rot6d"])
def test_observed_components_come_back_bit_for_bit_and_hidden_ones_are_drawn(representation):
    prior, poses = tiny_prior(representation=representation)
    hidden = parse_mask("left_arm", 72)
    out = prior.complete(poses, hidden, hypotheses=3, steps=4)
    assert out.shape == (len(poses), 3, 72) and out.dtype == np.float32
    columns = np.repeat(hidden, 3)
    assert np.array_equal(out[:, :, ~columns], np.broadcast_to(poses[:, None, ~columns], out[:, :, ~columns].shape))
    assert not np.allclose(out[:, 0, columns], poses[:, columns])
    assert not np.allclose(out[:, 0, columns], out[:, 1, columns])  # hypotheses differ


def test_a_turned_input_gets_the_same_completion_turned():
    """Canonical-heading runs see poses at heading 0: turning the input about the up axis must not change the
    completed joints (local rotations), and the output must face where the input faced."""
    prior, poses = tiny_prior(heading="canonical")
    hidden = parse_mask("legs", 72)
    turned = apply_heading(poses, np.full(len(poses), 1.3), prior.up_axis)
    first = prior.complete(poses, hidden, hypotheses=2, steps=4, seed=7)
    second = prior.complete(turned, hidden, hypotheses=2, steps=4, seed=7)
    columns = np.repeat(hidden, 3)
    np.testing.assert_allclose(first[:, :, columns], second[:, :, columns], atol=2e-4)
    np.testing.assert_allclose(heading_of(second[:, 0], prior.up_axis), heading_of(turned, prior.up_axis), atol=1e-5)


def test_denoise_checks_its_inputs_and_keeps_the_width():
    prior, poses = tiny_prior()
    out = prior.denoise(poses, noise_std=0.1, hypotheses=2, steps=4)
    assert out.shape == (len(poses), 2, 72) and np.isfinite(out).all()
    with pytest.raises(UserError, match="must be a finite number > 0"):
        prior.denoise(poses, noise_std=0.0)
    with pytest.raises(UserError, match=r"\(N, 72\)"):
        prior.complete(poses[:, :63], parse_mask("legs", 72))
    with pytest.raises(UserError, match="NaN"):
        prior.denoise(np.full_like(poses, np.nan), noise_std=0.1)
    with pytest.raises(UserError, match="allowed: replace, repaint, dps, dposer"):
        prior.complete(poses, parse_mask("legs", 72), method="guess")


def test_shrink_pulls_hypotheses_to_their_mean_and_keeps_the_observed_numbers():
    """shrink=1 returns the draws; 0 makes every hypothesis their mean; 0.5 lies halfway (in the network's
    space, here standardised axis-angle: a linear map of the pose, so halfway in radians too)."""
    prior, poses = tiny_prior()
    hidden = parse_mask("right_arm", 72)
    columns = np.repeat(hidden, 3)
    draws = prior.complete(poses, hidden, hypotheses=4, steps=4, seed=3, shrink=1.0)
    half = prior.complete(poses, hidden, hypotheses=4, steps=4, seed=3, shrink=0.5)
    mean = prior.complete(poses, hidden, hypotheses=4, steps=4, seed=3, shrink=0.0)
    expected_mean = draws[:, :, columns].mean(axis=1, keepdims=True)
    np.testing.assert_allclose(
        mean[:, :, columns], np.broadcast_to(expected_mean, mean[:, :, columns].shape), atol=1e-5
    )
    np.testing.assert_allclose(half[:, :, columns], (draws[:, :, columns] + expected_mean) / 2, atol=1e-5)
    for out in (half, mean):
        assert np.array_equal(out[:, :, ~columns], draws[:, :, ~columns])
    with pytest.raises(UserError, match="shrink=2"):
        prior.complete(poses, hidden, shrink=2.0)


def test_hidden_takes_names_or_a_bool_mask_and_refuses_anything_else():
    prior, poses = tiny_prior()
    mask = parse_mask("legs,left_wrist", 72)
    by_mask = prior.complete(poses, mask, hypotheses=2, steps=4)
    assert np.array_equal(prior.complete(poses, "legs,left_wrist", hypotheses=2, steps=4), by_mask)
    assert np.array_equal(prior.complete(poses, ["legs", "left_wrist"], hypotheses=2, steps=4), by_mask)
    per_pose = np.broadcast_to(mask, (len(poses), 24)).copy()
    assert np.array_equal(prior.complete(poses, per_pose, hypotheses=2, steps=4), by_mask)
    # np.asarray("legs", bool) is True: a name read as a mask would hide the whole body
    for wrong in (np.ones(23, bool), np.repeat(mask, 3), np.array([1, 2]), mask.astype(int)):
        with pytest.raises(ValueError, match=r"hidden of dtype .* allowed: part and joint names"):
            prior.complete(poses, wrong, hypotheses=1, steps=2)
    with pytest.raises(ValueError, match=r"hidden 'legs,tail': 'tail' is no part or joint"):  # named as its argument
        prior.complete(poses, "legs,tail", hypotheses=1, steps=2)


def test_a_mask_row_hiding_nothing_comes_back_as_given_and_one_hiding_all_is_drawn_whole():
    # per-frame visibility in a fitting loop: names refuse both, a mask's rows may be either
    prior, poses = tiny_prior()
    rows = np.zeros((len(poses), 24), bool)
    rows[1], rows[2, :5] = True, True
    out = prior.complete(poses, rows, hypotheses=2, steps=4)
    assert np.array_equal(out[0], np.broadcast_to(poses[0], out[0].shape))  # nothing hidden: as given
    assert (np.abs(out[1] - poses[1]) > 0).all()  # everything hidden: every number drawn
    assert np.array_equal(out[2][:, 15:], np.broadcast_to(poses[2, 15:], (2, 57)))


def test_poses_of_another_up_axis_are_turned_for_the_network_and_back():
    from unet1d.body.heading import change_up_axis

    prior, poses = tiny_prior()
    assert prior.up_axis == "y"
    z_up = change_up_axis(poses, "y", "z")
    columns = np.repeat(parse_mask("left_leg", 72), 3)
    out = prior.complete(z_up, "left_leg", hypotheses=2, steps=4, up_axis="z")
    by_hand = prior.complete(change_up_axis(z_up, "z", "y"), "left_leg", hypotheses=2, steps=4)
    np.testing.assert_allclose(out[:, :, columns], by_hand[:, :, columns], atol=1e-5)  # local joints: unturned
    assert np.array_equal(out[:, :, ~columns], np.broadcast_to(z_up[:, None, ~columns], out[:, :, ~columns].shape))
    denoised = prior.denoise(z_up, noise_std=0.05, steps=4, up_axis="z")
    np.testing.assert_allclose(change_up_axis(denoised[:, 0], "z", "y"),
                               prior.denoise(poses, noise_std=0.05, steps=4)[:, 0], atol=1e-4)  # fmt: skip
    with pytest.raises(ValueError, match="up_axis='x'"):
        prior.denoise(poses, noise_std=0.1, up_axis="x")


def test_numpy_scalars_are_numbers_too():
    prior, poses = tiny_prior()
    out = prior.complete(poses, "arms", hypotheses=np.int64(2), steps=np.int32(3), shrink=np.float32(0.5))
    assert out.shape == (len(poses), 2, 72)
    assert prior.denoise(poses, noise_std=np.float32(0.1), steps=3, seed=np.uint32(4)).shape == (len(poses), 1, 72)


def test_float64_poses_come_back_float64_with_their_observed_numbers_exact():
    prior, poses = tiny_prior()
    given = poses.astype(np.float64) + 1e-12  # not representable in float32
    out = prior.complete(given, "arms", hypotheses=2, steps=4)
    observed = ~np.repeat(parse_mask("arms", 72), 3)
    assert out.dtype == np.float64
    assert np.array_equal(out[:, :, observed], np.broadcast_to(given[:, None, observed], out[:, :, observed].shape))


def test_a_hidden_root_is_drawn_whatever_values_it_held():
    prior, poses = tiny_prior(heading="canonical")
    other = poses.copy()
    other[:, :3] = [0.3, -2.0, 0.7]  # the hidden root's values (its heading among them) are never read
    first = prior.complete(poses, "pelvis,left_leg", hypotheses=2, steps=4, seed=5)
    second = prior.complete(other, "pelvis,left_leg", hypotheses=2, steps=4, seed=5)
    assert np.array_equal(first, second)


def test_a_drawn_root_faces_every_way_and_a_seen_root_keeps_its_heading():
    """A canonical-heading run knows no heading: a drawn root gets the prior's, uniform about the up axis (before,
    every completion faced the network's one way), seeded; a visible root comes back where it faced."""
    from scipy.stats import kstest

    prior, poses = tiny_prior(heading="canonical")
    many = np.repeat(poses, 4, axis=0)  # 40 poses x 5 hypotheses: 200 headings
    drawn = prior.complete(many, "pelvis", hypotheses=5, steps=2, seed=3, method="replace")
    headings = heading_of(drawn.reshape(-1, 72), "y")
    assert kstest(headings, "uniform", args=(-np.pi, 2 * np.pi)).pvalue > 1e-3, np.ptp(headings)
    assert np.array_equal(drawn, prior.complete(many, "pelvis", hypotheses=5, steps=2, seed=3, method="replace"))
    seen = prior.complete(poses, "left_leg", hypotheses=2, steps=2, method="replace")
    assert np.allclose(heading_of(seen[:, 1], "y"), heading_of(poses, "y"), atol=1e-5)


class ZeroV(torch.nn.Module):
    """The exact v-prediction denoiser of standard normal data: E[x0 | x_t] = sqrt(abar) x_t, which is v = 0."""

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def test_energys_gradient_is_the_score_of_the_data_times_sigma_squared_and_spares_the_root():
    """Closed form: for N(0, I) data and its exact denoiser the energy's gradient is x - sqrt(abar) x_t, whose mean
    over the noise is (1 - abar) x, the data's -score scaled by sigma^2; the root's three numbers get none."""
    config = Config.model_validate({"data": {"heading": "keep"}, "diffusion": {"num_timesteps": 100}})
    stats = NormStats(mean=np.zeros(72), std=np.ones(72))
    prior = PosePrior(ZeroV(), config, stats, "cpu", input_warnings=False)  # numbers, not a body that stands
    x = torch.linspace(-2.0, 2.0, 72).repeat(4000, 1).requires_grad_()  # one pose, 4,000 noise draws
    generator = torch.Generator().manual_seed(0)
    prior.energy(x, levels=(0.3, 0.3), generator=generator).sum().backward()
    t = round(0.3 * 99)
    sigma2 = 1.0 - float(prior.schedule.alphas_cumprod[t])
    mean_gradient = x.grad.mean(dim=0)
    assert torch.equal(mean_gradient[:3], torch.zeros(3))  # the root is the data term's
    expected = sigma2 * x.detach()[0, 3:]
    spread = float(np.sqrt(sigma2 * (1 - sigma2) / 4000))  # sqrt(abar) sigma eps averaged over 4,000 draws
    assert torch.allclose(mean_gradient[3:], expected, atol=5 * spread), (mean_gradient[3:] - expected).abs().max()

    pose = torch.full((1, 72), 1.5, requires_grad=True)  # far from the data: descending the energy comes back
    optimiser = torch.optim.SGD([pose], lr=0.5)
    for _ in range(200):
        optimiser.zero_grad()
        prior.energy(pose.expand(64, -1), generator=generator).mean().backward()  # 64 draws: a smooth term
        optimiser.step()
    assert pose.detach()[0, 3:].abs().mean() < 0.2 and torch.equal(pose.detach()[0, :3], torch.full((3,), 1.5))


def test_energy_takes_numpy_and_float64_and_does_not_see_the_heading_of_a_canonical_run():
    prior, poses = tiny_prior(heading="canonical")
    turned = apply_heading(poses, np.full(len(poses), 1.2), "y")
    same = [prior.energy(torch.as_tensor(p), generator=torch.Generator().manual_seed(1)) for p in (poses, turned)]
    assert torch.allclose(same[0], same[1], atol=1e-4)  # the network sees both at heading 0
    as_numpy = prior.energy(poses.astype(np.float64), generator=torch.Generator().manual_seed(1))
    assert as_numpy.dtype == torch.float64 and as_numpy.shape == (len(poses),)
    for bad, fragment in ((np.zeros((3, 70)), r"shape \(3, 70\)"), (poses, "levels")):
        with pytest.raises(UserError, match=fragment):
            prior.energy(bad, levels=(0.5, 0.2) if fragment == "levels" else (0.05, 0.3))


def test_gradient_methods_run_under_inference_mode_and_a_training_network_is_evaluated():
    prior, poses = tiny_prior({"norm": "batch"})  # BatchNorm: train mode would normalise by the batch
    expected = prior.complete(poses, "arms", hypotheses=2, steps=3, method="guided")
    running = [buffer.clone() for buffer in prior.network.buffers()]
    prior.network.train()
    with torch.inference_mode():
        for method in ("guided", "dps", "dposer"):
            out = prior.complete(poses, "arms", hypotheses=2, steps=3, method=method)
            assert np.isfinite(out).all()
    assert np.array_equal(prior.complete(poses, "arms", hypotheses=2, steps=3, method="guided"), expected)
    assert prior.network.training  # the caller's mode, restored
    assert all(torch.equal(a, b) for a, b in zip(running, prior.network.buffers(), strict=True))


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda p, x: p.complete(x, "legs", steps=0, method="replace"), "steps=0"),
        (lambda p, x: p.complete(x, "legs", hypotheses=2.0), "hypotheses=2.0"),
        (lambda p, x: p.complete(x, "legs", seed=-1), "seed=-1"),
        (lambda p, x: p.denoise(x, noise_std=float("inf")), "noise_std=inf"),
        (lambda p, x: p.denoise(x[None], noise_std=0.1), r"shape \(1, \d+, 72\)"),
        (lambda p, x: p.sample(0), "num_poses=0"),
    ],
)
def test_bad_arguments_are_value_errors_naming_the_argument(call, named):
    prior, poses = tiny_prior()
    with pytest.raises(ValueError, match=named):
        call(prior, poses)


def test_sample_draws_what_the_evaluation_draws_and_leaves_the_global_generator_alone():
    from unet1d.evaluation.sampling import sample_poses

    prior, _ = tiny_prior(heading="canonical")
    prior.config.diffusion.sample_steps = 3
    torch.manual_seed(11)
    state = torch.get_rng_state()
    drawn = prior.sample(5, seed=4)
    assert torch.equal(state, torch.get_rng_state())
    expected = sample_poses(prior.network, prior.config, prior.stats, 5, seed=4, device=torch.device("cpu"))
    assert drawn.shape == (5, 72) and np.array_equal(drawn, expected)
    assert not np.array_equal(prior.sample(5, seed=5), drawn)


@pytest.mark.parametrize("timesteps", [2, 10])
def test_a_schedule_shorter_than_the_methods_steps_takes_all_of_its_own(timesteps):
    # the denoiser's and dps's 20 DDIM steps failed on T = 10: the run trained, then its evaluation crashed
    prior, poses = tiny_prior()
    diffusion = prior.config.diffusion.model_copy(update={"num_timesteps": timesteps, "sample_steps": timesteps})
    prior = PosePrior(prior.network, prior.config.model_copy(update={"diffusion": diffusion}), prior.stats, "cpu")
    for method in ("guided", "replace", "repaint", "dps", "dposer", "anneal"):
        assert np.isfinite(prior.complete(poses, "legs", hypotheses=2, method=method)).all(), method
    assert np.isfinite(prior.denoise(poses, noise_std=0.1)).all() and np.isfinite(prior.sample(4)).all()


def test_sample_warns_when_the_sampler_diverged(monkeypatch):
    from unet1d.prior import api

    prior, _ = tiny_prior()
    monkeypatch.setattr(api, "network_draws", lambda *args: [np.full((4, 72), 1e6, np.float32)])  # eps, no clip_x0
    with pytest.warns(RuntimeWarning, match=r"4 of 4 poses hold values beyond \+-10000 rad .* the sampler diverged"):
        prior.sample(4)


def test_hidden_numbers_are_never_read_so_nan_may_mark_them_but_not_an_observed_one():
    prior, poses = tiny_prior()
    marked = poses.copy()
    legs = np.repeat(parse_mask("legs", 72), 3)
    marked[:, legs] = np.nan  # an occlusion pipeline's missing joints
    expected = prior.complete(poses, "legs", hypotheses=2, steps=2)
    assert np.array_equal(prior.complete(marked, "legs", hypotheses=2, steps=2), expected)
    marked[0, np.flatnonzero(~legs)[5]] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite values where they are observed"):
        prior.complete(marked, "legs", hypotheses=2, steps=2)


def test_energy_refuses_what_it_cannot_score_and_takes_the_poses_up_axis():
    prior, poses = tiny_prior(heading="canonical")
    torn = torch.tensor(poses)
    torn[0, 10] = float("nan")
    for call, named in (
        (lambda: prior.energy(torn), "NaN"),
        (lambda: prior.energy(torch.tensor(poses), levels=0.2), "levels=0.2"),
        (lambda: prior.energy(torch.tensor(poses), generator=0), "generator=0"),
    ):
        with pytest.raises(ValueError, match=named):
            call()
    assert prior.energy(torch.zeros(0, 72)).shape == (0,)
    z_up = change_up_axis(poses, "y", "z")
    seeded = torch.Generator().manual_seed
    as_run = prior.energy(torch.tensor(poses), generator=seeded(3))
    assert torch.allclose(prior.energy(torch.tensor(z_up), generator=seeded(3), up_axis="z"), as_run, atol=1e-5)


def test_seed_none_draws_afresh_and_sample_speaks_the_poses_up_axis():
    prior, poses = tiny_prior()
    assert not np.array_equal(prior.sample(4, seed=None), prior.sample(4, seed=None))
    assert not np.array_equal(
        prior.complete(poses, "legs", seed=None, steps=1), prior.complete(poses, "legs", seed=None, steps=1)
    )
    np.testing.assert_allclose(prior.sample(4, up_axis="z"), change_up_axis(prior.sample(4), "y", "z"), atol=1e-6)


def test_an_empty_batch_gives_an_empty_answer_and_masks_come_in_every_usual_form():
    prior, poses = tiny_prior()
    assert prior.complete(poses[:0], "legs", hypotheses=3).shape == (0, 3, 72)
    assert prior.denoise(poses[:0], noise_std=0.1).shape == (0, 1, 72)
    expected = prior.complete(poses, "legs", hypotheses=2, steps=2)
    for hidden in (np.array(["legs"]), ["legs"], parse_mask("legs", 72)[None]):
        assert np.array_equal(prior.complete(poses, hidden, hypotheses=2, steps=2), expected)
    with pytest.raises(ValueError, match="hides nothing"):
        prior.complete(poses, [], hypotheses=2)
    assert np.array_equal(
        prior.complete(torch.tensor(poses).bfloat16(), "legs", hypotheses=2, steps=2).shape, (10, 2, 72)
    )


def test_poses_in_degrees_or_standing_along_the_other_axis_warn_and_the_network_keeps_its_mode():
    prior, poses = tiny_prior()
    with pytest.warns(PoseInputWarning, match="degrees"):
        prior.denoise(np.degrees(poses).clip(-300, 300), noise_std=0.1)
    with pytest.warns(PoseInputWarning, match="pass up_axis='z'"):
        prior.complete(change_up_axis(poses, "y", "z"), "left_arm", hypotheses=1, steps=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PoseInputWarning)
        prior.energy(torch.zeros(3, 72))  # a fit's usual start: a zero root says no orientation
    with pytest.warns(PoseInputWarning, match="pass up_axis='z'"):  # energy too, after its first call
        prior.energy(torch.tensor(change_up_axis(poses, "y", "z")))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PoseInputWarning)
        prior.energy(torch.tensor(change_up_axis(poses, "y", "z")))  # once, not at every step of a fitting loop
    with pytest.warns(PoseInputWarning, match="degrees"):  # the other warning still comes
        prior.energy(torch.tensor(np.degrees(poses).clip(-300, 300)))
    network = UNet1D.from_config(network_config(prior.config)).train()
    quiet = PosePrior(network, prior.config, prior.stats, "cpu", input_warnings=False)  # the evaluation's
    assert network.training
    with warnings.catch_warnings():
        warnings.simplefilter("error", PoseInputWarning)
        quiet.denoise(np.degrees(poses).clip(-300, 300), noise_std=0.1)


def test_load_takes_a_torch_device_and_refuses_bad_arguments_as_value_errors(tmp_path):
    with pytest.raises(ValueError, match="ema='no'"):
        PosePrior.load(tmp_path, ema="no")
    with pytest.raises(ValueError, match=r"does not exist|no checkpoint"):
        PosePrior.load(tmp_path / "nowhere", device=torch.device("cpu"))


def test_poses_whose_root_is_hidden_do_not_decide_which_way_the_bodies_stand():
    """A04: hidden roots are zeroed, and a zero root stands along y: z-up poses with every root hidden, taken as
    z-up, must not warn 'pass up_axis='y''."""
    from tests.prior.test_api import tiny_prior
    from unet1d.body.heading import change_up_axis
    from unet1d.prior.api import PoseInputWarning

    prior, poses = tiny_prior()
    z_up = change_up_axis(poses, "y", "z")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PoseInputWarning)
        prior.complete(z_up, "pelvis,left_leg", hypotheses=1, steps=1, up_axis="z")


def test_load_hands_ema_to_the_checkpoint_numpy_bool_too(tmp_path, monkeypatch):
    """A09, A10: ema=False builds the raw training weights; numpy's bool is a bool."""
    from tests.prior.test_api import tiny_prior
    from unet1d.prior import api

    prior, _ = tiny_prior()
    asked = []

    class Checkpoint:
        config, stats = prior.config, prior.stats

        def build_model(self, ema, device):
            asked.append(ema)
            return prior.network

    monkeypatch.setattr(api, "load_for_eval", lambda path: Checkpoint())
    api.PosePrior.load(tmp_path, ema=False, device="cpu")
    api.PosePrior.load(tmp_path, ema=np.bool_(False), device="cpu")
    api.PosePrior.load(tmp_path, device="cpu")
    assert asked == [False, False, True]


def test_guided_takes_zero_steps_and_an_empty_batch_takes_an_empty_mask():
    """A11: guided's start alone (steps=0) is allowed; A15: (0, J) is the mask of an empty batch."""
    from tests.prior.test_api import tiny_prior

    prior, poses = tiny_prior()
    assert prior.complete(poses, "legs", hypotheses=2, steps=0, method="guided").shape == (len(poses), 2, 72)
    assert prior.complete(poses[:0], np.zeros((0, 24), bool), hypotheses=2).shape == (0, 2, 72)


def test_energy_judges_no_axis_by_roots_near_none_a_fits_start_on_a_z_up_run():
    """Second verification walk: roots of 1e-4 (a step from a fit's zero start) on a z-up prior warned "pass
    up_axis='y'", and used up the one axis warning the prior gives."""
    prior, poses = tiny_prior(up_axis="z")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PoseInputWarning)
        prior.energy(torch.full((3, 72), 1e-4))
    with pytest.warns(PoseInputWarning, match="pass up_axis='y'"):  # y-up bodies given to it still warn
        prior.energy(torch.tensor(poses))
