"""data.up_axis: heading, sampling, figures and the report turn about the data's own up (AMASS is z-up)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from unet1d.body.heading import (
    canonical_heading,
    heading_of,
    random_heading,
    tilt_degrees,
    upright_share,
)
from unet1d.body.kinematics import upright_positions
from unet1d.body.skeleton import joint_index
from unet1d.data.builtin import generate_builtin_poses
from unet1d.data.synthetic_amass import to_z_up, write_amass_tree
from unet1d.data.up_axis import resolve_up_axis, run_up_axis


@pytest.fixture(scope="module")
def builtin() -> np.ndarray:
    return generate_builtin_poses(3000, seed=3).poses


def _wrap(angle: np.ndarray) -> np.ndarray:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def test_a_standing_amass_root_is_a_quarter_turn_about_x_and_faces_heading_zero() -> None:
    standing = np.zeros((1, 72))
    amass = to_z_up(standing)
    assert np.allclose(amass[0, :3], [np.pi / 2, 0, 0])
    assert heading_of(amass, "z")[0] == pytest.approx(0.0, abs=1e-9)
    assert tilt_degrees(amass, "z")[0] == pytest.approx(0.0, abs=1e-6)
    assert tilt_degrees(amass, "y")[0] == pytest.approx(90.0, abs=1e-6)  # read as y-up, a person lying down


def test_heading_about_z_of_amass_poses_is_the_heading_about_y_of_the_same_bodies(builtin) -> None:
    """R_x(90) R_y(h) R_x(-90) = R_z(h): turning the world keeps each body's heading."""
    amass = to_z_up(builtin)
    assert np.allclose(_wrap(heading_of(amass, "z") - heading_of(builtin, "y")), 0, atol=1e-6)
    assert np.allclose(tilt_degrees(amass, "z"), tilt_degrees(builtin, "y"), atol=1e-4)


def test_canonical_heading_about_the_wrong_axis_lays_amass_people_down(builtin) -> None:
    """The bug of issue 22: y-up heading code on z-up data tips bodies over; about z they stay standing."""
    amass = to_z_up(builtin).astype(np.float32)
    assert upright_share(amass, "z") == 1.0
    right = canonical_heading(amass, "z")
    assert upright_share(right, "z") == 1.0
    assert np.allclose(heading_of(right, "z"), 0, atol=1e-4)
    assert np.allclose(right[:, 3:], amass[:, 3:])  # only the root turns
    turned = random_heading(canonical_heading(amass, "y"), np.random.default_rng(0), "y")
    assert upright_share(turned, "z") < 0.5


def test_random_heading_about_z_is_uniform_and_keeps_people_upright(builtin) -> None:
    canonical = canonical_heading(to_z_up(builtin).astype(np.float32), "z")
    turned = random_heading(canonical, np.random.default_rng(7), "z")
    assert upright_share(turned, "z") == 1.0
    assert np.allclose(tilt_degrees(turned, "z"), tilt_degrees(canonical, "z"), atol=1e-3)
    p = stats.kstest(heading_of(turned, "z"), stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue
    assert p > 0.01
    # and the test has teeth: headings squeezed into half the circle are caught
    squeezed = random_heading(canonical, np.random.default_rng(7), "z")
    squeezed = canonical_heading(squeezed, "z")
    from unet1d.body.heading import apply_heading

    half = apply_heading(squeezed, np.random.default_rng(8).uniform(0, np.pi, len(squeezed)), "z")
    assert stats.kstest(heading_of(half, "z"), stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue < 1e-6


def test_figures_draw_amass_people_standing(builtin) -> None:
    amass = canonical_heading(to_z_up(builtin[:50]).astype(np.float32), "z")
    positions = upright_positions(amass, "z")
    head, foot = joint_index("head"), joint_index("left_foot")
    assert (positions[:, head, 1] > 0.3).all() and (positions[:, head, 1] - positions[:, foot, 1] > 0.8).all()
    same = upright_positions(canonical_heading(builtin[:50], "y"), "y")
    assert np.allclose(positions, same, atol=1e-4)  # the same bodies, drawn the same way


def test_auto_resolves_z_for_amass_files_and_y_otherwise() -> None:
    assert resolve_up_axis("auto", builtin=True, z_up_files=0) == "y"
    assert resolve_up_axis("auto", builtin=False, z_up_files=3) == "z"
    assert resolve_up_axis("auto", builtin=False, z_up_files=0) == "y"
    assert resolve_up_axis("y", builtin=False, z_up_files=3) == "y"


def test_configs_stored_before_up_axis_keep_y_and_new_ones_default_to_auto() -> None:
    from unet1d.config import Config
    from unet1d.config_sources import config_from_dict

    old = Config().model_dump(mode="json")
    del old["data"]["up_axis"]
    restored = config_from_dict(old)
    assert restored.data.up_axis == "y" and Config().data.up_axis == "auto"
    assert run_up_axis(restored.data) == "y"


def test_the_fixture_loads_as_amass_and_the_up_axis_travels_with_the_statistics(tmp_path) -> None:
    from unet1d.config import DataConfig
    from unet1d.data import NormStats, load_pose_data

    write_amass_tree(tmp_path, 8, clips_per_file=1, seed=5)
    raw = np.load(next(tmp_path.rglob("take*_poses.npz")), allow_pickle=False)
    assert raw["poses"].shape == (120, 156) and raw["poses"].dtype == np.float64
    assert raw["gender"].dtype.kind == "S" and float(raw["mocap_framerate"]) == 120.0
    assert raw["dmpls"].shape == (120, 8) and raw["betas"].shape == (16,) and raw["trans"].shape == (120, 3)
    splits = load_pose_data(DataConfig(data=str(tmp_path), heading="keep", cache=False), 72, seed=0)
    assert splits.up_axis == "z" and splits.stats.up_axis == "z"
    expected = to_z_up(generate_builtin_poses(8 * 30, seed=5).poses)
    expected[:, 66:] = 0  # SMPL-H's hands are fingers: SMPL's two hand joints are zero-filled
    both = np.concatenate([splits.train, splits.val])
    assert np.allclose(np.sort(both, axis=0), np.sort(expected, axis=0), atol=1e-5)
    assert NormStats.from_tensors(splits.stats.to_tensors()).up_axis == "z"
    assert all("keys: betas, gender" in s.reason for s in splits.report.skipped)  # each subject's shape.npz
    said = splits.report.concerns()  # mutation walk: under auto every AMASS take counted as standing "contrary"
    assert not any("along the other axis" in line for line in said), said


def test_data_check_prints_the_mean_body_up_and_warns_on_the_wrong_axis(tmp_path) -> None:
    from typer.testing import CliRunner

    from unet1d.cli import app

    write_amass_tree(tmp_path, 6, clips_per_file=1)
    result = CliRunner().invoke(app, ["data", "check", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "up axis: z (auto: AMASS .npz files); mean body up (+0.0" in result.output
    assert "100.0% of frames upright (within 30 deg of +z)" in result.output
    wrong = CliRunner().invoke(app, ["data", "check", str(tmp_path), "--up-axis", "y"])
    assert "the bodies stand along z, not the up axis y" in wrong.output and "--up_axis z" in wrong.output


def test_compare_groups_builtin_runs_from_before_up_axis_with_new_ones() -> None:
    from unet1d.compare.runs import variant_key
    from unet1d.config import Config

    new = Config().model_dump(mode="json")
    old = Config().model_dump(mode="json")
    del old["data"]["up_axis"]
    old["data"]["heading"], new["data"]["heading"] = "keep", "keep"
    old["model"]["norm"] = new["model"]["norm"] = "batch"
    old["model"]["position"] = new["model"]["position"] = "none"
    assert variant_key(old) == variant_key(new)
    amass = {**new, "data": {**new["data"], "data": "/data/amass"}}
    assert variant_key(amass)["data.up_axis"] == "auto"


def test_arrays_that_say_their_up_axis_are_read_in_it_as_unet1ds_own_outputs_say_it(tmp_path) -> None:
    """`sample`, `complete` and `denoise` write `up_axis` beside their poses; it was never read, so z-up outputs
    trained lying down under `--up_axis auto` (5 % upright) and `data check` called them y-up."""
    from typer.testing import CliRunner

    from unet1d.cli import app
    from unet1d.config import DataConfig
    from unet1d.data import load_pose_data
    from unet1d.errors import UserError

    bodies = to_z_up(generate_builtin_poses(600, seed=2).poses).astype(np.float32)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    for i, part in enumerate(np.split(bodies, 3)):  # (N, D) as `sample` writes, (N, H, D) as `complete` does
        poses = part if i else part.reshape(100, 2, 72)
        np.savez(outputs / f"out{i}.npz", poses=poses, up_axis=np.array("z"))
    splits = load_pose_data(DataConfig(data=str(outputs), heading="keep", cache=False), 72, seed=0)
    assert splits.up_axis == "z" and len(splits.train) + len(splits.val) == 600  # hypotheses read as poses
    assert splits.report.upright == pytest.approx(1.0)
    checked = CliRunner().invoke(app, ["data", "check", str(outputs)])
    assert "up axis: z (auto: the files' own up_axis)" in checked.output, checked.output

    np.save(outputs / "plain.npy", bodies[:50])  # says nothing: y-up under auto, so the folder mixes worlds
    with pytest.raises(
        UserError,
        match=r"mixes 3 z-up files \(AMASS takes or arrays saying z\) with 1 plain pose "
        r"array \(y-up unless told\), e\.g\. plain\.npy",
    ):
        load_pose_data(DataConfig(data=str(outputs), cache=False), 72, seed=0)
    np.savez(outputs / "plain.npz", poses=bodies[:50], up_axis=np.array("y"))  # says y: no --up_axis fixes it all
    (outputs / "plain.npy").unlink()
    with pytest.raises(
        UserError,
        match=r"with 1 y-up file \(plain arrays, or arrays saying y\), e\.g\. plain\.npz; "
        r".*: put the files of each world in a folder of their own",
    ):
        load_pose_data(DataConfig(data=str(outputs), cache=False), 72, seed=0)
    said = load_pose_data(DataConfig(data=str(outputs), up_axis="y", cache=False), 72, seed=0).report.concerns()
    assert any(line.startswith("3 of the files say their poses stand along the other axis") and "--up_axis y takes"
               in line for line in said), said  # fmt: skip
    body = load_pose_data(DataConfig(data=str(outputs), pose_format="body63", cache=False), 63, seed=0)
    assert len(body.train) + len(body.val) == 650  # no root, no world to disagree about
    np.savez(tmp_path / "bad.npz", poses=bodies[:50], up_axis=np.array("x"))
    with pytest.raises(UserError, match=r"bad\.npz: `up_axis` is .*'x'.*; allowed: 'y' or 'z'"):
        load_pose_data(DataConfig(data=str(tmp_path / "bad.npz"), cache=False), 72, seed=0)


def test_a_reference_of_amass_takes_is_turned_into_a_y_up_runs_world(tmp_path) -> None:
    """`eval --reference PATH` scored z-up takes against a y-up run's samples as they were: recall 0, C2ST 1."""
    from unet1d.config import Config
    from unet1d.data import load_pose_data
    from unet1d.evaluation.quality import build_reference

    write_amass_tree(tmp_path / "amass", 8, clips_per_file=2, seed=4)
    config = Config.model_validate({"data": {"builtin_samples": 2000}})
    splits = load_pose_data(config.data, 72, seed=0)
    reference = build_reference(config, splits, str(tmp_path / "amass"))
    expected = generate_builtin_poses(8 * 2 * 30, seed=4).poses
    expected[:, 66:] = 0  # SMPL-H's fingers are not SMPL's hand joints
    assert splits.up_axis == "y" and upright_share(reference.poses, "y") == pytest.approx(1.0)
    assert np.allclose(np.sort(reference.poses, axis=0), np.sort(expected, axis=0), atol=1e-4)
    assert reference.turned_from == "z-up: 8 AMASS takes"  # eval says it turned them
    np.save(tmp_path / "plain.npy", expected)  # a plain array: the run's own world, nothing turned
    assert build_reference(config, splits, str(tmp_path / "plain.npy")).turned_from == ""
    # verification walk: takes beside a plain array were read, the array silently in the run's world (--data
    # refuses that mix), and --data's refusal in an evaluation advised --up_axis, which eval refuses
    from unet1d.config import DataConfig
    from unet1d.errors import UserError

    np.save(tmp_path / "amass" / "plain.npy", expected)
    with pytest.raises(UserError, match=r"^--reference .*amass: mixes 8 z-up files .* 1 plain pose array \(their "
                       r"world unsaid\), .* their worlds cannot both be read: put the files of each world in a folder "
                       r"of their own$"):  # fmt: skip
        build_reference(config, splits, str(tmp_path / "amass"))
    mixed = DataConfig(data=str(tmp_path / "amass"), cache=False)
    with pytest.raises(UserError, match="their worlds cannot both be read: put the files") as refused:
        load_pose_data(mixed, 72, seed=0, world="y")
    assert "--up_axis" not in str(refused.value)
    with pytest.raises(UserError, match="--up_axis auto takes one world for all of them: pass --up_axis z"):
        load_pose_data(mixed, 72, seed=0)  # training and data check may say the world
