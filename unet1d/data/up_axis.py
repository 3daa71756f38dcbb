"""Which axis is up in a run's poses: the ``data.up_axis`` setting, ``auto`` included, made concrete.

The rule lives with the data because it depends on where the poses came from (AMASS files are
z-up, SMPL's own frame and the built-in poses are y-up); the geometry that uses it is
:mod:`unet1d.body.heading`.
"""

from __future__ import annotations


def resolve_up_axis(setting: str, *, builtin: bool, z_up_files: int) -> str:
    """``data.up_axis`` made concrete: ``auto`` is z when any file says it is z-up (an AMASS ``.npz``, or an array
    saying ``up_axis`` z), else y."""
    if setting != "auto":
        return setting
    return "z" if not builtin and z_up_files > 0 else "y"


def run_up_axis(data_config: object, stats: object = None) -> str:
    """The up axis a run's poses live in: recorded with its statistics since up_axis existed, else from its config
    (checkpoints from before it carry ``up_axis: y``; an unrecorded ``auto`` means z for file data)."""
    recorded = getattr(stats, "up_axis", None)
    if recorded:
        return recorded
    setting = getattr(data_config, "up_axis", "y")
    if setting != "auto":
        return setting
    return "y" if str(getattr(data_config, "data", "builtin")).strip().lower() == "builtin" else "z"
