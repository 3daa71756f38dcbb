"""Lazy package exports: heavy submodules (torch, accelerate) load on first attribute access.

A package lists its exports once, as the imports of its ``if TYPE_CHECKING:`` block (what type
checkers and readers see); :func:`lazy_exports` reads that block and serves each name from its
module when it is first used.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def type_checking_imports(init_file: str | Path) -> dict[str, str]:
    """``{name: module}`` for every ``from module import name`` under ``if TYPE_CHECKING:`` in ``init_file``."""
    tree = ast.parse(Path(init_file).read_text())
    exports: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    exports.update({alias.asname or alias.name: statement.module for alias in statement.names})
    return exports


def lazy_exports(package: str, init_file: str) -> tuple[Callable[[str], Any], list[str]]:
    """``(__getattr__, __all__)`` for ``package`` from the ``TYPE_CHECKING`` imports of its ``__init__``.

    Also gives the package a ``__dir__`` that lists them, so ``dir()`` and a notebook's tab completion
    show the exports before their first use."""
    exports = type_checking_imports(init_file)
    module = sys.modules[package]

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(module), *exports})

    module.__dir__ = __dir__
    return __getattr__, sorted(exports)
