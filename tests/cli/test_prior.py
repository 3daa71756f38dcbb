"""`unet1d complete` and `unet1d denoise` through main(), as users call them, on a real tiny run."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from unet1d.atomic_files import write_bytes_atomically
from unet1d.body.skeleton import JOINT_NAMES
from unet1d.cli import main
from unet1d.data.builtin import generate_builtin_poses
from unet1d.prior import DEFAULT_DENOISE_METHOD, DEFAULT_METHOD, DEFAULT_SHRINK

pytestmark = pytest.mark.slow  # a 50-step run, then a dozen commands that each load it


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 50-step run at 8 base channels on the built-in poses, trained in this process (W&B off)."""
    import torch

    from tests.conftest import isolate_wandb, tiny_run_config
    from unet1d.training import train

    root = tmp_path_factory.mktemp("prior")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        isolate_wandb(patch, root / "home")
        flags = ("--max_steps", "50", "--checkpoint_every", "50", "--eval_every", "50")
        output = Path(train(tiny_run_config(root / "run", *flags)).output_dir)
    torch.set_num_threads(threads)
    return output


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve built-in poses the run never saw (another generator seed), as a .npy array."""
    path = tmp_path_factory.mktemp("poses") / "held_out.npy"
    np.save(path, generate_builtin_poses(240, seed=987).poses[::20].astype(np.float32))
    return path


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def test_complete_returns_the_observed_numbers_bit_for_bit_and_draws_the_hidden_ones(
    tiny_run: Path, held_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "deep" / "folder" / "completed.npz"  # folders are made, as `sample` makes them
    args = ["complete", str(tiny_run), "--poses", str(held_out), "--mask", "legs,left_wrist", "--hypotheses", "4"]
    code, printed, err = run_main(capsys, *args, "--device", "cpu", "-o", str(out))
    assert code == 0, err
    assert "wrote 12 poses x 4 completions" in printed and str(out) in printed
    written, given = np.load(out), np.load(held_out)
    poses = written["poses"]
    assert poses.shape == (12, 4, 72) and poses.dtype == np.float32
    hidden_joints = {"left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot",
                     "right_foot", "left_wrist"}  # fmt: skip
    assert list(written["joint_names"]) == JOINT_NAMES
    assert {name for name, gone in zip(JOINT_NAMES, written["hidden"], strict=True) if gone} == hidden_joints
    hidden = np.repeat(written["hidden"], 3)
    assert np.array_equal(poses[:, :, ~hidden], np.broadcast_to(given[:, None, ~hidden], (12, 4, int((~hidden).sum()))))
    assert (poses[:, :, hidden] != given[:, None, hidden]).all()  # every hidden number drawn anew ...
    assert (poses[:, 0, hidden] != poses[:, 1, hidden]).all()  # ... and each hypothesis its own
    assert str(written["method"]) == DEFAULT_METHOD and str(written["up_axis"]) == "y"
    assert float(written["shrink"]) == DEFAULT_SHRINK  # the option's default is the library's
    assert list(written["sequence_names"]) == ["held_out.npy"] and np.array_equal(written["sequence_index"], [0] * 12)
    # walk E: with one hypothesis (its own mean) --shrink changed nothing while the output recorded it
    single = [*args[:-2], "--hypotheses", "1", "--device", "cpu", "-o"]
    code, _, err = run_main(capsys, *single, str(tmp_path / "half.npz"), "--shrink", "0.5")
    assert code == 0 and "warning: --shrink 0.5 changes nothing with one hypothesis" in err, err
    code, _, err = run_main(capsys, *single, str(tmp_path / "plain.npz"))
    assert code == 0 and "--shrink" not in err, err  # the default says nothing
    half, plain = np.load(tmp_path / "half.npz"), np.load(tmp_path / "plain.npz")
    assert float(half["shrink"]) == float(plain["shrink"]) == 1.0 and np.array_equal(half["poses"], plain["poses"])


def test_complete_reads_an_amass_folder_at_the_runs_frame_rate(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An AMASS take (SMPL-H: 156 numbers, 60 fps) in a folder: read as the run's data was (30 fps, SMPL's 72
    numbers with the hands at rest), so every other frame, and its observed numbers come back as read."""
    take = generate_builtin_poses(20, seed=5).poses.astype(np.float64)
    smplh = np.concatenate([take[:, :66], np.full((20, 90), 0.05)], axis=1)
    folder = tmp_path / "amass" / "subject1"
    folder.mkdir(parents=True)
    np.savez(folder / "walk_poses.npz", poses=smplh, mocap_framerate=np.array(60.0), betas=np.zeros(16))
    out = tmp_path / "completed.npz"
    args = ["--poses", str(tmp_path / "amass"), "--mask", "right_arm", "--hypotheses", "2", "--device", "cpu"]
    code, _, err = run_main(capsys, "complete", str(tiny_run), *args, "-o", str(out))
    assert code == 0, err
    written = np.load(out)
    expected = np.concatenate([take[::2, :66], np.zeros((10, 6))], axis=1).astype(np.float32)
    hidden = np.repeat(written["hidden"], 3)
    assert written["poses"].shape == (10, 2, 72)
    assert np.array_equal(written["poses"][:, :, ~hidden], np.repeat(expected[:, None, ~hidden], 2, axis=1))
    assert list(written["sequence_names"]) == ["subject1/walk_poses.npz"]
    assert list(written["frame_index"]) == list(range(0, 20, 2))  # which frame of the take each answer is

    code, _, err = run_main(capsys, "complete", str(tiny_run), *args, "--all-frames", "-o", str(out))
    assert code == 0, err
    every = np.load(out)  # the take's every frame, as it was given
    assert every["poses"].shape == (20, 2, 72) and list(every["frame_index"]) == list(range(20))
    expected = np.concatenate([take[:, :66], np.zeros((20, 6))], axis=1).astype(np.float32)
    assert np.array_equal(every["poses"][:, :, ~hidden], np.repeat(expected[:, None, ~hidden], 2, axis=1))


def test_denoise_writes_one_clean_pose_per_noisy_pose(
    tiny_run: Path, held_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    noisy = tmp_path / "noisy.npy"
    clean = np.load(held_out)
    np.save(noisy, clean + np.random.default_rng(0).normal(0, 0.2, clean.shape).astype(np.float32))
    out = tmp_path / "denoised.npz"
    code, printed, err = run_main(capsys, "denoise", str(tiny_run), "--poses", str(noisy), "--noise-std", "0.2",
                                  "--device", "cpu", "-o", str(out))  # fmt: skip
    assert code == 0, err
    assert "wrote 12 poses x 1 denoised" in printed
    written = np.load(out)
    assert written["poses"].shape == (12, 1, 72) and float(written["noise_std"]) == 0.2
    assert str(written["method"]) == DEFAULT_DENOISE_METHOD
    assert np.isfinite(written["poses"]).all() and not np.array_equal(written["poses"][:, 0], np.load(noisy))


def bad_inputs(root: Path) -> dict[str, tuple[list[str], str]]:
    """Case -> (arguments after RUN, a fragment the one error line must hold)."""
    poses = generate_builtin_poses(40, seed=3).poses[:4].astype(np.float32)
    np.save(root / "body.npy", poses[:, 3:66])
    np.save(root / "ok.npy", poses)
    np.save(root / "empty.npy", np.zeros((0, 72), np.float32))
    (root / "corrupt.npy").write_bytes(b"not numpy at all")
    (root / "empty_folder").mkdir()
    ok = ["--poses", str(root / "ok.npy")]
    return {
        "body-only poses for a 72-number run": (["--poses", str(root / "body.npy"), "--mask", "legs"], "63 numbers"),
        "missing file": (["--poses", str(root / "nowhere.npy"), "--mask", "legs"], "no such file or folder"),
        "empty array": (["--poses", str(root / "empty.npy"), "--mask", "legs"], "0 frames"),
        "corrupt file": (["--poses", str(root / "corrupt.npy"), "--mask", "legs"], "corrupt.npy"),
        "empty folder": (["--poses", str(root / "empty_folder"), "--mask", "legs"], "empty"),
        "unknown part": ([*ok, "--mask", "legs,tail"], "'tail' is no part or joint"),
        "nothing hidden": ([*ok, "--mask", " , "], "hides nothing"),
        "everything hidden": ([*ok, "--mask", ",".join(JOINT_NAMES)], "hides every joint"),
        "unknown method": ([*ok, "--mask", "legs", "--method", "magic"], "--method 'magic'"),
        "shrink outside [0, 1]": ([*ok, "--mask", "legs", "--shrink", "1.5"], "--shrink 1.5: must be between 0"),
    }


def test_bad_masks_widths_and_files_exit_2_with_one_line(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for case, (args, fragment) in bad_inputs(tmp_path).items():
        code, out, err = run_main(
            capsys, "complete", str(tiny_run), *args, "--device", "cpu", "-o", str(tmp_path / "x.npz")
        )
        assert code == 2, (case, out, err)
        assert err.startswith("error: ") and err.count("\n") == 1 and fragment in err, (case, err)
        assert "Traceback" not in out + err and not (tmp_path / "x.npz").exists(), case
    ok = str(tmp_path / "ok.npy")
    for args, fragment in (
        (["--noise-std", "0"], "--noise-std 0.0: must be a finite number > 0"),
        (["--noise-std", "inf"], "--noise-std inf: must be a finite number > 0"),
        (["--poses", str(tmp_path / "body.npy")], "63 numbers"),
    ):
        code, _, err = run_main(capsys, "denoise", str(tiny_run), "--poses", ok, *args, "--device", "cpu")
        assert code == 2 and err.startswith("error: ") and fragment in err, err
    code, _, err = run_main(capsys, "complete", str(tmp_path / "no_run"), "--poses", ok, "--mask", "legs")
    assert code == 2 and "no_run" in err, err
    for command, more in (
        ("sample", []),
        ("denoise", ["--poses", ok]),
        ("complete", ["--poses", ok, "--mask", "legs"]),
    ):
        # an archive under a .npy name: numpy would read it back as one array
        code, _, err = run_main(capsys, command, str(tiny_run), *more, "-o", str(tmp_path / "out.npy"))
        assert code == 2 and "out.npy: the output is an .npz archive" in err and not (tmp_path / "out.npy").exists()


def test_an_output_that_cannot_be_written_exits_2_before_the_work_and_outputs_keep_their_names(
    tiny_run: Path, held_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-o` under a file, or naming a folder: one line before any pose is drawn; a name without .npz is kept."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    poses = ["--poses", str(held_out)]
    commands = {
        "sample": ["sample", str(tiny_run), "--num-samples", "16"],
        "complete": ["complete", str(tiny_run), *poses, "--mask", "legs"],
        "denoise": ["denoise", str(tiny_run), *poses],
        "eval": ["eval", str(tiny_run), "--num_samples", "32", "--task_poses", "0"],
    }
    pipe = tmp_path / "pipe.npz"
    os.mkfifo(pipe)  # walk E: `-o /dev/null` run as root replaced the device with a file (a pipe here, as safe)
    refused = [(blocker / "out.npz", f"{blocker} is a file, not a folder"), (tmp_path, "is a folder"),
               (pipe, "not a regular file (a device, pipe or socket)")]  # fmt: skip
    for name, command in commands.items():
        for out, fragment in refused:
            code, printed, err = run_main(capsys, *command, "--device", "cpu", "-o", str(out))
            assert code == 2 and err.startswith(f"error: --out {out}: {fragment}"), (name, err)
            assert err.count("\n") == 1 and printed == "", (name, printed)  # nothing ran before the refusal
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    code, printed, err = run_main(capsys, *commands["eval"], "--device", "cpu", "-o", str(tmp_path / "e.png"))
    assert code == 2 and "the report is JSON and its figure goes beside it as e.png; name it .json" in err, err
    figure = tmp_path / "report.png"
    os.mkfifo(figure)  # verification walk: the whole evaluation ran, then the figure went into the pipe
    code, printed, err = run_main(capsys, *commands["eval"], "--device", "cpu", "-o", str(tmp_path / "report.json"))
    assert code == 2 and f"its figure's place, {figure}, is no regular file" in err and printed == "", err
    with pytest.raises(OSError, match="not a regular file"):  # whatever writes through the atomic writer
        write_bytes_atomically(pipe, b"poses")

    for name in ("sample", "complete", "denoise"):
        out = tmp_path / f"{name}_poses"  # no suffix: numpy's savez would have written <name>_poses.npz
        code, printed, err = run_main(capsys, *commands[name], "--device", "cpu", "-o", str(out))
        assert code == 0 and str(out) in printed, err
        assert np.load(out)["poses"].shape[-1] == 72 and not out.with_suffix(".npz").exists()
    code, printed, _ = run_main(capsys, "sample", str(tiny_run), "--num-samples", "1", "-o", str(tmp_path / "one.npz"))
    assert code == 0 and printed.startswith("wrote 1 pose (72 numbers each)")  # walk E: "wrote 1 poses"


def test_an_output_onto_the_poses_read_or_into_their_folder_is_refused_before_the_work(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """walk K: `denoise RUN --poses take.npz -o take.npz` replaced an AMASS take (trans, frame rate) by its answers."""
    from tests.data.amass_files import write_amass

    take = tmp_path / "takes" / "walk_poses.npz"
    write_amass(take, frames=120)
    before = take.read_bytes()
    for name, extra in (("complete", ["--mask", "legs"]), ("denoise", [])):
        for poses, out, says in (
            (take, take, "is the --poses file; it would be replaced"),
            (take.parent, take.parent / "answers.npz", f"is inside the --poses folder {take.parent}, where a later"),
        ):
            argv = [name, str(tiny_run), "--poses", str(poses), *extra, "--device", "cpu", "-o", str(out)]
            code, printed, err = run_main(capsys, *argv)
            assert code == 2 and err == f"error: --out {out}: {says}" + err.split(says, 1)[1] and printed == "", err
    assert take.read_bytes() == before and not (take.parent / "answers.npz").exists()

    # links: a link inside the folder is replaced there; a linked subfolder is walked by the reader (walk V)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (take.parent / "to_elsewhere.npz").symlink_to(elsewhere / "x.npz")
    (take.parent / "more").symlink_to(elsewhere, target_is_directory=True)
    for out in (
        take.parent / "to_elsewhere.npz",
        take.parent / "more" / "x.npz",
        take.parent / "new" / "deep" / "x.npz",
        elsewhere / "x.npz",  # where the linked subfolder really is: the reader walks it as part of the folder
    ):
        argv = ["denoise", str(tiny_run), "--poses", str(take.parent), "--device", "cpu", "-o", str(out)]
        code, _, err = run_main(capsys, *argv)
        assert code == 2 and "is inside the --poses folder" in err, err
    assert not (take.parent / "new").exists()  # refused before any folder was made
    (tmp_path / "take_link.npz").symlink_to(take)  # -o a link to the take replaces the link, not the take
    argv = ["denoise", str(tiny_run), "--poses", str(take), "--device", "cpu", "-o", str(tmp_path / "take_link.npz")]
    code, _, err = run_main(capsys, *argv)
    assert code == 0 and take.read_bytes() == before and not (tmp_path / "take_link.npz").is_symlink(), err


def test_an_output_onto_the_poses_file_by_another_name_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """mutation walk: -o through a linked folder, or --poses through a link, named the take by another path and
    replaced it (the check runs before the run is read, so none is needed here)."""
    from tests.data.amass_files import write_amass

    take = tmp_path / "takes" / "walk_poses.npz"
    write_amass(take, frames=120)
    before = take.read_bytes()
    (tmp_path / "alias").symlink_to(take.parent, target_is_directory=True)
    (tmp_path / "link.npz").symlink_to(take)
    for poses, out in ((take, tmp_path / "alias" / take.name), (tmp_path / "link.npz", take)):
        argv = ["denoise", str(tmp_path / "run"), "--poses", str(poses), "--device", "cpu", "-o", str(out)]
        code, printed, err = run_main(capsys, *argv)
        assert code == 2 and "is the --poses file; it would be replaced" in err and printed == "", err
    assert take.read_bytes() == before


def test_eval_says_where_to_write_when_the_runs_own_eval_folder_cannot_be_written(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("eval", "wandb", "tensorboard"))
    (run / "eval").write_text("a file where the reports' folder goes\n")
    from unet1d.evaluation import c2st

    code, _, err = run_main(capsys, "eval", str(run), "--num_samples", "32", "--task_poses", "0", "--device", "cpu")
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: cannot write the report to {run / 'eval' / 'step-50.json'} (") and "-o FILE" in err
    assert c2st.fold_processes() is None


def test_compare_eval_evaluates_a_run_without_one_as_eval_does_and_says_so(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("eval", "wandb"))
    code, printed, err = run_main(capsys, "compare", str(run), "--eval", "--num_samples", "32")
    assert code == 0, err
    assert printed.startswith(f"evaluating {run} (32 poses)")
    assert (run / "eval" / "step-50.json").is_file() and (run / "eval" / "step-50.png").is_file()
    assert json.loads((run / "eval" / "step-50.json").read_text())["num_samples"] == 32


def test_z_up_amass_takes_given_to_a_y_up_run_are_turned_for_it_and_answered_in_their_own_world(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same bodies as a y-up array and as a z-up AMASS take: the take's answers are the array's, turned to
    z-up, and say so (up_axis z); its observed numbers are its own, bit for bit."""
    from unet1d.body.heading import change_up_axis
    from unet1d.data.synthetic_amass import amass_arrays

    y_up = generate_builtin_poses(240, seed=987).poses[::20].astype(np.float32)  # 12 poses, 30 fps
    y_up[:, 66:] = 0.0  # SMPL's hands at rest, as an AMASS take (SMPL-H) is read
    np.save(tmp_path / "y_up.npy", y_up)
    take = tmp_path / "amass" / "subject1"
    take.mkdir(parents=True)
    np.savez(take / "walk_poses.npz", **amass_arrays(y_up, np.random.default_rng(0), fps=30.0))
    common = ["--mask", "left_leg", "--hypotheses", "2", "--device", "cpu", "--seed", "3"]
    answers = {}
    for name, poses in (("y", tmp_path / "y_up.npy"), ("z", tmp_path / "amass")):
        code, printed, err = run_main(capsys, "complete", str(tiny_run), "--poses", str(poses), *common,
                                      "-o", str(tmp_path / f"{name}.npz"))  # fmt: skip
        assert code == 0, err
        answers[name] = np.load(tmp_path / f"{name}.npz")
        assert str(answers[name]["up_axis"]) == name
        assert ("AMASS files are z-up and this run's poses y-up" in printed) == (name == "z")
    given = np.load(take / "walk_poses.npz")["poses"][:, :72].astype(np.float32)
    given[:, 66:] = 0.0  # SMPL's hands at rest, as the take is read
    hidden = np.repeat(answers["z"]["hidden"], 3)
    assert np.array_equal(answers["z"]["poses"][:, :, ~hidden], np.repeat(given[:, None, ~hidden], 2, axis=1))
    turned = change_up_axis(answers["y"]["poses"].reshape(-1, 72), "y", "z").reshape(12, 2, 72)
    assert np.abs(answers["z"]["poses"] - turned).max() < 1e-2  # (bf16 sampling carries the 1e-7 turn error)

    np.save(tmp_path / "z_up.npy", given)  # the take's numbers as a plain array: taken as the run's y-up world
    plain = ["complete", str(tiny_run), "--poses", str(tmp_path / "z_up.npy"), *common, "-o", str(tmp_path / "p.npz")]
    code, _, err = run_main(capsys, *plain)
    assert (
        code == 0
        and "the bodies stand along z, taken as y-up (plain arrays: the run's own world): pass --up-axis z" in err
    ), err
    code, _, err = run_main(capsys, *plain, "--up-axis", "y")  # said, not guessed (mutation walk)
    assert code == 0 and "the bodies stand along z, taken as y-up" in err and "plain arrays" not in err, err
    code, _, err = run_main(capsys, *plain, "--up-axis", "z")
    assert code == 0 and "warning" not in err, err
    assert np.array_equal(np.load(tmp_path / "p.npz")["poses"], answers["z"]["poses"])  # as the AMASS take's
    code, _, err = run_main(capsys, *plain, "--up-axis", "x")
    assert code == 2 and err == "error: --up-axis 'x': allowed: auto, y, z\n", err

    # the output says its world (up_axis z) and is read back in it, each hypothesis a pose: denoise after complete
    chained = ["denoise", str(tiny_run), "--poses", str(tmp_path / "z.npz"), "--noise-std", "0.05", "--device", "cpu"]
    code, printed, err = run_main(capsys, *chained, "-o", str(tmp_path / "d.npz"))
    assert code == 0 and "warning" not in err and "the file says it is z-up" in printed, err
    denoised = np.load(tmp_path / "d.npz")
    assert str(denoised["up_axis"]) == "z" and denoised["poses"].shape == (24, 1, 72)
    np.savez(tmp_path / "bytes.npz", poses=given, up_axis=np.array(b"z"))  # bytes, as AMASS keeps `gender`
    said_z = [
        "denoise",
        str(tiny_run),
        "--poses",
        str(tmp_path / "bytes.npz"),
        "--noise-std",
        "0.05",
        "--device",
        "cpu",
    ]
    code, printed, err = run_main(capsys, *said_z, "-o", str(tmp_path / "b1.npz"))
    assert code == 0 and "warning" not in err and "the file says it is z-up" in printed, err
    code, _, err = run_main(capsys, *said_z, "--up-axis", "y", "-o", str(tmp_path / "b2.npz"))  # said, not silent
    assert code == 0 and "1 file says its poses stand along the other axis" in err, err
    assert "--up-axis y takes it as y-up" in err


def test_poses_in_degrees_are_flagged_as_data_check_flags_them() -> None:
    from unet1d.prior.api import input_concerns

    poses = generate_builtin_poses(40, seed=3).poses[:8]
    assert input_concerns(poses, "y", guessed=True) == []
    (degrees,) = input_concerns(np.degrees(poses), "y", guessed=True)
    assert "is this data in degrees?" in degrees


def test_eval_at_other_settings_keeps_the_earlier_report_of_the_step_and_not_at_the_same(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("eval", "wandb"))
    base = ["eval", str(run), "--task_poses", "0", "--device", "cpu"]
    for samples, seed, kept in (("32", "0", False), ("32", "0", False), ("40", "0", True), ("40", "1", True)):
        code, printed, err = run_main(capsys, *base, "--num_samples", samples, "--seed", seed)
        assert code == 0, err
        assert ("kept the earlier evaluation of step 50, made with other settings, as" in printed) == kept, printed
    reports = sorted(path.name for path in (run / "eval").iterdir())
    assert reports == [f"step-50{k}.{suffix}" for k in (".1", ".2", "") for suffix in ("json", "png")]
    assert json.loads((run / "eval" / "step-50.1.json").read_text())["num_samples"] == 32  # the end of training's, say
    # another seed is another evaluation (walk D: it replaced the report, which did not say its seed)
    assert json.loads((run / "eval" / "step-50.2.json").read_text())["seed"] == 0
    assert json.loads((run / "eval" / "step-50.json").read_text())["seed"] == 1  # what compare reads


def test_loading_a_run_leaves_the_global_generator_alone_and_names_a_bad_device(tiny_run):
    import torch

    from unet1d.prior import PosePrior

    torch.manual_seed(3)
    state = torch.get_rng_state()
    prior = PosePrior.load(tiny_run)
    assert torch.equal(state, torch.get_rng_state())
    assert prior.sample(2).shape == (2, prior.pose_dim)
    with pytest.raises(ValueError, match="device='CPU': not a device; use auto, cpu, cuda or cuda:N"):
        PosePrior.load(tiny_run, device="CPU")


def test_complete_help_names_the_default_method(capsys):
    from unet1d.prior import DEFAULT_METHOD

    code, out, _ = run_main(capsys, "complete", "--help")
    assert code == 0 and f"default: {DEFAULT_METHOD}, the measured pick" in " ".join(out.split())


def test_sample_warns_when_the_sampler_diverged(tiny_run, tmp_path, capsys, monkeypatch):
    import numpy as np

    from unet1d.evaluation import evaluate

    def diverged(checkpoint, num_samples, **_):  # eps prediction without clip_x0 drew such poses, silently
        poses = np.zeros((num_samples, 72), np.float32)
        poses[0, 5], poses[1, 7] = 3.16e4, np.inf
        return poses

    monkeypatch.setattr(evaluate, "draw_samples", diverged)
    code, _, err = run_main(capsys, "sample", str(tiny_run), "--num-samples", "4", "-o", str(tmp_path / "p.npz"))
    assert code == 0 and "warning: 2 of 4 poses hold values beyond +-10000 rad or not finite (largest 3.16e+04)" in err


def test_a_folder_mixing_amass_takes_and_arrays_needs_up_axis_said_and_takes_it(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--up-axis z` on such a folder was refused as "taken in the run's y-up world" (verification walk)."""
    take = generate_builtin_poses(10, seed=5).poses.astype(np.float64)
    (tmp_path / "mixed").mkdir()
    np.savez(tmp_path / "mixed" / "walk_poses.npz", poses=take, mocap_framerate=np.array(30.0), betas=np.zeros(16))
    np.save(tmp_path / "mixed" / "mine.npy", take.astype(np.float32))
    args = ["complete", str(tiny_run), "--poses", str(tmp_path / "mixed"), "--mask", "legs", "--hypotheses", "1"]
    code, _, err = run_main(capsys, *args, "-o", str(tmp_path / "a.npz"))
    assert code == 2 and "mixes z-up files (AMASS takes, or arrays whose up_axis says z) with y-up" in err
    assert "or --up-axis" in err
    code, _, err = run_main(capsys, *args, "--up-axis", "z", "-o", str(tmp_path / "b.npz"))
    assert code == 0, err
    assert str(np.load(tmp_path / "b.npz")["up_axis"]) == "z"


def test_a_take_without_a_frame_rate_is_said_to_keep_every_frame(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """walk K: such a take kept all its frames without a word (`data check` notes it)."""
    from tests.data.amass_files import write_amass

    write_amass(tmp_path / "take_poses.npz", frames=8, fps=None)
    argv = ["denoise", str(tiny_run), "--poses", str(tmp_path / "take_poses.npz"), "--device", "cpu"]
    code, printed, err = run_main(capsys, *argv, "-o", str(tmp_path / "out.npz"))
    assert code == 0, err
    assert (
        "1 AMASS take without a frame rate (e.g. take_poses.npz): every frame kept, not subsampled to 30 fps" in printed
    )
    assert np.load(tmp_path / "out.npz")["poses"].shape[0] == 8
    code, printed, err = run_main(capsys, *argv, "--all-frames", "-o", str(tmp_path / "all.npz"))
    assert code == 0 and "every frame kept" not in printed, printed  # asked for: no note (mutation walk)


def test_eval_takes_the_environments_evaluation_fields_and_every_run_command_refuses_a_name_of_no_field(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Walk E: `UNET1D_SAMPLER=ddim unet1d eval RUN` evaluated with the run's own sampler, and UNET1D_BOGUS=1 was
    no error for eval, sample, complete or denoise (the docs: env < flags, and a misspelt variable is an error)."""
    monkeypatch.setenv("UNET1D_SAMPLER", "ddim")
    monkeypatch.setenv("UNET1D_SAMPLE_STEPS", "7")
    monkeypatch.setenv("UNET1D_OUTPUT_DIR", str(tmp_path / "elsewhere"))  # a training's (a Docker image sets it)
    monkeypatch.setenv("UNET1D_CACHE_DIR", str(tmp_path / "cache"))  # applied, but no setting of the scores
    out = tmp_path / "e.json"
    base = ["eval", str(tiny_run), "--num_samples", "32", "--task_poses", "0", "--device", "cpu", "-o", str(out)]
    code, _, err = run_main(capsys, *base, "--sample_steps", "9")  # the flag wins over the environment
    report = json.loads(out.read_text())
    assert code == 0 and (report["sampler"], report["sample_steps"]) == ("ddim", 9), err
    assert report["overrides"] == ["--sample_steps", "9", "--sampler", "ddim", "--task_poses", "0"]  # by field
    assert report["notes"] == ["UNET1D_SAMPLER=ddim: from the environment"]  # said, as printed
    code, printed, err = run_main(capsys, *base[:-2], "--sample_steps", "9")  # the same settings given otherwise
    monkeypatch.delenv("UNET1D_SAMPLER")
    code, printed, err = run_main(capsys, *base[:-2], "--sampler", "ddim", "--sample_steps", "9", "--task_poses", "0")
    assert code == 0 and "kept the earlier evaluation" not in printed, printed  # verification walk: it was kept
    monkeypatch.setenv("UNET1D_SAMPLER", "ddim")
    monkeypatch.setenv("UNET1D_SAMPLER", "bogus")
    code, _, err = run_main(capsys, *base)
    assert code == 2 and "diffusion.sampler='bogus' (from environment variable UNET1D_SAMPLER)" in err, err
    monkeypatch.delenv("UNET1D_SAMPLER")
    monkeypatch.setenv("UNET1D_BOGUS", "1")
    held = tmp_path / "held.npy"
    np.save(held, generate_builtin_poses(8, seed=1).poses)
    poses = ["--poses", str(held), "-o", str(tmp_path / "p.npz")]
    for command in (base, ["sample", str(tiny_run), "-o", str(tmp_path / "s.npz")], ["denoise", str(tiny_run), *poses],
                    ["complete", str(tiny_run), *poses, "--mask", "legs"]):  # fmt: skip
        code, _, err = run_main(capsys, *command)
        assert code == 2 and "environment variable UNET1D_BOGUS" in err and err.count("\n") == 1, (command, err)
