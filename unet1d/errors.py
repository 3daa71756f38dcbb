"""The one exception type for mistakes a user can make.

The CLI turns :class:`UserError` into exit code 2 and prints its message alone, never a
traceback. Anything else that escapes is a bug in unet1d and may show one.
"""

from __future__ import annotations

# Where launched ranks leave their user errors for `unet1d train --num_processes N`'s launcher, which prints each
# message once (not UNET1D_*: those are config fields).
RANK_ERRORS_VARIABLE = "RANK_ERRORS_FOR_UNET1D"


class UserError(Exception):
    """Bad input from a person: a file, a field, a flag. The message is written for them."""


class ConfigError(UserError, ValueError):
    """An invalid configuration value; also a ``ValueError`` for library callers."""


class ArgumentError(UserError, ValueError):
    """A bad argument to a library call (``PosePrior``): exit 2 from the CLI, a ``ValueError`` to code."""
