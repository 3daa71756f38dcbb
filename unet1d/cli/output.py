"""Where a command writes its result: checked before the work, then written whole, to the name given.

`eval`, `sample`, `complete` and `denoise` take ``--out``/``-o`` and work for seconds to minutes
before they write. A path that cannot be written (a read-only folder, a folder given for a file)
must end the command at once with one line naming it, not in a traceback after the work. numpy's
``savez`` also appends ``.npz`` to a name without it, so ``-o poses`` used to write ``poses.npz``
while the command said ``poses``; the bytes now go to exactly the name given.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from unet1d.atomic_files import folder_problem, write_bytes_atomically
from unet1d.errors import UserError


def writable_output(out: Path, flag: str = "--out", archive: bool = False) -> None:
    """Make ``out``'s folder and check a file can be created in it; exit 2 naming why not. ``archive``: the
    command writes an .npz (several arrays), which a ``.npy`` name would misname: numpy reads that as one array."""
    if out.is_dir():
        raise UserError(f"{flag} {out}: is a folder; give the file to write in it")
    if out.exists() and not out.is_file():  # the output takes its place: -o /dev/null run as root replaced the device
        raise UserError(
            f"{flag} {out}: not a regular file (a device, pipe or socket); {flag} writes a file in its place"
        )
    if archive and out.suffix.lower() == ".npy":
        raise UserError(
            f"{flag} {out}: the output is an .npz archive (`poses` and what reading them back needs); name it .npz"
        )
    problem = folder_problem(out.parent)
    if problem is not None:
        raise UserError(f"{flag} {out}: {problem}")


def writable_folder(folder: Path, flag: str) -> None:
    """Make ``folder`` and check files can be created in it; exit 2 naming why not."""
    problem = folder_problem(folder)
    if problem is not None:
        raise UserError(f"{flag} {folder}: {problem}")


def save_npz(out: Path, flag: str = "--out", **arrays: Any) -> None:
    """``arrays`` as an .npz at exactly ``out`` (no suffix added), whole or not at all; exit 2 on a full disk."""
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    try:
        write_bytes_atomically(out, buffer.getvalue())
    except OSError as err:
        raise UserError(f"{flag} {out}: could not be written ({err.strerror or err})") from None
