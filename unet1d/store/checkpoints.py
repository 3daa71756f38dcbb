"""Checkpoints: self-describing directories under ``<output_dir>/checkpoints/step-<N>/``.

A checkpoint holds what evaluation needs, in formats that load without pickle::

    model.safetensors        raw weights (keys of a bare UNet1D)
    ema.safetensors          EMA weights (same keys), when optim.ema is on
    norm_stats.safetensors   mean/std the model was trained on
    config.yaml              the resolved config (rebuilds the network and the noise schedule)
    checkpoint.json          format version, step, every component's JSON state; written last

and what exact resume needs besides: Accelerate's full training state in ``accelerate/``
(optimiser, LR schedule, global RNGs of every rank, grad scaler; loaded with
``torch.load(weights_only=True)``) and ``rank-<r>.safetensors`` (each rank's own tensors: its
noise generator and the log window's per-timestep loss sums).

**One table.** The trainer hands :func:`save_checkpoint` and :func:`restore_checkpoint` the same
``{name: component}`` table (:class:`Stateful`: ``state_dict`` / ``load_state_dict``), and both
walk it with one rule: a component's tensor values go to ``<name>.safetensors`` (written by the
main process), or to ``rank-<r>.safetensors`` as ``<name>/<key>`` (each rank its own) when the
component is ``per_rank``; its other values, JSON, to ``checkpoint.json`` under ``state.<name>``.
A component that keeps a folder of its own (:class:`KeepsFolder`: Accelerate's) saves and loads
it there too. So the network's weights are ``model.safetensors`` and the EMA's ``ema.safetensors``,
named by their components. Format 1 (before the table: the counters and the data position under
``loop``, the EMA's update count beside it, the generator as ``generator`` in ``rank-<r>``) still
loads: :func:`stored_json_state` and :func:`stored_state` read it into the same table.

Writes are atomic: everything goes to ``.tmp-step-<N>/``, is flushed to disk (``fsync``), and one
``rename`` publishes it, so a run killed mid-write leaves a temp directory (ignored, and removed by
the next save), never a checkpoint that looks complete. ``checkpoint.json`` lists every other file
with its size and CRC-32; a checkpoint whose files do not match (cut short, overwritten, missing) is
damaged: ``--resume auto`` and ``unet1d eval RUN_DIR`` report it in one line and take the newest
whole one, a damaged checkpoint named directly is a :class:`UserError` naming it. A save that fails
for lack of disk space removes its temp directory and stops the run with one line; the previous
checkpoint stays the latest (docs/faults.md).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from unet1d.atomic_files import fsync_path, plain_file_mode
from unet1d.data import NormStats
from unet1d.data.representation import network_config, wrap_stats
from unet1d.errors import UserError
from unet1d.model import UNet1D
from unet1d.store.checkpoint_files import (
    ACCELERATE_DIR,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    EMA_FILE,
    FORMAT_VERSION,
    MARKER,
    MODEL_FILE,
    RETIRED_PATTERN,
    STATS_FILE,
    checkpoint_damage,
    file_manifest,
    find_checkpoint,
    latest_checkpoint,
    list_checkpoints,
    read_config,
    read_marker,
    reason_of,
    step_of,
)

if TYPE_CHECKING:
    from accelerate import Accelerator
    from torch import nn

    from unet1d.config import Config
PRUNED_PREFIX = ".pruned-"  # a checkpoint being removed by prune_checkpoints
# How a failed file write shows besides OSError: safetensors passes Rust's io::Error on as text, and
# torch.save's C++ writer drops the errno ("basic_ios::clear: iostream error", then "unexpected pos").
WRITE_FAILURE_TEXT = (
    "IoError",
    "I/O error",
    "iostream error",
    "unexpected pos",
    "file write failed",
    "PytorchStreamWriter failed",
)


def _cpu_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().to("cpu").contiguous() for name, tensor in state.items()}


class Stateful(Protocol):
    """A piece of a run's state: what a checkpoint holds of it, and how it takes that back.

    Tensor values of the state go to a safetensors file, everything else must be JSON. A class that
    sets ``per_rank = True`` holds each rank's own tensors (and nothing else); one that sets
    ``newer_than_format = True`` came after checkpoints that lack it, and takes an empty state from them.
    """

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class KeepsFolder(Protocol):
    """A component whose library writes its state into a folder of its own (Accelerate's ``save_state``)."""

    folder: str  # the folder's name inside the checkpoint

    def save_state(self, folder: Path) -> None: ...

    def load_state(self, folder: Path) -> None: ...


def _rank_file(rank: int) -> str:
    return f"rank-{rank}.safetensors"


def _split(name: str, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A component's state as (tensors, JSON)."""
    tensors = {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
    plain = {key: value for key, value in state.items() if key not in tensors}
    try:
        json.dumps(plain)
    except (TypeError, ValueError) as err:
        raise TypeError(f"component {name!r}: state that is neither a tensor nor JSON ({err})") from None
    return tensors, plain


def save_checkpoint(
    accelerator: Accelerator,
    output_dir: Path,
    *,
    step: int,
    components: dict[str, Stateful],
    config: Config,
    stats: NormStats,
    keep: int,
) -> Path:
    """Write checkpoint ``step`` atomically and keep the last ``keep``; every rank must call this.

    ``components`` is the run's one table of state (see the module's docstring for where each part
    goes); JSON parts must be the same on every rank, ``per_rank`` ones are each rank's own.
    """
    root = Path(output_dir) / CHECKPOINTS_DIR
    final, staging = root / f"step-{step}", root / f".tmp-step-{step}"
    rank, main = accelerator.process_index, accelerator.is_main_process
    with _failed_write_is_a_user_error(staging, final):
        if main:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
        accelerator.wait_for_everyone()
        metadata = {"format": "pt", "unet1d_format_version": str(FORMAT_VERSION), "step": str(step)}
        json_state: dict[str, Any] = {}
        ranks_own: dict[str, torch.Tensor] = {}
        for name, part in components.items():
            if isinstance(part, KeepsFolder):  # collective: every rank writes its share
                part.save_state(staging / part.folder)
            tensors, json_state[name] = _split(name, part.state_dict())
            if getattr(part, "per_rank", False):
                if json_state[name]:
                    raise TypeError(f"component {name!r} is per_rank: its state must be tensors only")
                ranks_own.update({f"{name}/{key}": tensor for key, tensor in tensors.items()})
            elif tensors and main:
                save_file(_cpu_tensors(tensors), str(staging / f"{name}.safetensors"), metadata=metadata)
        if ranks_own:
            save_file(_cpu_tensors(ranks_own), str(staging / _rank_file(rank)), metadata=metadata)
        accelerator.wait_for_everyone()
        if main:
            save_file(stats.to_tensors(), str(staging / STATS_FILE))
            (staging / CONFIG_FILE).write_text(config.to_yaml())
            marker = {
                "format_version": FORMAT_VERSION,
                "step": step,
                "world_size": accelerator.num_processes,
                "state": json_state,
                "files": file_manifest(staging),
            }
            (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
            _give_plain_modes(staging)
            _make_durable(staging)
            _publish(staging, final)
            prune_checkpoints(output_dir, keep)
    accelerator.wait_for_everyone()
    return final


def is_write_failure(err: BaseException) -> bool:
    """Whether ``err`` (or what it was raised from) is a failed file write: a full disk or quota, a file-size
    limit, an I/O error, a read-only folder; whichever library wrote the file."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) or any(text in str(seen) for text in WRITE_FAILURE_TEXT):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextlib.contextmanager
def _failed_write_is_a_user_error(staging: Path, final: Path) -> Any:
    """A save whose files cannot be written (most often a full disk): its temp directory removed (the space
    back), one line naming the checkpoint and the one ``--resume auto`` continues from. Anything else
    (a bug) passes through with its traceback."""
    try:
        yield
    except Exception as err:
        if not is_write_failure(err):
            raise
        shutil.rmtree(staging, ignore_errors=True)
        previous = latest_checkpoint(final.parent.parent)
        kept = f"the latest checkpoint is still {previous}" if previous else "no earlier checkpoint exists"
        free = _free_bytes(final.parent)
        space = f"; {free / 2**20:,.0f} MiB free there" if free is not None else ""
        first = err
        while first.__cause__ or first.__context__:  # where the write failed, not the clean-up after it
            first = first.__cause__ or first.__context__
        raise UserError(
            f"cannot write checkpoint {final} ({reason_of(first)}{space}); {kept}. "
            f"{_remedy(first)}, then continue with --resume auto"
        ) from None


def _remedy(err: BaseException) -> str:
    """What to do about a failed write: space for a full disk (and for what says no more), else the folder."""
    code = getattr(err, "errno", None)
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "Make the folder writable for this user (or mounted read-write)"
    if code in (errno.ENOTDIR, errno.EISDIR, errno.EEXIST):
        return "Move away what is in the checkpoint's way"
    return "Free some disk space"


def _free_bytes(folder: Path) -> int | None:
    try:
        stat = os.statvfs(folder)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def _give_plain_modes(folder: Path) -> None:
    """Every file under ``folder`` gets the mode a plain ``open`` gives (safetensors writes its files 0o600),
    so others on a shared machine can evaluate the checkpoint; a file this user does not own keeps its own."""
    mode = plain_file_mode()
    for path in folder.rglob("*"):
        if path.is_file():
            with contextlib.suppress(PermissionError):
                os.chmod(path, mode)


def _make_durable(folder: Path) -> None:
    """fsync every file and folder under ``folder``, so the rename that publishes it publishes data on disk."""
    for path in sorted(folder.rglob("*"), reverse=True):
        fsync_path(path)
    fsync_path(folder)


def _publish(staging: Path, final: Path) -> None:
    """Rename the finished staging directory into place (replacing a same-step checkpoint).

    Killed between the two renames, the old checkpoint waits as ``.old-step-<N>``: listed as the
    step's checkpoint (:func:`list_checkpoints`) until the next save puts it back or replaces it.
    """
    if final.exists():
        retired = final.with_name(f".old-{final.name}")
        shutil.rmtree(retired, ignore_errors=True)
        final.rename(retired)
        staging.rename(final)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(final)
    fsync_path(final.parent)


def prune_checkpoints(output_dir: Path, keep: int) -> None:
    """Keep the newest ``keep`` whole checkpoints; remove older ones and leftovers of killed writes.

    Damaged checkpoints are never counted among the ``keep``, so a damaged newest one cannot push
    a whole one out; the damaged ones older than the kept ones go with them.
    """
    root = Path(output_dir) / CHECKPOINTS_DIR
    for retired in root.glob(".old-step-*"):  # a same-step save killed between its renames
        match = RETIRED_PATTERN.match(retired.name)
        if match and not (root / f"step-{match.group(1)}").exists() and (retired / MARKER).is_file():
            retired.rename(root / f"step-{match.group(1)}")
    published = list_checkpoints(output_dir)
    whole = [path for path in published if checkpoint_damage(path) is None]
    if len(whole) > keep:
        cutoff = step_of(whole[-keep])
        for old in published:
            if step_of(old) < cutoff:
                # Renamed first (atomic): a kill during the removal leaves a leftover, never a damaged checkpoint.
                doomed = old.with_name(f"{PRUNED_PREFIX}{old.name}")
                with contextlib.suppress(OSError):
                    old.rename(doomed)
                    shutil.rmtree(doomed, ignore_errors=True)
    leftovers = [*root.glob(".tmp-step-*"), *root.glob(".old-step-*"), *root.glob(f"{PRUNED_PREFIX}*")]
    for leftover in leftovers:  # saves are never concurrent
        shutil.rmtree(leftover, ignore_errors=True)


def stored_json_state(checkpoint: Path) -> dict[str, dict[str, Any]]:
    """The JSON part of every component's stored state, by name (format 1 read into format 2's table)."""
    marker = read_marker(checkpoint)
    if marker["format_version"] != 1:
        return marker["state"]
    loop = dict(marker["loop"])
    data = loop.pop("data")
    nonfinite = {key: loop.pop(key) for key in ("nonfinite_total", "nonfinite_in_a_row")}
    state = {
        "model": {},
        "counters": {**loop, "step": marker["step"]},
        "nonfinite": nonfinite,
        "data": data,
        "noise": {},
    }
    if marker.get("ema_updates") is not None:
        state["ema"] = {"num_updates": marker["ema_updates"]}
    return state


def stored_state(checkpoint: Path, components: dict[str, Stateful], rank: int) -> dict[str, dict[str, Any]]:
    """Each component's stored state (JSON and tensors, as its ``state_dict`` gave it), for rank ``rank``."""
    json_state = stored_json_state(checkpoint)
    format_1 = read_marker(checkpoint)["format_version"] == 1
    per_rank = any(getattr(part, "per_rank", False) for part in components.values())
    ranks_own = load_file(str(checkpoint / _rank_file(rank))) if per_rank else {}
    if format_1 and "generator" in ranks_own:  # format 1 kept the noise generator's state as `generator`
        ranks_own = {"noise/state": ranks_own["generator"]}
    state = {}
    for name, part in components.items():
        if name not in json_state and getattr(part, "newer_than_format", False):
            state[name] = {}
            continue
        if name not in json_state:
            raise UserError(
                f"checkpoint {checkpoint} holds no state of {name!r}; it was written by another kind of run"
            )
        if getattr(part, "per_rank", False):
            tensors = {key.split("/", 1)[1]: value for key, value in ranks_own.items() if key.startswith(f"{name}/")}
        else:
            path = checkpoint / f"{name}.safetensors"
            tensors = load_file(str(path)) if path.is_file() else {}
        state[name] = {**json_state[name], **tensors}
    return state


WEIGHT_FILES = (MODEL_FILE, EMA_FILE, f"{ACCELERATE_DIR}/model.safetensors")  # what evaluation and resume load
FLOAT_KINDS = {"F16", "BF16", "F32", "F64"}  # safetensors' names of floating-point dtypes


def check_floating_weights(checkpoint: Path) -> None:
    """A ValueError where a weights file holds other than floating-point tensors: they would load, cast without a
    word, into other scores (evaluation) or another run (resume). Reads the files' headers only."""
    for name in WEIGHT_FILES:
        if (checkpoint / name).is_file():
            with safe_open(str(checkpoint / name), "pt") as tensors:
                kinds = sorted({str(tensors.get_slice(key).get_dtype()) for key in tensors.keys()} - FLOAT_KINDS)  # noqa: SIM118
            if kinds:
                raise ValueError(f"{name} holds {', '.join(kinds)} tensors; a network's weights are floating point")


def restore_checkpoint(accelerator: Accelerator, checkpoint: Path, components: dict[str, Stateful]) -> int:
    """Give every component of the table its state from ``checkpoint`` (every rank); the checkpoint's step."""
    marker = read_marker(checkpoint)
    if marker["world_size"] != accelerator.num_processes:
        raise UserError(
            f"{checkpoint} was written by {marker['world_size']} processes; resume it with the same "
            f"number (now {accelerator.num_processes}), so every rank finds its data position and generator"
        )
    with _damaged_file_is_a_user_error(checkpoint):
        check_floating_weights(checkpoint)
        state = stored_state(checkpoint, components, accelerator.process_index)
        for name, part in components.items():
            if isinstance(part, KeepsFolder):
                part.load_state(checkpoint / part.folder)
            part.load_state_dict(state[name])
    return int(marker["step"])


@dataclass
class EvalCheckpoint:
    """What evaluation needs from a checkpoint: no optimiser, no pickle."""

    path: Path
    step: int
    config: Config
    stats: NormStats
    model_weights: dict[str, torch.Tensor]
    ema_weights: dict[str, torch.Tensor] | None

    def build_model(self, *, ema: bool = True, device: str | torch.device = "cpu") -> nn.Module:
        """The network in eval mode, with EMA weights when asked for and present, else the raw ones.

        Its throwaway initial weights draw from a forked generator: loading leaves torch's global one as it was."""

        with torch.random.fork_rng(devices=[]):
            model = UNet1D.from_config(network_config(self.config))
        weights = self.ema_weights if ema and self.ema_weights is not None else self.model_weights
        try:
            model.load_state_dict(weights)
        except RuntimeError as err:  # missing, unexpected or misshapen tensors
            raise UserError(
                f"checkpoint {self.path}: its weights do not fit the network its config.yaml builds ({reason_of(err)})"
            ) from None
        return model.to(device).eval()


# How often a run's latest checkpoint is looked up again when it vanished while being read
PRUNED_RETRIES = 5


def load_for_eval(path: str | Path) -> EvalCheckpoint:
    """Read a checkpoint (or a run's latest) for evaluation or sampling; needs no other input.

    A run still training removes its older checkpoints (``train.keep_checkpoints``) as it saves: one that
    vanishes while it is read was pruned, not damaged, and a run's folder is looked up again for its latest."""
    for _ in range(PRUNED_RETRIES):
        checkpoint = find_checkpoint(path)
        try:
            return _read_for_eval(checkpoint)
        except UserError:
            if checkpoint.exists():
                raise
            if checkpoint == Path(path).expanduser():  # asked for by name: no other to take
                raise UserError(
                    f"checkpoint {checkpoint} was removed while it was read: a run still training keeps only its "
                    "newest (train.keep_checkpoints); give the run's folder to read its latest"
                ) from None
    raise UserError(
        f"{path}: its latest checkpoint was removed while it was read, {PRUNED_RETRIES} times over (a run saving "
        "faster than it can be read); give a checkpoint it keeps, or raise its train.keep_checkpoints"
    )


def _read_for_eval(checkpoint: Path) -> EvalCheckpoint:
    marker = read_marker(checkpoint)

    ema_path = checkpoint / EMA_FILE
    config = read_config(checkpoint)
    with _damaged_file_is_a_user_error(checkpoint):
        stats = NormStats.from_tensors(load_file(str(checkpoint / STATS_FILE)))
        model_weights = load_file(str(checkpoint / MODEL_FILE))
        ema_weights = load_file(str(ema_path)) if ema_path.is_file() else None
        check_floating_weights(checkpoint)
    return EvalCheckpoint(
        path=checkpoint,
        step=int(marker["step"]),
        config=config,
        stats=wrap_stats(stats, config.data.representation),
        model_weights=model_weights,
        ema_weights=ema_weights,
    )


@contextlib.contextmanager
def _damaged_file_is_a_user_error(checkpoint: Path) -> Any:
    """Checkpoints written before markers listed their files are only checked as they load: a file that
    will not load (safetensors' header or size, a missing file) is one line naming the checkpoint."""
    try:
        yield
    except torch.OutOfMemoryError:  # a RuntimeError, but of the device: the checkpoint is fine (deleting it is not)
        raise
    except (OSError, ValueError, EOFError, RuntimeError, pickle.UnpicklingError) as err:  # torch, accelerate
        raise UserError(f"checkpoint {checkpoint} is damaged: {reason_of(err)}") from None
    except Exception as err:
        if type(err).__name__ != "SafetensorError":
            raise
        raise UserError(f"checkpoint {checkpoint} is damaged: {reason_of(err)}") from None
