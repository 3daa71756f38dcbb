"""The one exception type for mistakes a user can make.

The CLI turns :class:`UserError` into exit code 2 and prints its message alone, never a
traceback. Anything else that escapes is a bug in unet1d and may show one.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from a person: a file, a field, a flag. The message is written for them."""


class ConfigError(UserError, ValueError):
    """An invalid configuration value; also a ``ValueError`` for library callers."""


class ArgumentError(UserError, ValueError):
    """A bad argument to a library call (``PosePrior``): exit 2 from the CLI, a ``ValueError`` to code."""
