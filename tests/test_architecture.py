"""Every import in the package, function-level and TYPE_CHECKING ones included, against ARCHITECTURE.md's rules.

The layer list is read from the ```layers block of ARCHITECTURE.md, so the picture a newcomer
reads is the rule the code is held to. A module may import its own unit (the longest entry that
names it) and any unit of a lower layer; a sibling in its own layer or anything above is an error.
Imports inside functions are held to the ```lazy-imports block, and no package holds an import loop.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from unet1d._lazy import type_checking_imports

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


# Libraries worth deferring from a module `unet1d --help` imports, or from a path that never needs them: each adds
# from ~40 ms (yaml, on a 0.5 s --help) to seconds (torch, wandb, sklearn, matplotlib) to whatever imports it.
HEAVY = {
    "accelerate", "matplotlib", "numpy", "rich", "safetensors", "scipy", "sklearn", "sweeps", "tensorboard",
    "torch", "wandb", "wandb_workspaces", "yaml",
}  # fmt: skip


@dataclass(frozen=True)
class Site:
    """One import statement's target: a unet1d module (lazy exports resolved) or a third-party module."""

    line: int
    target: str
    where: str  # "module", "function" or "type_checking"
    written: str = ""  # the module as the statement names it, where a lazy export resolves elsewhere


@functools.cache
def _exports(init_file: Path) -> dict[str, str]:
    return type_checking_imports(init_file)


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def import_sites(path: Path, known: dict[str, Path]) -> Iterator[Site]:
    """Every import in ``path`` and where it sits. ``from unet1d.pkg import name`` names the submodule, or the
    module a package's lazy export comes from (what Python really imports); ``from x import y`` names ``x``."""

    def targets(node: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, str]]:
        if isinstance(node, ast.Import):
            yield from ((alias.name, alias.name) for alias in node.names)
            return
        module = node.module or ""
        if not module.startswith("unet1d") or node.level:
            yield module, module
            return
        exports = _exports(known[module]) if known.get(module, Path()).name == "__init__.py" else {}
        for alias in node.names:
            sub = f"{module}.{alias.name}"
            yield (sub, sub) if sub in known else (exports.get(alias.name, module), module)

    def visit(node: ast.AST, where: str) -> Iterator[Site]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield from (Site(child.lineno, target, where, written) for target, written in targets(child))
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                inner = "function"
            elif _is_type_checking(child) and where == "module":
                inner = "type_checking"
            yield from visit(child, inner)

    yield from visit(ast.parse(path.read_text()), "module")


def lazy_list() -> dict[str, tuple[list[str], str]]:
    """module -> (what it may import inside functions, the reason's kind) from ARCHITECTURE.md's ```lazy-imports."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    block = re.search(r"```lazy-imports\n(.*?)```", text, re.S)
    assert block, "ARCHITECTURE.md has no ```lazy-imports block"
    entries = {}
    for line in block.group(1).splitlines():
        listed, _, why = line.partition("#")
        if listed.strip():
            module, *targets = listed.split()
            entries[module] = (targets, why.strip().split(":")[0])
    return entries


def _covers(prefixes: list[str] | set[str], target: str) -> bool:
    return any(target == prefix or target.startswith(prefix + ".") for prefix in prefixes)


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@functools.cache
def package_sites() -> dict[str, list[Site]]:
    """module -> its import sites, for every module of the package, each file read once per test session."""
    known = modules()
    return {module: list(import_sites(path, known)) for module, path in known.items()}


def loaded_on_import(start: list[str], sites: dict[str, list[Site]]) -> tuple[set[str], set[str]]:
    """(unet1d modules, third-party top-level packages) that importing ``start`` loads: its module-level imports."""
    seen: set[str] = set()
    libraries: set[str] = set()
    todo = [m for s in start for m in (*_parents(s), s) if m in sites]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for site in sites[module]:
            if site.where != "module":
                continue
            if site.target.startswith("unet1d"):
                todo += [m for m in (*_parents(site.target), site.target) if m in sites and m not in seen]
            elif site.target.split(".")[0] not in sys.stdlib_module_names:
                libraries.add(site.target.split(".")[0])
    return seen, libraries


def lazy_import_problems(
    known: dict[str, Path],
    sites: dict[str, list[Site]],
    listed: dict[str, tuple[list[str], str]],
    root: Path = ROOT,
) -> list[str]:
    """What is wrong with the function-level imports of ``known`` against the ``listed`` ones and their reasons."""
    help_modules, help_libraries = loaded_on_import(["unet1d.cli"], sites)
    problems, used = [], set()
    for module, path in sorted(known.items()):
        allowed, why = listed.get(module, ([], ""))
        for site in sites[module]:
            if site.where != "function":
                continue
            where = f"{path.relative_to(root)}:{site.line} imports {site.target} inside a function"
            names = {site.target, site.written or site.target}
            if not any(_covers(allowed, name) for name in names):
                problems.append(f"{where}: import it at the top, or list it in ARCHITECTURE.md's lazy-imports with why")
                continue
            used |= {(module, prefix) for prefix in allowed if any(_covers([prefix], name) for name in names)}
            top = site.target.split(".")[0]
            if why == "help":
                if module not in help_modules:
                    problems.append(f"{where}: listed for --help, but `unet1d --help` does not import {module}")
                    continue
                loads = {top} if top != "unet1d" else loaded_on_import([site.target], sites)[1]
                if not (loads & HEAVY) - help_libraries:
                    problems.append(
                        f"{where}: {site.target} loads nothing heavy that --help does not: import it at the top"
                    )
            elif why == "branch":
                if top == "unet1d" or top not in HEAVY:
                    problems.append(f"{where}: a branch import must be a heavy library ({', '.join(sorted(HEAVY))})")
            else:
                problems.append(f"{module}: ARCHITECTURE.md gives no reason ('# help' or '# branch')")
    stale = [f"{m} {p}" for m, (targets, _) in listed.items() for p in targets if (m, p) not in used]
    problems += [
        f"ARCHITECTURE.md lists {entry} but no function there imports it: drop it from the list" for entry in stale
    ]
    return problems


def test_imports_inside_functions_are_the_listed_ones_for_the_listed_reasons():
    sites = package_sites()
    help_modules, help_libraries = loaded_on_import(["unet1d.cli"], sites)
    assert "unet1d.cli.train" in help_modules and "numpy" not in help_libraries, (help_modules, help_libraries)
    problems = lazy_import_problems(modules(), sites, lazy_list())
    assert not problems, "\n".join(problems)


def test_the_lazy_import_rules_catch_what_they_are_for(tmp_path):
    files = {
        "unet1d/__init__.py": "",
        "unet1d/cli/__init__.py": "from unet1d.cli import command\n",
        "unet1d/cli/command.py": "def run():\n    import numpy\n    from unet1d import light, heavy\n",
        "unet1d/light.py": "X = 1\n",
        "unet1d/heavy.py": "import torch\ndef f():\n    import yaml\n    import json\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    known = {".".join(Path(name).with_suffix("").parts).removesuffix(".__init__"): tmp_path / name for name in files}
    sites = {module: list(import_sites(path, known)) for module, path in known.items()}
    listed = {
        "unet1d.cli.command": (["numpy", "unet1d.light", "unet1d.heavy"], "help"),
        "unet1d.heavy": (["yaml", "scipy"], "branch"),
    }
    problems = lazy_import_problems(known, sites, listed, root=tmp_path)
    assert len(problems) == 3, problems
    assert problems[0].startswith("unet1d/cli/command.py:3 imports unet1d.light inside a function: unet1d.light loads ")
    assert problems[1].startswith("unet1d/heavy.py:4 imports json inside a function: import it at the top")
    assert problems[2].startswith("ARCHITECTURE.md lists unet1d.heavy scipy but no function there imports it")
    listed["unet1d.heavy"] = (["yaml", "json"], "help")  # heavy.py is not what --help imports
    assert any(
        "does not import unet1d.heavy" in problem for problem in lazy_import_problems(known, sites, listed, tmp_path)
    )


def import_loops(known: dict[str, Path], sites: dict[str, list[Site]] | None = None) -> list[set[str]]:
    """Groups of unet1d modules that import each other round a loop, counting imports inside functions and for
    type checkers (a loop they hide is still a loop; a package's lazy-export list does not count)."""
    sites = sites or {module: list(import_sites(path, known)) for module, path in known.items()}
    graph = {
        module: {
            site.target
            for site in sites[module]
            if site.target in known and site.target != module
            and not (site.where == "type_checking" and path.name == "__init__.py")
        }
        for module, path in known.items()
    }  # fmt: skip
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[set[str]] = []

    def connect(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                connect(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                loops.append(group)

    for module in sorted(graph):
        if module not in index:
            connect(module)
    return loops


def test_no_package_holds_an_import_loop():
    loops = import_loops(modules(), package_sites())
    assert not loops, "import loops (break each: move what both need below them):\n" + "\n".join(
        " <-> ".join(sorted(loop)) for loop in loops
    )


def test_the_loop_finder_sees_a_loop_hidden_in_a_function_and_in_type_hints(tmp_path):
    package = tmp_path / "unet1d" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from unet1d.pkg.a import A\n"
    )
    (package / "a.py").write_text("from unet1d.pkg.b import B\nclass A: ...\n")
    (package / "b.py").write_text("class B:\n    def f(self):\n        from unet1d.pkg.c import C\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from unet1d.pkg.a import A\n"
    )
    (package / "d.py").write_text("from unet1d.pkg import A\n")  # through the lazy export: d -> a, no loop
    known = {
        name: package / f"{name.rsplit('.', 1)[-1]}.py"
        for name in ("unet1d.pkg.a", "unet1d.pkg.b", "unet1d.pkg.c", "unet1d.pkg.d")
    }
    known["unet1d.pkg"] = package / "__init__.py"
    assert import_loops(known) == [{"unet1d.pkg.a", "unet1d.pkg.b", "unet1d.pkg.c"}]
    (package / "c.py").write_text("X = 1\n")
    assert import_loops(known) == []
    sites = list(import_sites(package / "d.py", known))
    assert sites == [Site(1, "unet1d.pkg.a", "module", written="unet1d.pkg")]


TESTS = ROOT / "tests"
SCENARIOS = TESTS / "scenarios"  # cross-module scenarios, the fault suite (tests/scenarios/faults/) among them
# tests/<folder>/ for what ships beside the package: the repository folders whose files those tests check.
REPOSITORY_FOLDERS = {"bench": ["bench"], "deploy": ["deploy", "docker"]}


def _stems(folder: Path) -> set[str]:
    return {entry.stem for entry in folder.iterdir() if not entry.name.startswith((".", "__"))}


def what_a_test_file_names(test_file: Path) -> str | None:
    """Why ``tests/<folder>/test_<x>.py`` is where it is: the module (or package, repository file, doc) that
    ``x`` names, ``x`` being its name or its name and a topic (``test_runs_damaged_files.py`` tests runs.py);
    None when it names nothing and sits outside tests/scenarios/."""
    if SCENARIOS in test_file.parents:
        return "a scenario"
    folder = test_file.parent.relative_to(TESTS)
    subject = test_file.stem.removeprefix("test_")
    if folder == Path("."):
        where = {doc.stem.lower(): doc.name for doc in ROOT.glob("*.md")} | {
            m: f"unet1d/{m}.py" for m in _stems(PACKAGE)
        }
        names = set(where)
    elif (PACKAGE / folder / "__init__.py").is_file():
        names = _stems(PACKAGE / folder) | {folder.name}
        where = {name: f"unet1d/{folder}/{name}.py" for name in names} | {folder.name: f"unet1d/{folder}/"}
    elif folder.as_posix() in REPOSITORY_FOLDERS:
        names, where = set(), {}
        for repository_folder in REPOSITORY_FOLDERS[folder.as_posix()]:
            found = _stems(ROOT / repository_folder) | {repository_folder}
            names |= found
            where |= {name: f"{repository_folder}/{name}" for name in found}
    else:
        return None
    for name in sorted(names, key=len, reverse=True):  # the longest: test_up_axis names up_axis, not up
        if subject == name or subject.startswith(name + "_"):
            return where[name]
    return None


def test_every_test_file_names_its_module_or_is_a_scenario():
    test_files = sorted(TESTS.rglob("test_*.py"))
    assert len(test_files) > 50
    unnamed = [path.relative_to(ROOT).as_posix() for path in test_files if what_a_test_file_names(path) is None]
    assert not unnamed, (
        "test files that name no module (tests/<package>/test_<module>[_<topic>].py), no repository file and "
        "sit outside tests/scenarios/:\n" + "\n".join(unnamed)
    )


def test_the_test_file_rule_reads_names_as_meant():
    assert what_a_test_file_names(TESTS / "data" / "test_up_axis.py") == "unet1d/data/up_axis.py"
    assert what_a_test_file_names(TESTS / "compare" / "test_runs_damaged_files.py") == "unet1d/compare/runs.py"
    assert what_a_test_file_names(TESTS / "cli" / "test_cli.py") == "unet1d/cli/"
    assert what_a_test_file_names(TESTS / "test_readme.py") == "README.md"
    assert what_a_test_file_names(TESTS / "test_config_sources.py") == "unet1d/config_sources.py"
    assert what_a_test_file_names(TESTS / "bench" / "test_run.py") == "bench/run"
    assert what_a_test_file_names(TESTS / "scenarios" / "faults" / "test_kill.py") == "a scenario"
    assert what_a_test_file_names(TESTS / "data" / "test_amass_split_cache.py") is None  # no module amass
    assert what_a_test_file_names(TESTS / "training" / "test_nowhere.py") is None
    assert what_a_test_file_names(TESTS / "nowhere" / "test_x.py") is None


def test_every_lazy_export_is_listed_by_dir_before_its_first_use():
    import subprocess

    import unet1d.prior

    # a fresh interpreter: in this one the exports may already have been used
    code = "import unet1d, unet1d.prior; print(all(n in dir(p) for p in (unet1d, unet1d.prior) for n in p.__all__))"
    listed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert listed.strip() == "True"
    assert "UNet1D" in unet1d.__all__ and "PosePrior" in unet1d.prior.__all__  # what the check above walked
