"""Every import in the package, function-level and TYPE_CHECKING ones included, against ARCHITECTURE.md's layers.

The layer list is read from the ```layers block of ARCHITECTURE.md, so the picture a newcomer
reads is the rule the code is held to. A module may import its own unit (the longest entry that
names it) and any unit of a lower layer; a sibling in its own layer or anything above is an error.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "unet1d"


def layers() -> list[list[str]]:
    """The units of each layer, lowest first, from ARCHITECTURE.md."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "ARCHITECTURE.md has no ```layers block"
    found = []
    for line in block.group(1).splitlines():
        match = re.match(r"\s*\d+\.\s+(.*)", line)
        if match:
            found.append(re.findall(r"unet1d[\w.]*", match.group(1).split("#")[0]))
    return found


def modules() -> dict[str, Path]:
    """Dotted name -> file of every module in the package (a package is its __init__)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(path: Path, known: set[str]) -> set[str]:
    """Every unet1d module ``path`` imports anywhere in it (``from pkg import submodule`` names the submodule)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("unet1d")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("unet1d"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                names.add(sub if sub in known else node.module)
    return names


def unit_of(module: str, table: list[list[str]]) -> tuple[int, str]:
    """(layer index, unit) of ``module``: the longest unit that is the module or a package above it."""
    best = (-1, "")
    for index, units in enumerate(table):
        for unit in units:
            inside = module.startswith(unit + ".") and unit != "unet1d"  # the root entry is its __init__ only
            if (module == unit or inside) and len(unit) > len(best[1]):
                best = (index, unit)
    return best


def test_every_module_sits_in_a_layer_and_imports_only_its_own_unit_or_lower_layers():
    table = layers()
    assert len(table) >= 5, table
    known = modules()
    problems = []
    for module, path in sorted(known.items()):
        layer, unit = unit_of(module, table)
        if layer < 0:
            problems.append(f"{module}: in no layer of ARCHITECTURE.md")
            continue
        for target in sorted(imported(path, set(known))):
            target_layer, target_unit = unit_of(target, table)
            if target_unit != unit and target_layer >= layer:
                problems.append(f"{module} (layer {layer + 1}, {unit}) imports {target} (layer {target_layer + 1})")
    assert not problems, "\n".join(problems)


def test_the_walker_sees_function_level_and_type_checking_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from unet1d.training.loop import Trainer\n"
        "def f():\n    from unet1d.store import checkpoints\n    import unet1d.compare.runs\n"
    )
    known = {"unet1d.training.loop", "unet1d.store", "unet1d.store.checkpoints", "unet1d.compare.runs"}
    assert imported(source, known) == {"unet1d.training.loop", "unet1d.store.checkpoints", "unet1d.compare.runs"}
    table = [["unet1d.store"], ["unet1d.training", "unet1d.evaluation"]]
    assert unit_of("unet1d.evaluation.probe", table) == (1, "unet1d.evaluation")
    assert unit_of("unet1d.store.checkpoints", table) == (0, "unet1d.store")
    assert unit_of("unet1d.newcomer", [["unet1d"]]) == (-1, "")  # a new top-level module must be placed
