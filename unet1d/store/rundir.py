"""The run folder: the names of the files a run leaves for its readers (the one list writers and readers
share; the training lock, ``run.lock``, is :mod:`unet1d.training.lock`'s own), whose run a folder holds,
and whether we may train into it.

Checked read-only on every rank before anything starts, so a refusal reaches all ranks alike
(no rank is left waiting at a barrier for one that raised).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from unet1d.atomic_files import write_text_atomically
from unet1d.config import RESUMABLE_FIELDS, SECTIONS, YAML_END, Config, cut_short
from unet1d.config_sources import build_config, config_from_dict, expand_output_dir, given_values
from unet1d.errors import UserError
from unet1d.store import checkpoint_files
from unet1d.store.summary import TrainResult

RUN_CONFIG_FILE = "config.yaml"  # the resolved config, written when the run starts
SUMMARY_FILE = "summary.json"  # the trainer's result (store.summary.TrainResult), written when it finishes
TENSORBOARD_DIR = "tensorboard"  # TensorBoard event files (every logged scalar)
WANDB_DIR = "wandb"  # W&B's own run files (offline runs sync from here)
RUN_ID_FILE = "wandb_run_id"  # the W&B run id, so a resumed run continues the same W&B run
EVAL_DIR = "eval"  # eval/step-N.json and .png: the final evaluation, or `unet1d eval`
DAMAGED_DIR = "damaged"  # checkpoints/damaged/: checkpoints --resume auto could not use (set_aside)
SUPERSEDED_DIR = "superseded"  # checkpoints/superseded/: newer than the one --resume PATH went back to
# What a run writes into output_dir; --overwrite removes exactly these.
RUN_OUTPUTS = (
    checkpoint_files.CHECKPOINTS_DIR, TENSORBOARD_DIR, WANDB_DIR, EVAL_DIR, RUN_CONFIG_FILE, SUMMARY_FILE, RUN_ID_FILE,
)  # fmt: skip


# The middle block has two spellings: ``mid`` (``attention-8``) and the pair it stands for.
MIDDLE = "model.mid"
MIDDLE_PAIR = ("model.mid_structure", "model.mid_num_heads")


def run_differences(before: Config, after: Config, sources: Mapping[str, str] | None = None) -> list[str]:
    """``["optim.lr: the run has 0.0002, --lr gives 0.001", ...]`` over the fields that define a run.

    A changed middle is named once, as ``model.mid``, not again by the pair it spells.
    """
    old, new = before.flat(), after.flat()
    middle_changed = old.get(MIDDLE) != new.get(MIDDLE)
    return [
        f"{key}: the run has {old[key]!r}, {(sources or {}).get(key, 'this config')} gives {new[key]!r}"
        for key in new
        if old.get(key) != new[key] and key not in RESUMABLE_FIELDS and not (middle_changed and key in MIDDLE_PAIR)
    ]


def _stored_values(stored: Config, given: set[str]) -> dict[str, object]:
    """The stored run's fields, less the middle's other spelling where the given settings name the middle.

    Otherwise a resume with ``--mid_structure conv`` would stop on the stored ``mid: attention-8``
    conflicting with it, instead of naming the change the run cannot take.
    """
    values = stored.flat()
    if MIDDLE in given:
        drop = {MIDDLE, *MIDDLE_PAIR}
    elif given & set(MIDDLE_PAIR):
        drop = {MIDDLE}
    else:
        drop = set()
    return {key: value for key, value in values.items() if key not in drop}


def _listing(differences: list[str]) -> str:
    shown = differences[:6] + ([f"... and {len(differences) - 6} more"] if len(differences) > 6 else [])
    return "\n  " + "\n  ".join(shown)


@dataclass
class RunPlan:
    """What this invocation does with output_dir: resume from a checkpoint, wipe it first, or neither."""

    output_dir: Path
    resume_from: Path | None
    resume_step: int | None
    wipe: bool
    # Kept, out of the new run's way: the damaged checkpoints when --resume auto found no whole one, or the
    # newer ones of this run when --resume PATH went back to an older one (--resume auto would go forward again)
    set_aside: tuple[Path, ...] = ()


def _check_checkpoints_folder(output_dir: Path) -> None:
    """Refuse, before any step, a ``checkpoints`` that cannot take a checkpoint: the first save would otherwise
    fail after the training it should keep."""
    folder = output_dir / checkpoint_files.CHECKPOINTS_DIR
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} is a file, not a folder: the run's checkpoints go there; move it away "
                        "or choose another --output_dir")  # fmt: skip
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{folder}: this user cannot write there, and the run's checkpoints go there; "
                        "fix its permissions or choose another --output_dir")  # fmt: skip


def _refuse_a_folder_of_other_files(output_dir: Path) -> None:
    """A ``config.yaml`` that is no unet1d config at all (no section of one) marks a folder no run wrote: its
    ``config.yaml`` and ``summary.json`` would be replaced, and ``--overwrite`` would delete its ``eval/``."""
    stored = output_dir / RUN_CONFIG_FILE
    if not stored.is_file() or checkpoint_files.list_checkpoints(output_dir):
        return  # unet1d's checkpoints (each marker says so) make it a run's folder whatever its config.yaml holds
    try:
        loaded = yaml.safe_load(stored.read_bytes())
    except (OSError, ValueError, yaml.YAMLError):
        return  # a run's config, damaged: read_run_config names it
    known = {f"{section}.{name}" for section, cls in SECTIONS.items() for name in cls.model_fields}
    fields = {f"{key}.{name}" for key, sub in loaded.items() if isinstance(sub, dict) for name in sub} if isinstance(
        loaded, dict) else set()  # fmt: skip
    # a run's config.yaml holds its sections alone, each of their fields: another tool's has other keys, or
    # sections of the same names (model:, train:) holding none of ours
    if isinstance(loaded, dict) and loaded and (set(map(str, loaded)) - set(SECTIONS) or not fields & known):
        found = ", ".join(sorted(map(str, loaded))[:3])
        raise UserError(
            f"{output_dir} is not a unet1d run's folder: its config.yaml holds {found}, not a run's config; "
            f"choose another --output_dir (a run writes {', '.join(RUN_OUTPUTS)} there)"
        )


def plan_run(config: Config) -> RunPlan:
    """Decide (without writing anything) how this run may use its output directory."""
    train = config.train
    output_dir = Path(train.output_dir)
    _check_checkpoints_folder(output_dir)
    _refuse_a_folder_of_other_files(output_dir)
    if train.overwrite and train.resume:
        raise UserError("--overwrite starts the run again and --resume continues it; give one of them")
    if train.overwrite:
        return RunPlan(output_dir, None, None, wipe=True)
    resume, resume_from = train.resume or "", _resume_source(config)
    if resume_from is not None:
        differences = run_differences(checkpoint_files.read_config(resume_from), config)
        if differences:
            raise UserError(
                f"cannot resume {resume_from}: the run's config differs from this one in"
                f"{_listing(differences)}\n{RESUME_HINT}"
            )
        step = int(checkpoint_files.read_marker(resume_from)["step"])
        if step > train.max_steps:  # it trained no step, printed a schedule "now spanning" fewer, and exit 0
            raise UserError(
                f"cannot resume {resume_from} with max_steps={train.max_steps}: it is at step {step} already; "
                f"give --max_steps {step} or more, or resume an earlier checkpoint"
            )
        newer = () if resume.strip().lower() == "auto" else _newer_checkpoints(output_dir, resume_from, step)
        return RunPlan(output_dir, resume_from, step, wipe=False, set_aside=newer)
    # --resume auto found no whole checkpoint: every one there is damaged, a marker-less one too (the new run's
    # saves of those steps would land on them)
    listed = [*checkpoint_files.list_checkpoints(output_dir), *checkpoint_files.unmarked_checkpoints(output_dir)]
    damaged = tuple(sorted(listed, key=checkpoint_files.step_of)) if train.resume else ()
    stored = output_dir / RUN_CONFIG_FILE
    if stored.is_file():
        previous = _previous_run_config(stored, output_dir)
        differences = [] if previous is None else run_differences(previous, config)
        if differences:
            raise UserError(
                f"{output_dir} holds a different run; its config differs in{_listing(differences)}\n"
                "choose another --output_dir, or pass --overwrite to replace that run"
            )
        latest = checkpoint_files.latest_checkpoint(output_dir)
        if latest is not None:
            raise UserError(
                f"{output_dir} already holds this run's checkpoints (up to {latest.name}); "
                "pass --resume auto to continue it, or --overwrite to start it again"
            )
    return RunPlan(output_dir, None, None, wipe=False, set_aside=damaged)


RESUME_HINT = (
    "only these may change on resume: " + ", ".join(sorted(f.split(".")[1] for f in RESUMABLE_FIELDS)) + "; "
    "to train with other settings start a new run (another --output_dir, or --overwrite)"
)


def resume_config(config_file: Path | None, args: list[str], environ: Mapping[str, str] | None = None) -> Config:
    """The config of this invocation: with ``--resume``, the run's stored config under the given settings.

    Settings given (YAML file, ``UNET1D_*`` variables, flags) must agree with the stored run,
    except :data:`RESUMABLE_FIELDS`; anything else is a :class:`UserError` naming the field, the
    stored value and the given one. Without ``--resume`` (or with nothing stored yet) it is the
    plain resolved config.
    """
    env = os.environ if environ is None else environ
    given = given_values(config_file, args, env)
    config = expand_output_dir(build_config(given), env)
    stored_at = _stored_config_file(config)
    if stored_at is None:
        return config
    if stored_at.name == RUN_CONFIG_FILE and stored_at.parent == Path(config.train.output_dir):
        stored = _previous_run_config(stored_at, stored_at.parent)
        if stored is None:
            return config
    else:
        stored = read_run_config(stored_at)
    kept = _stored_values(stored, {path for path, _, _ in given})
    merged = expand_output_dir(build_config([*((k, v, str(stored_at)) for k, v in kept.items()), *given]), env)
    sources = {path: source for path, _, source in given}
    was, now = stored.flat(), merged.flat()
    for path, _, source in given:  # a middle given as the pair is named by the first flag that changes it
        if path in MIDDLE_PAIR and was.get(path) != now.get(path):
            sources.setdefault(MIDDLE, source)
    conflicts = run_differences(stored, merged, sources)
    if conflicts:
        raise UserError(
            f"cannot resume the run in {config.train.output_dir}: settings given differ from its stored config "
            f"({stored_at}):{_listing(conflicts)}\n{RESUME_HINT}"
        )
    return merged


def _stored_config_file(config: Config) -> Path | None:
    """The config a resume continues: its checkpoint's, else the one output_dir holds (killed before a checkpoint)."""
    if not config.train.resume or config.train.overwrite:
        return None
    source = _resume_source(config)
    if source is not None:
        return source / checkpoint_files.CONFIG_FILE
    stored = Path(config.train.output_dir) / RUN_CONFIG_FILE
    return stored if stored.is_file() else None


def finished_run(config: Config) -> TrainResult | None:
    """The summary of a run that ``--resume`` would not take a step further (it reached max_steps), else None.

    Such a resume (by hand, a second ``sweep local``, a requeued agent run) must change nothing.
    """
    if not config.train.resume or config.train.overwrite:
        return None
    source = _resume_source(config)
    summary_file = Path(config.train.output_dir) / SUMMARY_FILE
    if source is None or not summary_file.is_file():
        return None
    step = int(checkpoint_files.read_marker(source)["step"])
    try:
        summary = TrainResult.read(summary_file)
    except UserError as err:  # resuming at max_steps runs no step and writes the summary again
        checkpoint_files.warn(f"{err}; it is written again from {source}")
        return None
    if step < config.train.max_steps or summary.final_step != step:
        return None
    damage = run_config_damage(Path(config.train.output_dir))
    if damage is not None:  # nothing else will write it: the run trains no step
        checkpoint_files.warn(f"{damage}; it is written again from {source}")
        write_run_config(Path(config.train.output_dir), config)  # what this resume resolved: the checkpoint's,
        # with the resumable settings given (the output_dir a moved run is in now), as a training resume writes it
    return summary


def run_config_damage(output_dir: Path) -> str | None:
    """What is wrong with ``output_dir``'s ``config.yaml`` (missing, unreadable, no config), or None when whole."""
    try:
        read_run_config(output_dir / RUN_CONFIG_FILE)
    except UserError as err:
        return err.args[0].split("; restore")[0]
    return None


def _resume_source(config: Config) -> Path | None:
    """``--resume auto``: the latest checkpoint in output_dir, if any; ``--resume PATH``: that one."""
    resume = config.train.resume
    if not resume:
        return None
    if resume.strip().lower() == "auto":
        return checkpoint_files.latest_checkpoint(Path(config.train.output_dir))
    return checkpoint_files.find_checkpoint(resume)


def _newer_checkpoints(output_dir: Path, resume_from: Path, step: int) -> tuple[Path, ...]:
    """This run's checkpoints after ``step`` when ``resume_from`` is one of its own: a branch going back."""
    if resume_from.resolve().parent != (output_dir / checkpoint_files.CHECKPOINTS_DIR).resolve():
        return ()
    return tuple(c for c in checkpoint_files.list_checkpoints(output_dir) if checkpoint_files.step_of(c) > step)


def set_aside(plan: RunPlan) -> str | None:
    """Move :attr:`RunPlan.set_aside` into ``checkpoints/damaged/`` (what is left of them may still be read by
    hand; the new run's saves would replace them) or ``checkpoints/superseded/`` (a resume went back past
    them: ``--resume auto`` would otherwise go forward to them again), and say so."""
    if not plan.set_aside:
        return None
    went_back = plan.resume_from is not None
    folder = plan.output_dir / checkpoint_files.CHECKPOINTS_DIR / (SUPERSEDED_DIR if went_back else DAMAGED_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    for checkpoint in plan.set_aside:
        target, copy = folder / checkpoint.name, 1
        while target.exists():
            copy += 1
            target = folder / f"{checkpoint.name}-{copy}"
        checkpoint.rename(target)
    if went_back:
        names = ", ".join(checkpoint.name for checkpoint in plan.set_aside)
        return f"resumed from an earlier checkpoint: the later {names} moved to {folder}, out of --resume auto's way"
    return (
        f"--resume auto: no whole checkpoint in {plan.output_dir} ({len(plan.set_aside)} damaged, moved to "
        f"{folder}); training starts again at step 0"
    )


def wipe_run(output_dir: Path) -> None:
    """Remove a previous run's outputs (and nothing else a user may keep in the directory)."""
    for name in RUN_OUTPUTS:
        target = output_dir / name
        if target.is_symlink():  # the link, not what it points to
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def write_run_config(output_dir: Path, config: Config) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomically(output_dir / RUN_CONFIG_FILE, config.to_yaml())


def _previous_run_config(stored: Path, output_dir: Path) -> Config | None:
    """The config of the run ``output_dir`` holds: its ``config.yaml``, else (damaged) its latest checkpoint's,
    else None (a run that never saved a checkpoint: nothing to keep; this one writes config.yaml anew)."""
    try:
        return read_run_config(stored)
    except UserError as err:
        latest, damage = checkpoint_files.latest_checkpoint(output_dir), err.args[0].split("; restore")[0]
        if latest is None:
            checkpoint_files.warn(f"{damage}; no checkpoint holds the run, so it starts afresh")
            return None
        checkpoint_files.warn(f"{damage}; the run's config is read from {latest}")
        return checkpoint_files.read_config(latest)


def read_run_config(path: Path) -> Config:
    """A run folder's ``config.yaml``; a :class:`UserError` naming it when it is unreadable or not a config."""
    try:
        text = path.read_text()
        if cut_short(text):
            raise ValueError(f"cut short: no {YAML_END.strip()!r} line")
        stored = yaml.safe_load(text)
    except FileNotFoundError:
        raise UserError(
            f"{path}: the run config is missing; restore it, or pass --overwrite to start the run again"
        ) from None
    except (OSError, ValueError, yaml.YAMLError) as err:
        reason = getattr(err, "strerror", None) or str(err).splitlines()[0]
        raise UserError(
            f"{path}: damaged run config ({reason}); restore it, or pass --overwrite to start the run again"
        ) from None
    if not isinstance(stored, dict):
        raise UserError(f"{path}: damaged run config (not a YAML mapping); restore it, or pass --overwrite")
    return config_from_dict(stored, str(path))


RESERVED_IN_RUN_IDS = ":;,#?/'"  # characters W&B refuses in a run id (wandb's own settings check)


def record_run_id(output_dir: Path, run_id: str) -> None:
    """Keep the W&B run id in ``output_dir``: it names the run's W&B run for ``unet1d compare --wandb-report``
    (a resumed run takes its id from its checkpoint). Written atomically, so a full disk or a kill mid-write
    leaves the previous id whole rather than an empty or partial one; raises OSError when it cannot be."""
    write_text_atomically(Path(output_dir) / RUN_ID_FILE, run_id + "\n")


def read_run_id(output_dir: Path) -> str | None:
    """The W&B run id :func:`record_run_id` kept in ``output_dir``; None when it kept none.

    Raises :class:`UserError` naming the file when it is damaged: unreadable, empty, or not an id W&B
    would accept (a reserved or unprintable character, more than one line)."""
    path = Path(output_dir) / RUN_ID_FILE
    try:
        run_id = path.read_text().strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or f"{type(err).__name__}: {err}"
        raise UserError(f"{path}: damaged W&B run id ({reason})") from None
    if not run_id:
        raise UserError(f"{path}: damaged W&B run id (the file is empty)")
    refused = sorted({char for char in run_id if char in RESERVED_IN_RUN_IDS or not char.isprintable()})
    if refused:
        raise UserError(f"{path}: damaged W&B run id ({run_id[:40]!r} holds {''.join(refused)!r}, never in a run id)")
    return run_id
