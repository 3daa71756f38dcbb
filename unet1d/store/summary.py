"""What a finished (or preempted) run reports: the numbers ``unet1d compare`` lines up.

Written to a temporary name and renamed, so a run killed while writing it leaves the previous
summary or none, never half of one; a damaged one is a :class:`UserError` naming it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from unet1d.errors import UserError


def current_umask() -> int:
    """This process's umask, read without changing it where the system says it (Linux: /proc), since
    setting it to read it back would leave other threads' files unmasked for that moment."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def plain_file_mode() -> int:
    """The permissions a plain ``open(path, "w")`` gives a new file (0o644 under the usual umask).

    Temporary files (``mkstemp``, safetensors' writer) are made 0o600, readable by their owner
    alone; a run's files are read by others on a shared machine, so they get this mode instead."""
    return 0o666 & ~current_umask()


def write_text_atomically(path: Path, text: str) -> None:
    """``path`` holds ``text`` whole, or what it held before: a temporary file in the same folder,
    flushed to disk, then renamed over it (with the mode a plain ``open`` would give it)."""
    path = Path(path)
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            os.fchmod(out.fileno(), plain_file_mode())
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staging, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staging)


@dataclass
class TrainResult:
    """A run's outcome. ``exit_code`` is 0 when it reached max_steps, 128 + signal when preempted.

    ``wall_time_s``, ``steps_per_s`` and ``samples_per_s`` cover the same span: the whole run,
    every session of a preempted and resumed run (each up to its last checkpoint, the last to its
    end). ``session_*`` and ``peak_memory_mb`` describe the last session alone.
    """

    output_dir: str
    final_step: int
    train_loss: float | None
    val_loss: float | None
    val_loss_ema: float | None
    steps_per_s: float
    samples_per_s: float
    peak_memory_mb: float
    num_parameters: int
    model_size_mb: float | None
    checkpoint: str | None
    nonfinite_steps: int
    wall_time_s: float
    session_steps: int = 0
    session_time_s: float = 0.0
    preempted: bool = False
    exit_code: int = 0
    quality: dict[str, float] | None = None  # the final evaluation's scalar scores (evaluation.final_eval_samples)
    compute_dtype: str | None = None  # the arithmetic that ran (train.mixed_precision resolved): fp32, bf16 or fp16

    def to_json(self) -> str:
        def clean(value: object) -> object:  # JSON has no NaN: say null
            return None if isinstance(value, float) and value != value else value

        return json.dumps({key: clean(value) for key, value in asdict(self).items()}, indent=2) + "\n"

    def write(self, path: Path) -> None:
        write_text_atomically(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> TrainResult:
        """A written summary; keys this version does not know are left out, missing ones take defaults.

        Raises :class:`UserError` naming ``path`` when it is unreadable or not a summary.
        """
        known = {f.name for f in fields(cls)}
        try:
            stored = json.loads(Path(path).read_text())
            return cls(**{key: value for key, value in stored.items() if key in known})
        except (OSError, ValueError, TypeError, AttributeError) as err:
            reason = getattr(err, "strerror", None) or f"{type(err).__name__}: {str(err).splitlines()[0]}"
            raise UserError(f"{path}: damaged run summary ({reason})") from None
