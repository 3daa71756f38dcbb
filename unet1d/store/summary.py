"""What a finished (or preempted) run reports: the numbers ``unet1d compare`` lines up.

Written to a temporary name and renamed, so a run killed while writing it leaves the previous
summary or none, never half of one; a damaged one is a :class:`UserError` naming it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from unet1d.atomic_files import write_text_atomically
from unet1d.errors import UserError


@dataclass
class TrainResult:
    """A run's outcome. ``exit_code`` is 0 when it reached max_steps, 128 + signal when preempted.

    ``wall_time_s``, ``steps_per_s`` and ``samples_per_s`` cover the same span: the whole run,
    every session of a preempted and resumed run (each up to its last checkpoint, the last to its
    end). ``session_*`` describe the last session alone; ``peak_memory_mb`` is the highest of every session.
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
    extended_from: int | None = None  # trained for this many steps, then resumed longer: not a run of final_step

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
            if not isinstance(stored, dict):
                raise UserError(f"{path}: damaged run summary (a JSON {type(stored).__name__}, not an object)")
            return cls(**{key: value for key, value in stored.items() if key in known})
        except (OSError, ValueError, TypeError) as err:
            reason = getattr(err, "strerror", None) or f"{type(err).__name__}: {str(err).splitlines()[0]}"
            raise UserError(f"{path}: damaged run summary ({reason})") from None
